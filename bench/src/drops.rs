//! `cargo xtask bench drops [SECS] [storm | --no-storm] [--control] [--tcp | --udp]
//! [--default-only | --tc-only]`: what `nfprobe drops` costs and whether it keeps up.
//!
//! Builds its own namespaces (removed at the end, also on error): a "host" with a Docker-named
//! bridge and a routed client link, a "container" behind the bridge, a "client" outside.
//! 1. TCP and UDP throughput client → container through the bridge, with and without the
//!    probe's data path (drops_toggle), in two modes, each against no probe: the default
//!    (`nfprobe drops`: the `kfree_skb` tracepoint alone, interface counters from the kernel's
//!    statistics) for SECS seconds per protocol (default 150), then `--tc` (the tracepoint plus
//!    tcx in and out on the bridge and its port) for 2/5 of that. One continuous stream per
//!    protocol (drops_flow, sender and receiver pinned to different CPUs at nice -20), the
//!    probe loaded once per mode through the library session `nfprobe drops` runs, its data
//!    path detached and re-attached between 250 ms windows in ABBA/BAAB blocks. Per block: the
//!    with/without throughput ratio and the ratio of the stream threads' CPU time per byte; over
//!    blocks the Hodges-Lehmann estimate with its signed-rank 95 % interval (and the median
//!    with its sign-test interval). Default mode's targets: throughput ≥ 99 % with the
//!    interval's lower end ≥ 98 %, CPU per byte within 1 %; `--tc`: measured, no target. Also:
//!    the probe programs' run time per packet on the stream (`kernel.bpf_stats_enabled=1` for
//!    2 s, restored afterwards), the tc programs alone against an empty program
//!    (BPF_PROG_TEST_RUN, `--tc` mode), steal time, and a short whole-process check
//!    (`nfprobe drops` of that mode started and stopped around 1 s windows).
//! 2. A drop storm: pre-built UDP frames written into one tap per CPU, each by its own
//!    io_uring writer thread (storm_tx), dropped by the taps' netdev ingress hooks
//!    (NETFILTER_DROP), for 10 s; the default `nfprobe drops`' count on the taps must equal
//!    frames sent minus datagrams delivered to the listening socket, exactly; prints drops/s
//!    with and without the probe, and the probe's run time per drop from a short extra storm
//!    with `kernel.bpf_stats_enabled=1` (set only then, restored afterwards).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nfprobe::kernel::netns::{NetnsSpec, run_in};

use nfprobe::drops::{Options, Session};

use super::drops_flow::{Proto, Stream, pin_to_cpu};
use super::{Bench, bpf_stats, bpf_testrun, drops_toggle, paired, procstat, storm_tx};
use crate::sh::step;

pub static BENCH: Bench = Bench {
    name: "drops",
    about: "throughput through a bridge with/without nfprobe drops; 10 s drop storm counted exactly",
    run,
};

const STORM: Duration = Duration::from_secs(10);
const COST_STORM: Duration = Duration::from_secs(3);
pub(super) const CTR_ADDR: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 2);
/// The storm's tap (in the host netns): frames written to it are received on it and dropped
/// by its netdev ingress hook.
/// UDP port the storm's frames are addressed to (a socket listens on it: "delivered").
const STORM_PORT: u16 = 9;

/// One storm writer per CPU.
fn storm_writers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(64)
}

/// Writer `i`'s tap (in the host netns): its frames are received on it and dropped by its
/// netdev ingress hook.
fn storm_if(i: usize) -> String {
    format!("stap{i}")
}

/// Host `host` (1: the tap, 2: the frames' source) of writer `i`'s subnet 10.254.i.0/24.
fn storm_addr(i: usize, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 254, i as u8, host)
}

/// Whether a summary row (drops or interfaces) is about a storm tap.
fn is_storm_if(row: &serde_json::Value) -> bool {
    row["iface"]
        .as_str()
        .is_some_and(|n| storm_ifs().iter().any(|s| s == n))
}

/// Every storm tap.
pub(super) fn storm_ifs() -> Vec<String> {
    (0..storm_writers()).map(storm_if).collect()
}

