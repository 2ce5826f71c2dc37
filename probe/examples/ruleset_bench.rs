//! Worker for `cargo xtask bench ruleset`: one measured job per process, run inside the
//! benchmark's namespace (`ip netns exec NS ruleset_bench MODE`), so wall time and peak RSS
//! compare with `iptables-nft-save` and friends run the same way.
//!
//! Modes:
//! - `ours`: nf_tables snapshot of family ip (rules chain by chain) + xlate + iptables-save
//!   text on stdout, like `iptables-nft-save`;
//! - `ours-model`: the same through the canonical model (`read_iptables_ruleset` + render);
//! - `ours-family`: through a full snapshot with one GETRULE dump for the whole family;
//! - `ours-legacy`: legacy xtables through getsockopt, rendered straight from the blobs
//!   and written as it goes, like `iptables-legacy-save`;
//! - `bare-family` / `bare-chain`: receive the rule messages and drop them (the floor);
//!   `bare-chain-par`: per chain, with as many dump threads as `ours` uses.
//!
//! `-v` prints the phase timings on stderr.

use std::io::Write;
use std::time::Instant;

use nfprobe::kernel::nft::{self, NftFamily, ReadOptions, RuleDump};
use nfprobe::ruleset::{Family, render, xlate};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("ours");
    let verbose = args.iter().any(|a| a == "-v");
    let t0 = Instant::now();
    match mode {
        "ours-legacy" => {
            // What `nfprobe ruleset --backend legacy --format save` does.
            let mut stdout = std::io::stdout();
            nfprobe::ruleset::read::write_save(
                None,
                nfprobe::ruleset::Backend::Legacy,
                Family::Ipv4,
                false,
                &mut stdout,
            )?;
            stdout.flush()?;
            if verbose {
                eprintln!("legacy read+decode+render+write {:?}", t0.elapsed());
            }
        }
        "ours" => {
            // What `nfprobe ruleset --backend nft --format save` does: read, translate and
            // render chain by chain on the dump threads.
            let out = nfprobe::ruleset::read::save(
                None,
                nfprobe::ruleset::Backend::Nft,
                Family::Ipv4,
                false,
            )?;
            out.write_to(&mut std::io::stdout().lock())?;
            if verbose {
                eprintln!("{} pieces in {:?}", out.pieces.len(), t0.elapsed());
            }
        }
        "ours-model" | "ours-family" => {
            let opts = ReadOptions {
                family: Some(NftFamily::Ip),
                rule_dump: if mode == "ours" {
                    RuleDump::PerChain
                } else {
                    RuleDump::PerFamily
                },
                ..Default::default()
            };
            let ipt = if mode == "ours-model" {
                // Read and translate chain by chain (what `nfprobe ruleset` uses).
                xlate::read_iptables_ruleset(None, Family::Ipv4)?
            } else {
                let rs = nft::read_ruleset_with(None, &opts)?;
                xlate::iptables_ruleset(&rs, Family::Ipv4)
            };
            let t1 = t0;
            let t2 = Instant::now();
            let text = render::save(&ipt, false);
            let t3 = Instant::now();
            std::io::stdout().lock().write_all(text.as_bytes())?;
            if verbose {
                let rules: usize = ipt
                    .tables
                    .iter()
                    .flat_map(|t| &t.chains)
                    .map(|c| c.rules.len())
                    .sum();
                eprintln!(
                    "rules {rules}: dump+decode+xlate {:?}, render {:?}, write {:?}",
                    t2 - t1,
                    t3 - t2,
                    t3.elapsed()
                );
            }
        }
        "bare-family" | "bare-chain" | "bare-chain-par" => {
            let st = nft::bare_rule_dump(
                NftFamily::Ip,
                mode != "bare-family",
                mode == "bare-chain-par",
            )?;
            if verbose {
                eprintln!("{} messages in {:?}", st.messages, st.elapsed);
            }
        }
        other => anyhow::bail!("unknown mode `{other}`"),
    }
    Ok(())
}
