//! Removing everything a lab created: its processes (by pid, by netns, by cgroup), the mounts under
//! its folder, its network namespaces, its cgroups and its folder. Works from the state record
//! alone, so it can run in another process (`cargo xtask lab down`).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::netns;
use crate::state::{LabState, ProcRecord};

/// Tear the lab down. Keeps going after errors and reports them all at the end.
pub fn teardown(state: &LabState) -> Result<()> {
    let mut errors: Vec<String> = Vec::new();
    let started = Instant::now();

    let shim_sockets = shim_sockets(&state.dir);
    kill_processes(state, &mut errors);
    for sock in &shim_sockets {
        let _ = std::fs::remove_file(sock);
    }
    unmount_under(&state.dir, &mut errors);
    for ns in state.netns.iter().rev() {
        if let Err(e) = netns::delete(ns) {
            errors.push(format!("netns {ns}: {e:#}"));
        }
    }
    if let Some(parent) = &state.cgroup_parent {
        remove_cgroups(parent, &mut errors);
    }
    if state.dir.exists() {
        if mounts_under(&state.dir).is_empty() {
            if let Err(e) = std::fs::remove_dir_all(&state.dir) {
                errors.push(format!("removing {}: {e}", state.dir.display()));
            }
        } else {
            errors.push(format!(
                "not removing {}: mounts remain under it",
                state.dir.display()
            ));
        }
    }
    // Folders the lab had to create outside its own (containerd's fixed shim socket folder);
    // removed only when empty, since another lab may be using them.
    for p in state.created_outside.iter().rev() {
        let _ = std::fs::remove_dir(p);
    }
    log::info!("lab {} torn down in {:?}", state.name, started.elapsed());
    if errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "teardown of lab {} incomplete: {}",
            state.name,
            errors.join("; ")
        ))
    }
}

/// What of a lab still exists (after teardown this should be empty): netns, recorded processes,
/// processes in its namespaces or cgroup, mounts under its folder, the folder, its cgroups.
pub fn leftovers(state: &LabState) -> Vec<String> {
    let mut v = Vec::new();
    for ns in &state.netns {
        if netns::path_of(ns).exists() {
            v.push(format!("netns {ns}"));
        }
    }
    for p in &state.procs {
        if same_process(p) {
            v.push(format!("process {} ({})", p.pid, p.what));
        }
    }
    for pid in lab_processes(state) {
        v.push(format!("process {pid} in a lab namespace or cgroup"));
    }
    for m in mounts_under(&state.dir) {
        v.push(format!("mount {}", m.point.display()));
    }
    if state.dir.exists() {
        v.push(format!("folder {}", state.dir.display()));
    }
    if let Some(parent) = &state.cgroup_parent
        && let Ok(hier) = std::fs::read_dir("/sys/fs/cgroup")
    {
        for h in hier.filter_map(|e| e.ok()) {
            if h.path().join(parent).exists() {
                v.push(format!("cgroup {}", h.path().join(parent).display()));
            }
        }
    }
    v
}

/// Kill what the lab started, all with SIGKILL: nothing in a lab needs a clean shutdown (its
/// folder is deleted anyway), and a graceful dockerd waits seconds for containers and containerd.
fn kill_processes(state: &LabState, errors: &mut Vec<String>) {
    let recorded: Vec<u32> = state
        .procs
        .iter()
        .filter(|p| same_process(p))
        .map(|p| p.pid)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut alive: Vec<u32> = lab_processes(state);
        alive.extend(recorded.iter().filter(|&&p| pid_alive(p)));
        alive.sort_unstable();
        alive.dedup();
        if alive.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            errors.push(format!("processes still alive: {alive:?}"));
            return;
        }
        for &pid in &alive {
            signal(pid, libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// containerd 1.6 puts shim sockets in the fixed folder /run/containerd/s; each shim's socket is
/// named in `<state>/io.containerd.runtime.v2.task/<ns>/<id>/address`. A killed shim leaves it.
fn shim_sockets(dir: &Path) -> Vec<PathBuf> {
    let tasks = dir.join("fs/containerd/state/io.containerd.runtime.v2.task");
    let mut out = Vec::new();
    let Ok(namespaces) = std::fs::read_dir(tasks) else {
        return out;
    };
    for ns in namespaces.filter_map(|e| e.ok()) {
        let Ok(ids) = std::fs::read_dir(ns.path()) else {
            continue;
        };
        for id in ids.filter_map(|e| e.ok()) {
            let Ok(addr) = std::fs::read_to_string(id.path().join("address")) else {
                continue;
            };
            let path = addr.trim().trim_start_matches("unix://");
            if path.starts_with("/run/containerd/s/") && !path.contains("..") {
                out.push(PathBuf::from(path));
            }
        }
    }
    out
}

fn signal(pid: u32, sig: i32) {
    let Ok(p) = i32::try_from(pid) else { return };
    if p <= 1 || pid == std::process::id() {
        return;
    }
    // SAFETY: kill(2) with a positive pid has no memory effects.
    unsafe {
        libc::kill(p, sig);
    }
    // Reap it if it is our child (spawned by this process), so it does not linger as a zombie.
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on a specific pid; harmless if it is not our child.
    unsafe {
        libc::waitpid(p, &mut status, libc::WNOHANG);
    }
}

fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie counts as gone.
        Ok(s) => stat_field(&s, 3).is_some_and(|st| st != "Z"),
        Err(_) => false,
    }
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat; the comm field may hold spaces.
fn stat_field(stat: &str, n: usize) -> Option<String> {
    let after = stat.rsplit_once(')')?.1;
    after
        .split_whitespace()
        .nth(n.checked_sub(3)?)
        .map(str::to_owned)
}

/// Start time (field 22) of a pid, if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_field(&s, 22)?.parse().ok()
}

