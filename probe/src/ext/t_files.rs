//! Tests of the extension parsers against upstream iptables' `.t` files (the oracle corpus in
//! /work/shared/oracle/iptables-1.8.9, or `$NFPROBE_ORACLE`): for every OK line, the words
//! after `-m NAME`/`-j NAME` in RULE must parse to exactly the words of the SAVE field.

use std::path::PathBuf;

use super::{ExtKind, find, parse};
use crate::ruleset::Family;

/// Where the oracle corpus lives.
pub(crate) fn oracle_dir() -> PathBuf {
    std::env::var_os("NFPROBE_ORACLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/oracle/iptables-1.8.9"))
}

/// One OK line of a `.t` file.
#[derive(Debug, Clone)]
#[allow(dead_code)] // table/chains/variant are used by the live kernel test
pub(crate) struct TLine {
    pub file: String,
    pub family: Family,
    pub table: String,
    pub chains: Vec<String>,
    pub rule: String,
    /// SAVE with `=` resolved.
    pub save: String,
    /// `nft` / `legacy` when the line is limited to one backend.
    pub variant: Option<String>,
}

/// Every OK line of the iptables/ip6tables `.t` files.
pub(crate) fn ok_lines() -> Vec<TLine> {
    let dir = oracle_dir().join("extensions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("oracle corpus missing at {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "t"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let file = path.file_stem().unwrap().to_string_lossy().into_owned();
        let family = if file.starts_with("libip6t_") {
            Family::Ipv6
        } else if file.starts_with("libipt_") || file.starts_with("libxt_") {
            Family::Ipv4
        } else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut table = "filter".to_owned();
        let mut chains = vec!["INPUT".to_owned()];
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(c) = line.strip_prefix(':') {
                chains = c.split(',').map(str::to_owned).collect();
                continue;
            }
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_owned();
                continue;
            }
            if line.starts_with('@') || line.starts_with('%') {
                continue;
            }
            let f: Vec<&str> = line.split(';').collect();
            if f.len() < 3 || f[2] != "OK" {
                continue;
            }
            let save = if f[1] == "=" { f[0] } else { f[1] };
            out.push(TLine {
                file: file.clone(),
                family,
                table: table.clone(),
                chains: chains.clone(),
                rule: f[0].trim().to_owned(),
                save: save.trim().to_owned(),
                variant: f.get(3).map(|v| v.to_lowercase()),
            });
        }
    }
    out
}

/// Split like a shell: quotes removed, backslash escapes honoured.
pub(crate) fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Split an iptables-save line into its printed words (quoted words keep their quotes).
pub(crate) fn save_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if in_quote {
            cur.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            } else if c == '"' {
                in_quote = false;
            }
        } else if c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            if c == '"' {
                in_quote = true;
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `-m NAME ...` / `-j NAME ...` segments of a rule's words.
pub(crate) fn segments(words: &[String]) -> Vec<(ExtKind, String, Vec<String>)> {
    const HEADER: &[&str] = &[
        "-m",
        "-j",
        "-g",
        "-p",
        "-s",
        "-d",
        "-i",
        "-o",
        "-f",
        "--protocol",
        "--source",
        "--destination",
        "--in-interface",
        "--out-interface",
        "--match",
        "--jump",
    ];
    let is_boundary = |i: usize| {
        let w = words[i].as_str();
        HEADER.contains(&w)
            || (w == "!"
                && words
                    .get(i + 1)
                    .is_some_and(|n| HEADER.contains(&n.as_str())))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let kind = match w {
            "-m" | "--match" => Some(ExtKind::Match),
            "-j" | "--jump" => Some(ExtKind::Target),
            _ => None,
        };
        let (Some(kind), Some(name)) = (kind, words.get(i + 1)) else {
            i += 1;
            continue;
        };
        let mut j = i + 2;
        while j < words.len() && !is_boundary(j) {
            j += 1;
        }
        out.push((kind, name.clone(), words[i + 2..j].to_vec()));
        i = j;
    }
    out
}

/// Names the `ext` branch owns (the other extensions are tested by their own owner).
pub(crate) fn ours(kind: ExtKind, name: &str) -> bool {
    const OTHER: &[&str] = &[
        "comment",
        "tcp",
        "udp",
        "icmp",
        "icmp6",
        "icmpv6",
        "addrtype",
        "conntrack",
        "state",
        "mark",
        "connmark",
        "multiport",
        "set",
        "physdev",
        "statistic",
        "recent",
        "limit",
        "iprange",
        "length",
        "mac",
        "owner",
        "pkttype",
        "MASQUERADE",
        "SNAT",
        "DNAT",
        "REDIRECT",
        "REJECT",
        "MARK",
        "CONNMARK",
        "LOG",
        "CT",
        "NOTRACK",
        "TCPMSS",
        "CLASSIFY",
        "ACCEPT",
        "DROP",
        "RETURN",
        "QUEUE",
    ];
    let _ = kind;
    !OTHER.contains(&name)
}

#[test]
fn parse_rule_words_gives_save_words() {
    let lines = ok_lines();
    assert!(!lines.is_empty(), "no .t lines found in {:?}", oracle_dir());
    let (mut pass, mut fail, mut missing) = (0, Vec::new(), std::collections::BTreeSet::new());
    for l in &lines {
        let rule = segments(&shell_words(&l.rule));
        let save = segments(&save_words(&l.save));
        for (idx, (kind, name, words)) in rule.iter().enumerate() {
            if !ours(*kind, name) {
                continue;
            }
            if find(*kind, name, l.family).is_none() {
                missing.insert(format!("{kind} {name}"));
                continue;
            }
            let nth = rule[..idx]
                .iter()
                .filter(|(k, n, _)| k == kind && n == name)
                .count();
            let want = save
                .iter()
                .filter(|(k, n, _)| k == kind && n == name)
                .nth(nth)
                .map(|s| s.2.clone());
            let got = parse(*kind, name, l.family, words);
            match (got, want) {
                (Ok(g), Some(w)) if g == w => pass += 1,
                (g, w) => fail.push(format!(
                    "{}: {}\n    got  {g:?}\n    want {w:?}",
                    l.file, l.rule
                )),
            }
        }
    }
    eprintln!(
        "parse vs .t SAVE: {pass} pass, {} fail; no parser yet: {missing:?}",
        fail.len()
    );
    assert!(fail.is_empty(), "mismatches:\n{}", fail.join("\n"));
}
