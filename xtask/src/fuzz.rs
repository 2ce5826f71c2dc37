//! `cargo xtask fuzz [TARGET|all|record-seeds] [--seconds N]`: coverage-guided fuzzing of the
//! decoders with cargo-fuzz (libFuzzer, nightly), targets in fuzz/fuzz_targets/.
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

pub fn run(target: Option<&str>, seconds: u64) -> Result<()> {
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
    fuzz(&names, seconds)
}

/// Every target for `seconds` each (also what `cargo xtask test` runs).
pub fn fuzz(names: &[&str], seconds: u64) -> Result<()> {
    build()?;
    let mut rows = Vec::new();
    for name in names {
        replay_regressions(name)?;
        rows.push(fuzz_one(name, seconds)?);
    }
    println!(
        "\nfuzz summary ({seconds} s per target, libFuzzer, no sanitizer, debug assertions on):"
    );
    println!(
        "  {:<14} {:>12} {:>10} {:>8} {:>8}",
        "target", "execs", "execs/s", "corpus", "crashes"
    );
    for r in &rows {
        println!(
            "  {:<14} {:>12} {:>10.0} {:>8} {:>8}",
            r.name, r.execs, r.rate, r.corpus, 0
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
    rate: f64,
    corpus: usize,
}

fn fuzz_one(name: &str, seconds: u64) -> Result<Row> {
    let corpus = sh::target_dir().join("fuzz-corpus").join(name);
    let artifacts = sh::target_dir().join("fuzz-artifacts").join(name);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let seeds = fuzz_dir().join("seeds").join(name);
    step(&format!("{name}: fuzzing for {seconds} s"));
    let start = Instant::now();
    let mut cmd = cargo_fuzz();
    cmd.args(["run", "--sanitizer", "none", name])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot start cargo fuzz")?;
    let mut execs = 0;
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line?;
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                execs = n.trim().parse().unwrap_or(0);
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
    let secs = start.elapsed().as_secs_f64().max(f64::EPSILON);
    Ok(Row {
        name: name.to_owned(),
        execs,
        rate: execs as f64 / secs.min(seconds as f64).max(1.0),
        corpus: std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0),
    })
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
        "fuzz targets (cargo xtask fuzz NAME|all [--seconds N]; record-seeds rewrites fuzz/seeds/):"
    );
    for (name, about) in TARGETS {
        eprintln!("  {name:<14} {about}");
    }
}
