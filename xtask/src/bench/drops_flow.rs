//! Throughput through a lab bridge for `bench drops`: fixed-work TCP and UDP transfers from the
//! client namespace to the container, the sender pinned to one CPU and the receiver to the
//! other so they do not fight for a core, the time taken by the receiver.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nfprobe::kernel::netns::{NetnsSpec, run_in};

/// Bytes per TCP round.
pub const TCP_BYTES: u64 = 1 << 30;
/// Datagrams per UDP round, and their payload size.
pub const UDP_DATAGRAMS: u64 = 200_000;
const UDP_SIZE: usize = 1400;
const SENDER_CPU: usize = 0;
const RECEIVER_CPU: usize = 1;
const PORT_TCP: u16 = 5201;
const PORT_UDP: u16 = 5202;

/// Pin the calling thread to `cpu` (best effort: a 1-CPU machine just shares).
pub fn pin_to_cpu(cpu: usize) {
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET stays in range (modulo ncpu).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % ncpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Which transfer a round runs.
#[derive(Debug, Clone, Copy)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }

    /// Bytes per second delivered to the container in one fixed-work round.
    pub fn round(self, ctr: &NetnsSpec, cli: &NetnsSpec, dst: Ipv4Addr) -> Result<f64> {
        match self {
            Proto::Tcp => tcp_round(ctr, cli, dst),
            Proto::Udp => udp_round(ctr, cli, dst),
        }
    }
}

/// Bytes received and the time they took.
type Received = Result<(u64, Duration)>;

/// Run `serve` in its own thread in the container's namespace, pinned to the receiver's CPU;
/// returns once it called `ready` (it is listening), with the thread to join.
fn start_receiver(
    ctr: &NetnsSpec,
    serve: impl FnOnce(&dyn Fn()) -> Received + Send + 'static,
) -> Result<std::thread::JoinHandle<Received>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let ctr = ctr.clone();
    let handle = std::thread::spawn(move || {
        run_in(Some(&ctr), move || {
            pin_to_cpu(RECEIVER_CPU);
            serve(&|| {
                let _ = tx.send(());
            })
        })?
    });
    rx.recv_timeout(Duration::from_secs(10))
        .context("the receiver did not start")?;
    Ok(handle)
}

/// `TCP_BYTES` client → container; rate = bytes / time from accept to EOF at the receiver.
fn tcp_round(ctr: &NetnsSpec, cli: &NetnsSpec, dst: Ipv4Addr) -> Result<f64> {
    let server = start_receiver(ctr, |ready| {
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT_TCP))?;
        ready();
        let (mut s, _) = l.accept()?;
        let start = Instant::now();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok((total, start.elapsed())),
                n => total += n as u64,
            }
        }
    })?;
    run_in(Some(cli), || -> Result<()> {
        pin_to_cpu(SENDER_CPU);
        let mut s = TcpStream::connect(SocketAddrV4::new(dst, PORT_TCP))?;
        let buf = vec![0x5au8; 128 * 1024];
        let mut left = TCP_BYTES;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            s.write_all(&buf[..n])?;
            left -= n as u64;
        }
        s.shutdown(std::net::Shutdown::Write)?;
        Ok(())
    })??;
    let (bytes, took) = server
        .join()
        .map_err(|_| anyhow::anyhow!("TCP receiver panicked"))??;
    if bytes != TCP_BYTES {
        bail!("TCP round delivered {bytes} of {TCP_BYTES} bytes");
    }
    Ok(bytes as f64 / took.as_secs_f64())
}

/// `UDP_DATAGRAMS` client → container; rate = delivered bytes / time from the first to the
/// last datagram at the receiver (datagrams the receiver could not keep up with are lost, as
/// with any UDP sender that does not pace itself).
fn udp_round(ctr: &NetnsSpec, cli: &NetnsSpec, dst: Ipv4Addr) -> Result<f64> {
    let server = start_receiver(ctr, |ready| {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT_UDP))?;
        // A deep receive queue (past rmem_max: root) so a receiver descheduled for a few
        // ms by other work loses little; losses would be UDP_RCVBUF drops, which the probe
        // counts, on the measured path.
        let size: libc::c_int = 64 << 20;
        // SAFETY: setsockopt with a valid int option on our socket; failure is harmless.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&s),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        ready();
        let mut buf = vec![0u8; 2048];
        // The sender's end marker is a 1-byte datagram; a quiet second also ends it (the
        // clock is read only at the first and at the end: one syscall per datagram).
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let n = s.recv(&mut buf)?;
        let first = Instant::now();
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut total = n as u64;
        let last = loop {
            match s.recv(&mut buf) {
                Ok(1) => break Instant::now(),
                Ok(n) => total += n as u64,
                // Quiet for a second: the end marker was lost.
                Err(_) => break Instant::now() - Duration::from_secs(1),
            }
        };
        let took = last.duration_since(first);
        Ok((total, took))
    })?;
    run_in(Some(cli), || -> Result<()> {
        pin_to_cpu(SENDER_CPU);
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.connect(SocketAddrV4::new(dst, PORT_UDP))?;
        let buf = vec![0x5au8; UDP_SIZE];
        let mut sent = 0;
        while sent < UDP_DATAGRAMS {
            // ENOBUFS under pressure: that datagram was not sent; try again.
            if s.send(&buf).is_ok() {
                sent += 1;
            }
        }
        for _ in 0..20 {
            let _ = s.send(&[0]);
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    })??;
    let (bytes, took) = server
        .join()
        .map_err(|_| anyhow::anyhow!("UDP receiver panicked"))??;
    if bytes == 0 || took.is_zero() {
        bail!("UDP round delivered nothing");
    }
    Ok(bytes as f64 / took.as_secs_f64())
}
