//! The nft oracle: every loadable `rule;ok` line (and set, element and object line) of
//! nftables 1.0.6's own `tests/py` corpus (tests/nft-oracle, see its README) is loaded with the
//! real nft, family by family, into a fresh network namespace; then nfprobe's `--format nft`
//! rendering of the kernel's ruleset is compared line for line with the live `nft list
//! ruleset` of that namespace: the installed nft decides, not the file.
//!
//! A difference is allowed only where nfprobe prints an undecodable mark (a `# undecodable`
//! comment line) in place of the lines it cannot render, or where
//! tests/nft-oracle/exceptions.txt lists the nft line with a reason. Anything else (a line
//! printed differently, a line silently left out) fails. The pass rate (nft lines printed
//! exactly) is printed per family.

mod xt_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nfprobe::kernel::nft;
use nfprobe::ruleset::nft_text;
use xt_support::Netns;

const FAMILIES: [&str; 6] = ["ip", "ip6", "inet", "arp", "bridge", "netdev"];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("nft-oracle/nftables-1.0.6")
}

fn t_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["any", "arp", "bridge", "inet", "ip", "ip6", "netdev"] {
        let Ok(rd) = std::fs::read_dir(corpus_dir().join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "t") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() > 90, "nft oracle corpus missing: {out:?}");
    out
}

/// The nft commands (one per line of the script) that build one `.t` file in `family`, or
/// None when the file has no table of that family.
fn commands(path: &Path, family: &str) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let dir = path.parent()?.file_name()?.to_str()?;
    let stem = path.file_stem()?.to_str()?;
    let table = format!("{dir}-{stem}");
    let mut chain_defs: BTreeMap<String, String> = BTreeMap::new();
    let mut chains: Vec<String> = Vec::new();
    let mut cmds = Vec::new();
    let mut found = false;
    let t = format!("{family} {table}");
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        if let Some(c) = line.strip_prefix(':') {
            let (name, cfg) = c.split_once(';').unwrap_or((c, ""));
            chain_defs.insert(name.to_owned(), cfg.to_owned());
            continue;
        }
        if let Some(tl) = line.strip_prefix('*') {
            let parts: Vec<&str> = tl.split(';').collect();
            if parts.first() != Some(&family) || found {
                continue;
            }
            found = true;
            cmds.push(format!("add table {t}"));
            for c in parts.get(2).unwrap_or(&"").split(',') {
                let cfg = chain_defs.get(c).cloned().unwrap_or_default();
                if cfg.is_empty() {
                    cmds.push(format!("add chain {t} {c}"));
                } else {
                    cmds.push(format!("add chain {t} {c} {{ {cfg}; }}"));
                }
                chains.push(c.to_owned());
            }
            continue;
        }
        if !found {
            continue;
        }
        if let Some(s) = line.strip_prefix('!') {
            // `name type T [. T]... [timeout X] [flags F];ok`
            let (body, res) = s.rsplit_once(';')?;
            if res != "ok" {
                continue;
            }
            let toks: Vec<&str> = body.split(' ').collect();
            let name = toks.first()?;
            let mut ty = toks.get(2)?.to_string();
            let mut i = 3;
            while toks.get(i) == Some(&".") {
                ty.push_str(" . ");
                ty.push_str(toks.get(i + 1)?);
                i += 2;
            }
            let mut extra = String::new();
            while i + 1 < toks.len() {
                extra.push_str(&format!(" {} {};", toks[i], toks[i + 1]));
                i += 2;
            }
            cmds.push(format!("add set {t} {name} {{ type {ty};{extra} }}"));
            continue;
        }
        if let Some(s) = line.strip_prefix('?') {
            let (body, res) = s.rsplit_once(';')?;
            if res != "ok" {
                continue;
            }
            let (name, elems) = body.split_once(' ')?;
            cmds.push(format!("add element {t} {name} {{ {elems} }}"));
            continue;
        }
        if let Some(s) = line.strip_prefix('%') {
            let (body, res) = match s.rfind('}') {
                Some(b) => (&s[..=b], s[b + 1..].trim_start_matches(';')),
                None => s.rsplit_once(';')?,
            };
            if res != "ok" {
                continue;
            }
            let toks: Vec<&str> = body.split(' ').collect();
            let name = toks.first()?;
            let (ty, rest) = match (toks.get(2), toks.get(3)) {
                (Some(&"ct"), Some(k)) => (format!("ct {k}"), toks.get(4..).unwrap_or(&[])),
                (Some(k), _) => ((*k).to_owned(), toks.get(3..).unwrap_or(&[])),
                _ => continue,
            };
            cmds.push(format!("add {ty} {t} {name} {}", rest.join(" ")));
            continue;
        }
        let parts: Vec<&str> = line.split(';').collect();
        if parts.len() < 2 || parts[1].trim() != "ok" {
            continue;
        }
        for c in &chains {
            cmds.push(format!("add rule {t} {c} {}", parts[0]));
        }
    }
    found.then_some((table, cmds))
}

