//! `cargo xtask run-check`: set up, build the release binary and run nfprobe's main job against
//! this host, passing its exit code through.

use std::process::Command;

use anyhow::{Result, bail};

use crate::sh::{self, step};

/// The main job: the truth report.
const MAIN_JOB: &[&str] = &["check"];

pub fn check(extra: &[String]) -> Result<()> {
    crate::bootstrap::run()?;
    let bin = crate::build::build(true)?;
    step("running nfprobe's main job against this host");
    let status = sh::status(Command::new(&bin).args(MAIN_JOB).args(extra))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!("nfprobe reported findings (exit 1)"),
        _ => bail!("nfprobe could not run ({status})"),
    }
}
