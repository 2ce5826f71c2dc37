//! Helpers of the xtables oracle tests: a throw-away network namespace (removed on drop,
//! also on panic) and running the real iptables binaries inside it.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nfprobe::kernel::netns::NetnsSpec;
use nfprobe::ruleset::{Backend, Family};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace under /run/netns that is deleted when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("nfpx-{tag}-{}-{n}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("prerequisite missing: the `ip` command (iproute2)");
        assert!(
            out.status.success(),
            "cannot create network namespace {name} (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Netns { name }
    }

    pub fn spec(&self) -> NetnsSpec {
        NetnsSpec::parse(&self.name)
    }

    /// Run `prog args...` inside the namespace, feeding `stdin`.
    pub fn run(&self, prog: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, prog]).args(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("prerequisite missing: cannot run {prog}: {e}"));
        if let Some(text) = stdin {
            let mut si = child.stdin.take().unwrap();
            si.write_all(text.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    pub fn sh(&self, script: &str) -> Output {
        self.run("sh", &["-c", script], None)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// `iptables-legacy-restore`, `ip6tables-nft-save`, ...
pub fn tool(backend: Backend, family: Family, what: &str) -> String {
    let fam = match family {
        Family::Ipv4 => "iptables",
        Family::Ipv6 => "ip6tables",
    };
    let be = match backend {
        Backend::Nft => "nft",
        Backend::Legacy => "legacy",
    };
    format!("{fam}-{be}-{what}")
}

/// The live `*-save` output without `#` lines.
pub fn live_save(ns: &Netns, backend: Backend, family: Family, counters: bool) -> String {
    let t = tool(backend, family, "save");
    let out = ns.run(&t, if counters { &["-c"] } else { &[] }, None);
    assert!(
        out.status.success(),
        "{t} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    strip_comments(&String::from_utf8_lossy(&out.stdout))
}

pub fn strip_comments(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// ../shared/oracle/iptables-1.8.9 next to the repository (or a worktree's ancestor).
pub fn oracle_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in root.ancestors() {
        let p = dir.join("shared/oracle/iptables-1.8.9");
        if p.is_dir() {
            return p;
        }
    }
    panic!(
        "prerequisite missing: shared/oracle/iptables-1.8.9 not found beside the repository (looked upward from {})",
        root.display()
    );
}

/// The oracle's whole-table dumps, sorted: (file name, family, text).
pub fn oracle_dumps() -> Vec<(String, Family, String)> {
    let dir = oracle_dir().join("dumps");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let family = if name.contains("ip6") {
                Family::Ipv6
            } else {
                Family::Ipv4
            };
            (name, family, std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

/// Exceptions: `BACKEND|LINE|REASON` (BACKEND = nft, legacy or both), `#` comments.
pub fn exceptions() -> Vec<(String, String, String)> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracle-exceptions.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.splitn(3, '|');
            Some((
                it.next()?.trim().to_owned(),
                it.next()?.to_owned(),
                it.next()?.trim().to_owned(),
            ))
        })
        .collect()
}
