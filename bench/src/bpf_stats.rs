//! Per-program run time of a process's eBPF programs, for the cost of one drop.
//!
//! The kernel only accounts run time while `kernel.bpf_stats_enabled` is 1 (it costs a clock
//! read per run, so benchmarks measure rates with it off). [`StatsOn`] sets it and restores
//! the previous value when dropped, also on error.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// `kernel.bpf_stats_enabled=1` until dropped; then the value found before.
pub struct StatsOn {
    before: String,
}

impl StatsOn {
    pub fn enable() -> Result<Self> {
        let before =
            std::fs::read_to_string(SYSCTL).with_context(|| format!("reading {SYSCTL}"))?;
        std::fs::write(SYSCTL, "1").with_context(|| format!("writing {SYSCTL}"))?;
        Ok(Self {
            before: before.trim().to_owned(),
        })
    }
}

impl Drop for StatsOn {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(SYSCTL, &self.before) {
            eprintln!("xtask: could not restore {SYSCTL} to {}: {e}", self.before);
        }
    }
}

/// (run_time_ns, run_cnt) of one program.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub ns: u64,
    pub count: u64,
}

impl Run {
    pub fn per_run(&self) -> f64 {
        self.ns as f64 / (self.count.max(1)) as f64
    }

    pub fn since(&self, before: &Run) -> Run {
        Run {
            ns: self.ns.saturating_sub(before.ns),
            count: self.count.saturating_sub(before.count),
        }
    }
}

/// Run statistics of the programs process `pid` holds, by program name.
pub fn of_process(pid: u32) -> Result<BTreeMap<String, Run>> {
    Ok(programs_of(pid)?
        .into_iter()
        .map(|(name, (_, run))| (name, run))
        .collect())
}

/// Ids of the programs process `pid` holds, by program name.
pub fn ids_of_process(pid: u32) -> Result<BTreeMap<String, u64>> {
    Ok(programs_of(pid)?
        .into_iter()
        .map(|(name, (id, _))| (name, id))
        .collect())
}

fn programs_of(pid: u32) -> Result<BTreeMap<String, (u64, Run)>> {
    let mut out = BTreeMap::new();
    let dir = format!("/proc/{pid}/fdinfo");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(text) = std::fs::read_to_string(entry?.path()) else {
            continue;
        };
        // Programs show prog_type and prog_id; links also name a prog_id, skip them.
        if text.lines().any(|l| l.starts_with("link_type:"))
            || !text.lines().any(|l| l.starts_with("prog_type:"))
        {
            continue;
        }
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (Some(id), Some(ns), Some(count)) =
            (field("prog_id:"), field("run_time_ns:"), field("run_cnt:"))
        else {
            continue;
        };
        if let Some(name) = name_of(id) {
            out.insert(name, (id, Run { ns, count }));
        }
    }
    Ok(out)
}

/// A program's name, from `bpftool prog show id ID`.
fn name_of(id: u64) -> Option<String> {
    let out = std::process::Command::new("bpftool")
        .args(["-j", "prog", "show", "id", &id.to_string()])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["name"].as_str().map(str::to_owned)
}
