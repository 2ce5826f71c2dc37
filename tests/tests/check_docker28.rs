//! Docker 28 layout lab (no Docker): the lab applies Docker 28.0.1's rules with the real
//! iptables and writes the Docker state a 28.0.1 daemon would report; `nfprobe check
//! --docker-state` on it finds nothing when healthy and reports each injected fault exactly.

mod check_common;

use std::collections::BTreeSet;

use check_common::*;
use lab::docker28::{Backend, Fault, Lab, Options, RuleKind, RuleSelector};
use serde_json::Value;

fn check(lab: &Lab, extra: &[&str]) -> (i32, Value) {
    let dir = std::env::temp_dir().join(unique("d28"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bundle.json");
    write_json(&file, &bundle_from_lab(lab.docker_state()));
    let ns = lab.host_netns_path();
    let mut args = vec![
        "--netns",
        ns.to_str().unwrap(),
        "check",
        "--docker-state",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = nfprobe_json(&args);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// The (table, chain, rule) set of the non-ok findings, by meaning.
fn reported(v: &Value) -> Vec<(String, String, nfprobe::ruleset::Rule)> {
    problems(v).into_iter().map(finding_rule).collect()
}

fn assert_exactly(v: &Value, removed: &[lab::docker28::Rule], status: &str) {
    let got = reported(v);
    let want: Vec<_> = removed
        .iter()
        .map(|r| {
            let (c, rule) = parse_line(&r.save_line());
            (r.table.name().to_owned(), c, rule)
        })
        .collect();
    for w in &want {
        assert!(
            got.contains(w),
            "removed but not reported: {w:?}\nreported: {:#?}",
            problems(v)
        );
    }
    for g in &got {
        assert!(want.contains(g), "reported but not removed: {g:?}");
    }
    for f in problems(v) {
        assert_eq!(f["status"], status, "{f:#}");
        assert!(f["effect"].as_str().is_some_and(|e| !e.is_empty()), "{f:#}");
        assert!(f["fix"].as_str().is_some(), "{f:#}");
    }
}

fn host_kinds(v: &Value) -> BTreeSet<String> {
    host_problems(v)
        .iter()
        .map(|h| h["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn docker28_healthy_then_each_deleted_rule_exactly() {
    let mut lab = Lab::up(Options {
        default_bridge: true,
        ..Options::default()
    })
    .unwrap();
    let (code, v) = check(&lab, &[]);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);

    // One kind at a time on one network, then put nothing back: each step reports exactly
    // what is gone so far.
    let mut gone: Vec<lab::docker28::Rule> = Vec::new();
    for (kind, net) in [
        (RuleKind::CtAccept, 1),
        (RuleKind::PortAccept, 0),
        (RuleKind::HairpinMasquerade, 2),
        (RuleKind::Dnat, 1),
        (RuleKind::Isolation2Drop, 0),
    ] {
        let removed = lab
            .delete_rules(&[RuleSelector {
                kind,
                network: Some(net),
            }])
            .unwrap();
        assert!(!removed.is_empty(), "{kind:?}@{net} removed nothing");
        gone.extend(removed);
        let (code, v) = check(&lab, &[]);
        assert_eq!(code, 1);
        assert_exactly(&v, &gone, "missing");
    }
    lab.set_forward_policy("ACCEPT").unwrap();
    let (_, v) = check(&lab, &[]);
    assert_exactly(&v, &gone, "missing");
    assert!(host_problems(&v).is_empty());
    lab.down().unwrap();
}

#[test]
fn docker28_iptables_1811_lies_are_named() {
    let lab = Lab::up(Options {
        networks: 3,
        faults: vec![Fault::Iptables1811],
        ..Options::default()
    })
    .unwrap();
    let removed = lab.removed_rules().to_vec();
    assert!(
        removed.len() >= 8,
        "the preset removes the 2nd+ networks' rules: {removed:?}"
    );
    // System iptables (1.8.9, truthful): missing.
    let (code, v) = check(&lab, &[]);
    assert_eq!(code, 1);
    assert_exactly(&v, &removed, "missing");
    // The 1.8.11 model: the same rules, now named as lies, and the binary flagged.
    let model = lab::bugmodel::script_path();
    let (_, v) = check(&lab, &["--iptables", model.to_str().unwrap()]);
    let skipped: Vec<_> = removed.clone();
    let got = reported(&v);
    assert_eq!(got.len(), skipped.len(), "{:#?}", problems(&v));
    for f in problems(&v) {
        // Rules Docker skipped because -C lied, and rules a wrong -D removed: both are absent
        // while the model claims present whenever a look-alike remains.
        assert!(
            f["status"] == "missing_cli_claims_present" || f["status"] == "missing",
            "{f:#}"
        );
        if f["status"] == "missing_cli_claims_present" {
            assert!(f["lookalike"].is_string(), "{f:#}");
            assert!(
                f["claims"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["lie"] == true)
            );
        }
    }
    let lies = problems(&v)
        .iter()
        .filter(|f| f["status"] == "missing_cli_claims_present")
        .count();
    assert!(
        lies >= removed.len() - 1,
        "almost every lost rule has a look-alike: {lies}/{}",
        removed.len()
    );
    assert!(
        host_kinds(&v).contains("iptables_cli_lies"),
        "{:#?}",
        v["host"]
    );
    lab.down().unwrap();
}

#[test]
fn docker28_both_backends_and_legacy() {
    let lab = Lab::up(Options {
        backend: Backend::Legacy,
        ..Options::default()
    })
    .unwrap();
    let (code, v) = check(&lab, &[]);
    assert_eq!(v["docker_backend"], "legacy");
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert_eq!(code, 0);
    lab.down().unwrap();
    let lab = Lab::up(Options {
        faults: vec![Fault::BothBackends],
        ..Options::default()
    })
    .unwrap();
    let (code, v) = check(&lab, &[]);
    assert_eq!(code, 1);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert_eq!(
        host_kinds(&v),
        BTreeSet::from(["rules_in_both_backends".to_owned()])
    );
    lab.down().unwrap();
}
