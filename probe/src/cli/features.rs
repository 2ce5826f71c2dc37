//! `nfprobe features`: a short summary of what this kernel offers nfprobe, and which commands
//! this process cannot run here for want of a capability.

use anyhow::Context;
use nfprobe::kernel::caps::{Capability, Caps, Restrictions};
use nfprobe::kernel::features;
use nfprobe::needs::{self, Command};

use super::{Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {}

const COMMANDS: [Command; 6] = [
    Command::Ruleset,
    Command::Check,
    Command::Collect,
    Command::Drops,
    Command::Prove,
    Command::Serve,
];

pub fn run(global: &Global, _args: Args) -> anyhow::Result<Outcome> {
    let found = features::detect(global.netns.as_ref()).context("reading kernel features")?;
    let u = needs::Use {
        netns: global.netns.is_some(),
        ..needs::Use::default()
    };
    // Each command's up-front check, as it would refuse to start here.
    let refused: Vec<(Command, String)> = COMMANDS
        .iter()
        .filter_map(|c| needs::preflight(*c, u).err().map(|m| (*c, m.to_string())))
        .collect();
    let caps_missing: Vec<&str> = match Caps::current() {
        Ok(caps) => {
            let r = Restrictions::read();
            Capability::ALL
                .iter()
                .filter(|c| !caps.has(**c) || (r.user_namespace && c.initial_userns_only()))
                .map(|c| c.name())
                .collect()
        }
        Err(e) => {
            log::warn!("{e}");
            Vec::new()
        }
    };
    if global.json {
        let mut v = serde_json::to_value(&found)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("capabilities_missing".into(), caps_missing.clone().into());
            let map: serde_json::Map<String, serde_json::Value> = refused
                .iter()
                .map(|(c, line)| (c.name().to_owned(), line.clone().into()))
                .collect();
            obj.insert("commands_refused".into(), map.into());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("nfprobe {}", env!("CARGO_PKG_VERSION"));
        println!("{}", found.summary());
        if !caps_missing.is_empty() {
            println!("capabilities missing: {}", caps_missing.join(", "));
        }
        for (_, line) in &refused {
            println!("cannot run here: {line}");
        }
    }
    let missing = found.missing();
    if missing.is_empty() && refused.is_empty() {
        Ok(Outcome::Clean)
    } else {
        if !global.json && !missing.is_empty() {
            println!("missing: {}", missing.join(", "));
        }
        Ok(Outcome::Findings)
    }
}
