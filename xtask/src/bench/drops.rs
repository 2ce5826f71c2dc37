//! `cargo xtask bench drops`: what `nfprobe drops` costs and whether it keeps up.
//!
//! Builds its own namespaces (removed at the end, also on error): a "host" with a Docker-named
//! bridge and a routed client link, a "container" behind the bridge, a "client" outside.
//! 1. TCP and UDP throughput client → container through the bridge, without and with
//!    `nfprobe drops` attached (tracepoint + tcx on bridge and port), alternating rounds;
//!    prints the median ratio (target ≥ 98 %).
//! 2. A drop storm: UDP sends from the host towards a destination routed via the bridge that
//!    OUTPUT drops, on every CPU for 10 s; the probe's NETFILTER_DROP count on the bridge must
//!    equal packets sent minus packets delivered, exactly; prints drops/s with and without probe.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nfprobe::kernel::netns::{NetnsSpec, run_in};

use super::Bench;
use crate::sh::step;

pub static BENCH: Bench = Bench {
    name: "drops",
    about: "throughput through a bridge with/without nfprobe drops; 10 s drop storm counted exactly",
    run,
};

const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_secs(3);
const STORM: Duration = Duration::from_secs(10);
const CTR_ADDR: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 2);
const STORM_DST: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 1);

/// The bench's namespaces; removed on drop.
struct Topo {
    host: String,
    ctr: String,
    cli: String,
    bridge: String,
}

impl Drop for Topo {
    fn drop(&mut self) {
        for n in [&self.host, &self.ctr, &self.cli] {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn ip(ns: &str, args: &str) -> Result<()> {
    let st = Command::new("ip")
        .args(["-n", ns])
        .args(args.split_whitespace())
        .status()
        .context("running ip (iproute2)")?;
    if !st.success() {
        bail!("`ip -n {ns} {args}` failed");
    }
    Ok(())
}

fn in_ns(ns: &str, prog: &str, args: &[&str]) -> Result<()> {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, prog])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {prog} in {ns}"))?;
    if !st.success() {
        bail!("`{prog} {}` in {ns} failed", args.join(" "));
    }
    Ok(())
}

fn build_topo() -> Result<Topo> {
    let pid = std::process::id();
    let t = Topo {
        host: format!("nfb{pid}-h"),
        ctr: format!("nfb{pid}-c"),
        cli: format!("nfb{pid}-x"),
        bridge: format!("br-{:012x}", 0xb0_0000_0000u64 + u64::from(pid)),
    };
    for n in [&t.host, &t.ctr, &t.cli] {
        let st = Command::new("ip").args(["netns", "add", n]).status()?;
        if !st.success() {
            bail!("ip netns add {n} failed (needs root)");
        }
        ip(n, "link set lo up")?;
    }
    let (h, c, x, br) = (&t.host, &t.ctr, &t.cli, &t.bridge);
    ip(h, &format!("link add {br} type bridge"))?;
    ip(h, &format!("addr add 172.31.0.1/24 dev {br}"))?;
    ip(h, &format!("link set {br} up"))?;
    ip(
        h,
        &format!("link add vethb type veth peer name eth0 netns {c}"),
    )?;
    ip(h, &format!("link set vethb master {br} up"))?;
    ip(c, "addr add 172.31.0.2/24 dev eth0")?;
    ip(c, "link set eth0 up")?;
    ip(c, "route add default via 172.31.0.1")?;
    ip(
        h,
        &format!("link add ext0 type veth peer name eth0 netns {x}"),
    )?;
    ip(h, "addr add 10.31.0.1/24 dev ext0")?;
    ip(h, "link set ext0 up")?;
    ip(x, "addr add 10.31.0.2/24 dev eth0")?;
    ip(x, "link set eth0 up")?;
    ip(x, "route add default via 10.31.0.1")?;
    in_ns(h, "sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
    // The storm's destination is routed out of the bridge and dropped by OUTPUT.
    ip(
        h,
        &format!("neigh add 172.31.0.254 lladdr 02:00:00:00:00:fe dev {br}"),
    )?;
    ip(
        h,
        &format!("route add 10.255.0.0/16 via 172.31.0.254 dev {br}"),
    )?;
    in_ns(
        h,
        "iptables",
        &["-A", "OUTPUT", "-d", "10.255.0.0/16", "-j", "DROP"],
    )?;
    Ok(t)
}

fn spec(ns: &str) -> NetnsSpec {
    NetnsSpec::parse(ns)
}

/// A running `nfprobe drops --json` in the host namespace.
struct Probe(Child, std::thread::JoinHandle<String>);

impl Probe {
    fn start(bin: &Path, host: &str) -> Result<Self> {
        let mut child = Command::new(bin)
            .args(["--netns", host, "drops", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", bin.display()))?;
        let mut out = child.stdout.take().context("stdout")?;
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = child.stderr.take().context("stderr")?;
        for line in BufReader::new(err).lines() {
            let line = line?;
            if line.contains("nfprobe drops: watching") {
                return Ok(Self(child, reader));
            }
            eprintln!("nfprobe: {line}");
        }
        let _ = child.wait();
        bail!("nfprobe drops exited before it was watching")
    }

    /// SIGTERM and the JSON summary.
    fn stop(mut self) -> Result<serde_json::Value> {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let st = self.0.wait()?;
        if !st.success() {
            bail!("nfprobe drops exited with {st}");
        }
        let text = self.1.join().map_err(|_| anyhow::anyhow!("reader"))?;
        Ok(serde_json::from_str(text.lines().last().unwrap_or("null"))?)
    }
}

/// Bytes per second client → container over TCP for one round.
fn tcp_round(t: &Topo) -> Result<f64> {
    let ctr = spec(&t.ctr);
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        run_in(Some(&ctr), move || -> Result<u64> {
            let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 5201))?;
            let _ = tx.send(());
            let (mut s, _) = l.accept()?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                match s.read(&mut buf)? {
                    0 => return Ok(total),
                    n => total += n as u64,
                }
            }
        })
    });
    rx.recv_timeout(Duration::from_secs(10))
        .context("TCP server did not start")?;
    let cli = spec(&t.cli);
    let secs = run_in(Some(&cli), || -> Result<f64> {
        let mut s = TcpStream::connect(SocketAddrV4::new(CTR_ADDR, 5201))?;
        let buf = vec![0x5au8; 128 * 1024];
        let start = Instant::now();
        while start.elapsed() < ROUND {
            s.write_all(&buf)?;
        }
        s.shutdown(std::net::Shutdown::Write)?;
        Ok(start.elapsed().as_secs_f64())
    })??;
    let bytes = server
        .join()
        .map_err(|_| anyhow::anyhow!("server panicked"))???;
    Ok(bytes as f64 / secs)
}

