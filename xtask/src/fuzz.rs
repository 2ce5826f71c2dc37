//! `cargo xtask fuzz [TARGET|all|record-seeds] [--seconds N] [--runs N]`: coverage-guided
//! fuzzing of the decoders with cargo-fuzz (libFuzzer, nightly), targets in fuzz/fuzz_targets/.
//! A target runs for a time, for a number of executions, or until the first of both; the
//! closing summary gives each target's executions, rate and corpus size.
//!
//! Each run first replays fuzz/regressions/TARGET/* (every crash ever found, kept as a
//! regression input), then fuzzes from the recorded seeds (fuzz/seeds/TARGET, from the real
//! kernel and labs: `record-seeds` rewrites them) plus a working corpus under target/. A crash
//! is copied into fuzz/regressions/TARGET/ and fails the run. `cargo xtask test` runs every
//! target for a short bounded time. Add a target: its file in fuzz/fuzz_targets/, a `[[bin]]`
//! in fuzz/Cargo.toml and one line in [`TARGETS`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::sh::{self, step};

/// (name, what it feeds).
pub const TARGETS: &[(&str, &str)] = &[
    (
        "nft_rule",
        "nf_tables rule messages: owned decoder, fixed-layout reader, expression walk",
    ),
    (
        "nft_expr",
        "one nf_tables expression through every expression decoder",
    ),
    (
        "nft_objects",
        "nf_tables table, chain, set, set element, object and flowtable messages",
    ),
    (
        "xt_table",
        "legacy GET_INFO + GET_ENTRIES blobs: decode and iptables-save rendering",
    ),
    (
        "ext_blob",
        "xtables extension blobs: decoder and straight-to-text renderer agree",
    ),
    (
        "iptables_args",
        "the iptables argument parser and the iptables-save text parser",
    ),
    (
        "engine_api",
        "Docker Engine API answers (networks, containers)",
    ),
    (
        "bundle",
        "bundle files, read and audited as check --docker-state does",
    ),
];

/// How long each target runs: libFuzzer's -max_total_time and -runs (the first one reached
/// ends the run).
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub seconds: Option<u64>,
    pub runs: Option<u64>,
}

impl Budget {
    /// Neither given: 300 s.
    pub fn new(seconds: Option<u64>, runs: Option<u64>) -> Budget {
        match (seconds, runs) {
            (None, None) => Budget::seconds(300),
            _ => Budget { seconds, runs },
        }
    }

    pub fn seconds(seconds: u64) -> Budget {
        Budget {
            seconds: Some(seconds),
            runs: None,
        }
    }

    fn describe(&self) -> String {
        match (self.seconds, self.runs) {
            (Some(s), Some(r)) => format!("{r} execs or {s} s per target, whichever comes first"),
            (Some(s), None) => format!("{s} s per target"),
            (None, Some(r)) => format!("{r} execs per target"),
            (None, None) => "no limit".to_owned(),
        }
    }

    fn libfuzzer_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(s) = self.seconds {
            a.push(format!("-max_total_time={s}"));
        }
        if let Some(r) = self.runs {
            a.push(format!("-runs={r}"));
        }
        a
    }
}

pub fn run(target: Option<&str>, budget: Budget) -> Result<()> {
    let Some(target) = target else {
        list();
        return Ok(());
    };
    if target == "record-seeds" {
        crate::build::build(false)?;
        step("recording fuzz seeds from the kernel and the labs (rewrites fuzz/seeds/)");
        return sh::run(sh::cargo().args([
            "test",
            "-p",
            "nfprobe-tests",
            "--test",
            "fuzz_seeds",
            "--",
            "--ignored",
            "--nocapture",
        ]));
    }
    let names: Vec<&str> = if target == "all" {
        TARGETS.iter().map(|t| t.0).collect()
    } else if TARGETS.iter().any(|t| t.0 == target) {
        vec![target]
    } else {
        list();
        bail!("no fuzz target named `{target}`");
    };
    crate::bootstrap::run()?;
    fuzz(&names, budget)
}

/// Every target within `budget` each (also what `cargo xtask test` runs).
pub fn fuzz(names: &[&str], budget: Budget) -> Result<()> {
    build()?;
    let mut rows = Vec::new();
    for name in names {
        replay_regressions(name)?;
        rows.push(fuzz_one(name, budget)?);
    }
    println!(
        "\nfuzz summary ({}, libFuzzer, no sanitizer, debug assertions on):",
        budget.describe()
    );
    println!(
        "  {:<14} {:>12} {:>8} {:>10} {:>8} {:>8}",
        "target", "execs", "seconds", "execs/s", "corpus", "crashes"
    );
    for r in &rows {
        println!(
            "  {:<14} {:>12} {:>8} {:>10.0} {:>8} {:>8}",
            r.name, r.execs, r.seconds, r.rate, r.corpus, 0
        );
    }
    Ok(())
}

fn fuzz_dir() -> PathBuf {
    sh::workspace_root().join("fuzz")
}

