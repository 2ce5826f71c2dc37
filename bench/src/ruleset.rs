//! `cargo xtask bench ruleset [--sizes 1000,10000,50000] [--runs N] [--write-rules FILE]
//! [--baseline WORKER] [--per-chain N]`: reading the firewall.
//!
//! For each size, a private network namespace gets a Kubernetes-like ruleset (filter + nat,
//! comments, compat matches, one chain per 25 rules: 2,000 chains at 50k) loaded with
//! `iptables-nft-restore` and the same with `iptables-legacy-restore`. Then, in that namespace,
//! each contender runs as its own process (output to /dev/null) and we keep its best wall time
//! and its peak RSS (`/usr/bin/time`), plus its CPU time (wait4), which is the fairer number
//! when other work shares the cores:
//! - ours: nf_tables snapshot + xlate + iptables-save text (examples/ruleset_bench.rs), and
//!   ours on the legacy tables (kernel::xt + ruleset::xlate::legacy, straight to text);
//! - `iptables-nft-save`, `iptables-legacy-save`, `nft -j list ruleset`;
//! - the floor: a bare GETRULE dump that only receives the bytes, whole family, per chain,
//!   and per chain on as many threads as ours uses; the fastest of them is the floor.
//!
//! The contenders run interleaved (each round runs every one of them once), so a drift of
//! the machine during the bench hits all alike; besides the best of each, the median of the
//! per-round ratios is printed.
//!
//! Ratios against the targets of issue 3 are printed from the same run.
//!
//! `--baseline WORKER`: another build of the worker (e.g. `cargo build --release -p probe
//! --example ruleset_bench` on the commit before a change) runs as two more contenders,
//! nf_tables and legacy, so a change is measured before and after in one run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Bench;
use crate::sh::{self, step};

pub static BENCH: Bench = Bench {
    name: "ruleset",
    about: "read+decode+render vs iptables-nft-save, iptables-legacy-save, nft -j, bare dump",
    run,
};

/// One namespace, removed on drop (also on error or panic).
pub(crate) struct Netns(String);

impl Netns {
    pub(crate) fn new() -> Result<Self> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "nfpb-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        sh::run(Command::new("ip").args(["netns", "add", &name]))?;
        Ok(Self(name))
    }
    pub(crate) fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, prog]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    /// `user + sys`.
    pub(crate) cpu: Duration,
    /// CPU time in the process (user) and in the kernel on its behalf (sys).
    pub(crate) user: Duration,
    pub(crate) sys: Duration,
    pub(crate) maxrss_kib: i64,
}

/// Runs `argv` (stdout to /dev/null) under `/usr/bin/time`, which reports the peak RSS of
/// that command alone (wait4 on a child forked from this big process would inherit our own
/// high-water mark), and reads the CPU time of the whole tree with wait4.
fn measure(ns: &Netns, argv: &[&str]) -> Result<Sample> {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "maxrss=%M", "ip", "netns", "exec", &ns.0])
        .args(argv);
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("prerequisite missing: /usr/bin/time (apt-get install time)")?;
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr.context("stderr")?;
    let mut err = String::new();
    {
        use std::io::Read;
        let _ = stderr.read_to_string(&mut err);
    }
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; pid is our child, not yet reaped.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    if rc != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("{argv:?} failed (status {status}): {err}");
    }
    let maxrss_kib = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("maxrss="))
        .and_then(|v| v.trim().parse().ok())
        .context("no maxrss from /usr/bin/time")?;
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok(Sample {
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        user: tv(ru.ru_utime),
        sys: tv(ru.ru_stime),
        maxrss_kib,
    })
}

/// Every contender `runs` times, interleaved (round r runs each contender once, after one
/// warm-up round), so that a drift of the machine during the bench hits all of them alike.
/// Per contender: every sample, in round order.
pub(crate) fn interleaved(runs: usize, ns: &Netns, argvs: &[&[&str]]) -> Result<Vec<Vec<Sample>>> {
    for argv in argvs {
        measure(ns, argv)?;
    }
    let mut all = vec![Vec::with_capacity(runs); argvs.len()];
    for _ in 0..runs {
        for (argv, samples) in argvs.iter().zip(&mut all) {
            samples.push(measure(ns, argv)?);
        }
    }
    Ok(all)
}