fn storm_mac(i: usize, host: u8) -> [u8; 6] {
    [0x02, 0, 0, 0x5a, i as u8, host]
}

/// The bench's namespaces; removed on drop.
pub(super) struct Topo {
    pub(super) host: String,
    pub(super) ctr: String,
    pub(super) cli: String,
    pub(super) bridge: String,
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

pub(super) fn build_topo() -> Result<Topo> {
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
    // The storm: one tap per writer thread (per CPU) whose netdev ingress hook drops
    // everything (reason NETFILTER_DROP, before the IP layer), the cheapest netfilter drop
    // there is. A write to a tap runs its receive path in the writer's context (storm_tx);
    // a tap per writer keeps the writers from sharing a socket's write-memory counter.
    in_ns(h, "nft", &["add", "table", "netdev", "nfbstorm"])?;
    for i in 0..storm_writers() {
        let dev = storm_if(i);
        ip(h, &format!("tuntap add mode tap name {dev}"))?;
        ip(
            h,
            &format!("link set {dev} address {}", mac(storm_mac(i, 2))),
        )?;
        // No IPv6 on it: the router solicitations and MLD reports it would send when it comes
        // up would be dropped too (nobody reads the tap) and spoil the exact count.
        in_ns(
            h,
            "sysctl",
            &["-qw", &format!("net.ipv6.conf.{dev}.disable_ipv6=1")],
        )?;
        ip(h, &format!("addr add {}/24 dev {dev}", storm_addr(i, 1)))?;
        ip(h, &format!("link set {dev} up"))?;
        let chain = format!("in{i}");
        in_ns(
            h,
            "nft",
            &[
                "add", "chain", "netdev", "nfbstorm", &chain, "{", "type", "filter", "hook",
                "ingress", "device", &dev, "priority", "0", ";", "}",
            ],
        )?;
        in_ns(
            h,
            "nft",
            &["add", "rule", "netdev", "nfbstorm", &chain, "drop"],
        )?;
    }
    Ok(t)
}

fn mac(m: [u8; 6]) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

pub(super) fn spec(ns: &str) -> NetnsSpec {
    NetnsSpec::parse(ns)
}

/// A running `nfprobe drops --json` in the host namespace.
struct Probe(Child, std::thread::JoinHandle<String>);

impl Probe {
    fn start(bin: &Path, host: &str, ifaces: &[&str], mode: Mode) -> Result<Self> {
        let mut child = Command::new(bin)
            .args(["--netns", host, "drops", "--json"])
            .args(mode.flags())
            .args(ifaces.iter().flat_map(|i| ["--iface", i]))
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

/// Window length, settle time after a switch, and the default seconds per protocol of the
/// toggled measurement.
const WINDOW: Duration = Duration::from_millis(250);

const SETTLE: Duration = Duration::from_millis(30);
const TOGGLE_SECS: u64 = 150;

/// What `nfprobe drops` runs: its default data path, or that plus the tc counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Default,
    Tc,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Default => "default (kfree_skb tracepoint only)",
            Mode::Tc => "--tc (tracepoint + tcx in/out on the bridge and its port)",
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            Mode::Default => &[],
            Mode::Tc => &["--tc"],
        }
    }

    /// Seconds per protocol of the toggled measurement, given the default mode's.
    fn secs(self, secs: u64) -> u64 {
        match self {
            Mode::Default => secs,
            Mode::Tc => (secs * 2 / 5).max(20),
        }
    }
}
/// Blocks of the whole-process comparison (starting `nfprobe drops` takes about a second).
const PROCESS_BLOCKS: usize = 2;
const PROCESS_WINDOW: Duration = Duration::from_secs(1);
/// Runs of each tc program alone (BPF_PROG_TEST_RUN).
const TESTRUN_REPEAT: u32 = 5_000_000;
/// Window of the kernel's run-time accounting on the stream.
const STATS_WINDOW: Duration = Duration::from_secs(2);

