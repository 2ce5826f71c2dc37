//! The `ext` branch's extensions against the real kernel, both backends: every OK line of the
//! upstream `.t` files that uses one of them is loaded with `iptables-{legacy,nft}` in a
//! private network namespace, read back through `kernel::xt` + `ruleset::xlate::legacy`
//! (legacy) or `kernel::nft` + `ruleset::xlate` (nf_tables compat expressions) and
//! rendered; the rule must be exactly the line the matching `iptables-*-save` prints. Lines
//! the installed iptables or kernel rejects are skipped and listed (not every extension
//! loads here).

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::t_files::{TLine, ok_lines, ours, save_words, segments, shell_words};
use crate::kernel::netns::NetnsSpec;
use crate::ruleset::{Backend, Family, Ruleset, render};

/// Lines whose save form depends on the backend in a way the extension parsers (which do
/// not know the backend) cannot follow; the kernel-decoded line must still equal the live
/// save, only the parser check is skipped. (file, rule prefix, reason)
const NFT_XLATE_GAPS: &[(&str, &str, &str)] = &[(
    "libxt_NFLOG",
    "-j NFLOG --nflog-prefix xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "iptables-nft keeps NFLOG as a native `log` expression with the whole prefix (xlate prints \
     it whole); the parser keeps 63 bytes, as iptables-legacy does",
)];

/// Our own extra corpus (see the file's header).
const EXTRA: &str = include_str!("live_extra.txt");

fn extra_lines() -> Vec<TLine> {
    EXTRA
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(4, ';');
            let family = match f.next()? {
                "ipv6" => Family::Ipv6,
                _ => Family::Ipv4,
            };
            let table = f.next()?.to_owned();
            let chain = f.next()?.to_owned();
            let rule = f.next()?.to_owned();
            Some(TLine {
                file: format!("live_extra.txt/{family:?}"),
                family,
                table,
                chains: vec![chain],
                save: rule.clone(),
                rule,
                variant: None,
            })
        })
        .collect()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace removed on drop (also when a test panics).
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "nfpext{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("the `ip` tool (iproute2) is required");
        assert!(st.success(), "ip netns add {name} failed (needs root)");
        Netns { name }
    }

    fn run(&self, prog: &str, args: &[String]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, prog])
            .args(args)
            .output()
            .expect("ip netns exec")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn tool(backend: Backend, family: Family, save: bool) -> String {
    let fam = match family {
        Family::Ipv4 => "iptables",
        Family::Ipv6 => "ip6tables",
    };
    let be = match backend {
        Backend::Legacy => "legacy",
        Backend::Nft => "nft",
    };
    if save {
        format!("{fam}-{be}-save")
    } else {
        format!("{fam}-{be}")
    }
}

fn read(backend: Backend, spec: &NetnsSpec, family: Family) -> Ruleset {
    crate::ruleset::read::read(Some(spec), backend, family).expect("kernel read")
}

fn uses_ours(l: &TLine) -> bool {
    segments(&shell_words(&l.rule))
        .iter()
        .any(|(k, n, _)| ours(*k, n))
}

