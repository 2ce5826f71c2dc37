//! `cargo xtask bench prove`: a full `nfprobe prove` of 10 published ports from 3 vantage
//! points (outside client, host via 127.0.0.1, host via its address) on the Docker 28.0.1
//! lab with the iptables-1.8.11 preset (half the networks lose their rules, so many attempts
//! time out). The goal: the run finishes in under twice the sum of its attempts' timeouts.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::Bench;
use crate::sh::step;

pub static BENCH: Bench = Bench {
    name: "prove",
    about: "nfprobe prove: 10 ports × 3 vantage points vs twice the sum of timeouts",
    run,
};

const TIMEOUT_S: f64 = 2.0;

fn run(_args: &[String]) -> Result<()> {
    let bin = super::release_nfprobe()?;
    step("lab: Docker 28.0.1 layout, 5 networks × 2 published ports, iptables-1.8.11 preset");
    let lab = lab::docker28::Lab::up(lab::docker28::Options {
        networks: 5,
        containers_per_network: 2,
        faults: vec![lab::docker28::Fault::Iptables1811],
        ..Default::default()
    })
    .context("bringing the lab up")?;
    let bundle = lab.dir().join("prove-bench-bundle.json");
    std::fs::write(&bundle, serde_json::to_vec(&lab.docker_state().bundle())?)?;
    let ns = lab.host_netns_path();
    step("nfprobe prove --from outside,host-loopback,host-address");
    let t0 = Instant::now();
    let out = Command::new(&bin)
        .arg("--netns")
        .arg(&ns)
        .args(["prove", "--docker-state"])
        .arg(&bundle)
        .args(["--from-netns", lab.client_netns().name()])
        .args(["--from", "outside,host-loopback,host-address", "--json"])
        .args(["--connect-timeout", &TIMEOUT_S.to_string()])
        .output()?;
    let wall = t0.elapsed().as_secs_f64();
    let code = out.status.code().unwrap_or(-1);
    if code != 0 && code != 1 {
        bail!(
            "nfprobe prove exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let attempts = v["attempts"].as_array().context("no attempts")?;
    let timeouts = attempts
        .iter()
        .filter(|a| a["connect"]["result"] == "timeout")
        .count();
    let budget = attempts.len() as f64 * TIMEOUT_S;
    let explained = attempts
        .iter()
        .filter(|a| a["verdict"] == "timeout_explained")
        .count();
    lab.down()?;
    println!(
        "prove: {} attempts ({timeouts} timed out, {explained} explained)",
        attempts.len()
    );
    println!(
        "prove: wall {wall:.1} s; sum of timeouts {budget:.1} s; ratio {:.2} (goal < 2.00: {})",
        wall / budget,
        if wall < 2.0 * budget {
            "met"
        } else {
            "NOT met"
        }
    );
    if attempts.len() != 30 {
        bail!(
            "expected 30 attempts (10 ports × 3 vantage points), got {}",
            attempts.len()
        );
    }
    Ok(())
}