/// Everything measured on one protocol's stream.
struct Throughput {
    mode: Mode,
    proto: Proto,
    toggled: drops_toggle::Toggled,
    /// Per program: run time and runs during `STATS_WINDOW`, and the packets in that window.
    stats: BTreeMap<String, bpf_stats::Run>,
    stats_packets: u64,
    /// Whole `nfprobe drops` process started/stopped: per block with/without ratio, and the
    /// process's CPU time per second while it ran.
    process_ratios: Vec<f64>,
    process_cpu_per_sec: f64,
}

fn throughput(
    t: &Topo,
    bin: &Path,
    session: &mut Session,
    (mode, proto): (Mode, Proto),
    secs: u64,
    control: bool,
) -> Result<Throughput> {
    let (ctr, cli) = (spec(&t.ctr), spec(&t.cli));
    let stream = Stream::start(proto, &ctr, &cli, CTR_ADDR)?;
    step(&format!(
        "{}: {secs} s of blocks of 4 x {} ms windows (ABBA/BAAB), the probe's data path \
         detached and re-attached between them",
        proto.name(),
        WINDOW.as_millis()
    ));
    let mut ratios = Vec::new();
    let toggled = drops_toggle::measure(
        &stream,
        &mut |on| {
            if control {
                // Both states detached, reached through the same attach + detach work: any
                // difference is the bench's own bias and noise.
                session.set_attached(true)?;
                session.set_attached(false)?;
                Ok(())
            } else {
                Ok(session.set_attached(on)?)
            }
        },
        Duration::from_secs(secs),
        WINDOW,
        SETTLE,
        &mut |b, ws| {
            ratios.push(drops_toggle::throughput_ratio(ws));
            if (b + 1) % 25 == 0 {
                step(&format!(
                    "{} block {}: median with/without so far {:.2}%",
                    proto.name(),
                    b + 1,
                    100.0 * paired::median(&ratios)
                ));
            }
        },
    )?;

    step(&format!(
        "{}: probe run time per program ({} s with kernel.bpf_stats_enabled=1, restored afterwards)",
        proto.name(),
        STATS_WINDOW.as_secs()
    ));
    session.set_attached(true)?;
    let (stats, stats_packets) = {
        let _on = bpf_stats::StatsOn::enable()?;
        let pid = std::process::id();
        let before = bpf_stats::of_process(pid)?;
        let a = stream.snap()?;
        std::thread::sleep(STATS_WINDOW);
        let z = stream.snap()?;
        let after = bpf_stats::of_process(pid)?;
        let runs = after
            .into_iter()
            .map(|(name, run)| {
                let b = before.get(&name).copied().unwrap_or_default();
                (name, run.since(&b))
            })
            .collect();
        (runs, z.n.packets - a.n.packets)
    };
    session.set_attached(false)?;

    step(&format!(
        "{}: whole process, {PROCESS_BLOCKS} ABBA blocks of {} s windows with `nfprobe drops`          started and stopped (sanity check, not the verdict)",
        proto.name(),
        PROCESS_WINDOW.as_secs()
    ));
    let mut process_ratios = Vec::new();
    let (mut proc_cpu, mut proc_secs) = (0u64, 0f64);
    let window = |s: &Stream| -> Result<f64> {
        let a = s.snap()?;
        std::thread::sleep(PROCESS_WINDOW);
        let z = s.snap()?;
        Ok((z.n.bytes - a.n.bytes) as f64 / z.at.duration_since(a.at).as_secs_f64())
    };
    for _ in 0..PROCESS_BLOCKS {
        let a1 = window(&stream)?;
        let probe = Probe::start(bin, &t.host, &[], mode)?;
        std::thread::sleep(SETTLE);
        let c0 = (
            procstat::process_cpu_ns(probe.0.id())?,
            std::time::Instant::now(),
        );
        let b1 = window(&stream)?;
        let b2 = window(&stream)?;
        proc_cpu += procstat::process_cpu_ns(probe.0.id())? - c0.0;
        proc_secs += c0.1.elapsed().as_secs_f64();
        probe.stop()?;
        std::thread::sleep(SETTLE);
        let a2 = window(&stream)?;
        process_ratios.push((b1 + b2) / (a1 + a2).max(1.0));
    }
    stream.stop()?;
    Ok(Throughput {
        mode,
        proto,
        toggled,
        stats,
        stats_packets,
        process_ratios,
        process_cpu_per_sec: proc_cpu as f64 / 1e9 / proc_secs.max(1e-9),
    })
}

