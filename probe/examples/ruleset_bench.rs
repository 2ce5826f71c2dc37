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
//! - `json` / `json-legacy`: what `nfprobe ruleset --format json` does (streamed);
//!   `json-model`: the JSON document built from the whole model, as it was before;
//! - `ours-nft`: every nf_tables table in `nft list ruleset` syntax, as `nfprobe ruleset
//!   --format nft` does (rules rendered chain by chain on the dump threads, written in order
//!   as they come);
//!   `ours-nft-model`: the same from the whole decoded snapshot, as it was before;
//! - `bare-family` / `bare-chain`: receive the rule messages and drop them (the floor);
//!   `bare-chain-par`: per chain, with as many dump threads as `ours` uses;
//!   `bare-full` / `bare-full-par`: the rules per chain and the elements of every set, one
//!   dump per set (the floor of a ruleset with sets), on one socket or on `ours`' threads.
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
        "json" | "json-legacy" => {
            let backend = if mode == "json" {
                nfprobe::ruleset::Backend::Nft
            } else {
                nfprobe::ruleset::Backend::Legacy
            };
            let mut stdout = std::io::stdout();
            nfprobe::ruleset::read::write_json(None, backend, Family::Ipv4, &mut stdout)?;
            stdout.flush()?;
        }
        "json-model" => {
            let rs =
                nfprobe::ruleset::read::read(None, nfprobe::ruleset::Backend::Nft, Family::Ipv4)?;
            let undecoded: usize = rs.tables.iter().map(|t| t.undecoded_rules()).sum();
            let doc = serde_json::json!({
                "schema": nfprobe::ruleset::json::SCHEMA,
                "undecoded_rules": undecoded,
                "ruleset": rs,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
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
            let read = t0.elapsed();
            out.write_to(&mut std::io::stdout().lock())?;
            if verbose {
                eprintln!(
                    "{} pieces: read+translate+render {read:?}, written after {:?}",
                    out.pieces().count(),
                    t0.elapsed()
                );
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
        "ours-nft" => {
            // What `nfprobe ruleset --format nft` does: the interface names, then each chain
            // read, rendered on its dump thread and written in order as it comes.
            let links = nfprobe::kernel::link::snapshot(None)?;
            let names = nfprobe::ruleset::nft_text::Ifnames::from_pairs(
                links.links.into_iter().map(|l| (l.ifindex, l.name)),
            );
            let mut out = std::io::stdout();
            let marks = nfprobe::ruleset::nft_stream::write_ruleset(None, &names, &mut out)?.marks;
            if verbose {
                eprintln!(
                    "{marks} marked; read, rendered and written in {:?}",
                    t0.elapsed()
                );
            }
        }
        "ours-nft-model" => {
            // As `--format nft` did before: the whole snapshot with every rule decoded,
            // then the text rendered from it on one thread.
            let rs = nft::read_ruleset(None)?;
            let links = nfprobe::kernel::link::snapshot(None)?;
            let names = nfprobe::ruleset::nft_text::Ifnames::from_pairs(
                links.links.into_iter().map(|l| (l.ifindex, l.name)),
            );
            let read = t0.elapsed();
            let text = nfprobe::ruleset::nft_text::ruleset_named(&rs, &names);
            std::io::stdout().lock().write_all(text.as_bytes())?;
            if verbose {
                eprintln!(
                    "read {read:?}, rendered and written after {:?}",
                    t0.elapsed()
                );
            }
            // The process ends here: freeing the snapshot piece by piece is pure cost.
            std::mem::forget(rs);
        }
        "bare-full" | "bare-full-par" => {
            let st = nft::bare_full_dump(NftFamily::Ip, mode == "bare-full-par")?;
            if verbose {
                eprintln!("{} messages in {:?}", st.messages, st.elapsed);
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
        "user-only" => {
            // The userspace share alone: receive every chain's rule messages once, then
            // translate and render them again and again (no kernel work in the timed loop),
            // as the save path does (matches straight to text).
            // Each chain is first copied into one reused buffer, as a receive would: the
            // messages are then as warm in the cache as in a real read.
            let chains: std::sync::Mutex<Vec<(String, Vec<Vec<u8>>)>> = Default::default();
            let opts = ReadOptions {
                family: Some(NftFamily::Ip),
                ..Default::default()
            };
            nft::read_ruleset_raw(None, &opts, &|_, _, chain, rules| {
                let msgs = rules.map(<[u8]>::to_vec).collect();
                let mut c = chains.lock().unwrap_or_else(|e| e.into_inner());
                c.push((chain.name.clone(), msgs));
            })?;
            let chains = chains.into_inner().unwrap_or_else(|e| e.into_inner());
            let rules: usize = chains.iter().map(|c| c.1.len()).sum();
            let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
            let mut cache = xlate::FragCache::default();
            let mut scratch = xlate::Scratch::default();
            let mut text = String::new();
            let mut buf: Vec<u8> = Vec::new();
            let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
            let t = Instant::now();
            for _ in 0..rounds {
                text.clear();
                for (chain, msgs) in &chains {
                    buf.clear();
                    spans.clear();
                    for m in msgs {
                        spans.push(buf.len()..buf.len() + m.len());
                        buf.extend_from_slice(m);
                    }
                    for span in &spans {
                        let m = &buf[span.clone()];
                        let (r, t) =
                            xlate::xlate_rule_msg_text(m, Family::Ipv4, &mut cache, &mut scratch);
                        render::rule_line_text(&mut text, chain, r, t, false);
                    }
                }
            }
            let per = t.elapsed() / rounds as u32;
            eprintln!(
                "{rules} rules, {} bytes of text: {per:?} per round ({:.0} ns/rule)",
                text.len(),
                per.as_nanos() as f64 / rules.max(1) as f64
            );
        }
        other => anyhow::bail!("unknown mode `{other}`"),
    }
    Ok(())
}
