//! One TCP connection attempt from inside a network namespace, made the way `nfprobe prove`
//! needs it: the socket is created and bound (source address and port known) before the SYN
//! leaves, so the caller can start watching the flow first; the connect is non-blocking with a
//! deadline and a tick callback; TCP_INFO says how many segments went each way.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::netns::{NetnsError, NetnsSpec, run_in};

const TCP_TIME_WAIT: u8 = 6;
const TCP_CLOSE: u8 = 7;

/// How a connect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectResult {
    Connected,
    /// ECONNREFUSED: a RST (or an ICMP port unreachable) answered the SYN.
    Refused,
    /// ECONNRESET and friends after the SYN.
    Reset,
    /// EHOSTUNREACH / ENETUNREACH (ICMP, or no route).
    Unreachable,
    /// No answer before the deadline.
    Timeout,
    /// Any other error (errno).
    Error(i32),
}

/// Segments of the connection as the socket counted them (`tcpi_segs_out`, `tcpi_segs_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segments {
    pub out: u32,
    pub r#in: u32,
}

/// A TCP socket created in a namespace and bound to its source address and port.
#[derive(Debug)]
pub struct Prepared {
    fd: OwnedFd,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// Create and bind the socket inside `ns`: the source address is the one the namespace's
/// routing picks for `remote`, the port an ephemeral one.
pub fn prepare(ns: Option<&NetnsSpec>, remote: SocketAddr) -> Result<Prepared, io::Error> {
    let res: Result<Result<Prepared, io::Error>, NetnsError> = run_in(ns, move || {
        // A connected UDP socket sends nothing; it makes the kernel choose the source address.
        let unspec: SocketAddr = match remote {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let probe = UdpSocket::bind(unspec)?;
        probe.connect(remote)?;
        let src = probe.local_addr()?.ip();
        drop(probe);
        let fd = socket(remote)?;
        bind(&fd, SocketAddr::new(src, 0))?;
        let local = local_addr(&fd)?;
        Ok(Prepared { fd, local, remote })
    });
    res.map_err(io::Error::other)?
}

fn socket(remote: SocketAddr) -> io::Result<OwnedFd> {
    let domain = match remote {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v.ip().octets(),
                },
                sin6_scope_id: v.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn bind(fd: &OwnedFd, a: SocketAddr) -> io::Result<()> {
    let (ss, len) = sockaddr(a);
    // SAFETY: ss holds a valid address of `len` bytes.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&ss as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn local_addr(fd: &OwnedFd) -> io::Result<SocketAddr> {
    // SAFETY: getsockname writes at most `len` bytes into ss.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in.
            let sin: libc::sockaddr_in =
                unsafe { std::ptr::read((&ss as *const libc::sockaddr_storage).cast()) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6.
            let sin6: libc::sockaddr_in6 =
                unsafe { std::ptr::read((&ss as *const libc::sockaddr_storage).cast()) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddr::new(
                IpAddr::V6(ip),
                u16::from_be(sin6.sin6_port),
            ))
        }
        f => Err(io::Error::other(format!("unexpected address family {f}"))),
    }
}

fn classify(errno: i32) -> ConnectResult {
    match errno {
        0 => ConnectResult::Connected,
        libc::ECONNREFUSED => ConnectResult::Refused,
        libc::ECONNRESET | libc::ECONNABORTED | libc::EPIPE => ConnectResult::Reset,
        libc::EHOSTUNREACH | libc::ENETUNREACH => ConnectResult::Unreachable,
        libc::ETIMEDOUT => ConnectResult::Timeout,
        e => ConnectResult::Error(e),
    }
}

impl Prepared {
    /// Connect with a deadline; `tick(elapsed)` runs about every `tick_every` while waiting.
    pub fn connect(
        &self,
        timeout: Duration,
        tick_every: Duration,
        mut tick: impl FnMut(Duration),
    ) -> ConnectResult {
        let start = Instant::now();
        let (ss, len) = sockaddr(self.remote);
        // SAFETY: ss holds a valid address of `len` bytes.
        let rc = unsafe {
            libc::connect(
                self.fd.as_raw_fd(),
                (&ss as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if rc == 0 {
            return ConnectResult::Connected;
        }
        let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if e != libc::EINPROGRESS {
            return classify(e);
        }
        loop {
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return ConnectResult::Timeout;
            }
            let wait = (timeout - elapsed).min(tick_every);
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX).max(1);
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return classify(e.raw_os_error().unwrap_or(0));
            }
            if n > 0 {
                return classify(self.so_error());
            }
            tick(start.elapsed());
        }
    }

    fn so_error(&self) -> i32 {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes one int.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return io::Error::last_os_error().raw_os_error().unwrap_or(0);
        }
        err
    }

    /// `tcpi_state` (TCP_ESTABLISHED = 1, ..., TCP_TIME_WAIT = 6, TCP_CLOSE = 7).
    fn state(&self) -> Option<u8> {
        self.tcp_info().and_then(|b| b.first().copied())
    }

    fn tcp_info(&self) -> Option<[u8; 256]> {
        let mut buf = [0u8; 256];
        let mut len = buf.len() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into buf.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        (rc == 0 && (len as usize) >= 144).then_some(buf)
    }

    /// Segments sent and received so far (None: the kernel gave a short TCP_INFO).
    pub fn segments(&self) -> Option<Segments> {
        // tcpi_segs_out and tcpi_segs_in sit at bytes 136..144 of struct tcp_info (Linux ≥ 4.2).
        let buf = self.tcp_info()?;
        let u32_at = |o: usize| {
            buf.get(o..o + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_ne_bytes)
        };
        Some(Segments {
            out: u32_at(136)?,
            r#in: u32_at(140)?,
        })
    }

    /// On a connected socket: send a one-line HTTP/1.0 GET, return the status line (None if
    /// the peer sent nothing that looks like HTTP), then read to the end so the closing
    /// handshake is over before the caller counts packets. Bounded by `timeout`.
    pub fn http_get(&self, host: &str, timeout: Duration) -> io::Result<Option<String>> {
        let dup = self.fd.try_clone()?;
        let mut s = TcpStream::from(dup);
        s.set_nonblocking(false)?;
        let deadline = Instant::now() + timeout;
        let left = || {
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        };
        s.set_write_timeout(Some(left()))?;
        s.write_all(
            format!("GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: nfprobe-prove\r\n\r\n")
                .as_bytes(),
        )?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let mut eof = false;
        loop {
            s.set_read_timeout(Some(left()))?;
            match s.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    // Keep only the start: the status line is all we report.
                    if got.len() < 1024 {
                        got.extend_from_slice(&buf[..n.min(1024)]);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) if got.is_empty() => return Err(e),
                Err(_) => break,
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if eof {
            // Close our side and wait for the peer's ACK, so every packet of the connection
            // has been sent before the caller reads TCP_INFO and the counters.
            let _ = s.shutdown(std::net::Shutdown::Write);
            let until = Instant::now() + Duration::from_millis(200).min(left());
            while Instant::now() < until {
                if matches!(self.state(), Some(TCP_CLOSE | TCP_TIME_WAIT) | None) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let line = String::from_utf8_lossy(&got)
            .lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| l.starts_with("HTTP/"));
        Ok(line)
    }
}