impl Throughput {
    fn print(&self) {
        let tg = &self.toggled;
        let (off, on) = tg.totals();
        let thr = tg.throughput();
        let cpu = tg.cpu_per_byte();
        let sender = tg.sender_cpu_per_byte();
        let p = self.proto.name();
        println!(
            "  {p} through the bridge, mode {}, {} blocks of 4 x {} ms windows (ABBA/BAAB; probe loaded \
             throughout, its data path detached/attached between windows, {:.1} ms per switch):",
            self.mode.name(),
            tg.blocks.len(),
            tg.window.as_millis(),
            1e3 * tg.switch_secs / tg.switches.max(1) as f64,
        );
        println!(
            "    throughput {:.0} MB/s without, {:.0} MB/s with; with/without per block {}",
            off.rate() / 1e6,
            on.rate() / 1e6,
            thr.show(),
        );
        println!(
            "    CPU per packet (sender + receiver threads, exact; the sender's time includes the \
             softirq path it triggers): {:.0} ns without, {:.0} ns with ({:+.0} ns); CPU per byte \
             with/without per block {}",
            off.thread_ns_per_packet(),
            on.thread_ns_per_packet(),
            on.thread_ns_per_packet() - off.thread_ns_per_packet(),
            cpu.show(),
        );
        println!(
            "    of which sender {:.0} / {:.0} ns ({:+.0} ns; sender CPU per byte with/without per \
             block {}), receiver {:.0} / {:.0} ns (it slept {:.1} / {:.1} times per 1000 packets: \
             each sleep costs both sides a wake-up)",
            off.sender_ns_per_packet(),
            on.sender_ns_per_packet(),
            on.sender_ns_per_packet() - off.sender_ns_per_packet(),
            sender.show(),
            off.receiver_ns_per_packet(),
            on.receiver_ns_per_packet(),
            off.sleeps_per_kpacket(),
            on.sleeps_per_kpacket(),
        );
        println!(
            "    whole machine busy CPU per packet (/proc/stat, tick-sampled): {:.0} ns without, \
             {:.0} ns with; {:.0} / {:.0} packets/s of {:.0} / {:.0} bytes; steal {:.2}% / {:.2}%; \
             UDP receive-buffer drops {} / {}",
            off.busy_ns_per_packet(),
            on.busy_ns_per_packet(),
            off.n.packets as f64 / off.secs.max(1e-9),
            on.n.packets as f64 / on.secs.max(1e-9),
            off.n.bytes as f64 / off.n.packets.max(1) as f64,
            on.n.bytes as f64 / on.n.packets.max(1) as f64,
            100.0 * off.n.cpu.steal_share(),
            100.0 * on.n.cpu.steal_share(),
            off.n.rcvbuf_errors,
            on.n.rcvbuf_errors,
        );
        let runs: Vec<String> = self
            .stats
            .iter()
            .map(|(name, run)| {
                format!(
                    "{name} {:.0} ns x {:.2} per packet",
                    run.per_run(),
                    run.count as f64 / self.stats_packets.max(1) as f64,
                )
            })
            .collect();
        println!(
            "    probe programs (kernel.bpf_stats over {} packets; its run time includes part of \
             the two clock reads it adds per run): {}",
            self.stats_packets,
            runs.join(", "),
        );
        println!(
            "    whole process (sanity check, {} ABBA blocks of 1 s windows, `nfprobe drops` \
             started and stopped): with/without {}; nfprobe's own CPU {:.1} ms per s",
            self.process_ratios.len(),
            self.process_ratios
                .iter()
                .map(|r| format!("{:.1}%", 100.0 * r))
                .collect::<Vec<_>>()
                .join(", "),
            1e3 * self.process_cpu_per_sec,
        );
        match self.mode {
            Mode::Default => println!(
                "  VERDICT {p}, default mode: {} (throughput with/without {:.2}%, {:.1}% CI \
                 {:.2}-{:.2}%; CPU per byte with/without {:.2}%, CI {:.2}-{:.2}%; {} blocks)",
                self.verdict(),
                100.0 * thr.est,
                100.0 * thr.coverage,
                100.0 * thr.lo,
                100.0 * thr.hi,
                100.0 * cpu.est,
                100.0 * cpu.lo,
                100.0 * cpu.hi,
                tg.blocks.len(),
            ),
            Mode::Tc => println!(
                "  MEASURED {p}, --tc mode (no target): throughput with/without {:.2}%, {:.1}% CI \
                 {:.2}-{:.2}%; CPU per byte with/without {:.2}%, CI {:.2}-{:.2}% ({} blocks)",
                100.0 * thr.est,
                100.0 * thr.coverage,
                100.0 * thr.lo,
                100.0 * thr.hi,
                100.0 * cpu.est,
                100.0 * cpu.lo,
                100.0 * cpu.hi,
                tg.blocks.len(),
            ),
        }
    }

