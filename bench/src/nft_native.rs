//! `cargo xtask bench nft [--sizes 1000,10000,50000] [--runs N]`: printing a native nftables
//! ruleset, `nfprobe ruleset --format nft` against `nft list ruleset` and the bare dump floor.
//!
//! For each size, a private network namespace gets a firewalld/Docker-29-like native ruleset
//! in one `table ip` (so the floor's family-ip dumps read exactly these rules): named sets, a
//! verdict map, one chain per 25 rules jumped to from the input base chain, rules with
//! addresses, prefixes, ports, anonymous sets, ranges, ct state, interface names, counters,
//! logs and comments — all of them constructs nfprobe prints exactly (checked: the outputs
//! must be identical and free of undecodable marks, or the bench fails). Contenders run
//! interleaved as in `bench ruleset`:
//! - ours: `ruleset_bench ours-nft` (snapshot of every family + interface names + rendering);
//! - `nft list ruleset`;
//! - the floor: the fastest bare GETRULE dump of family ip (per family, per chain, per chain
//!   on threads).

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

/// A native ruleset of `n` rules (base-chain jumps included).
fn generate(n: usize) -> String {
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
                2 => format!("iifname \"eth{a}\" udp dport {{ 53, {p} }} accept"),
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
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = it
                    .next()
                    .context("--sizes N,N,...")?
                    .split(',')
                    .map(|s| s.trim().parse().context("bad size"))
                    .collect::<Result<_>>()?;
            }
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            other => bail!("unknown argument `{other}` (use --sizes 1000,10000 --runs 5)"),
        }
    }
    let worker = worker()?;
    let w = worker.to_string_lossy().into_owned();
    let mut report = String::new();
    let _ = writeln!(
        report,
        "| rules | contender | wall ms (best of {runs}) | cpu ms | peak RSS MiB |\n|---:|---|---:|---:|---:|"
    );
    let mut verdicts = Vec::new();
    for &n in &sizes {
        let ns = Netns::new()?;
        step(&format!("{n} native rules: loading with nft -f"));
        let file =
            std::env::temp_dir().join(format!("nfprobe-bench-nft-{}.nft", std::process::id()));
        std::fs::write(&file, generate(n)).context("writing the ruleset")?;
        let loaded = sh::run(ns.cmd("nft").arg("-f").arg(&file));
        let _ = std::fs::remove_file(&file);
        loaded?;
        let ours = sh::output(ns.cmd(&w).arg("ours-nft")).context("worker failed")?;
        let theirs = sh::output(ns.cmd("nft").args(["list", "ruleset"])).context("nft list")?;
        if ours != theirs {
            bail!("{n} rules: nfprobe's --format nft differs from `nft list ruleset`");
        }
        if ours.contains("# undecodable") {
            bail!("{n} rules: the bench ruleset holds constructs nfprobe marks undecodable");
        }
        eprintln!("  output identical to nft list ruleset: true");
        let contenders: [(&str, Vec<&str>, &str); 5] = [
            (
                "nfprobe --format nft (ours)",
                vec![w.as_str(), "ours-nft"],
                "ours",
            ),
            ("nft list ruleset", vec!["nft", "list", "ruleset"], "nft"),
            (
                "bare dump, per family",
                vec![w.as_str(), "bare-family"],
                "bare-family",
            ),
            (
                "bare dump, per chain",
                vec![w.as_str(), "bare-chain"],
                "bare-chain",
            ),
            (
                "bare dump, per chain, ours' threads",
                vec![w.as_str(), "bare-chain-par"],
                "bare-chain-par",
            ),
        ];
        let (res, all) = run_contenders(n, runs, &ns, &contenders, &mut report)?;
        let (floor_key, floor) = ["bare-family", "bare-chain", "bare-chain-par"]
            .iter()
            .map(|k| (*k, res[k]))
            .min_by_key(|(_, s)| s.wall)
            .context("no bare dump")?;
        let r = |a: std::time::Duration, b: std::time::Duration| {
            a.as_secs_f64() / b.as_secs_f64().max(1e-9)
        };
        verdicts.push(format!(
            "{n} rules: wall: ours/floor ({floor_key}) {:.2}x (target <= 1.3), nft list/ours {:.2}x (target >= 5); per round (paired): median ours/floor {:.2}x, median nft/ours {:.2}x",
            r(res["ours"].wall, floor.wall),
            r(res["nft"].wall, res["ours"].wall),
            median_ratio(&all["ours"], &all[floor_key]),
            median_ratio(&all["nft"], &all["ours"]),
        ));
    }
    println!("{report}");
    for v in verdicts {
        println!("{v}");
    }
    Ok(())
}
