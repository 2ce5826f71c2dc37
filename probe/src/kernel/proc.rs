//! /proc reads about processes (the Docker daemon's command line) and the peer of a unix
//! socket (which process serves the Docker API).

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// PID of the process at the other end of a connected unix socket (SO_PEERCRED).
pub fn peer_pid(sock: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writing, sized for SO_PEERCRED.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0 && cred.pid > 0).then_some(cred.pid as u32)
}

/// PID of whoever serves the unix socket at `path` (connects, asks, disconnects).
pub fn socket_server_pid(path: &Path) -> Option<u32> {
    let s = UnixStream::connect(path).ok()?;
    peer_pid(&s)
}

/// The NUL-separated command line of a process.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect(),
    )
}

/// PIDs whose `comm` is `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .collect();
    out.sort_unstable();
    out
}

/// One variable of a process's environment (`/proc/PID/environ`); None when unset or
/// unreadable.
pub fn environ_var(pid: u32, name: &str) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    raw.split(|b| *b == 0).find_map(|kv| {
        let kv = String::from_utf8_lossy(kv);
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The processes (other than this one) holding an fd of each of these eBPF programs: a program
/// id in a /proc/PID/fdinfo entry (program and link fds both name it). Unreadable entries are
/// skipped (processes come and go while we look).
pub fn bpf_program_holders(ids: &[u32]) -> std::collections::BTreeMap<u32, u32> {
    let mut out = std::collections::BTreeMap::new();
    if ids.is_empty() {
        return out;
    }
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(text) = std::fs::read_to_string(fd.path()) else {
                continue;
            };
            for id in text
                .lines()
                .filter_map(|l| l.strip_prefix("prog_id:"))
                .filter_map(|v| v.trim().parse::<u32>().ok())
            {
                if ids.contains(&id) {
                    out.entry(id).or_insert(pid);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn environ_of_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .env("DOCKER_IPTABLES_SCTP_CHECKSUM", "1")
            .env_remove("NFPROBE_UNSET_VAR")
            .spawn()
            .unwrap();
        let pid = child.id();
        // Until the child has exec'd, /proc shows the parent's environment.
        let t0 = std::time::Instant::now();
        while super::cmdline(pid).is_none_or(|c| c.first().map(String::as_str) != Some("sleep")) {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(5),
                "sleep did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(
            super::environ_var(pid, "DOCKER_IPTABLES_SCTP_CHECKSUM").as_deref(),
            Some("1")
        );
        assert_eq!(super::environ_var(pid, "NFPROBE_UNSET_VAR"), None);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(super::environ_var(u32::MAX, "PATH"), None);
    }
}