    /// The default mode's targets: throughput ≥ 99 % of without with the 95 % interval's
    /// lower end ≥ 98 %, and the stream threads' CPU per byte within 1 % of without (the
    /// estimate).
    fn verdict(&self) -> String {
        let thr = self.toggled.throughput();
        let cpu = self.toggled.cpu_per_byte();
        if thr.coverage < 0.95 {
            return "not shown (too few blocks for a confidence interval)".into();
        }
        let thr_ok = thr.est >= 0.99 && thr.lo >= 0.98;
        let cpu_ok = (cpu.est - 1.0).abs() <= 0.01;
        let word = |ok: bool| if ok { "met" } else { "NOT met" };
        format!(
            "{} (throughput >= 99% with the interval's lower end >= 98%: {}; CPU per byte \
             within 1%: {})",
            word(thr_ok && cpu_ok),
            word(thr_ok),
            word(cpu_ok)
        )
    }
}

/// What one storm did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Blast {
    /// Writes the kernel completed.
    pub(super) sent: u64,
    /// Datagrams that reached a socket listening on the storm's destination (0 while the
    /// netdev ingress drop holds).
    pub(super) delivered: u64,
    /// CPU time of the writer threads, which run the receive path and the drop too: the cost
    /// per frame does not depend on how much CPU other work leaves the bench.
    cpu: Duration,
}

impl Blast {
    fn ns_per_frame(&self) -> f64 {
        self.cpu.as_nanos() as f64 / self.sent.max(1) as f64
    }
}

/// Frames into the storm tap from every CPU for `dur`.
pub(super) fn storm(t: &Topo, dur: Duration) -> Result<Blast> {
    let host = spec(&t.host);
    let sink = run_in(Some(&host), || -> Result<UdpSocket> {
        let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, STORM_PORT))?;
        s.set_nonblocking(true)?;
        Ok(s)
    })??;
    let mut handles = Vec::new();
    for i in 0..storm_writers() {
        let dev = storm_if(i);
        let frame = storm_tx::udp_frame(
            storm_mac(i, 1),
            storm_mac(i, 2),
            storm_addr(i, 2),
            storm_addr(i, 1),
            STORM_PORT,
        );
        let tap = run_in(Some(&host), || storm_tx::open_tap(&dev))?
            .with_context(|| format!("attaching to tap {dev}"))?;
        handles.push(std::thread::spawn(move || {
            pin_to_cpu(i);
            let tx = storm_tx::TapTx::new(&tap).context("io_uring")?;
            Ok::<_, anyhow::Error>(tx.blast(&frame, dur)?)
        }));
    }
    let (mut sent, mut cpu) = (0, Duration::ZERO);
    for h in handles {
        let (n, c) = h
            .join()
            .map_err(|_| anyhow::anyhow!("storm thread panicked"))??;
        sent += n;
        cpu += c;
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut delivered = 0u64;
    let mut buf = [0u8; 64];
    while sink.recv(&mut buf).is_ok() {
        delivered += 1;
    }
    Ok(Blast {
        sent,
        delivered,
        cpu,
    })
}

