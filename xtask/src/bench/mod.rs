//! `cargo xtask bench NAME [ARGS...]`: benchmarks that print ratios against the real tools
//! measured in the same run. One file per benchmark; add it to [`BENCHES`].

use anyhow::{Result, bail};

mod bpf_stats;
mod bpf_testrun;
mod check;
mod drops;
mod drops_flow;
mod drops_profile;
mod drops_toggle;
mod paired;
mod procstat;
mod ruleset;
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
    &check::BENCH,
    &drops::BENCH,
];

pub fn run(name: Option<&str>, args: &[String]) -> Result<()> {
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

/// Shared by benchmarks: build the release binary (after bootstrap) and return its path.
pub fn release_nfprobe() -> Result<std::path::PathBuf> {
    crate::bootstrap::run()?;
    crate::build::build(true)
}
