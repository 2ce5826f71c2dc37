//! `cargo xtask bench startup`: process start-up cost of `nfprobe --version` next to
//! `iptables --version`, with hyperfine, as a ratio (the floor under every nfprobe command).

use std::process::Command;

use anyhow::Result;

use super::Bench;
use crate::sh::{self, step};

pub static BENCH: Bench = Bench {
    name: "startup",
    about: "nfprobe --version vs iptables --version (hyperfine)",
    run,
};

fn run(args: &[String]) -> Result<()> {
    let bin = super::release_nfprobe()?;
    let export = sh::target_dir().join("bench-startup.json");
    step("hyperfine: nfprobe --version vs iptables --version");
    sh::run(
        Command::new("hyperfine")
            .args(["--warmup", "10", "--min-runs", "200", "-N", "--export-json"])
            .arg(&export)
            .arg(format!("{} --version", bin.display()))
            .arg("iptables --version")
            .args(args),
    )?;
    // hyperfine prints "... ran N times faster than ...": the ratio we want.
    step(&format!("raw results: {}", export.display()));
    Ok(())
}