/// Storm results of one run with the probe attached.
struct Storm {
    blast: Blast,
    counted: u64,
    rows: Vec<serde_json::Value>,
    summary: serde_json::Value,
}

fn storm_with_probe(t: &Topo, bin: &Path, dur: Duration) -> Result<Storm> {
    let mut watch = storm_ifs();
    watch.push(t.bridge.clone());
    let watch: Vec<&str> = watch.iter().map(String::as_str).collect();
    let probe = Probe::start(bin, &t.host, &watch, Mode::Default)?;
    let blast = storm(t, dur)?;
    std::thread::sleep(Duration::from_millis(200));
    let summary = probe.stop()?;
    let rows: Vec<serde_json::Value> = summary["drops"]
        .as_array()
        .map(|rows| rows.iter().filter(|r| is_storm_if(r)).cloned().collect())
        .unwrap_or_default();
    let counted = rows.iter().filter_map(|r| r["packets"].as_u64()).sum();
    Ok(Storm {
        blast,
        counted,
        rows,
        summary,
    })
}

fn run(args: &[String]) -> Result<()> {
    // Hidden: hold the UDP stream and profile the sender's CPU (drops_profile).
    if args.first().is_some_and(|a| a == "profile") {
        return super::drops_profile::run(&args[1..]);
    }
    // `storm` alone skips the throughput part (quicker, for work on the storm); a number is
    // the seconds per protocol of the toggled measurement; `--no-storm` skips the storm.
    let storm_only = args.iter().any(|a| a == "storm");
    let no_storm = args.iter().any(|a| a == "--no-storm");
    // `--control`: an A/A run (both states detached, the same switching work before each).
    let control = args.iter().any(|a| a == "--control");
    // `--udp` / `--tcp`: that protocol's stream only (a long run of one).
    let protos: Vec<Proto> = match (
        args.iter().any(|a| a == "--tcp"),
        args.iter().any(|a| a == "--udp"),
    ) {
        (true, false) => vec![Proto::Tcp],
        (false, true) => vec![Proto::Udp],
        _ => vec![Proto::Tcp, Proto::Udp],
    };
    // `--default-only` / `--tc-only`: one mode of the throughput part.
    let modes: Vec<Mode> = match (
        args.iter().any(|a| a == "--default-only"),
        args.iter().any(|a| a == "--tc-only"),
    ) {
        (true, false) => vec![Mode::Default],
        (false, true) => vec![Mode::Tc],
        _ => vec![Mode::Default, Mode::Tc],
    };
    let flags = [
        "storm",
        "--no-storm",
        "--control",
        "--tcp",
        "--udp",
        "--default-only",
        "--tc-only",
    ];
    let mut secs = TOGGLE_SECS;
    for a in args.iter().filter(|a| !flags.contains(&a.as_str())) {
        secs = a
            .parse::<u64>()
            .ok()
            .filter(|&n| n >= 1)
            .with_context(|| format!("expected SECS (>= 1) or one of {flags:?}, got {a:?}"))?;
    }
    let bin = super::release_nfprobe()?;
    step("building the bench namespaces");
    let t = build_topo()?;
    let mut flows = Vec::new();
    let mut testrun = Vec::new();
    let cpu0 = procstat::cpu_times()?;
    for &mode in modes.iter().filter(|_| !storm_only) {
        let mut session = Session::start(Options {
            netns: Some(spec(&t.host)),
            tc: mode == Mode::Tc,
            ..Options::default()
        })
        .context("starting the drop probe (library session)")?;
        let names: Vec<String> = session
            .targets()
            .map(|x| format!("{} ({})", x.name, x.role.as_str()))
            .collect();
        step(&format!(
            "mode {}: TCP/UDP client -> {CTR_ADDR} through {}; probe session watching {}{}",
            mode.name(),
            t.bridge,
            names.join(", "),
            if session.has_tc() {
                format!("; tcx: {}", session.uses_tcx())
            } else {
                String::new()
            },
        ));
        session.set_attached(false)?;
        if mode == Mode::Tc {
            let bridge_ifindex = session
                .targets()
                .find(|x| x.name == t.bridge)
                .map(|x| x.ifindex)
                .context("the session does not watch the bench bridge")?;
            step(&format!(
                "tc programs alone: bpftool prog run, {TESTRUN_REPEAT} runs each"
            ));
            let empty = bpf_testrun::EmptyClassifier::load()?;
            let floor = bpf_testrun::ns_per_run(&t.host, empty.id()?, 0, TESTRUN_REPEAT)?;
            drop(empty);
            testrun.push(("an empty tc program".to_owned(), floor, floor));
            for (name, id) in bpf_stats::ids_of_process(std::process::id())? {
                if name.starts_with("nfp_tc") {
                    let fast =
                        bpf_testrun::ns_per_run(&t.host, id, bridge_ifindex, TESTRUN_REPEAT)?;
                    let other = bpf_testrun::ns_per_run(&t.host, id, 0, TESTRUN_REPEAT)?;
                    testrun.push((name, fast, other));
                }
            }
        }
        for &proto in &protos {
            flows.push(throughput(
                &t,
                &bin,
                &mut session,
                (mode, proto),
                mode.secs(secs),
                control,
            )?);
        }
    }
    let cpu_flows = procstat::cpu_times()?.since(&cpu0);
    if control {
        println!(
            "\nCONTROL RUN (--control): \"with\" windows are detached too, after the same \
             attach + detach work as \"without\" ones; the ratios below are the bench's own bias"
        );
    }
    if no_storm {
        println!("\nnfprobe drops benchmark ({} CPUs)", ncpus());
        print_throughput(&flows, &testrun, &cpu_flows);
        return Ok(());
    }

    step(&format!(
        "drop storm: {}s of frames written into taps {} (netdev ingress drop), without probe",
        STORM.as_secs(),
        storm_ifs().join(", "),
    ));
    let bare = storm(&t, STORM)?;
    step("drop storm with nfprobe drops attached");
    let s = storm_with_probe(&t, &bin, STORM)?;
    // The cost of one drop to the probe's programs, measured in a separate short storm: the
    // kernel's run-time accounting adds a clock read per run, so it stays off above.
    step(&format!(
        "cost per drop: {}s storm with kernel.bpf_stats_enabled=1 (restored afterwards)",
        COST_STORM.as_secs()
    ));
    let cost = storm_cost(&t, &bin)?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let secs = STORM.as_secs_f64();
    let expected = s.blast.sent - s.blast.delivered;
    let bare_rate = (bare.sent - bare.delivered) as f64 / secs;
    let with = expected as f64 / secs;
    let ncpu = ncpus();
    println!(
        "\nnfprobe drops benchmark ({ncpu} CPUs; load average at the end: {})",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !flows.is_empty() {
        print_throughput(&flows, &testrun, &cpu_flows);
    }
    println!(
        "  drop storm ({}s, a tap and an io_uring writer per CPU, netdev ingress drop): {:.0} drops/s \
         without probe, {:.0} drops/s with probe ({:.1}%); target >= 1M drops/s with probe: {}",
        STORM.as_secs(),
        bare_rate,
        with,
        100.0 * with / bare_rate.max(1.0),
        if with >= 1e6 { "met" } else { "NOT met" }
    );
    println!(
        "  storm CPU time per frame (writer threads; independent of the CPU share the bench got): \
         {:.0} ns without, {:.0} ns with probe (+{:.0} ns); the writers got {:.1} and {:.1} of \
         {ncpu} CPUs (below {ncpu}: other work took the rest, the rates above are that low)",
        bare.ns_per_frame(),
        s.blast.ns_per_frame(),
        s.blast.ns_per_frame() - bare.ns_per_frame(),
        bare.cpu.as_secs_f64() / secs,
        s.blast.cpu.as_secs_f64() / secs,
    );
    for r in &s.rows {
        println!(
            "    counted on {}: {} x {} at {}",
            r["iface"].as_str().unwrap_or("?"),
            r["packets"],
            r["reason"],
            r["location"]
        );
    }
    println!(
        "  storm counted: sent {} - delivered {} = {expected}; nfprobe counted {}: {}",
        s.blast.sent,
        s.blast.delivered,
        s.counted,
        if s.counted == expected {
            "EXACT"
        } else {
            "MISMATCH"
        }
    );
    let tap_rx: u64 = s.summary["interfaces"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| is_storm_if(i))
                .filter_map(|i| i["rx_packets"].as_u64())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "  probe stats: matched {} events, counter map full {}; the taps' own rx_packets \
         (IFLA_STATS64, read by nfprobe) {tap_rx}",
        s.summary["matched_events"], s.summary["count_map_full"],
    );
    for (name, run) in &cost {
        println!(
            "  cost: {name} {:.0} ns per run over {} runs (kernel run-time accounting, includes its own clock reads)",
            run.per_run(),
            run.count
        );
    }
    if s.counted != expected {
        bail!(
            "the storm was not counted exactly ({} != {expected})",
            s.counted
        );
    }
    Ok(())
}

