//! Continuous TCP or UDP streams through a lab bridge for `bench drops`: client namespace →
//! container, the sender pinned to one CPU and the receiver to the other so they do not fight
//! for a core. The stream runs until stopped; [`Stream::snap`] reads its counters (bytes
//! received, packets the container's interface received, the two threads' CPU time)
//! so the bench can measure any window of it without connection set-up or slow start inside.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nfprobe::kernel::netns::{NetnsSpec, run_in};

use super::procstat::{self, CpuTimes};

/// Payload size of a UDP datagram.
pub const UDP_SIZE: usize = 1400;
pub const SENDER_CPU: usize = 0;
const RECEIVER_CPU: usize = 1;
const PORT_TCP: u16 = 5201;
const PORT_UDP: u16 = 5202;
/// The container's interface (its received packets are the packets that crossed the bridge).
const CTR_IF: &str = "eth0";

/// Run the calling thread at nice -20 (root): other work on the machine then takes little CPU
/// from the stream, which keeps windows comparable (best effort).
pub fn prioritise() {
    // SAFETY: setpriority on our own thread id; failure only leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, gettid() as libc::id_t, -20);
    }
}

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

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Which transfer a stream runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// What the receiver has seen so far.
#[derive(Default)]
struct Received {
    bytes: AtomicU64,
}

/// A running stream; stopped (and its threads joined) by [`Stream::stop`] or on drop.
pub struct Stream {
    stop: Arc<AtomicBool>,
    rx: Arc<Received>,
    tx_tid: i32,
    rx_tid: i32,
    threads: Vec<JoinHandle<Result<()>>>,
}

/// The stream's counters at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Snap {
    pub at: Instant,
    pub n: Counts,
}

/// The stream's counters: running totals in a [`Snap`], or what a window (or several) added.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub bytes: u64,
    /// Packets (skbs, as the probe's hooks see them) the container's interface received.
    pub packets: u64,
    /// UDP datagrams the container's stack could not queue (receive buffer full).
    pub rcvbuf_errors: u64,
    /// CPU time of the sender and receiver threads (ns; the sender's includes the softirq
    /// work its sends trigger: forwarding, the bridge, the tc hooks, the socket enqueue).
    pub thread_cpu_ns: u64,
    /// The sender's part of it.
    pub sender_cpu_ns: u64,
    /// Times the receiver went to sleep (its queue ran empty; each needs a wake-up).
    pub receiver_sleeps: u64,
    /// The whole machine's CPU times (/proc/stat).
    pub cpu: CpuTimes,
}

impl Counts {
    /// What was added since `before`.
    pub fn since(&self, before: &Counts) -> Counts {
        Counts {
            bytes: self.bytes - before.bytes,
            packets: self.packets - before.packets,
            rcvbuf_errors: self.rcvbuf_errors - before.rcvbuf_errors,
            thread_cpu_ns: self.thread_cpu_ns - before.thread_cpu_ns,
            sender_cpu_ns: self.sender_cpu_ns - before.sender_cpu_ns,
            receiver_sleeps: self.receiver_sleeps - before.receiver_sleeps,
            cpu: self.cpu.since(&before.cpu),
        }
    }

    pub fn add(&mut self, o: &Counts) {
        self.bytes += o.bytes;
        self.packets += o.packets;
        self.rcvbuf_errors += o.rcvbuf_errors;
        self.thread_cpu_ns += o.thread_cpu_ns;
        self.sender_cpu_ns += o.sender_cpu_ns;
        self.receiver_sleeps += o.receiver_sleeps;
        self.cpu.busy += o.cpu.busy;
        self.cpu.idle += o.cpu.idle;
        self.cpu.steal += o.cpu.steal;
    }
}