fn same_process(p: &ProcRecord) -> bool {
    start_time(p.pid) == Some(p.start_time) && pid_alive(p.pid)
}

/// Processes (other than us) that live in a lab netns (named ones, or nsfs mounts under the
/// lab folder such as Docker's container namespaces) or in the lab's cgroup.
fn lab_processes(state: &LabState) -> Vec<u32> {
    let mut inodes: HashSet<u64> = HashSet::new();
    for ns in &state.netns {
        if let Ok(m) = std::fs::metadata(netns::path_of(ns)) {
            inodes.insert(m.ino());
        }
    }
    for m in mounts_under(&state.dir) {
        if m.fstype == "nsfs"
            && let Ok(md) = std::fs::metadata(&m.point)
        {
            inodes.insert(md.ino());
        }
    }
    let cgroup = state.cgroup_parent.as_ref().map(|p| format!("/{p}/"));
    let me = std::process::id();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in proc_dir.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || !pid_alive(pid) {
            continue;
        }
        let in_ns = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .map(|m| inodes.contains(&m.ino()))
            .unwrap_or(false);
        let in_cg = cgroup.as_ref().is_some_and(|cg| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .map(|s| s.contains(cg.as_str()))
                .unwrap_or(false)
        });
        if in_ns || in_cg {
            out.push(pid);
        }
    }
    out
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct Mount {
    pub point: PathBuf,
    pub fstype: String,
}

/// Mounts at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<Mount> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut v: Vec<Mount> = text
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let point = unescape(fields.get(4)?);
            let sep = fields.iter().position(|f| *f == "-")?;
            let fstype = (*fields.get(sep + 1)?).to_owned();
            Some(Mount {
                point: PathBuf::from(point),
                fstype,
            })
        })
        .filter(|m| m.point.starts_with(dir))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.point.components().count()));
    v
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unmount_under(dir: &Path, errors: &mut Vec<String>) {
    // Several rounds: unmounting can reveal mounts stacked below.
    for _ in 0..10 {
        let mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        for m in mounts {
            let Ok(c) = std::ffi::CString::new(m.point.as_os_str().as_encoded_bytes()) else {
                continue;
            };
            // SAFETY: umount2 with a valid NUL-terminated path.
            unsafe {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
    let left = mounts_under(dir);
    if !left.is_empty() {
        errors.push(format!(
            "mounts left: {:?}",
            left.iter().map(|m| &m.point).collect::<Vec<_>>()
        ));
    }
}

/// Remove `/sys/fs/cgroup/*/<parent>` trees (Docker leaves empty cgroups of killed containers).
fn remove_cgroups(parent: &str, errors: &mut Vec<String>) {
    let Ok(hier) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in hier.filter_map(|e| e.ok()) {
        let top = h.path().join(parent);
        if top.is_dir() {
            let deadline = Instant::now() + Duration::from_secs(3);
            while let Err(e) = rmdir_tree(&top) {
                if Instant::now() > deadline {
                    errors.push(format!("cgroup {}: {e}", top.display()));
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// cgroup folders are removed with rmdir only (their files cannot be deleted), children first.
fn rmdir_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)?.filter_map(|e| e.ok()) {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            rmdir_tree(&e.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_spaces_in_comm() {
        let s = "42 (a b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 999 20";
        assert_eq!(stat_field(s, 3).as_deref(), Some("S"));
        assert_eq!(stat_field(s, 22).as_deref(), Some("999"));
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/run/a\\040b"), "/run/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
