//! `cargo xtask bench [NAME] [ARGS...]`: bootstrap, build the release `nfprobe`, then run the
//! benchmark binary (the `nfprobe-bench` crate) with it. The benchmarks live in a crate of their
//! own because they link the probe library: xtask itself must build before bootstrap has run.

use anyhow::Result;

use crate::sh::{self, step};

pub fn run(name: Option<&str>, args: &[String]) -> Result<()> {
    crate::bootstrap::run()?;
    let bin = crate::build::build(true)?;
    step("building and running the benchmark binary (release)");
    sh::run(
        sh::cargo()
            .args(["run", "--quiet", "--release", "-p", "nfprobe-bench", "--"])
            .args(name)
            .args(args)
            .env("NFPROBE_BIN", bin),
    )
}