impl Stream {
    pub fn start(proto: Proto, ctr: &NetnsSpec, cli: &NetnsSpec, dst: Ipv4Addr) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let rx = Arc::new(Received::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<i32>();
        let receiver = {
            let (ctr, stop, rx) = (ctr.clone(), stop.clone(), rx.clone());
            std::thread::spawn(move || -> Result<()> {
                run_in(Some(&ctr), move || {
                    pin_to_cpu(RECEIVER_CPU);
                    prioritise();
                    let ready = move || {
                        let _ = ready_tx.send(gettid());
                    };
                    match proto {
                        Proto::Tcp => tcp_receive(&stop, &rx, ready),
                        Proto::Udp => udp_receive(&stop, &rx, ready),
                    }
                })?
            })
        };
        let rx_tid = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the receiver did not start")?;
        let (tid_tx, tid_rx) = std::sync::mpsc::channel::<i32>();
        let sender = {
            let (cli, stop) = (cli.clone(), stop.clone());
            std::thread::spawn(move || -> Result<()> {
                run_in(Some(&cli), move || {
                    pin_to_cpu(SENDER_CPU);
                    prioritise();
                    let _ = tid_tx.send(gettid());
                    match proto {
                        Proto::Tcp => tcp_send(&stop, dst),
                        Proto::Udp => udp_send(&stop, dst),
                    }
                })?
            })
        };
        let tx_tid = tid_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the sender did not start")?;
        let s = Self {
            stop,
            rx,
            tx_tid,
            rx_tid,
            threads: vec![receiver, sender],
        };
        // Past slow start and the first ARP exchange before anything is measured.
        std::thread::sleep(Duration::from_millis(300));
        if s.rx.bytes.load(Ordering::Relaxed) == 0 {
            bail!("{} stream: nothing arrived in 300 ms", proto.name());
        }
        Ok(s)
    }

    /// The sender thread's id (for profiles).
    pub fn sender_tid(&self) -> i32 {
        self.tx_tid
    }

    pub fn snap(&self) -> Result<Snap> {
        let sender_cpu_ns = procstat::thread_cpu_ns(self.tx_tid)?;
        let thread_cpu_ns = sender_cpu_ns + procstat::thread_cpu_ns(self.rx_tid)?;
        let receiver_sleeps = procstat::thread_sleeps(self.rx_tid)?;
        let packets = procstat::rx_packets(self.rx_tid, CTR_IF)?;
        let rcvbuf_errors = procstat::udp_rcvbuf_errors(self.rx_tid)?;
        Ok(Snap {
            at: Instant::now(),
            n: Counts {
                bytes: self.rx.bytes.load(Ordering::Relaxed),
                packets,
                rcvbuf_errors,
                thread_cpu_ns,
                sender_cpu_ns,
                receiver_sleeps,
                cpu: procstat::cpu_times()?,
            },
        })
    }

    /// Stop both ends and report the first error either had.
    pub fn stop(mut self) -> Result<()> {
        self.halt()
    }

    fn halt(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let mut first = Ok(());
        for t in self.threads.drain(..).rev() {
            let r = t
                .join()
                .map_err(|_| anyhow::anyhow!("a stream thread panicked"))
                .and_then(|r| r);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

fn tcp_receive(stop: &AtomicBool, rx: &Received, ready: impl FnOnce()) -> Result<()> {
    let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT_TCP))?;
    ready();
    let (mut s, _) = l.accept()?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match s.read(&mut buf)? {
            0 if stop.load(Ordering::Relaxed) => return Ok(()),
            0 => bail!("the TCP sender closed early"),
            n => rx.bytes.fetch_add(n as u64, Ordering::Relaxed),
        };
    }
}

fn tcp_send(stop: &AtomicBool, dst: Ipv4Addr) -> Result<()> {
    let mut s = TcpStream::connect(SocketAddrV4::new(dst, PORT_TCP))?;
    let buf = vec![0x5au8; 128 * 1024];
    while !stop.load(Ordering::Relaxed) {
        s.write_all(&buf)?;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    Ok(())
}

fn udp_receive(stop: &AtomicBool, rx: &Received, ready: impl FnOnce()) -> Result<()> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT_UDP))?;
    // A receive queue of 4 MiB (past rmem_max: root) so a receiver descheduled for a moment
    // loses little; losses are counted (rcvbuf_errors) and are drops the probe sees.
    let size: libc::c_int = 4 << 20;
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
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    ready();
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if let Ok(n) = s.recv(&mut buf) {
            rx.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn udp_send(stop: &AtomicBool, dst: Ipv4Addr) -> Result<()> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    s.connect(SocketAddrV4::new(dst, PORT_UDP))?;
    let buf = vec![0x5au8; UDP_SIZE];
    let mut n = 0u32;
    loop {
        // The flag is checked every 64 sends (an atomic load per datagram is noise anyway).
        n = n.wrapping_add(1);
        if n.is_multiple_of(64) && stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        // ENOBUFS under pressure: that datagram was not sent; go on.
        let _ = s.send(&buf);
    }
}
