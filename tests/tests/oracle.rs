//! The iptables oracle: every rule line of upstream iptables 1.8.9's extension tests (and its
//! whole-table dumps, and a Docker/Kubernetes corpus of our own) is loaded with the real
//! iptables into a fresh network namespace, then `nfprobe`'s reading of the kernel is compared
//! line for line with the live `iptables-save` of the same backend. Lines the installed
//! iptables refuses are skipped (not our decoder's business); mismatches fail the test unless
//! tests/oracle-exceptions.txt lists them with a reason.

mod xt_support;

use std::path::Path;

use nfprobe::ruleset::{Backend, Family, Ruleset, parse, read, render};
use xt_support::{Netns, exceptions, live_save, oracle_dir, oracle_dumps, tool};

#[derive(Debug, Clone)]
struct Case {
    table: String,
    chain: String,
    rule: String,
}

#[derive(Debug)]
struct TFile {
    name: String,
    family: Family,
    /// `@cmd` lines of our own corpus, run in the namespace first.
    setup: Vec<String>,
    /// `=NAME` lines of our own corpus: user chains (table, name) created first.
    user_chains: Vec<(String, String)>,
    cases: Vec<Case>,
}

/// Parse a `.t` file; None when it is out of scope (arptables/ebtables, helper commands).
fn parse_t(path: &Path, backend: Backend, allow_setup: bool) -> Option<TFile> {
    let name = path.file_name()?.to_str()?.to_owned();
    let family = if name.starts_with("libip6t_") {
        Family::Ipv6
    } else if name.starts_with("libipt_") || name.starts_with("libxt_") || name == "iptables.t" {
        Family::Ipv4
    } else if name.starts_with("libarpt_") || name.starts_with("libebt_") {
        return None;
    } else if name.contains("ip6") {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let text = std::fs::read_to_string(path).ok()?;
    let mut table = "filter".to_owned();
    let mut chains: Vec<String> = Vec::new();
    let mut setup = Vec::new();
    let mut user_chains = Vec::new();
    let mut cases = Vec::new();
    let be = match backend {
        Backend::Nft => "NFT",
        Backend::Legacy => "LEGACY",
    };
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_owned();
            continue;
        }
        if let Some(c) = line.strip_prefix(':') {
            chains = c.split(',').map(str::to_owned).collect();
            continue;
        }
        if let Some(c) = line.strip_prefix('=') {
            user_chains.push((table.clone(), c.to_owned()));
            continue;
        }
        if line.starts_with('@') || line.starts_with('%') {
            if !allow_setup {
                return None;
            }
            setup.push(line[1..].to_owned());
            continue;
        }
        let f: Vec<&str> = line.split(';').collect();
        if f.len() < 3 {
            continue;
        }
        let result = match f.get(3) {
            Some(v) if *v == be || v.is_empty() => f[2],
            Some(_) => match f.get(4) {
                Some(alt) => alt,
                None => continue,
            },
            None => f[2],
        };
        if result != "OK" {
            continue;
        }
        for c in &chains {
            cases.push(Case {
                table: table.clone(),
                chain: c.clone(),
                rule: f[0].to_owned(),
            });
        }
    }
    Some(TFile {
        name,
        family,
        setup,
        user_chains,
        cases,
    })
}

fn restore_text(cases: &[Case]) -> String {
    let mut tables: Vec<&str> = Vec::new();
    for c in cases {
        if !tables.contains(&c.table.as_str()) {
            tables.push(&c.table);
        }
    }
    let mut s = String::new();
    for t in tables {
        s.push_str(&format!("*{t}\n"));
        for c in cases.iter().filter(|c| c.table == t) {
            s.push_str(&format!("-A {} {}\n", c.chain, c.rule));
        }
        s.push_str("COMMIT\n");
    }
    s
}

#[derive(Default)]
struct Tally {
    lines: usize,
    passed: usize,
    excused: usize,
    loaded: usize,
    skipped: usize,
    refused: Vec<String>,
    mismatches: Vec<String>,
    /// iptables-save text → ruleset::parse → render must give the text back.
    parse_lines: usize,
    parse_failures: Vec<String>,
    /// nft: tables whose save-path text was compared with the model's.
    paths_compared: usize,
}

impl Tally {
    fn report(&self, what: &str) -> String {
        let rate = if self.lines == 0 {
            0.0
        } else {
            100.0 * (self.passed + self.excused) as f64 / self.lines as f64
        };
        let mut s = format!(
            "{what}: {}/{} save lines identical ({:.2}%), {} excused, {} rule lines loaded, {} refused by iptables (skipped)\n",
            self.passed, self.lines, rate, self.excused, self.loaded, self.skipped
        );
        for m in &self.mismatches {
            s.push_str(m);
            s.push('\n');
        }
        s.push_str(&format!(
            "  parse round trip (iptables-save text -> ruleset::parse -> render): {}/{} lines\n",
            self.parse_lines - self.parse_failures.len().min(self.parse_lines),
            self.parse_lines
        ));
        if self.paths_compared > 0 {
            s.push_str(&format!(
                "  save path = model rendered: compared on {} tables\n",
                self.paths_compared
            ));
        }
        s
    }
}