/// `cargo +NIGHTLY fuzz ...` in fuzz/ with the project's pinned nightly: the eBPF object is
/// never built for fuzzing.
fn cargo_fuzz() -> Command {
    let nightly = crate::bootstrap::nightly().unwrap_or_else(|_| "nightly".to_owned());
    let mut cmd = Command::new("cargo");
    cmd.current_dir(fuzz_dir())
        .env("PATH", sh::path_with_cargo_bin())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env("AYA_BUILD_SKIP", "1")
        .arg(format!("+{nightly}"))
        .arg("fuzz");
    cmd
}

fn build() -> Result<()> {
    step("building the fuzz targets (cargo fuzz, nightly, release + debug assertions)");
    sh::run(cargo_fuzz().args(["build", "--sanitizer", "none"]))
}

/// Each saved crash input runs once; any panic fails.
fn replay_regressions(name: &str) -> Result<()> {
    let dir = fuzz_dir().join("regressions").join(name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    step(&format!(
        "{name}: replaying {} regression input(s)",
        files.len()
    ));
    sh::run(
        cargo_fuzz()
            .args(["run", "--sanitizer", "none", name])
            .args(&files)
            .args(["--", "-runs=1"]),
    )
    .with_context(|| {
        format!(
            "a regression input of {name} fails again ({})",
            dir.display()
        )
    })
}

struct Row {
    name: String,
    execs: u64,
    seconds: u64,
    rate: f64,
    corpus: usize,
}

/// Seconds after which one input counts as a hang (libFuzzer's -timeout): the decoders take
/// microseconds, so anything near this is a bug worth a regression input.
const TIMEOUT_SECONDS: u64 = 5;

fn fuzz_one(name: &str, budget: Budget) -> Result<Row> {
    let corpus = sh::target_dir().join("fuzz-corpus").join(name);
    let artifacts = sh::target_dir().join("fuzz-artifacts").join(name);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let seeds = fuzz_dir().join("seeds").join(name);
    step(&format!("{name}: fuzzing ({})", budget.describe()));
    let mut cmd = cargo_fuzz();
    cmd.args(["run", "--sanitizer", "none", name])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .args(budget.libfuzzer_args())
        .arg(format!("-timeout={TIMEOUT_SECONDS}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot start cargo fuzz")?;
    let mut execs = 0;
    // libFuzzer's own clock ("Done N runs in S second(s)"), which leaves out cargo's build
    // check; the wall clock from its first line is the fallback.
    let mut done_seconds: Option<u64> = None;
    let mut started: Option<Instant> = None;
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line?;
            if started.is_none() && line.starts_with("INFO:") {
                started = Some(Instant::now());
            }
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                execs = n.trim().parse().unwrap_or(0);
            }
            if let Some(s) = done_line_seconds(&line) {
                done_seconds = Some(s);
            }
            // libFuzzer's progress lines ("#1048576<TAB>pulse  cov: ... exec/s: ..."), at each power
            // of two: a long run shows it is alive without the noise of every new input.
            if line.starts_with('#') && line.contains("\tpulse ") {
                eprintln!("  {name}: {line}");
            }
            tail.push(line);
            if tail.len() > 40 {
                tail.remove(0);
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        let saved = save_crashes(name, &artifacts)?;
        bail!(
            "{name}: the fuzzer found a crash; saved as regression input(s) {}: fix the decoder \
             and commit them\n{}",
            saved.join(", "),
            tail.join("\n")
        );
    }
    let wall = started.map(|s| s.elapsed().as_secs()).unwrap_or(0);
    let seconds = done_seconds.unwrap_or(wall).max(1);
    Ok(Row {
        name: name.to_owned(),
        execs,
        seconds,
        rate: execs as f64 / seconds as f64,
        corpus: std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0),
    })
}

/// The seconds of libFuzzer's closing "Done 10000 runs in 3 second(s)".
fn done_line_seconds(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("Done ")?;
    let (_, secs) = rest.split_once(" runs in ")?;
    secs.split_whitespace().next()?.parse().ok()
}

/// Moves libFuzzer's crash/timeout/oom artifacts into fuzz/regressions/NAME/.
fn save_crashes(name: &str, artifacts: &Path) -> Result<Vec<String>> {
    let dest = fuzz_dir().join("regressions").join(name);
    std::fs::create_dir_all(&dest)?;
    let mut saved = Vec::new();
    for e in std::fs::read_dir(artifacts)?.flatten() {
        let to = dest.join(e.file_name());
        std::fs::copy(e.path(), &to)?;
        saved.push(to.display().to_string());
    }
    Ok(saved)
}

fn list() {
    eprintln!(
        "fuzz targets (cargo xtask fuzz NAME|all [--seconds N] [--runs N]; record-seeds rewrites \
         fuzz/seeds/):"
    );
    for (name, about) in TARGETS {
        eprintln!("  {name:<14} {about}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_closing_line() {
        assert_eq!(
            done_line_seconds("Done 10000000 runs in 53 second(s)"),
            Some(53)
        );
        assert_eq!(done_line_seconds("#1024 pulse cov: 12 ft: 30"), None);
        assert_eq!(done_line_seconds("Done soon"), None);
    }

    #[test]
    fn budget_defaults_to_five_minutes() {
        let b = Budget::new(None, None);
        assert_eq!(b.libfuzzer_args(), ["-max_total_time=300"]);
        let b = Budget::new(None, Some(10_000_000));
        assert_eq!(b.libfuzzer_args(), ["-runs=10000000"]);
    }
}