/// Best wall time (with that run's CPU time) and the largest peak RSS of the samples.
/// A contender: its label in the table, its worker command line, its key in the results.
pub(crate) type Contender<'a> = (&'a str, Vec<&'a str>, &'a str);

/// Runs `contenders` interleaved for `runs` rounds, writes each one's table row (best wall,
/// CPU, peak RSS) to `report`, and returns the best sample and every sample by key.
#[allow(clippy::type_complexity)]
pub(crate) fn run_contenders<'a>(
    n: usize,
    runs: usize,
    ns: &Netns,
    contenders: &[Contender<'a>],
    report: &mut String,
) -> Result<(
    std::collections::HashMap<&'a str, Sample>,
    std::collections::HashMap<&'a str, Vec<Sample>>,
)> {
    step(&format!(
        "{n} rules: {} contenders, {runs} interleaved rounds",
        contenders.len()
    ));
    let argvs: Vec<&[&str]> = contenders.iter().map(|c| c.1.as_slice()).collect();
    let samples = interleaved(runs, ns, &argvs)?;
    let mut res = std::collections::HashMap::new();
    let mut all = std::collections::HashMap::new();
    for ((label, _, key), samples) in contenders.iter().zip(samples) {
        let s = best(&samples)?;
        let _ = writeln!(
            report,
            "| {n} | {label} | {} | {} | {:.1} |",
            ms(s.wall),
            ms(s.cpu),
            s.maxrss_kib as f64 / 1024.0
        );
        res.insert(*key, s);
        all.insert(*key, samples);
    }
    Ok((res, all))
}

pub(crate) fn best(samples: &[Sample]) -> Result<Sample> {
    let mut b = *samples.iter().min_by_key(|s| s.wall).context("no runs")?;
    b.maxrss_kib = samples.iter().map(|s| s.maxrss_kib).max().unwrap_or(0);
    Ok(b)
}

/// Median of the per-round ratios a/b (rounds paired: the same moment of the machine).
pub(crate) fn median_ratio(a: &[Sample], b: &[Sample]) -> f64 {
    let mut r: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.wall.as_secs_f64() / y.wall.as_secs_f64().max(1e-9))
        .collect();
    r.sort_by(f64::total_cmp);
    match r.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => r[n / 2],
        n => (r[n / 2 - 1] + r[n / 2]) / 2.0,
    }
}

/// A Kubernetes/Docker-like ruleset of exactly `n` rules, a chain per `per_chain` rules (25
/// by default; 10 gives 10,000 chains at 100k), half in filter, half in nat; base chains
/// jump to every chain of their table.
fn generate_per(n: usize, per_chain: usize) -> String {
    let chains = (n / per_chain.max(1)).max(2);
    let per_table = chains / 2;
    let mut filter =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    let mut nat = String::from(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n",
    );
    let mut count = 1;
    for c in 0..per_table {
        let _ = writeln!(filter, ":KUBE-FW-{c:05} - [0:0]");
        let _ = writeln!(nat, ":KUBE-SVC-{c:05} - [0:0]");
    }
    for c in 0..per_table {
        let _ = writeln!(
            filter,
            "-A FORWARD -m comment --comment \"ns{c}/svc fw\" -j KUBE-FW-{c:05}"
        );
        let _ = writeln!(
            nat,
            "-A PREROUTING -m comment --comment \"ns{c}/svc portals\" -j KUBE-SVC-{c:05}"
        );
        count += 2;
    }
    let mut i = 0usize;
    'outer: loop {
        for c in 0..per_table {
            if count >= n {
                break 'outer;
            }
            let (a, b) = ((i / 250) % 250, i % 250);
            let port = 1024 + (i % 60000);
            let line = match i % 6 {
                0 => format!(
                    "-A KUBE-FW-{c:05} -d 10.96.{a}.{b}/32 -p tcp -m comment --comment \"ns{c}/svc-{i}:http cluster IP\" -m tcp --dport {port} -j ACCEPT\n"
                ),
                1 => format!("-A KUBE-FW-{c:05} -m conntrack --ctstate INVALID -j DROP\n"),
                2 => format!(
                    "-A KUBE-FW-{c:05} -i eth0 -o br-{c:012x} -m mark --mark 0x4000/0x4000 -j ACCEPT\n"
                ),
                3 => format!(
                    "-A KUBE-SVC-{c:05} -m comment --comment \"ns{c}/svc-{i} -> 10.244.{a}.{b}:8080\" -m statistic --mode random --probability 0.25000000000 -j KUBE-MARK-MASQ\n"
                ),
                4 => format!(
                    "-A KUBE-SVC-{c:05} -p tcp -m comment --comment \"ns{c}/svc-{i}\" -m tcp -j DNAT --to-destination 10.244.{a}.{b}:{port}\n"
                ),
                _ => format!(
                    "-A KUBE-SVC-{c:05} ! -s 10.244.0.0/16 -d 10.96.{a}.{b}/32 -p udp -m udp --dport {port} -m addrtype --dst-type LOCAL -j KUBE-MARK-MASQ\n"
                ),
            };
            if line.starts_with("-A KUBE-FW") {
                filter.push_str(&line);
            } else {
                nat.push_str(&line);
            }
            count += 1;
            i += 1;
        }
    }
    format!("{filter}COMMIT\n{nat}COMMIT\n")
}

