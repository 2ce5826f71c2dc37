//! `cargo xtask bench serve [IDLE_SECS]`: what the always-on exporter costs.
//!
//! 1. A netns with Docker 28.0.1's ~1,000 rules among 50,000 (the `check` bench's host):
//!    `nfprobe serve` with its defaults (drop probe attached, a check every 30 s and on every
//!    ruleset change). Its own CPU (all threads, from schedstat) and RSS over IDLE_SECS
//!    (default 60) with nothing changing, then the latency of 100 scrapes of /metrics
//!    (curl's time_total, one after another), then the time from a ruleset change to the
//!    missing series.
//! 2. The drop bench's topology (a bridge, and one tap per CPU whose netdev ingress hook drops
//!    every frame): `nfprobe serve --iface` on the taps and the bridge, idle 10 s, then a 10 s
//!    drop storm from every CPU: serve's CPU and RSS during it, and whether its counter equals
//!    the frames dropped.
//!
//! Targets (issue 16): < 1 % of one CPU idle, RSS < 30 MiB, scrape < 50 ms.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Bench, check, drops, procstat};
use crate::sh::step;

pub static BENCH: Bench = Bench {
    name: "serve",
    about: "nfprobe serve's own CPU and RSS idle and under a drop storm, scrape latency at 50k rules",
    run,
};