fn print_throughput(
    flows: &[Throughput],
    testrun: &[(String, f64, f64)],
    cpu: &procstat::CpuTimes,
) {
    for r in flows {
        r.print();
    }
    print_testrun(testrun);
    println!(
        "  steal during the throughput part: {:.2}% of CPU time (/proc/stat)",
        100.0 * cpu.steal_share()
    );
    let default: Vec<&Throughput> = flows.iter().filter(|f| f.mode == Mode::Default).collect();
    if default.is_empty() {
        return;
    }
    let verdicts: Vec<String> = default.iter().map(|f| f.verdict()).collect();
    let overall = if verdicts.iter().all(|v| v.starts_with("met")) {
        "met"
    } else if verdicts.iter().any(|v| v.starts_with("NOT met")) {
        "NOT met"
    } else {
        "not shown"
    };
    println!(
        "  VERDICT default mode ({}): {overall}",
        default
            .iter()
            .map(|f| f.proto.name())
            .collect::<Vec<_>>()
            .join(" and "),
    );
}

fn print_testrun(runs: &[(String, f64, f64)]) {
    let Some(((_, floor, _), progs)) = runs.split_first() else {
        return;
    };
    println!(
        "  tc programs alone (BPF_PROG_TEST_RUN, {TESTRUN_REPEAT} runs each, no clock read per \
         run): an empty program {floor:.0} ns (the call and the loop: the floor)"
    );
    for (name, fast, other) in progs {
        println!(
            "    {name}: {fast:.0} ns on a watched interface ({:+.0} ns over the empty \
             program), {other:.0} ns on one it does not count ({:+.0} ns)",
            fast - floor,
            other - floor,
        );
    }
}

fn ncpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A short storm with the probe attached and the kernel's BPF run-time accounting on: the
/// run time per program run of the probe's programs.
fn storm_cost(t: &Topo, bin: &Path) -> Result<BTreeMap<String, bpf_stats::Run>> {
    let mut watch = storm_ifs();
    watch.push(t.bridge.clone());
    let watch: Vec<&str> = watch.iter().map(String::as_str).collect();
    let probe = Probe::start(bin, &t.host, &watch, Mode::Default)?;
    let pid = probe.0.id();
    let out = {
        let _on = bpf_stats::StatsOn::enable()?;
        let before = bpf_stats::of_process(pid)?;
        storm(t, COST_STORM)?;
        let after = bpf_stats::of_process(pid)?;
        after
            .into_iter()
            .map(|(name, run)| {
                let b = before.get(&name).copied().unwrap_or_default();
                (name, run.since(&b))
            })
            .filter(|(_, run)| run.count > 0)
            .collect()
    };
    probe.stop()?;
    Ok(out)
}