/// `%iptables ...` helper lines of a file (RATEEST estimators the rateest match needs).
fn setup_lines(file: &str) -> Vec<String> {
    let path = super::t_files::oracle_dir()
        .join("extensions")
        .join(format!("{file}.t"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix('%'))
        .filter(|l| l.contains(" -I "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn t_lines_decode_like_iptables_legacy_save() {
    check_backend(Backend::Legacy);
}

#[test]
fn t_lines_decode_like_iptables_nft_save() {
    check_backend(Backend::Nft);
}

fn check_backend(backend: Backend) {
    let variant = match backend {
        Backend::Legacy => "nft",
        Backend::Nft => "legacy",
    };
    for bin in [
        "ip",
        "ipset",
        "iptables-legacy",
        "ip6tables-legacy",
        "iptables-nft",
        "ip6tables-nft",
    ] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {bin}")])
                .status()
                .is_ok_and(|s| s.success()),
            "`{bin}` is required for this test"
        );
    }
    let lines: Vec<TLine> = ok_lines()
        .into_iter()
        // A line limited to the other backend is not expected to load on this one.
        .filter(|l| l.variant.as_deref() != Some(variant))
        .filter(uses_ours)
        .collect();
    let mut lines = lines;
    lines.extend(extra_lines());
    let mut files: Vec<String> = lines.iter().map(|l| l.file.clone()).collect();
    files.sort();
    files.dedup();
    let (mut pass, mut skipped, mut fails, mut gaps) = (0, Vec::new(), Vec::new(), Vec::new());
    for file in &files {
        let ns = Netns::new();
        let spec = NetnsSpec::parse(&ns.name);
        let family = lines
            .iter()
            .find(|l| &l.file == file)
            .map(|l| l.family)
            .unwrap();
        // Sets the SET target lines of live_extra.txt refer to.
        for (name, kind, fam) in [
            ("nfpext_a", "hash:ip", "inet"),
            ("nfpext_b", "hash:ip,port", "inet"),
            ("nfpext_a6", "hash:ip", "inet6"),
            ("nfpext_m", "hash:ip", "inet"),
        ] {
            // skbinfo for --map-set; harmless on the others.
            let args: Vec<String> = ["create", name, kind, "family", fam, "skbinfo"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            ns.run("ipset", &args);
        }
        for setup in setup_lines(file) {
            let mut w = shell_words(&setup);
            w.remove(0);
            ns.run(&tool(backend, family, false), &w);
        }
        for l in lines.iter().filter(|l| &l.file == file) {
            let words = shell_words(&l.rule);
            let mut loaded = None;
            for chain in &l.chains {
                let mut args = vec![
                    "-t".to_owned(),
                    l.table.clone(),
                    "-A".to_owned(),
                    chain.clone(),
                ];
                args.extend(words.iter().cloned());
                if ns
                    .run(&tool(backend, family, false), &args)
                    .status
                    .success()
                {
                    loaded = Some((chain.clone(), args));
                    break;
                }
            }
            let Some((chain, args)) = loaded else {
                skipped.push(format!("{file}: {}", l.rule));
                continue;
            };
            let save = ns.run(
                &tool(backend, family, true),
                &["-t".to_owned(), l.table.clone()],
            );
            let text = String::from_utf8_lossy(&save.stdout);
            let prefix = format!("-A {chain} ");
            let want = text
                .lines()
                .rfind(|x| x.starts_with(&prefix))
                .unwrap_or("")
                .to_owned();
            let rs = read(backend, &spec, family);
            let got = rs
                .tables
                .iter()
                .find(|t| t.name == l.table)
                .and_then(|t| t.chains.iter().find(|c| c.name == chain))
                .and_then(|c| c.rules.last())
                .map(|r| {
                    let mut s = String::new();
                    render::rule_line(&mut s, &chain, r, false);
                    s.trim_end().to_owned()
                })
                .unwrap_or_default();
            let gap = NFT_XLATE_GAPS
                .iter()
                .find(|(f, r, _)| backend == Backend::Nft && *f == file && l.rule.starts_with(r));
            // The parsers must also turn what the user typed into what iptables printed.
            let saved = segments(&save_words(&want));
            for (i, (kind, name, w)) in segments(&words).iter().enumerate() {
                if !ours(*kind, name) {
                    continue;
                }
                let nth = segments(&words)[..i]
                    .iter()
                    .filter(|(k, n, _)| k == kind && n == name)
                    .count();
                let live = saved
                    .iter()
                    .filter(|(k, n, _)| k == kind && n == name)
                    .nth(nth)
                    .map(|x| x.2.clone());
                let parsed = super::parse(*kind, name, family, w).ok();
                if parsed != live && gap.is_none() {
                    fails.push(format!(
                        "{file}: {}\n    parsed {parsed:?}\n    saved  {live:?}",
                        l.rule
                    ));
                }
            }
            if got == want {
                pass += 1;
                if let Some((_, _, why)) = gap {
                    gaps.push(format!("{file}: {}: parser not checked: {why}", l.rule));
                }
            } else {
                fails.push(format!(
                    "{file}: {}\n    kernel-decoded {got}\n    iptables-save  {want}",
                    l.rule
                ));
            }
            let mut del = args.clone();
            del[2] = "-D".into();
            ns.run(&tool(backend, family, false), &del);
        }
    }
    eprintln!(
        "ext live {backend:?}: {pass} pass, {} fail, {} lines with the parser check skipped:\n  {}\n{} not loadable here:\n  {}",
        fails.len(),
        gaps.len(),
        gaps.join("\n  "),
        skipped.len(),
        skipped.join("\n  ")
    );
    assert!(fails.is_empty(), "mismatches:\n{}", fails.join("\n"));
    assert!(pass > 0, "no line could be loaded");
}
