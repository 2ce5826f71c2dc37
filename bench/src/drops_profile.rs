//! Hidden mode `cargo xtask bench drops profile [SECS] [ROUNDS]`: hold the UDP stream of the
//! throughput part running and take a kernel profile of the sender's CPU (CPU 0, which runs
//! the sender and the whole softirq path its datagrams cause) with the probe's data path
//! detached and attached, ROUNDS times each (ABBA/BAAB order), SECS seconds per profile
//! (`perf record -e cpu-clock -C 0 -g`: software events only on this VM). Each profile's
//! stream counters are printed with it (datagrams, the sender's CPU per datagram), so a
//! symbol's sample share converts to ns per datagram. The perf.data files stay in the
//! folder printed at the end for `perf report` / `perf diff`. Extra states, for attributing
//! the cost (each attaches an empty tc program through tcx instead of the probe's data path):
//! `empty` (`return TCX_NEXT`, like ours) in and out on the bridge and its port: the hooks'
//! own cost without our work; `pass` the same returning TCX_PASS (skips `tc_run`, the legacy
//! tc filters, after the tcx chain); `one` the TCX_NEXT program on the port's egress only
//! (one hook run per datagram instead of two).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nfprobe::drops::{Options, Session};

use super::bpf_testrun::EmptyClassifier;
use super::drops::{CTR_ADDR, Topo, build_topo, spec};
use super::drops_flow::{Proto, SENDER_CPU, Stream};
use crate::sh::step;

/// Time after a switch before a profile starts.
const SETTLE: Duration = Duration::from_millis(300);
/// Samples per second (cpu-clock; off the 1000 Hz tick): ~50,000 per 10 s profile.
const FREQ: u32 = 4999;

pub fn run(args: &[String]) -> Result<()> {
    let nums: Vec<&String> = args.iter().filter(|a| a.parse::<u64>().is_ok()).collect();
    let num =
        |i: usize, default: u64| -> Result<u64> { nums.get(i).map_or(Ok(default), |a| num_arg(a)) };
    let (secs, rounds) = (num(0, 10)?, num(1, 2)?);
    let mut states = vec![State::Off, State::On];
    for (arg, state) in [
        ("empty", State::Empty),
        ("pass", State::EmptyPass),
        ("one", State::EmptyOne),
    ] {
        if args.iter().any(|a| a == arg) {
            states.push(state);
        }
    }
    let dir = PathBuf::from(format!("/tmp/nfb-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    step("building the bench namespaces");
    let t: Topo = build_topo()?;
    let mut session = Session::start(Options {
        netns: Some(spec(&t.host)),
        tc: true,
        ..Options::default()
    })
    .context("starting the drop probe (library session)")?;
    session.set_attached(false)?;
    let stream = Stream::start(Proto::Udp, &spec(&t.ctr), &spec(&t.cli), CTR_ADDR)?;
    let stream_tid = stream.sender_tid();
    step(&format!(
        "UDP stream running (sender tid {}); {rounds} x 2 profiles of {secs} s on CPU {SENDER_CPU}",
        stream.sender_tid()
    ));
    let next = EmptyClassifier::load()?;
    let pass = EmptyClassifier::returning(0)?;
    let mut rows = Vec::new();
    let mut windows = Vec::new();
    for r in 0..rounds {
        // Each state twice per round, mirrored (ABBA, ABCCBA): a linear drift cancels.
        let mut order = states.clone();
        order.rotate_left(r as usize % states.len());
        let back: Vec<State> = order.iter().rev().copied().collect();
        order.extend(back);
        for (k, state) in order.into_iter().enumerate() {
            session.set_attached(state == State::On)?;
            let bridge = t.bridge.as_str();
            let _links = match state {
                State::Off | State::On => Vec::new(),
                State::Empty => attach_empty(&t, &next, &[bridge, "vethb"], &[46, 47])?,
                State::EmptyPass => attach_empty(&t, &pass, &[bridge, "vethb"], &[46, 47])?,
                State::EmptyOne => attach_empty(&t, &next, &["vethb"], &[47])?,
            };
            std::thread::sleep(SETTLE);
            let name = format!("r{r}{k}-{}.data", state.name());
            let file = dir.join(&name);
            let a = stream.snap()?;
            let st = Command::new("perf")
                .args([
                    "record",
                    "-q",
                    "-e",
                    "cpu-clock",
                    "-F",
                    &FREQ.to_string(),
                    "-g",
                    "-C",
                ])
                .arg(SENDER_CPU.to_string())
                .arg("-o")
                .arg(&file)
                .args(["--", "sleep", &secs.to_string()])
                .status()
                .context("running perf record")?;
            let z = stream.snap()?;
            if !st.success() {
                bail!("perf record failed ({st})");
            }
            let n = z.n.since(&a.n);
            let row = format!(
                "{name}\t{}\t{}\t{:.1}\t{:.1}",
                state.name(),
                n.packets,
                n.sender_cpu_ns as f64 / n.packets.max(1) as f64,
                n.bytes as f64 / z.at.duration_since(a.at).as_secs_f64() / 1e6,
            );
            println!("{row}");
            rows.push(row);
            windows.push(Profiled {
                state,
                file,
                sender_ns: n.sender_cpu_ns as f64 / n.packets.max(1) as f64,
            });
        }
    }
    session.set_attached(false)?;
    stream.stop()?;
    std::fs::write(
        dir.join("windows.tsv"),
        format!(
            "file\tstate\tpackets\tsender_ns_per_packet\tMB_per_s\n{}\n",
            rows.join("\n")
        ),
    )?;
    drop(session);
    drop(t);
    attribute(&windows, &states, stream_tid)?;
    println!("profiles in {} (windows.tsv lists them)", dir.display());
    Ok(())
}

/// One profile and the stream's counters over it.
struct Profiled {
    state: State,
    file: PathBuf,
    sender_ns: f64,
}

/// Leaf samples of the sender thread per `symbol+offset` (BPF programs' tags dropped).
fn leaf_samples(file: &std::path::Path, tid: i32) -> Result<BTreeMap<String, u64>> {
    let out = Command::new("perf")
        .args([
            "script",
            "-F",
            "ip,sym,symoff",
            "-G",
            "--tid",
            &tid.to_string(),
            "-i",
        ])
        .arg(file)
        .output()
        .context("running perf script")?;
    if !out.status.success() {
        bail!("perf script -i {} failed", file.display());
    }
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(sym) = line.split_whitespace().nth(1) else {
            continue;
        };
        *m.entry(untag(sym)).or_insert(0) += 1;
    }
    Ok(m)
}

/// `bpf_prog_<tag>_name+0x5` -> `bpf_prog_name+0x5` (the tag changes with every load).
fn untag(sym: &str) -> String {
    if let Some(rest) = sym.strip_prefix("bpf_prog_")
        && let Some((tag, name)) = rest.split_once('_')
        && tag.len() == 16
        && tag.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return format!("bpf_prog_{name}");
    }
    sym.to_owned()
}

