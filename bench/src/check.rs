//! `cargo xtask bench check`: `nfprobe check` on a host with ~1,000 expected Docker rules among
//! 50,000 kernel rules, against asking `iptables -C` once per expected rule (what Docker and
//! most scripts do). Both run in a private netns; the ratio comes from one run of each.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::Bench;
use crate::sh::step;

pub static BENCH: Bench = Bench {
    name: "check",
    about: "nfprobe check vs 1,000 `iptables -C` on a 50k-rule host (ratio)",
    run,
};

const TOTAL_RULES: usize = 50_000;

/// A netns of our own, deleted on drop.
pub(super) struct Ns(String);

impl Ns {
    fn new() -> Result<Self> {
        let name = format!("nfbench-chk-{}", std::process::id());
        let st = Command::new("ip").args(["netns", "add", &name]).status()?;
        if !st.success() {
            bail!("ip netns add {name} failed (needs root)");
        }
        Ok(Ns(name))
    }
    pub(super) fn name(&self) -> &str {
        &self.0
    }
    pub(super) fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path())).arg("--").arg(prog);
        c
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Docker 28.0.1, userland-proxy off: 40 networks × 4 containers with one published port.
fn bundle(networks: usize, per_net: usize) -> serde_json::Value {
    let mut nets = Vec::new();
    let mut containers = Vec::new();
    for n in 0..networks {
        let id = format!("{:012x}{}", 0xb0b000 + n, "0".repeat(52));
        nets.push(json!({"name": format!("net{n}"), "id": id,
            "subnets": [{"subnet": format!("10.{}.{}.0/24", 100 + n / 200, n % 200)}]}));
        for c in 0..per_net {
            containers.push(json!({"name": format!("c{n}-{c}"),
                "endpoints": [{"network": format!("net{n}"), "ipv4": format!("10.{}.{}.{}", 100 + n / 200, n % 200, 2 + c)}],
                "ports": [{"host_ip": "0.0.0.0", "host_port": 10000 + n * 10 + c, "container_port": 80}]}));
        }
    }
    json!({"format": "nfprobe-bundle", "version": 1, "host": "bench",
        "docker": {"engine_version": "28.0.1", "daemon": {"userland-proxy": false, "ip6tables": false},
                   "networks": nets, "containers": containers}})
}

/// A netns holding the rules Docker 28.0.1 installs for 40 networks × 4 containers (about
/// 1,000) among 50,000 rules in all, and the bundle describing that Docker.
pub(super) struct Host {
    pub(super) ns: Ns,
    pub(super) dir: std::path::PathBuf,
    pub(super) file: std::path::PathBuf,
    pub(super) expected: usize,
    pub(super) filler: usize,
    /// (table, `CHAIN args`) of each expected rule.
    pub(super) checks: Vec<(String, String)>,
}

pub(super) fn host_with_rules(bin: &std::path::Path) -> Result<Host> {
    let ns = Ns::new()?;
    let dir = crate::sh::target_dir().join(format!("bench-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("bundle.json");
    std::fs::write(&file, serde_json::to_vec(&bundle(40, 4))?)?;

    // The expected rules, as nfprobe's own fix script for an empty host.
    step("expected rules (nfprobe check --fix-script on the empty netns)");
    let out = Command::new(bin)
        .args([
            "--netns",
            &ns.path(),
            "check",
            "--no-claims",
            "--fix-script",
            "--docker-state",
        ])
        .arg(&file)
        .output()?;
    let script = String::from_utf8(out.stdout)?;
    let mut tables: std::collections::BTreeMap<String, (Vec<String>, Vec<String>)> =
        Default::default();
    let mut checks: Vec<(String, String)> = Vec::new(); // (table, "CHAIN args")
    for l in script
        .lines()
        .filter(|l| l.starts_with("iptables-nft -w -t "))
    {
        let rest = &l["iptables-nft -w -t ".len()..];
        let (table, cmd) = rest.split_once(' ').context("fix line")?;
        let e = tables.entry(table.to_owned()).or_default();
        if let Some(chain) = cmd.strip_prefix("-N ") {
            e.0.push(chain.to_owned());
        } else {
            e.1.push(cmd.replace('\'', ""));
            checks.push((table.to_owned(), cmd[3..].replace('\'', "")));
        }
    }
    let expected = checks.len();
    if expected < 900 {
        bail!("only {expected} expected rules generated");
    }
    // Fill the host up to 50k rules with unrelated ones in a chain of their own.
    let filler = TOTAL_RULES.saturating_sub(expected);
    let mut restore = String::new();
    for (t, (chains, rules)) in &tables {
        restore.push_str(&format!("*{t}\n"));
        for c in chains {
            restore.push_str(&format!(":{c} - [0:0]\n"));
        }
        if t == "filter" {
            restore.push_str(":BENCH-FILLER - [0:0]\n");
            for i in 0..filler {
                restore.push_str(&format!(
                    "-A BENCH-FILLER -s 172.{}.{}.{}/32 -p tcp -m tcp --dport {} -j ACCEPT\n",
                    16 + i / 65536 % 16,
                    i / 256 % 256,
                    i % 256,
                    1 + i % 60000
                ));
            }
        }
        for r in rules {
            restore.push_str(r);
            restore.push('\n');
        }
        restore.push_str("COMMIT\n");
    }
    step(&format!(
        "loading {expected} Docker rules + {filler} others with iptables-nft-restore"
    ));
    let mut child = ns
        .cmd("iptables-nft-restore")
        .stdin(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(restore.as_bytes())?;
    if !child.wait()?.success() {
        bail!("iptables-nft-restore failed");
    }
    Ok(Host {
        ns,
        dir,
        file,
        expected,
        filler,
        checks,
    })
}

fn run(_args: &[String]) -> Result<()> {
    let bin = super::release_nfprobe()?;
    let Host {
        ns,
        dir,
        file,
        expected,
        filler,
        checks,
    } = host_with_rules(&bin)?;
    step("nfprobe check (kernel read + expectation + audit, no CLI claims)");
    let t = Instant::now();
    let out = Command::new(&bin)
        .args([
            "--netns",
            &ns.path(),
            "check",
            "--no-claims",
            "--json",
            "--docker-state",
        ])
        .arg(&file)
        .output()?;
    let ours = t.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("nfprobe JSON")?;
    let ok = v["findings"]
        .as_array()
        .map_or(0, |f| f.iter().filter(|f| f["status"] == "ok").count());
    if ok != expected {
        bail!("nfprobe found {ok} of {expected} expected rules ok: the benchmark host is wrong");
    }

    step(&format!(
        "{expected} x iptables -w -t T -C ... (one shell in the netns)"
    ));
    let mut sh = String::new();
    for (t, rule) in &checks {
        sh.push_str(&format!("iptables -w -t {t} -C {rule} || echo MISSING\n"));
    }
    let t = Instant::now();
    let out = ns.cmd("sh").arg("-c").arg(&sh).output()?;
    let theirs = t.elapsed();
    let missing = String::from_utf8_lossy(&out.stdout)
        .matches("MISSING")
        .count();
    if missing != 0 {
        bail!("iptables -C answered missing for {missing} rules: the benchmark host is wrong");
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "check: {expected} expected rules on a {} -rule host: nfprobe check {:.3} s, {expected} x iptables -C {:.3} s, ratio {:.1}x (target >= 100x)",
        expected + filler,
        ours.as_secs_f64(),
        theirs.as_secs_f64(),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    Ok(())
}