fn compare(label: &str, backend: Backend, live: &str, ours: &str, t: &mut Tally) {
    let exc = exceptions();
    let be = match backend {
        Backend::Nft => "nft",
        Backend::Legacy => "legacy",
    };
    let lv: Vec<&str> = live.lines().collect();
    let ov: Vec<&str> = ours.lines().collect();
    if lv.len() != ov.len() {
        t.mismatches.push(format!(
            "  {label} [{be}]: live has {} lines, nfprobe {}",
            lv.len(),
            ov.len()
        ));
    }
    for i in 0..lv.len().max(ov.len()) {
        let l = lv.get(i).copied().unwrap_or("<none>");
        let o = ov.get(i).copied().unwrap_or("<none>");
        t.lines += 1;
        if l == o {
            t.passed += 1;
        } else if exc
            .iter()
            .any(|(b, line, _)| (b == be || b == "both") && line == l)
        {
            t.excused += 1;
        } else {
            t.mismatches.push(format!(
                "  {label} [{be}]\n    live:    {l}\n    nfprobe: {o}"
            ));
        }
    }
}

/// What `nfprobe ruleset --format save` prints. On the nft backend the save path renders
/// matches and targets straight to text; the model (`read::read`, what `check` and the json
/// output use) rendered by `render::save` must give the very same text.
fn ours(
    ns: &Netns,
    label: &str,
    backend: Backend,
    family: Family,
    counters: bool,
    t: &mut Tally,
) -> String {
    let text = match read::save_text(Some(&ns.spec()), backend, family, counters) {
        Ok(s) => s,
        Err(e) => return format!("<nfprobe error: {e}>\n"),
    };
    if backend == Backend::Nft {
        let model = read::read(Some(&ns.spec()), backend, family)
            .map(|rs| render::save(&rs, counters))
            .unwrap_or_else(|e| format!("<nfprobe error: {e}>\n"));
        t.paths_compared += 1;
        if model != text {
            t.mismatches.push(format!(
                "  {label} [nft]: the save path and the model differ\n    save:  {text:?}\n    model: {model:?}"
            ));
        }
        // `--format json` streams chain by chain while the rules are dumped: the same
        // document as the whole model's.
        if !counters {
            let mut streamed = Vec::new();
            let streamed = read::write_json(Some(&ns.spec()), backend, family, &mut streamed)
                .map(|_| String::from_utf8_lossy(&streamed).into_owned())
                .unwrap_or_else(|e| format!("<nfprobe error: {e}>\n"));
            let model = read::read(Some(&ns.spec()), backend, family)
                .map_err(|e| e.to_string())
                .and_then(|rs| {
                    let (buf, _) = nfprobe::ruleset::json::write_ruleset(Vec::new(), &rs)
                        .map_err(|e| e.to_string())?;
                    Ok(String::from_utf8_lossy(&buf).into_owned())
                })
                .unwrap_or_else(|e| format!("<nfprobe error: {e}>\n"));
            t.paths_compared += 1;
            if model != streamed {
                t.mismatches.push(format!(
                    "  {label} [nft]: the streamed JSON and the model's differ\n    streamed: {streamed:?}\n    model:    {model:?}"
                ));
            }
        }
    }
    text
}

