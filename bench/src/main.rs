//! `nfprobe-bench NAME [ARGS...]`: benchmarks that print ratios against the real tools measured
//! in the same run. Run through `cargo xtask bench`, which bootstraps and builds the release
//! `nfprobe` first and passes its path in `NFPROBE_BIN`. One file per benchmark; add it to
//! [`BENCHES`].
//!
//! This is a crate of its own, not part of xtask, because it links the probe library, whose
//! build script builds the eBPF object: xtask must compile on a machine bootstrap has not set
//! up yet.

use anyhow::{Context, Result, bail};

// The command helpers are xtask's own file: one copy, shared by both binaries.
#[path = "../../xtask/src/sh.rs"]
#[allow(dead_code)]
mod sh;

mod bpf_stats;
mod bpf_testrun;
mod check;
mod drops;
mod drops_flow;
mod drops_profile;
mod drops_toggle;
mod nft_native;
mod paired;
mod procstat;
mod prove;
mod ruleset;
mod serve;
mod startup;
mod storm_tx;

/// A benchmark: its name, one line about it, and its entry point (gets the extra arguments).
pub struct Bench {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&[String]) -> Result<()>,
}

/// Every benchmark. Add one line per new file.
pub static BENCHES: &[&Bench] = &[
    &startup::BENCH,
    &ruleset::BENCH,
    &nft_native::BENCH,
    &check::BENCH,
    &drops::BENCH,
    &serve::BENCH,
    &prove::BENCH,
];

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(
        args.first().map(String::as_str),
        args.get(1..).unwrap_or(&[]),
    ) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(name: Option<&str>, args: &[String]) -> Result<()> {
    let Some(name) = name else {
        list();
        return Ok(());
    };
    match BENCHES.iter().find(|b| b.name == name) {
        Some(b) => (b.run)(args),
        None => {
            list();
            bail!("no benchmark named `{name}`")
        }
    }
}

fn list() {
    eprintln!("benchmarks (cargo xtask bench NAME):");
    for b in BENCHES {
        eprintln!("  {:<12} {}", b.name, b.about);
    }
}

/// The release `nfprobe` that `cargo xtask bench` built before starting us.
pub fn release_nfprobe() -> Result<std::path::PathBuf> {
    let bin = std::env::var_os("NFPROBE_BIN")
        .map(std::path::PathBuf::from)
        .context("NFPROBE_BIN is not set: run benchmarks through `cargo xtask bench`")?;
    if !bin.is_file() {
        bail!("NFPROBE_BIN names {}, which is not a file", bin.display());
    }
    Ok(bin)
}