/// Bytes per second of UDP datagrams that reached the container in one round.
fn udp_round(t: &Topo) -> Result<f64> {
    let ctr = spec(&t.ctr);
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        run_in(Some(&ctr), move || -> Result<u64> {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 5202))?;
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            let _ = tx.send(());
            let mut buf = vec![0u8; 2048];
            let mut total = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                if let Ok(n) = s.recv(&mut buf) {
                    total += n as u64;
                }
            }
            Ok(total)
        })
    });
    rx.recv_timeout(Duration::from_secs(10))
        .context("UDP server did not start")?;
    let cli = spec(&t.cli);
    let secs = run_in(Some(&cli), || -> Result<f64> {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.connect(SocketAddrV4::new(CTR_ADDR, 5202))?;
        let buf = vec![0x5au8; 1400];
        let start = Instant::now();
        while start.elapsed() < ROUND {
            // ENOBUFS under pressure is part of the game: the sender just goes on.
            let _ = s.send(&buf);
        }
        Ok(start.elapsed().as_secs_f64())
    })??;
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let bytes = server
        .join()
        .map_err(|_| anyhow::anyhow!("server panicked"))???;
    Ok(bytes as f64 / secs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Alternating rounds without and with the probe; returns (median off, median on).
fn throughput(
    t: &Topo,
    bin: &Path,
    name: &str,
    round: fn(&Topo) -> Result<f64>,
) -> Result<(f64, f64)> {
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let a = round(t)?;
        let probe = Probe::start(bin, &t.host)?;
        let b = round(t)?;
        probe.stop()?;
        step(&format!(
            "{name} round {}: without {:.1} MB/s, with probe {:.1} MB/s",
            i + 1,
            a / 1e6,
            b / 1e6
        ));
        off.push(a);
        on.push(b);
    }
    Ok((median(off), median(on)))
}

