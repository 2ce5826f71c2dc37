//! `cargo xtask build [--release]`: probe/build.rs builds the eBPF object (nightly, bpf-linker)
//! and the `nfprobe` binary embeds it, all in one cargo invocation.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use crate::sh::{self, step};

pub fn run(release: bool) -> Result<()> {
    build(release).map(|_| ())
}

/// Build and return the path of the binary.
pub fn build(release: bool) -> Result<PathBuf> {
    crate::bootstrap::require_bpf_linker()?;
    let start = Instant::now();
    let profile = if release { "release" } else { "debug" };
    step(&format!("building the eBPF object and nfprobe ({profile})"));
    let mut cmd = sh::cargo();
    cmd.args(["build", "--package", "probe", "--bin", "nfprobe"]);
    if release {
        cmd.arg("--release");
    }
    sh::run(&mut cmd)?;
    let bin = sh::target_dir().join(profile).join("nfprobe");
    step(&format!(
        "built {} in {}",
        bin.display(),
        sh::elapsed(start)
    ));
    Ok(bin)
}