/// Loads one family's files; returns how many commands the installed nft or kernel refused.
fn load(ns: &Netns, family: &str) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    for f in t_files() {
        let Some((_, cmds)) = commands(&f, family) else {
            continue;
        };
        let script = cmds.join("\n") + "\n";
        if ns.run("nft", &["-f", "-"], Some(&script)).status.success() {
            ok += cmds.len();
            continue;
        }
        for c in &cmds {
            if ns
                .run("nft", &["-f", "-"], Some(&format!("{c}\n")))
                .status
                .success()
            {
                ok += 1;
            } else {
                refused += 1;
            }
        }
    }
    (ok, refused)
}

fn exceptions() -> Vec<(String, String, String)> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("nft-oracle/exceptions.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.splitn(3, '|');
            Some((
                it.next()?.trim().to_owned(),
                it.next()?.to_owned(),
                it.next()?.trim().to_owned(),
            ))
        })
        .collect()
}

#[derive(Debug, PartialEq)]
enum Op {
    Same,
    /// A run of nft lines and the run of our lines in their place.
    Hunk(Vec<String>, Vec<String>),
}

/// Line diff (longest common subsequence), as runs of equal lines and hunks.
fn diff(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    let (mut ha, mut hb): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let flush = |ops: &mut Vec<Op>, ha: &mut Vec<String>, hb: &mut Vec<String>| {
        if !ha.is_empty() || !hb.is_empty() {
            ops.push(Op::Hunk(std::mem::take(ha), std::mem::take(hb)));
        }
    };
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            flush(&mut ops, &mut ha, &mut hb);
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if j < m
            && (i == n
                || lcs[at(i, j + 1)] > lcs[at(i + 1, j)]
                // On a tie, a mark takes the nft lines before it into its hunk.
                || (lcs[at(i, j + 1)] == lcs[at(i + 1, j)] && !is_mark(b[j])))
        {
            hb.push(b[j].to_owned());
            j += 1;
        } else {
            ha.push(a[i].to_owned());
            i += 1;
        }
    }
    flush(&mut ops, &mut ha, &mut hb);
    ops
}

fn is_mark(line: &str) -> bool {
    line.trim_start().starts_with("# undecodable")
}

/// What one namespace's comparison found.
struct Outcome {
    /// nft lines printed exactly / all nft lines / lines in place of marks / excused.
    same: usize,
    total: usize,
    marked: usize,
    excused: usize,
    /// Differences without a mark, as a report.
    failures: String,
}

