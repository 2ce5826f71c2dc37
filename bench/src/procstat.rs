//! /proc readings for the benchmarks: the machine's CPU times (with the host's steal), a
//! thread's CPU time, an interface's received packets and UDP receive-buffer drops as seen from
//! a thread's network namespace.

use anyhow::{Context, Result, bail};

/// The `cpu` line of /proc/stat, in clock ticks (USER_HZ), summed over CPUs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    /// user + nice + system + irq + softirq.
    pub busy: u64,
    pub idle: u64,
    /// Time the host ran something else while our vCPUs wanted to run.
    pub steal: u64,
}

impl CpuTimes {
    pub fn since(&self, before: &CpuTimes) -> CpuTimes {
        CpuTimes {
            busy: self.busy.saturating_sub(before.busy),
            idle: self.idle.saturating_sub(before.idle),
            steal: self.steal.saturating_sub(before.steal),
        }
    }

    pub fn total(&self) -> u64 {
        self.busy + self.idle + self.steal
    }

    /// Steal as a share of all CPU time.
    pub fn steal_share(&self) -> f64 {
        self.steal as f64 / self.total().max(1) as f64
    }
}

/// Nanoseconds per clock tick of /proc/stat.
pub fn ns_per_tick() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1e9 / hz.max(1) as f64
}

pub fn cpu_times() -> Result<CpuTimes> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("/proc/stat has no cpu line")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    if v.len() < 8 {
        bail!("/proc/stat: short cpu line {line:?}");
    }
    // user nice system idle iowait irq softirq steal
    Ok(CpuTimes {
        busy: v[0] + v[1] + v[2] + v[5] + v[6],
        idle: v[3] + v[4],
        steal: v[7],
    })
}

/// CPU time of one of our threads (ns, exact: the scheduler's own sum, steal excluded).
pub fn thread_cpu_ns(tid: i32) -> Result<u64> {
    let path = format!("/proc/self/task/{tid}/schedstat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .with_context(|| format!("{path}: unexpected {text:?}"))
}

/// How often one of our threads went to sleep (voluntary context switches).
pub fn thread_sleeps(tid: i32) -> Result<u64> {
    let path = format!("/proc/self/task/{tid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{path}: no voluntary_ctxt_switches"))
}

/// Packets `iface` received, in the network namespace of thread `tid`.
pub fn rx_packets(tid: i32, iface: &str) -> Result<u64> {
    let path = format!("/proc/{tid}/net/dev");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| {
            let (name, rest) = l.split_once(':')?;
            (name.trim() == iface).then(|| rest.split_whitespace().nth(1)?.parse().ok())?
        })
        .with_context(|| format!("{path}: no {iface}"))
}

/// UDP datagrams dropped for a full receive buffer, in the network namespace of thread `tid`.
pub fn udp_rcvbuf_errors(tid: i32) -> Result<u64> {
    let path = format!("/proc/{tid}/net/snmp");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let mut udp = text.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        bail!("{path}: no Udp lines");
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .with_context(|| format!("{path}: no RcvbufErrors"))
}

/// CPU time of every thread of process `pid` (ns).
pub fn process_cpu_ns(pid: u32) -> Result<u64> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let path = entry?.path().join("schedstat");
        // A thread that just exited has no schedstat any more.
        if let Ok(text) = std::fs::read_to_string(&path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(total)
}
