//! `cargo xtask test`: bootstrap, build, lint, then the whole test suite.
//!
//! The suite's output ends with one cargo-style summary line adding up every test binary, so
//! the verdict is the last thing a reader (or CI) sees, whatever binary happened to run last.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::sh::{self, step};

pub fn run(lint: bool, cargo_test_args: &[String]) -> Result<()> {
    let start = Instant::now();
    sh::one_shot_builds();
    warn_when_disk_is_short();
    crate::bootstrap::run()?;
    crate::build::build(false)?;
    if lint {
        step("lint: rustfmt and clippy");
        sh::run(sh::cargo().args(["fmt", "--all", "--check"]))?;
        // Clippy gets its own build-script run (and OUT_DIR): the placeholder object spares it
        // a second eBPF build; the binaries under test keep the real one.
        sh::run(sh::cargo().env("AYA_BUILD_SKIP", "1").args([
            "clippy",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    if !sh::is_root() {
        step("WARNING: not root; the tests that need namespaces, bpf or dockerd will fail");
    }
    step(&format!(
        "running the whole test suite (setup took {})",
        sh::elapsed(start)
    ));
    let mut cmd = sh::cargo();
    cmd.args([
        "test",
        "--workspace",
        "--exclude",
        "probe-ebpf",
        "--no-fail-fast",
    ]);
    if !cargo_test_args.is_empty() {
        cmd.arg("--").args(cargo_test_args);
    }
    eprintln!("+ cargo test --workspace --exclude probe-ebpf --no-fail-fast");
    let tests_start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;
    let mut totals = Totals::default();
    if let Some(out) = child.stdout.take() {
        let mut stdout = std::io::stdout().lock();
        for line in BufReader::new(out).lines() {
            let line = line.context("reading cargo test output")?;
            totals.add(&line);
            writeln!(stdout, "{line}")?;
            stdout.flush()?;
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    // Every fuzz target replays its regression inputs and runs briefly; each counts as one
    // test in the closing line (a crash is a failed test).
    // A filtered run (`cargo xtask test -- NAME`) skips them.
    if cargo_test_args.is_empty() {
        let names: Vec<&str> = crate::fuzz::TARGETS.iter().map(|t| t.0).collect();
        match crate::fuzz::fuzz(&names, crate::fuzz::Budget::seconds(FUZZ_SECONDS)) {
            Ok(()) => totals.passed += names.len() as u64,
            Err(e) => {
                eprintln!("xtask: fuzzing failed: {e:#}");
                totals.failed += 1;
            }
        }
    }
    let ok = status.success() && totals.failed == 0;
    println!();
    println!(
        "test result: {}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; \
         finished in {:.2}s",
        if ok { "ok" } else { "FAILED" },
        totals.passed,
        totals.failed,
        totals.ignored,
        totals.filtered,
        tests_start.elapsed().as_secs_f64()
    );
    if !ok {
        // The summary above stays the last line on stdout; the reason goes to stderr.
        bail!("the test suite failed ({status})");
    }
    Ok(())
}

/// What a whole run from a clean checkout writes, measured: the test build's target dir about
/// 5 GB, the fuzz build 2 GB, the fresh-build guard 1 GB (removed after it), with a margin.
const DISK_NEEDED: u64 = 10 << 30;

/// Say up front when the disk is too short for the run, rather than failing 9 minutes in
/// with "No space left on device" from whichever compiler or test got there first.
fn warn_when_disk_is_short() {
    let dir = sh::workspace_root();
    if let Some(free) = sh::free_bytes(&dir)
        && free < DISK_NEEDED
    {
        step(&format!(
            "WARNING: {:.1} GiB free under {}; a whole test run from a clean checkout needs \
             about {} GiB (builds may fail with \"No space left on device\")",
            free as f64 / f64::from(1u32 << 30),
            dir.display(),
            DISK_NEEDED >> 30
        ));
    }
}

/// Seconds each fuzz target runs in `cargo xtask test`.
const FUZZ_SECONDS: u64 = 20;

#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
    filtered: u64,
}

impl Totals {
    /// Add one `test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 2 filtered out; ...`.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        // The first part is "ok. 3 passed": drop the verdict word.
        let rest = rest.split_once(". ").map_or(rest, |(_, r)| r);
        for part in rest.split(';') {
            let mut words = part.split_whitespace();
            let Some(Ok(n)) = words.next().map(str::parse::<u64>) else {
                continue;
            };
            match words.next() {
                Some("passed") => self.passed += n,
                Some("failed") => self.failed += n,
                Some("ignored") => self.ignored += n,
                Some("filtered") => self.filtered += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_cargo_summaries() {
        let mut t = Totals::default();
        t.add("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 2 filtered out; finished in 0.01s");
        t.add("test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s");
        t.add("running 3 tests");
        assert_eq!(
            t,
            Totals {
                passed: 4,
                failed: 2,
                ignored: 1,
                filtered: 2
            }
        );
    }
}