/// What a sample is charged to: the code only the hooks run (the programs, `tc_run`, the
/// instructions of `__dev_queue_xmit` / `__netif_receive_skb_core` that no detached profile
/// ever hit: the inlined tcx dispatch and the landing of its calls and returns), or the rest.
fn group(key: &str, never_detached: bool) -> &'static str {
    let func = key.split('+').next().unwrap_or(key);
    match func {
        f if f.starts_with("bpf_prog_nfp_tc") => "our tc program (bpf_prog_*_nfp_tc_*)",
        f if f.starts_with("bpf_prog_nfp_drops") => "kfree_skb program (nfp_drops)",
        f if f.starts_with("bpf_prog_nfb_nop") => "empty tc program (nfb_nop)",
        "tc_run" => "tc_run (legacy tc after a TCX_NEXT verdict)",
        "__dev_queue_xmit" if never_detached => "__dev_queue_xmit, offsets never hit detached",
        f if f.starts_with("__netif_receive_skb_core") && never_detached => {
            "__netif_receive_skb_core, offsets never hit detached"
        }
        f if f.starts_with("__x86_indirect_thunk") || f.starts_with("srso_") => {
            "retpoline / return thunks"
        }
        _ => "everything else",
    }
}

const ALL: &str = "all samples of the sender thread";