/// nfprobe's rendering of `ns` against the live `nft list ruleset`, hunk by hunk.
fn compare(ns: &Netns, family: &str, exc: &[(String, String, String)]) -> (Outcome, String) {
    let out = ns.run("nft", &["list", "ruleset"], None);
    assert!(out.status.success(), "nft list ruleset failed");
    let expected = String::from_utf8_lossy(&out.stdout).into_owned();
    // What `nfprobe ruleset --format nft` prints (written chain by chain as it is read,
    // nft_stream) is the rendering of the whole snapshot.
    let rs = nft::read_ruleset(Some(&ns.spec())).expect("reading the ruleset");
    let links = nfprobe::kernel::link::snapshot(Some(&ns.spec())).expect("interfaces");
    let names = nft_text::Ifnames::from_pairs(links.links.into_iter().map(|l| (l.ifindex, l.name)));
    let whole = nft_text::ruleset_named(&rs, &names);
    let mut streamed = Vec::new();
    nfprobe::ruleset::nft_stream::write_ruleset(Some(&ns.spec()), &names, &mut streamed)
        .expect("streaming the ruleset");
    let ours = String::from_utf8(streamed).expect("UTF-8 text");
    assert_eq!(
        ours, whole,
        "{family}: the streamed text differs from the whole snapshot's"
    );
    // NFT_ORACLE_DUMP=DIR keeps both texts for a look by hand.
    if let Some(dir) = std::env::var_os("NFT_ORACLE_DUMP") {
        let dir = PathBuf::from(dir);
        let _ = std::fs::write(dir.join(format!("{family}.nft")), &expected);
        let _ = std::fs::write(dir.join(format!("{family}.nfprobe")), &ours);
    }
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = ours.lines().collect();
    let mut o = Outcome {
        same: 0,
        total: a.len(),
        marked: 0,
        excused: 0,
        failures: String::new(),
    };
    for op in diff(&a, &b) {
        let (ha, hb) = match op {
            Op::Same => {
                o.same += 1;
                continue;
            }
            Op::Hunk(ha, hb) => (ha, hb),
        };
        if !hb.is_empty() && hb.iter().all(|l| is_mark(l)) {
            o.marked += ha.len();
            continue;
        }
        let listed = !ha.is_empty()
            && ha.iter().all(|l| {
                exc.iter()
                    .any(|(f, line, _)| (f == family || f == "any") && line == l)
            })
            && hb.iter().all(|l| is_mark(l));
        if listed {
            o.excused += ha.len();
            continue;
        }
        o.failures.push_str(&format!("--- {family}\n"));
        for l in &ha {
            o.failures.push_str(&format!("  nft: {l}\n"));
        }
        for l in &hb {
            o.failures.push_str(&format!("  us : {l}\n"));
        }
    }
    (o, expected)
}

fn rate(o: &Outcome) -> String {
    format!(
        "{:6.2} % exact ({}/{} lines; {} marked undecodable, {} excused)",
        o.same as f64 * 100.0 / o.total.max(1) as f64,
        o.same,
        o.total,
        o.marked,
        o.excused
    )
}

#[test]
fn nft_corpus_matches_nft_list_ruleset() {
    let exc = exceptions();
    let mut failures = String::new();
    let mut summary = String::new();
    for family in FAMILIES {
        let ns = Netns::new("nftor");
        let (loaded, refused) = load(&ns, family);
        let (o, expected) = compare(&ns, family, &exc);
        assert!(
            o.total > 5,
            "{family}: the corpus did not load:\n{expected}"
        );
        summary.push_str(&format!(
            "{family:7} {} ({loaded} commands loaded, {refused} refused by this nft/kernel)\n",
            rate(&o)
        ));
        failures.push_str(&o.failures);
    }
    eprintln!("nft oracle pass rate per family:\n{summary}");
    assert!(
        failures.is_empty(),
        "nfprobe's nft rendering differs from `nft list ruleset` without saying so:\n{failures}\n{summary}"
    );
}

/// Our own corpus: firewalld-like tables (tests/nft-oracle/own) and Docker 29's
/// `docker-bridges` tables for each documented scenario (moby's own listings), each loaded
/// alone into a fresh namespace and compared the same way.
#[test]
fn own_corpus_matches_nft_list_ruleset() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        root.join("nft-oracle/own"),
        root.join("../probe/src/docker/expect/nft29/testdata"),
    ] {
        let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in rd.flatten() {
            if e.path().extension().is_some_and(|x| x == "nft") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let exc = exceptions();
    let mut failures = String::new();
    let mut summary = String::new();
    for f in &files {
        // moby's listings come from a newer nft: 1.0.6 accepts the output hook's dstnat
        // priority only as -100.
        let text = std::fs::read_to_string(f).unwrap().replace(
            "type nat hook output priority dstnat",
            "type nat hook output priority -100",
        );
        let ns = Netns::new("nftown");
        let load = ns.run("nft", &["-f", "-"], Some(&text));
        assert!(
            load.status.success(),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&load.stderr)
        );
        let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let (o, _) = compare(&ns, name, &exc);
        summary.push_str(&format!("{name:28} {}\n", rate(&o)));
        failures.push_str(&o.failures);
    }
    eprintln!("own corpus pass rate per file:\n{summary}");
    assert!(
        failures.is_empty(),
        "nfprobe's nft rendering differs from `nft list ruleset` without saying so:\n{failures}\n{summary}"
    );
}

#[test]
fn diff_finds_hunks() {
    let ops = diff(&["a", "b", "c"], &["a", "x", "c"]);
    assert_eq!(
        ops,
        vec![
            Op::Same,
            Op::Hunk(vec!["b".into()], vec!["x".into()]),
            Op::Same
        ]
    );
}