/// A running `nfprobe serve`, killed on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(bin: &Path, netns: &str, args: &[&str]) -> Result<Serve> {
        let mut child = Command::new(bin)
            .args(["--netns", netns, "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", bin.display()))?;
        let err = child.stderr.take().context("stderr")?;
        let mut lines = BufReader::new(err).lines();
        let addr = loop {
            let Some(line) = lines.next() else {
                bail!("nfprobe serve exited before listening");
            };
            let line = line?;
            if let Some(rest) = line.strip_prefix("nfprobe serve: listening on http://") {
                break rest.trim_end_matches("/metrics").parse()?;
            }
        };
        // Keep draining stderr so serve never blocks on it.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let s = Serve { child, addr };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !s.metrics()?.contains("nfprobe_checks_total{") {
            if Instant::now() > deadline {
                bail!("no check within 120 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(s)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (body, seconds curl measured from connect to the last byte).
    fn scrape(&self) -> Result<(String, f64)> {
        let out = Command::new("curl")
            .args(["-s", "-m", "10", "-w", "\n%{time_total}"])
            .arg(format!("http://{}/metrics", self.addr))
            .output()
            .context("running curl")?;
        let text = String::from_utf8(out.stdout)?;
        let (body, t) = text.rsplit_once('\n').context("curl output")?;
        Ok((body.to_owned(), t.trim().parse()?))
    }

    fn metrics(&self) -> Result<String> {
        Ok(self.scrape()?.0)
    }

    fn rss_kib(&self) -> Result<(u64, u64)> {
        let st = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let field = |name: &str| -> Result<u64> {
            st.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{name} in /proc/PID/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// CPU of serve's own threads plus the children it ran and reaped (the iptables binaries
    /// it asks `-C`).
    fn cpu_ns(&self) -> Result<u64> {
        Ok(procstat::process_cpu_ns(self.pid())? + self.children_cpu_ns()?)
    }

    fn children_cpu_ns(&self) -> Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the `(comm)`: state is field 3; cutime and cstime are 16 and 17.
        let rest = stat.rsplit_once(')').context("/proc/PID/stat")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [13, 14]
            .iter()
            .filter_map(|i| f.get(*i).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        Ok((ticks as f64 * procstat::ns_per_tick()) as u64)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SIGTERM: the exit path operators use (detaches everything).
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sum(metrics: &str, name: &str, filter: &dyn Fn(&str) -> bool) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let n = series.split('{').next()?;
            (n == name && filter(series))
                .then(|| v.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// CPU share of one CPU over `secs` of `s`'s life from now, and the RSS at the end.
fn cpu_over(s: &Serve, secs: f64) -> Result<f64> {
    let c0 = s.cpu_ns()?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let c1 = s.cpu_ns()?;
    Ok((c1 - c0) as f64 / t0.elapsed().as_nanos() as f64 * 100.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(args: &[String]) -> Result<()> {
    let idle_secs: f64 = args.first().map(|a| a.parse()).transpose()?.unwrap_or(60.0);
    let bin = super::release_nfprobe()?;

    // 1. 50k rules.
    let host = check::host_with_rules(&bin)?;
    let ns = host.ns.path();
    let file = host.file.to_string_lossy().into_owned();
    step("nfprobe serve on the 50k-rule netns (defaults: drop probe attached, 30 s interval)");
    let t = Instant::now();
    let s = Serve::start(&bin, &ns, &["--docker-state", &file])?;
    let ready = t.elapsed();
    let m = s.metrics()?;
    let ok = sum(&m, "nfprobe_expected_rules", &|l| {
        l.contains("status=\"ok\"")
    });
    let all = sum(&m, "nfprobe_expected_rules", &|_| true);
    let check_secs = sum(&m, "nfprobe_check_duration_seconds_sum", &|_| true)
        / sum(&m, "nfprobe_check_duration_seconds_count", &|_| true).max(1.0);
    if ok < host.expected as f64 * 0.9 {
        bail!(
            "serve sees {ok} of {all} rules ok, expected about {}",
            host.expected
        );
    }
    // Let start-up work (BTF, kallsyms, the first check) settle before measuring idle.
    std::thread::sleep(Duration::from_secs(5));
    step(&format!("idle for {idle_secs} s"));
    let idle = cpu_over(&s, idle_secs)?;
    let (rss, hwm) = s.rss_kib()?;
    let m = s.metrics()?;
    let checks = sum(&m, "nfprobe_checks_total", &|_| true);

    step("100 scrapes of /metrics");
    let mut lat = Vec::new();
    let mut size = 0;
    for _ in 0..100 {
        let (body, t) = s.scrape()?;
        size = body.len();
        lat.push(t * 1000.0);
    }
    lat.sort_by(f64::total_cmp);

    step("a ruleset change: time until the missing series show it");
    let t = Instant::now();
    let st = Command::new("ip")
        .args([
            "netns",
            "exec",
            host.ns.name(),
            "iptables",
            "-t",
            "nat",
            "-F",
            "DOCKER",
        ])
        .status()?;
    if !st.success() {
        bail!("iptables -t nat -F DOCKER failed");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let drift = loop {
        let m = s.metrics()?;
        if sum(&m, "nfprobe_expected_rules", &|l| {
            l.contains("status=\"missing\"")
        }) > 0.0
        {
            break t.elapsed();
        }
        if Instant::now() > deadline {
            bail!("the flushed DOCKER chain never showed as missing");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(s);
    let _ = std::fs::remove_dir_all(&host.dir);
    println!(
        "serve, 50k rules ({} expected ok of {}): ready in {:.2} s, check {:.3} s; idle {:.0} s: CPU {:.3} % of one CPU ({} checks), RSS {:.1} MiB (peak {:.1} MiB); scrape of {} bytes: median {:.2} ms, p95 {:.2} ms, max {:.2} ms; ruleset change to missing series {:.0} ms",
        ok,
        host.expected + host.filler,
        ready.as_secs_f64(),
        check_secs,
        idle_secs,
        idle,
        checks,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        size,
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        lat[lat.len() - 1],
        drift.as_secs_f64() * 1000.0
    );
    drop(host);

    // 2. The drop storm.
    step("the drop bench's topology; serve watching its storm taps and bridge");
    let topo = drops::build_topo()?;
    let mut watch = drops::storm_ifs();
    watch.push(topo.bridge.clone());
    let mut a: Vec<String> = vec!["--no-docker-api".into()];
    for w in &watch {
        a.push("--iface".into());
        a.push(w.clone());
    }
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let s = Serve::start(&bin, &format!("/run/netns/{}", topo.host), &a)?;
    std::thread::sleep(Duration::from_secs(3));
    let idle2 = cpu_over(&s, 10.0)?;
    let taps = drops::storm_ifs();
    let counted = |m: &str| {
        sum(m, "nfprobe_drops_total", &|l| {
            taps.iter()
                .any(|t| l.contains(&format!("interface=\"{t}\"")))
        })
    };
    let before = counted(&s.metrics()?);
    step("10 s drop storm from every CPU");
    let c0 = s.cpu_ns()?;
    let t0 = Instant::now();
    let blast = drops::storm(&topo, Duration::from_secs(10))?;
    let storm_cpu = (s.cpu_ns()? - c0) as f64 / t0.elapsed().as_nanos() as f64 * 100.0;
    let (rss2, hwm2) = s.rss_kib()?;
    std::thread::sleep(Duration::from_millis(1500));
    let got = counted(&s.metrics()?) - before;
    let dropped = blast.sent - blast.delivered;
    let (_, t) = s.scrape()?;
    drop(s);
    println!(
        "serve, drop storm: idle CPU {:.3} %; storm of {} frames ({:.2} M/s) dropped, {} counted by serve ({}); serve CPU during the storm {:.2} % of one CPU, RSS {:.1} MiB (peak {:.1} MiB), scrape {:.2} ms",
        idle2,
        dropped,
        dropped as f64 / t0.elapsed().as_secs_f64() / 1e6,
        got,
        if got as u64 == dropped {
            "exact"
        } else {
            "NOT exact"
        },
        storm_cpu,
        rss2 as f64 / 1024.0,
        hwm2 as f64 / 1024.0,
        t * 1000.0
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "serve targets: idle CPU < 1 % ({:.3} %, {:.3} %): {}; RSS < 30 MiB (running {:.1} MiB; start-up peak {:.1} MiB): {}; scrape < 50 ms at 50k rules (p95 {:.2} ms): {}",
        idle,
        idle2,
        verdict(idle < 1.0 && idle2 < 1.0),
        rss.max(rss2) as f64 / 1024.0,
        hwm.max(hwm2) as f64 / 1024.0,
        verdict(rss.max(rss2) < 30 * 1024),
        percentile(&lat, 0.95),
        verdict(percentile(&lat, 0.95) < 50.0)
    );
    Ok(())
}
