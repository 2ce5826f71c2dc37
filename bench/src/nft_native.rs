//! `cargo xtask bench nft [--sizes 1000,10000,50000] [--runs N] [--shape a|b]`: printing a native nftables
//! ruleset, `nfprobe ruleset --format nft` against `nft list ruleset` and the bare dump floor.
//!
//! For each size, a private network namespace gets a firewalld/Docker-29-like native ruleset
//! in one `table ip` (so the floor's family-ip dumps read exactly these rules): named sets, a
//! verdict map, one chain per 25 rules jumped to from the input base chain, rules with
//! addresses, prefixes, ports, anonymous sets, ranges, ct state, interface names, counters,
//! logs and comments — all of them constructs nfprobe prints exactly (checked: the outputs
//! must be identical and free of undecodable marks, or the bench fails). Contenders run
//! interleaved as in `bench ruleset`:
//! - ours: `ruleset_bench ours-nft`, what the command runs (interface names, then each chain
//!   rendered on its dump thread and written in order);
//! - `nft list ruleset`;
//! - `ours-nft-model`: ours as it was (whole snapshot with every rule decoded, then
//!   rendering on one thread);
//! - the floor: what any reader of this ruleset must ask for, received and dropped: the
//!   rules chain by chain and the elements of every set, one dump per set (on one socket,
//!   and on as many threads as ours uses; the faster is the floor); the rules alone (no set
//!   elements) as extra rows.
//!
//! Two shapes, each at every size: (a) one rule in eight with an anonymous set, (b) the same
//! rules with single ports (no anonymous sets). The verdict lines give each contender's user
//! and sys CPU time (the kernel's share of the work shows in sys).

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

use super::Bench;
use crate::ruleset::{Netns, median_ratio, run_contenders, worker};
use crate::sh::{self, step};

pub static BENCH: Bench = Bench {
    name: "nft",
    about: "native nftables: --format nft vs nft list ruleset and the bare dump floor",
    run,
};

/// The two shapes of the bench ruleset.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One rule in eight matches an anonymous set (`udp dport { 53, PORT }`): about 6,000
    /// sets at 50k rules, each read with its own element dump.
    AnonSets,
    /// The same rules with a single port instead (`udp dport PORT`): two named sets only.
    NoAnonSets,
}

impl Shape {
    fn label(self) -> &'static str {
        match self {
            Shape::AnonSets => "(a) anonymous set in 1 rule of 8",
            Shape::NoAnonSets => "(b) no anonymous sets",
        }
    }
}

/// A native ruleset of `n` rules (base-chain jumps included).
fn generate(n: usize, shape: Shape) -> String {
    let per_chain = 25;
    let chains = (n / (per_chain + 1)).max(1);
    let mut s = String::from("table ip fw {\n");
    s.push_str("\tset blocked {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/8, 192.168.1.1 }\n\t}\n");
    s.push_str("\tmap ifjumps {\n\t\ttype ifname : verdict\n\t\telements = { \"eth0\" : jump c00000 }\n\t}\n");
    s.push_str("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n");
    s.push_str("\t\tiifname vmap @ifjumps\n");
    for c in 0..chains {
        let _ = writeln!(
            s,
            "\t\tip saddr 10.{}.{}.0/24 jump c{c:05}",
            c / 250,
            c % 250
        );
    }
    s.push_str("\t}\n");
    let mut made = chains + 1;
    for c in 0..chains {
        let _ = writeln!(s, "\tchain c{c:05} {{");
        for r in 0..per_chain {
            if made >= n {
                break;
            }
            made += 1;
            let (a, b) = (c % 250, r * 9 % 250);
            let p = 1000 + (c * per_chain + r) % 60000;
            let rule = match r % 8 {
                0 => "ct state established,related accept".to_owned(),
                1 => format!(
                    "ip saddr 172.16.{a}.{b} tcp dport {p} counter packets 0 bytes 0 accept comment \"svc-{c}-{r}\""
                ),
                2 if shape == Shape::AnonSets => {
                    format!("iifname \"eth{a}\" udp dport {{ 53, {p} }} accept")
                }
                2 => format!("iifname \"eth{a}\" udp dport {p} accept"),
                3 => "ip saddr @blocked counter packets 0 bytes 0 drop".to_owned(),
                4 => format!("ip daddr 192.168.{a}.0/24 tcp dport {p}-{} drop", p + 10),
                5 => format!(
                    "tcp flags syn / syn,ack log prefix \"syn {c}: \" counter packets 0 bytes 0 drop"
                ),
                6 => format!(
                    "oifname != \"docker0\" ip daddr 10.{a}.{b}.1 meta mark 0x{p:08x} accept"
                ),
                _ => format!("icmp type echo-request limit rate {}/second accept", 1 + r),
            };
            let _ = writeln!(s, "\t\t{rule}");
        }
        s.push_str("\t}\n");
    }
    s.push_str("}\n");
    s
}

