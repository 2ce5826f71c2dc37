//! Running a program (an iptables binary) inside a network namespace, with a timeout.
//! The child enters the namespace between fork and exec (setns in `pre_exec`), so the caller
//! never changes namespace and nothing else runs in the child.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::NetnsSpec;

#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// Exit code; None when killed by a signal or by the timeout.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Run `program args...` in `ns` (or here), killing it after `timeout`.
pub fn run(
    ns: Option<&NetnsSpec>,
    program: &Path,
    args: &[String],
    timeout: Duration,
) -> std::io::Result<ExecOutput> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C");
    let nsfile = match ns {
        Some(ns) => Some(File::open(&ns.path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("network namespace {}: {e}", ns.path.display()),
            )
        })?),
        None => None,
    };
    if let Some(f) = &nsfile {
        let fd = f.as_raw_fd();
        // SAFETY: only setns(2), async-signal-safe, runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    drop(nsfile);
    let out = child.stdout.take();
    let err = child.stderr.take();
    let reader = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let t_out = reader(out.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let t_err = reader(err.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + timeout;
    let mut nap = Duration::from_micros(100);
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            timed_out = true;
            break child.wait().ok();
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(5));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    Ok(ExecOutput {
        code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        timed_out,
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_output_and_timeout() {
        let o = run(
            None,
            Path::new("/bin/sh"),
            &["-c".into(), "echo hi; exit 3".into()],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.code, Some(3));
        assert_eq!(o.stdout, b"hi\n");
        let o = run(
            None,
            Path::new("/bin/sh"),
            &["-c".into(), "sleep 5".into()],
            Duration::from_millis(100),
        )
        .unwrap();
        assert!(o.timed_out && o.code.is_none());
        assert!(
            run(
                None,
                Path::new("/nonexistent/x"),
                &[],
                Duration::from_secs(1)
            )
            .is_err()
        );
        let ns = NetnsSpec::parse("nfprobe-no-such-ns");
        assert!(
            run(
                Some(&ns),
                Path::new("/bin/true"),
                &[],
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