/// Send to the OUTPUT-dropped destination from every CPU for `STORM`; (sent, delivered).
fn storm(t: &Topo) -> Result<(u64, u64)> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let sent = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for i in 0..threads {
        let host = spec(&t.host);
        let (sent, delivered) = (sent.clone(), delivered.clone());
        handles.push(std::thread::spawn(move || {
            run_in(Some(&host), move || -> Result<()> {
                let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
                s.connect(SocketAddrV4::new(STORM_DST, 9000 + i as u16))?;
                let buf = [0u8; 18];
                let start = Instant::now();
                let (mut n, mut ok) = (0u64, 0u64);
                while start.elapsed() < STORM {
                    for _ in 0..256 {
                        n += 1;
                        // EPERM: OUTPUT dropped it (the kernel freed it with NETFILTER_DROP).
                        if s.send(&buf).is_ok() {
                            ok += 1;
                        }
                    }
                }
                sent.fetch_add(n, Ordering::Relaxed);
                delivered.fetch_add(ok, Ordering::Relaxed);
                Ok(())
            })?
        }));
    }
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("storm thread panicked"))??;
    }
    Ok((
        sent.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed),
    ))
}

fn run(_args: &[String]) -> Result<()> {
    let bin = super::release_nfprobe()?;
    step("building the bench namespaces");
    let t = build_topo()?;
    step(&format!(
        "TCP/UDP client -> {CTR_ADDR} through {} ({ROUNDS} rounds of {}s each way)",
        t.bridge,
        ROUND.as_secs()
    ));
    let (tcp_off, tcp_on) = throughput(&t, &bin, "TCP", tcp_round)?;
    let (udp_off, udp_on) = throughput(&t, &bin, "UDP", udp_round)?;

    step(&format!(
        "drop storm: {}s of UDP to {STORM_DST} (OUTPUT drop via {}), without probe",
        STORM.as_secs(),
        t.bridge
    ));
    let (bare_sent, _) = storm(&t)?;
    step("drop storm with nfprobe drops attached");
    let probe = Probe::start(&bin, &t.host)?;
    let (sent, delivered) = storm(&t)?;
    std::thread::sleep(Duration::from_millis(200));
    let summary = probe.stop()?;
    let counted: u64 = summary["drops"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter(|r| {
                    r["iface"].as_str() == Some(t.bridge.as_str())
                        && r["reason"].as_str() == Some("NETFILTER_DROP")
                })
                .filter_map(|r| r["packets"].as_u64())
                .sum()
        })
        .unwrap_or(0);
    let expected = sent - delivered;
    let secs = STORM.as_secs_f64();
    println!("\nnfprobe drops benchmark (2-core VM; other work may share it)");
    println!(
        "  TCP throughput: {:.0} MB/s without, {:.0} MB/s with probe: ratio {:.1}% (target >= 98%)",
        tcp_off / 1e6,
        tcp_on / 1e6,
        100.0 * tcp_on / tcp_off.max(1.0)
    );
    println!(
        "  UDP throughput: {:.0} MB/s without, {:.0} MB/s with probe: ratio {:.1}% (target >= 98%)",
        udp_off / 1e6,
        udp_on / 1e6,
        100.0 * udp_on / udp_off.max(1.0)
    );
    println!(
        "  drop storm: {:.0} drops/s without probe, {:.0} drops/s with probe ({:.1}%)",
        bare_sent as f64 / secs,
        sent as f64 / secs,
        100.0 * sent as f64 / (bare_sent as f64).max(1.0)
    );
    println!(
        "  storm counted: sent {sent} - delivered {delivered} = {expected}; nfprobe counted {counted}: {}",
        if counted == expected {
            "EXACT"
        } else {
            "MISMATCH"
        }
    );
    println!(
        "  probe stats: matched {} events, counter map full {}",
        summary["matched_events"], summary["count_map_full"]
    );
    if counted != expected {
        bail!("the storm was not counted exactly ({counted} != {expected})");
    }
    if (sent as f64 / secs) < 1e6 {
        println!("  note: the storm stayed below 1M drops/s on this machine");
    }
    Ok(())
}
