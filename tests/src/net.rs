//! Connectivity probes run from inside a namespace: a TCP connect or an HTTP GET with a timeout.
//!
//! The socket is opened on a short-lived thread that entered the namespace with setns(2), so no
//! external curl is needed and the result is typed. (The lab does not use the `nfprobe` crate:
//! `cargo xtask` links the lab, and must build before bootstrap has installed bpf-linker.)

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::fd::AsRawFd;

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// TCP connected (and for HTTP: a response arrived; this is its body).
    Ok(String),
    /// No answer within the timeout: the incident's symptom (packets dropped).
    TimedOut,
    /// Actively refused (RST) or unreachable (ICMP): the path answers, something else is wrong.
    Refused(String),
    /// Anything else (e.g. HTTP reply without a body, netns missing).
    Error(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }
    pub fn is_timeout(&self) -> bool {
        matches!(self, Outcome::TimedOut)
    }
}

/// TCP connect to `addr` from inside the namespace at `netns` (a /run/netns path).
pub fn tcp_connect(netns: &Path, addr: SocketAddr, timeout: Duration) -> Outcome {
    in_netns(netns, move || {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => Outcome::Ok(String::new()),
            Err(e) => connect_error(e),
        }
    })
}

/// `GET /` over HTTP/1.0 from inside the namespace; the whole exchange is bounded by `timeout`.
/// Returns the response body on a 200.
pub fn http_get(netns: &Path, addr: SocketAddr, timeout: Duration) -> Outcome {
    in_netns(netns, move || http_get_here(addr, timeout))
}

/// Run `f` on a fresh thread that entered the namespace at `netns` (setns affects only the
/// calling thread, so the caller stays where it is).
fn in_netns(netns: &Path, f: impl FnOnce() -> Outcome + Send) -> Outcome {
    let file = match File::open(netns) {
        Ok(f) => f,
        Err(e) => return Outcome::Error(format!("netns {}: {e}", netns.display())),
    };
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            // SAFETY: setns on an open namespace fd; it changes only this thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Outcome::Error(format!(
                    "setns {}: {}",
                    netns.display(),
                    std::io::Error::last_os_error()
                ));
            }
            f()
        });
        h.join()
            .unwrap_or_else(|_| Outcome::Error("probe thread panicked".into()))
    })
}

fn connect_error(e: std::io::Error) -> Outcome {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Outcome::TimedOut,
        ErrorKind::ConnectionRefused
        | ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable => Outcome::Refused(e.to_string()),
        _ => Outcome::Error(e.to_string()),
    }
}

fn http_get_here(addr: SocketAddr, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let mut s = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) => return connect_error(e),
    };
    let left = timeout
        .saturating_sub(start.elapsed())
        .max(Duration::from_millis(50));
    if s.set_read_timeout(Some(left)).is_err() || s.set_write_timeout(Some(left)).is_err() {
        return Outcome::Error("cannot set socket timeouts".into());
    }
    let req = format!("GET / HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: nfprobe-lab\r\n\r\n");
    if let Err(e) = s.write_all(req.as_bytes()) {
        return connect_error(e);
    }
    let mut buf = Vec::new();
    if let Err(e) = s.read_to_end(&mut buf) {
        return match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Outcome::TimedOut,
            _ => Outcome::Error(e.to_string()),
        };
    }
    let text = String::from_utf8_lossy(&buf);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Outcome::Error(format!("not an HTTP response: {text:?}"));
    };
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Outcome::Error(format!("HTTP status line: {:?}", head.lines().next()));
    }
    Outcome::Ok(body.to_owned())
}
