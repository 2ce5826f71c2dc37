//! A program the tests start and watch: its stderr read line by line while it runs (to wait
//! for "watching ...", "listening on ..."), its stdout collected whole, stopped by SIGTERM
//! and killed if a test ends early.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a line may take: a debug build reads BTF and kallsyms slowly on a busy 2-core
/// machine.
const LINE_WAIT: Duration = Duration::from_secs(90);

/// A started program, killed on drop if still alive.
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: mpsc::Receiver<String>,
    /// Every stderr line seen so far.
    pub seen: Vec<String>,
}

impl Running {
    /// Start `cmd` with stdout and stderr piped.
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
        let mut out = child.stdout.take().expect("stdout piped");
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            stdout: Some(stdout),
            stderr: rx,
            seen: Vec::new(),
        }
    }

    /// The first stderr line containing `what` (seen before, or waited for); panics with
    /// everything seen when the program exits first or nothing comes in time.
    pub fn wait_for(&mut self, what: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(what)) {
            return l.clone();
        }
        let deadline = Instant::now() + LINE_WAIT;
        loop {
            match self.stderr.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!(
                        "exited ({status:?}) before `{what}`: {}",
                        self.seen.join("\n")
                    )
                }
            }
            assert!(
                Instant::now() < deadline,
                "no `{what}` within {} s: {}",
                LINE_WAIT.as_secs(),
                self.seen.join("\n")
            );
        }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child's pid.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// SIGTERM; wait (30 s at most) for the exit; its status and stdout, every stderr line
    /// in `seen`.
    pub fn stop(&mut self) -> (ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st;
            }
            assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(l) = self.stderr.try_recv() {
            self.seen.push(l);
        }
        let out = self
            .stdout
            .take()
            .expect("stopped once")
            .join()
            .expect("stdout thread");
        (status, out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
