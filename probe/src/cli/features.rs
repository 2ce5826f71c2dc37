//! `nfprobe features`: a short summary of what this kernel offers nfprobe.

use anyhow::Context;
use nfprobe::kernel::features;

use super::{Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &Global, _args: Args) -> anyhow::Result<Outcome> {
    let found = features::detect(global.netns.as_ref()).context("reading kernel features")?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        println!("nfprobe {}", env!("CARGO_PKG_VERSION"));
        println!("{}", found.summary());
    }
    let missing = found.missing();
    if missing.is_empty() {
        Ok(Outcome::Clean)
    } else {
        if !global.json {
            println!("missing: {}", missing.join(", "));
        }
        Ok(Outcome::Findings)
    }
}