/// Per state: ns per datagram charged to each group, mean and standard deviation over that
/// state's profiles.
fn attribute(windows: &[Profiled], states: &[State], tid: i32) -> Result<()> {
    let mut samples = Vec::new();
    for w in windows {
        samples.push(leaf_samples(&w.file, tid)?);
    }
    let detached: std::collections::BTreeSet<&String> = windows
        .iter()
        .zip(&samples)
        .filter(|(w, _)| w.state == State::Off)
        .flat_map(|(_, m)| m.keys())
        .collect();
    // group -> state -> per-profile ns per datagram
    let mut table: BTreeMap<&str, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    for (w, m) in windows.iter().zip(&samples) {
        let mut per: BTreeMap<&str, u64> = BTreeMap::new();
        for (k, n) in m {
            *per.entry(group(k, !detached.contains(k))).or_insert(0) += n;
            *per.entry(ALL).or_insert(0) += n;
        }
        // A group's share of the sender thread's samples times its CPU per datagram: perf
        // samples only part of the window the stream's counters cover (perf starts and stops
        // inside it), so samples x period / datagrams would come out short.
        let all = per.get(ALL).copied().unwrap_or(0).max(1) as f64;
        for g in table_groups() {
            let ns = per.get(g).copied().unwrap_or(0) as f64 / all * w.sender_ns;
            table
                .entry(g)
                .or_default()
                .entry(w.state.name())
                .or_default()
                .push(ns);
        }
        table
            .entry("sender CPU per datagram (schedstat)")
            .or_default()
            .entry(w.state.name())
            .or_default()
            .push(w.sender_ns);
    }
    println!("\nns per datagram on the sender's CPU, mean ± sd over each state's profiles:");
    print!("  {:<54}", "");
    for s in states {
        print!("{:>16}", s.name());
    }
    println!();
    for (g, per) in &table {
        print!("  {g:<54}");
        for s in states {
            let v = per.get(s.name()).map_or(&[][..], |v| &v[..]);
            let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
            let var =
                v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64;
            print!("{:>16}", format!("{mean:.1} ±{:.1}", var.sqrt()));
        }
        println!();
    }
    Ok(())
}

fn table_groups() -> [&'static str; 8] {
    [
        "our tc program (bpf_prog_*_nfp_tc_*)",
        "kfree_skb program (nfp_drops)",
        "empty tc program (nfb_nop)",
        "tc_run (legacy tc after a TCX_NEXT verdict)",
        "__dev_queue_xmit, offsets never hit detached",
        "__netif_receive_skb_core, offsets never hit detached",
        "retpoline / return thunks",
        "everything else",
    ]
}

fn num_arg(a: &str) -> Result<u64> {
    a.parse::<u64>()
        .ok()
        .filter(|&n| n >= 1)
        .with_context(|| format!("profile: expected a number >= 1, got {a:?}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Off,
    On,
    Empty,
    EmptyPass,
    EmptyOne,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Off => "off",
            State::On => "on",
            State::Empty => "empty",
            State::EmptyPass => "pass",
            State::EmptyOne => "one",
        }
    }
}

/// Attach `prog` through tcx links of `attach_types` (46 BPF_TCX_INGRESS, 47 BPF_TCX_EGRESS,
/// UAPI enum bpf_attach_type) on `devs` in the host namespace; detached when the returned
/// link fds close.
fn attach_empty(
    t: &Topo,
    prog: &EmptyClassifier,
    devs: &[&str],
    attach_types: &[u32],
) -> Result<Vec<std::os::fd::OwnedFd>> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let prog_fd = prog.fd().as_raw_fd() as u32;
    let ifaces: Vec<String> = devs.iter().map(|d| (*d).to_owned()).collect();
    let attach_types = attach_types.to_vec();
    nfprobe::kernel::netns::run_in(Some(&spec(&t.host)), move || -> Result<Vec<_>> {
        let mut links = Vec::new();
        for dev in &ifaces {
            let name = std::ffi::CString::new(dev.as_str())?;
            // SAFETY: a NUL-terminated name.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if ifindex == 0 {
                bail!("no interface {dev}");
            }
            for &attach_type in &attach_types {
                // union bpf_attr for BPF_LINK_CREATE: prog_fd, target_ifindex, attach_type,
                // flags (0: append to the tcx chain).
                let mut attr = [0u8; 48];
                attr[0..4].copy_from_slice(&prog_fd.to_ne_bytes());
                attr[4..8].copy_from_slice(&ifindex.to_ne_bytes());
                attr[8..12].copy_from_slice(&attach_type.to_ne_bytes());
                // SAFETY: BPF_LINK_CREATE (28) reads `attr` (its size passed).
                let fd = unsafe {
                    libc::syscall(libc::SYS_bpf, 28, attr.as_ptr(), attr.len() as libc::c_uint)
                };
                if fd < 0 {
                    return Err(std::io::Error::last_os_error())
                        .with_context(|| format!("tcx link of the empty program on {dev}"));
                }
                // SAFETY: the kernel just returned this fd to us.
                links.push(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
            }
        }
        Ok(links)
    })?
}