pub(crate) fn worker() -> Result<PathBuf> {
    step("building the benchmark worker (release)");
    sh::run(
        Command::new("cargo")
            .args([
                "build",
                "--release",
                "-p",
                "probe",
                "--example",
                "ruleset_bench",
            ])
            .env("AYA_BUILD_SKIP", "1"),
    )?;
    let p = sh::target_dir().join("release/examples/ruleset_bench");
    if !p.exists() {
        bail!("worker not found at {}", p.display());
    }
    Ok(p)
}

fn load(ns: &Netns, prog: &str, rules: &str) -> Result<Duration> {
    use std::io::Write;
    let start = Instant::now();
    let mut child = ns
        .cmd(prog)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("prerequisite missing: {prog}"))?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(rules.as_bytes())?;
    let st = child.wait()?;
    if !st.success() {
        bail!("{prog} failed: {st}");
    }
    Ok(start.elapsed())
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The value of `--sizes N,N,...`: rule counts.
pub fn parse_sizes(arg: Option<&String>) -> Result<Vec<usize>> {
    arg.context("--sizes N,N,...")?
        .split(',')
        .map(|s| s.trim().parse().context("bad size"))
        .collect()
}

fn run(args: &[String]) -> Result<()> {
    let mut sizes = vec![1_000usize, 10_000, 50_000];
    let mut runs = 5usize;
    let mut write_rules: Option<String> = None;
    let mut baseline: Option<String> = None;
    let mut per_chain = 25usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = crate::ruleset::parse_sizes(it.next())?;
            }
            "--per-chain" => per_chain = it.next().context("--per-chain N")?.parse()?,
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            // For profiling: write the generated iptables-restore input of the first size
            // and stop (load it yourself into a namespace of your own).
            "--write-rules" => write_rules = Some(it.next().context("--write-rules FILE")?.clone()),
            "--baseline" => baseline = Some(it.next().context("--baseline WORKER")?.clone()),
            other => bail!(
                "unknown argument `{other}` (use --sizes 1000,10000 --runs 5 [--per-chain 25] [--write-rules FILE] [--baseline WORKER])"
            ),
        }
    }
    if let Some(file) = write_rules {
        let n = *sizes.first().context("--sizes is empty")?;
        std::fs::write(&file, generate_per(n, per_chain))
            .with_context(|| format!("writing {file}"))?;
        eprintln!("xtask: wrote {n} rules to {file}");
        return Ok(());
    }
    let worker = worker()?;
    let w = worker.to_string_lossy().into_owned();
    let mut report = String::new();
    let _ = writeln!(
        report,
        "| rules | contender | wall ms (best of {runs}) | cpu ms | peak RSS MiB |\n|---:|---|---:|---:|---:|"
    );
    let mut verdicts = Vec::new();
    for &n in &sizes {
        let ns = Netns::new()?;
        let rules = generate_per(n, per_chain);
        step(&format!(
            "{n} rules: loading with iptables-nft-restore and iptables-legacy-restore"
        ));
        let t_nft = load(&ns, "iptables-nft-restore", &rules)?;
        let t_leg = load(&ns, "iptables-legacy-restore", &rules)?;
        eprintln!(
            "  loaded in {} ms (nft), {} ms (legacy)",
            ms(t_nft),
            ms(t_leg)
        );
        // Sanity: our output equals iptables-nft-save's (minus comments) on this ruleset.
        let ours_text = sh::output(ns.cmd(&w).arg("ours")).context("worker failed")?;
        let save_text =
            sh::output(&mut ns.cmd("iptables-nft-save")).context("iptables-nft-save")?;
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let same = strip(&ours_text) == strip(&save_text);
        let ours_legacy =
            sh::output(ns.cmd(&w).arg("ours-legacy")).context("worker (legacy) failed")?;
        let legacy_text =
            sh::output(&mut ns.cmd("iptables-legacy-save")).context("iptables-legacy-save")?;
        let same_legacy = strip(&ours_legacy) == strip(&legacy_text);
        eprintln!("  legacy output identical to iptables-legacy-save: {same_legacy}");
        eprintln!("  output identical to iptables-nft-save: {same}");
        if let Some(b) = &baseline {
            for (mode, ours) in [("ours", &ours_text), ("ours-legacy", &ours_legacy)] {
                let theirs = sh::output(ns.cmd(b).arg(mode)).context("baseline worker failed")?;
                eprintln!(
                    "  {mode}: output identical to the baseline's: {}",
                    strip(&theirs) == strip(ours)
                );
            }
        }
        let mut contenders: Vec<(&str, Vec<&str>, &str)> = vec![
            ("nfprobe (ours)", vec![w.as_str(), "ours"], "ours"),
            (
                "nfprobe legacy (ours)",
                vec![w.as_str(), "ours-legacy"],
                "ours-legacy",
            ),
            ("iptables-nft-save", vec!["iptables-nft-save"], "nft-save"),
            (
                "iptables-legacy-save",
                vec!["iptables-legacy-save"],
                "legacy-save",
            ),
            (
                "nft -j list ruleset",
                vec!["nft", "-j", "list", "ruleset"],
                "nft-j",
            ),
            (
                "nfprobe ruleset --format json (ours)",
                vec![w.as_str(), "json"],
                "json",
            ),
            (
                "nfprobe ruleset --format json, legacy (ours)",
                vec![w.as_str(), "json-legacy"],
                "json-legacy",
            ),
            (
                "JSON from the whole model (before)",
                vec![w.as_str(), "json-model"],
                "json-model",
            ),
            (
                "bare dump, per family",
                vec![w.as_str(), "bare-family"],
                "bare-family",
            ),
            (
                "bare dump, per chain",
                vec![w.as_str(), "bare-chain"],
                "bare-chain",
            ),
            (
                "bare dump, per chain, ours' threads",
                vec![w.as_str(), "bare-chain-par"],
                "bare-chain-par",
            ),
        ];
        if let Some(b) = &baseline {
            contenders.push(("nfprobe (baseline)", vec![b.as_str(), "ours"], "base"));
            contenders.push((
                "nfprobe legacy (baseline)",
                vec![b.as_str(), "ours-legacy"],
                "base-legacy",
            ));
        }
        let (res, all) = run_contenders(n, runs, &ns, &contenders, &mut report)?;
        let g = |k: &str| res[k];
        let ours = g("ours");
        // The floor is the fastest bare dump, whichever way of asking won (ours uses
        // per-chain dumps on several threads: the bare dump gets the same trick).
        let bare = ["bare-family", "bare-chain", "bare-chain-par"];
        let (floor_key, floor) = bare
            .iter()
            .map(|k| (*k, g(k)))
            .min_by_key(|(_, s)| s.wall)
            .context("no bare dump")?;
        let r = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        let cpu_floor = bare
            .iter()
            .map(|k| g(k).cpu)
            .min()
            .context("no bare dump")?;
        verdicts.push(format!(
            "{n} rules: floor = {floor_key} ({} ms wall, {} ms cpu, the fastest bare dump)",
            ms(floor.wall),
            ms(cpu_floor)
        ));
        verdicts.push(format!(
            "{n} rules: wall: ours/floor {:.2}x (target <= 1.3), iptables-nft-save/ours {:.2}x (>= 1.5), nft -j/ours {:.2}x (>= 5); cpu: ours/floor {:.2}x, iptables-nft-save/ours {:.2}x, nft -j/ours {:.2}x; RSS ours {:.1} MiB vs iptables-nft-save {:.1} MiB (below); identical output: {same}",
            r(ours.wall, floor.wall),
            r(g("nft-save").wall, ours.wall),
            r(g("nft-j").wall, ours.wall),
            r(ours.cpu, cpu_floor),
            r(g("nft-save").cpu, ours.cpu),
            r(g("nft-j").cpu, ours.cpu),
            ours.maxrss_kib as f64 / 1024.0,
            g("nft-save").maxrss_kib as f64 / 1024.0,
        ));
        verdicts.push(format!(
            "{n} rules: per round (paired): median ours/floor {:.2}x, median ours/iptables-nft-save {:.2}x, median legacy ours/iptables-legacy-save {:.2}x",
            median_ratio(&all["ours"], &all[floor_key]),
            median_ratio(&all["ours"], &all["nft-save"]),
            median_ratio(&all["ours-legacy"], &all["legacy-save"]),
        ));
        verdicts.push(format!(
            "{n} rules: legacy: ours/iptables-legacy-save {:.2}x wall (target <= 1.3), {:.2}x cpu; RSS {:.1} vs {:.1} MiB; identical output: {same_legacy}",
            r(g("ours-legacy").wall, g("legacy-save").wall),
            r(g("ours-legacy").cpu, g("legacy-save").cpu),
            g("ours-legacy").maxrss_kib as f64 / 1024.0,
            g("legacy-save").maxrss_kib as f64 / 1024.0,
        ));
        // Issue 18: the JSON output, streamed.
        let json_text = sh::output(ns.cmd(&w).arg("json")).context("worker (json) failed")?;
        let model_text =
            sh::output(ns.cmd(&w).arg("json-model")).context("worker (json-model) failed")?;
        verdicts.push(format!(
            "{n} rules: JSON: ours {:.1} MiB RSS vs iptables-nft-save {:.1} MiB (below), nft -j/ours {:.2}x wall (>= 5), {:.2}x cpu; legacy {:.1} MiB; whole model (before) {:.1} MiB, {} ms; identical to the whole-model text: {}",
            g("json").maxrss_kib as f64 / 1024.0,
            g("nft-save").maxrss_kib as f64 / 1024.0,
            r(g("nft-j").wall, g("json").wall),
            r(g("nft-j").cpu, g("json").cpu),
            g("json-legacy").maxrss_kib as f64 / 1024.0,
            g("json-model").maxrss_kib as f64 / 1024.0,
            ms(g("json-model").wall),
            json_text == model_text,
        ));
        if baseline.is_some() {
            verdicts.push(format!(
                "{n} rules: against the baseline: nf_tables ours/baseline {:.2}x wall (best), median per round {:.2}x; legacy ours/baseline {:.2}x wall (best), median per round {:.2}x, cpu {:.2}x",
                r(ours.wall, g("base").wall),
                median_ratio(&all["ours"], &all["base"]),
                r(g("ours-legacy").wall, g("base-legacy").wall),
                median_ratio(&all["ours-legacy"], &all["base-legacy"]),
                r(g("ours-legacy").cpu, g("base-legacy").cpu),
            ));
        }
        drop(ns);
    }
    println!("{report}");
    for v in verdicts {
        println!("{v}");
    }
    Ok(())
}
