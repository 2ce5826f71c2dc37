//! `nfprobe ruleset --backend legacy --format save` renders straight from the kernel's table
//! blobs (the legacy save path of ruleset::xlate::legacy) instead of decoding whole `Table`s first. This checks that
//! path prints exactly what rendering the decoded model prints (`decode_table` +
//! `render::table`), with and without counters, on live legacy tables: the oracle dumps and
//! our Docker/Kubernetes corpus loaded with iptables-legacy-restore, and the same blobs with
//! a match made undecodable.

mod xt_support;

use std::path::Path;

use nfprobe::kernel::xt;
use nfprobe::ruleset::xlate::legacy;
use nfprobe::ruleset::{Backend, Family, render};
use xt_support::{Netns, oracle_dumps, tool};

/// Both paths on every table of the family in `ns`; returns the blobs read.
fn both_paths(ns: &Netns, family: Family, what: &str) -> Vec<(String, xt::TableInfo, Vec<u8>)> {
    let blobs = xt::read_blobs(Some(&ns.spec()), family).unwrap();
    assert!(!blobs.is_empty(), "{what}: no legacy table loaded");
    for (name, info, blob) in &blobs {
        compare(family, name, info, blob, what);
    }
    blobs
}

/// The two paths on one blob; returns the save path's text and undecodable count.
fn compare(
    family: Family,
    name: &str,
    info: &xt::TableInfo,
    blob: &[u8],
    what: &str,
) -> (String, usize) {
    let mut last = (String::new(), 0);
    for counters in [false, true] {
        let t = legacy::decode_table(family, name, info, blob);
        let mut want = String::new();
        render::table(&mut want, &t, counters);
        let (got, n) = legacy::save_table_text(family, name, info, blob, counters);
        assert_eq!(got, want, "{what}: table {name}, counters {counters}");
        assert_eq!(
            n,
            t.undecoded_rules(),
            "{what}: table {name}, counters {counters}"
        );
        last = (got, n);
    }
    last
}

/// A `.t` corpus file of ours as one iptables-restore text (and its setup commands).
fn corpus_restore(path: &Path) -> (Vec<String>, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut setup = Vec::new();
    let mut tables: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    let mut chains: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(cmd) = line.strip_prefix('@').or_else(|| line.strip_prefix('%')) {
            setup.push(cmd.to_owned());
        } else if let Some(t) = line.strip_prefix('*') {
            tables.push((t.to_owned(), Vec::new(), Vec::new()));
        } else if let Some(c) = line.strip_prefix('=') {
            tables.last_mut().unwrap().1.push(c.to_owned());
        } else if let Some(c) = line.strip_prefix(':') {
            chains = c.split(',').map(str::to_owned).collect();
        } else {
            let f: Vec<&str> = line.split(';').collect();
            let ok = match f.get(3) {
                Some(v) if *v == "LEGACY" || v.is_empty() => f.get(2) == Some(&"OK"),
                Some(_) => f.get(4) == Some(&"OK"),
                None => f.get(2) == Some(&"OK"),
            };
            if ok {
                let t = tables.last_mut().unwrap();
                for c in &chains {
                    t.2.push(format!("-A {c} {}", f[0]));
                }
            }
        }
    }
    let mut restore = String::new();
    for (t, users, rules) in tables {
        restore.push_str(&format!("*{t}\n"));
        for u in users {
            restore.push_str(&format!(":{u} - [0:0]\n"));
        }
        for r in rules {
            restore.push_str(&r);
            restore.push('\n');
        }
        restore.push_str("COMMIT\n");
    }
    (setup, restore)
}

fn load(ns: &Netns, family: Family, text: &str, what: &str) {
    let out = ns.run(
        &tool(Backend::Legacy, family, "restore"),
        &["-c"],
        Some(text),
    );
    assert!(
        out.status.success(),
        "{what}: iptables-legacy-restore refused it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn save_path_equals_model_path_on_oracle_dumps() {
    let mut compared = 0;
    for (name, family, text) in oracle_dumps() {
        let ns = Netns::new("xsave");
        let out = ns.run(
            &tool(Backend::Legacy, family, "restore"),
            &["-c"],
            Some(&text),
        );
        if !out.status.success() {
            // The oracle test reports dumps the installed iptables refuses.
            println!("{name}: refused by iptables-legacy-restore");
            continue;
        }
        compared += both_paths(&ns, family, &name).len();
    }
    println!("{compared} live tables rendered the same both ways");
    assert!(compared > 0);
}

#[test]
fn save_path_equals_model_path_on_corpus_and_undecodable_match() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (file, family) in [
        ("docker-k8s.t", Family::Ipv4),
        ("docker-k8s-ip6.t", Family::Ipv6),
    ] {
        let ns = Netns::new("xsavec");
        let (setup, restore) = corpus_restore(&dir.join(file));
        for cmd in &setup {
            let out = ns.sh(cmd);
            assert!(
                out.status.success(),
                "{file}: setup `{cmd}` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        load(&ns, family, &restore, file);
        let blobs = both_paths(&ns, family, file);

        // The live filter blob with its first comment match renamed to a match nobody
        // decodes: shown raw, counted, the same both ways.
        let (name, info, blob) = blobs
            .iter()
            .find(|(n, _, _)| n == "filter")
            .expect("a filter table");
        let mut b = blob.clone();
        // `xt_entry_match` of comment: u16 size 288 (32 + 256), then the name.
        let at = (2..b.len() - 8)
            .find(|&i| &b[i..i + 8] == b"comment\0" && b[i - 2..i] == 288u16.to_ne_bytes())
            .expect("a comment match in the corpus's filter table");
        b[at + 6] = b'X';
        let (text, bad) = compare(family, name, info, &b, &format!("{file} (mutated)"));
        assert!(bad >= 1, "{text}");
        assert!(text.contains(" -m commenX [undecoded 0x"), "{text}");
    }
}
