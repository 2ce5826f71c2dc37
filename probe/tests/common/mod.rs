//! Test helper: a private, uniquely named network namespace removed on drop (also on panic).
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct TestNetns {
    pub name: String,
}

impl TestNetns {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("nfp-{tag}-{}-{n}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("prerequisite missing: `ip` (iproute2) must be installed");
        assert!(
            out.status.success(),
            "prerequisite missing: cannot create netns {name} (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { name }
    }

    pub fn spec(&self) -> nfprobe::kernel::netns::NetnsSpec {
        nfprobe::kernel::netns::NetnsSpec::parse(&self.name)
    }

    /// Runs a command inside the namespace; panics with its stderr when it fails.
    pub fn run(&self, cmd: &[&str]) -> String {
        let out = self.try_run(cmd, None);
        assert!(
            out.status.success(),
            "`{}` failed in {}: {}",
            cmd.join(" "),
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command with `stdin` fed in.
    pub fn run_stdin(&self, cmd: &[&str], stdin: &str) -> String {
        let out = self.try_run(cmd, Some(stdin));
        assert!(
            out.status.success(),
            "`{}` failed in {}: {}",
            cmd.join(" "),
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn try_run(&self, cmd: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(cmd);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("prerequisite missing: cannot run {cmd:?}: {e}"));
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