fn run(args: &[String]) -> Result<()> {
    let mut sizes = vec![1_000usize, 10_000, 50_000];
    let mut runs = 5usize;
    let mut shapes = vec![Shape::AnonSets, Shape::NoAnonSets];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = crate::ruleset::parse_sizes(it.next())?;
            }
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--shape" => {
                shapes = match it.next().map(String::as_str) {
                    Some("a") => vec![Shape::AnonSets],
                    Some("b") => vec![Shape::NoAnonSets],
                    _ => bail!("--shape a|b"),
                }
            }
            other => {
                bail!("unknown argument `{other}` (use --sizes 1000,10000 --runs 5 --shape a|b)")
            }
        }
    }
    let worker = worker()?;
    let w = worker.to_string_lossy().into_owned();
    let mut report = String::new();
    let mut verdicts = Vec::new();
    for &shape in &shapes {
        let _ = writeln!(
            report,
            "\nShape {}:\n\n| rules | contender | wall ms (best of {runs}) | cpu ms | peak RSS MiB |\n|---:|---|---:|---:|---:|",
            shape.label()
        );
        for &n in &sizes {
            verdicts.push(one(n, shape, runs, &w, &mut report)?);
        }
    }
    println!("{report}");
    for v in verdicts {
        println!("{v}");
    }
    Ok(())
}

/// One size of one shape: load, check the outputs, run the contenders; the verdict lines.
fn one(n: usize, shape: Shape, runs: usize, w: &str, report: &mut String) -> Result<String> {
    let ns = Netns::new()?;
    step(&format!(
        "{n} native rules, shape {}: loading with nft -f",
        shape.label()
    ));
    let file = std::env::temp_dir().join(format!("nfprobe-bench-nft-{}.nft", std::process::id()));
    std::fs::write(&file, generate(n, shape)).context("writing the ruleset")?;
    let loaded = sh::run(ns.cmd("nft").arg("-f").arg(&file));
    let _ = std::fs::remove_file(&file);
    loaded?;
    let ours = sh::output(ns.cmd(w).arg("ours-nft")).context("worker failed")?;
    let theirs = sh::output(ns.cmd("nft").args(["list", "ruleset"])).context("nft list")?;
    if ours != theirs {
        bail!("{n} rules: nfprobe's --format nft differs from `nft list ruleset`");
    }
    if ours.contains("# undecodable") {
        bail!("{n} rules: the bench ruleset holds constructs nfprobe marks undecodable");
    }
    let before = sh::output(ns.cmd(w).arg("ours-nft-model")).context("worker failed")?;
    if before != ours {
        bail!("{n} rules: the whole-snapshot rendering differs from the streamed one");
    }
    eprintln!("  output identical to nft list ruleset: true");
    let contenders: [(&str, Vec<&str>, &str); 7] = [
        (
            "nfprobe --format nft (ours: streamed)",
            vec![w, "ours-nft"],
            "ours",
        ),
        (
            "ours before (whole snapshot, then rendering)",
            vec![w, "ours-nft-model"],
            "before",
        ),
        ("nft list ruleset", vec!["nft", "list", "ruleset"], "nft"),
        (
            "floor: rules + every set's elements, one socket",
            vec![w, "bare-full"],
            "bare-full",
        ),
        (
            "floor: rules + every set's elements, ours' threads",
            vec![w, "bare-full-par"],
            "bare-full-par",
        ),
        (
            "rules only (no set elements), per chain",
            vec![w, "bare-chain"],
            "bare-chain",
        ),
        (
            "rules only (no set elements), per chain, ours' threads",
            vec![w, "bare-chain-par"],
            "bare-chain-par",
        ),
    ];
    let (res, all) = run_contenders(n, runs, &ns, &contenders, report)?;
    let (floor_key, floor) = ["bare-full", "bare-full-par"]
        .iter()
        .map(|k| (*k, res[k]))
        .min_by_key(|(_, s)| s.wall)
        .context("no bare dump")?;
    let r = |a: std::time::Duration, b: std::time::Duration| {
        a.as_secs_f64() / b.as_secs_f64().max(1e-9)
    };
    let verdict = |x: f64, ok: bool| format!("{x:.2}x ({})", if ok { "met" } else { "NOT met" });
    let split = |k: &str| {
        let s = res[k];
        format!(
            "{k} user {} ms + sys {} ms",
            crate::ruleset::ms(s.user),
            crate::ruleset::ms(s.sys)
        )
    };
    let of = r(res["ours"].wall, floor.wall);
    let no = r(res["nft"].wall, res["ours"].wall);
    Ok(format!(
        "shape {}, {n} rules: ours/floor ({floor_key}) {} (target <= 1.3), nft list/ours {} (target >= 5); per round (paired): median ours/floor {:.2}x, median nft/ours {:.2}x; cpu of the best runs: {}; {}; {}",
        shape.label(),
        verdict(of, of <= 1.3),
        verdict(no, no >= 5.0),
        median_ratio(&all["ours"], &all[floor_key]),
        median_ratio(&all["nft"], &all["ours"]),
        split("ours"),
        split("nft"),
        split(floor_key),
    ))
}