/// Load a file's cases (batch first, line by line when the batch is refused), compare.
fn run_file(tf: &TFile, backend: Backend, t: &mut Tally) {
    if tf.cases.is_empty() {
        return;
    }
    let restore = tool(backend, tf.family, "restore");
    let mut ns = Netns::new("or");
    let setup = |ns: &Netns| {
        for (table, chain) in &tf.user_chains {
            let text = format!("*{table}\n:{chain} - [0:0]\nCOMMIT\n");
            let out = ns.run(&restore, &["--noflush"], Some(&text));
            assert!(
                out.status.success(),
                "{}: cannot create chain {chain}",
                tf.name
            );
        }
        for cmd in &tf.setup {
            let out = ns.sh(cmd);
            assert!(
                out.status.success(),
                "{}: setup `{cmd}` failed: {}",
                tf.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    setup(&ns);
    let batch = ns.run(&restore, &["--noflush"], Some(&restore_text(&tf.cases)));
    if batch.status.success() {
        t.loaded += tf.cases.len();
    } else {
        ns = Netns::new("or");
        setup(&ns);
        for c in &tf.cases {
            let one = ns.run(
                &restore,
                &["--noflush"],
                Some(&restore_text(std::slice::from_ref(c))),
            );
            if one.status.success() {
                t.loaded += 1;
            } else {
                t.skipped += 1;
                t.refused.push(format!(
                    "  {} [{backend:?}] -t {} -A {} {}: {}",
                    tf.name,
                    c.table,
                    c.chain,
                    c.rule,
                    String::from_utf8_lossy(&one.stderr)
                        .lines()
                        .next()
                        .unwrap_or("")
                ));
            }
        }
    }
    let live = live_save(&ns, backend, tf.family, false);
    let ours = ours(&ns, &tf.name, backend, tf.family, false, t);
    compare(&tf.name, backend, &live, &ours, t);
    round_trip(&tf.name, tf.family, &live, false, t);
}

/// Parse the live iptables-save text with ruleset::parse and render it again.
fn round_trip(label: &str, family: Family, live: &str, counters: bool, t: &mut Tally) {
    let rules: Vec<&str> = live
        .lines()
        .filter(|l| l.starts_with("-A ") || l.starts_with('['))
        .collect();
    t.parse_lines += rules.len();
    match parse::parse_save(family, live) {
        Ok(tables) => {
            let rs = Ruleset {
                backend: Backend::Legacy,
                family,
                genid: None,
                tables,
            };
            let again = render::save(&rs, counters);
            for (a, b) in live.lines().zip(again.lines()) {
                if a != b {
                    t.parse_failures
                        .push(format!("  {label}: {a}\n    parsed+rendered: {b}"));
                }
            }
        }
        Err(e) => {
            let before = t.parse_failures.len();
            for r in rules {
                let r = r.split_once("] ").map_or(r, |(_, rest)| rest);
                let words = parse::split_words(r).unwrap_or_default();
                if let Err(e) = parse::parse_args(family, &words) {
                    t.parse_failures
                        .push(format!("  {label}: {r}\n    parse error: {e}"));
                }
            }
            if t.parse_failures.len() == before {
                t.parse_failures.push(format!("  {label}: {e}"));
            }
        }
    }
}

fn extensions(backend: Backend) {
    let dir = oracle_dir().join("extensions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "t"))
        .collect();
    files.sort();
    let mut t = Tally::default();
    let mut out_of_scope = Vec::new();
    for p in &files {
        match parse_t(p, backend, false) {
            Some(tf) => run_file(&tf, backend, &mut t),
            None => out_of_scope.push(p.file_name().unwrap().to_string_lossy().into_owned()),
        }
    }
    let report = t.report(&format!("oracle extensions, {backend:?} backend"));
    println!("{report}");
    println!(
        "out of scope (arptables/ebtables or helper commands): {}",
        out_of_scope.join(" ")
    );
    assert!(
        t.loaded > 0,
        "no rule loaded at all: is {} working?",
        tool(backend, Family::Ipv4, "restore")
    );
    assert!(t.mismatches.is_empty(), "{report}");
}

#[test]
fn oracle_extensions_legacy() {
    extensions(Backend::Legacy);
}

#[test]
fn oracle_extensions_nft() {
    extensions(Backend::Nft);
}

fn dumps(backend: Backend) {
    let mut t = Tally::default();
    for (name, family, text) in oracle_dumps() {
        let ns = Netns::new("dump");
        let out = ns.run(&tool(backend, family, "restore"), &["-c"], Some(&text));
        if !out.status.success() {
            t.skipped += 1;
            println!(
                "{name} [{backend:?}]: refused by iptables-restore: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        t.loaded += text.lines().filter(|l| l.contains("-A ")).count();
        let live = live_save(&ns, backend, family, true);
        let ours = ours(&ns, &name, backend, family, true, &mut t);
        compare(&name, backend, &live, &ours, &mut t);
        round_trip(&name, family, &live, true, &mut t);
    }
    let report = t.report(&format!(
        "oracle dumps (with -c counters), {backend:?} backend"
    ));
    println!("{report}");
    assert!(t.loaded > 0);
    assert!(t.mismatches.is_empty(), "{report}");
}

#[test]
fn oracle_dumps_legacy() {
    dumps(Backend::Legacy);
}

#[test]
fn oracle_dumps_nft() {
    dumps(Backend::Nft);
}

fn corpus(backend: Backend) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut t = Tally::default();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "t"))
        .collect();
    files.sort();
    for p in &files {
        let tf = parse_t(p, backend, true).unwrap();
        let before = t.skipped;
        run_file(&tf, backend, &mut t);
        // Our own corpus must load completely: every line is meant to be valid.
        assert_eq!(
            t.skipped,
            before,
            "{}: iptables refused lines of our own corpus:\n{}",
            tf.name,
            t.refused.join("\n")
        );
    }
    let report = t.report(&format!("Docker/Kubernetes corpus, {backend:?} backend"));
    println!("{report}");
    assert!(t.loaded > 0);
    assert!(t.mismatches.is_empty(), "{report}");
    // Docker's and Kubernetes' rules must parse to exactly what the kernel holds.
    assert!(
        t.parse_failures.is_empty(),
        "parse round trip failures:\n{}",
        t.parse_failures.join("\n")
    );
}

#[test]
fn corpus_docker_k8s_legacy() {
    corpus(Backend::Legacy);
}

#[test]
fn corpus_docker_k8s_nft() {
    corpus(Backend::Nft);
}
