use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::claims::{Answer, Binary, Claim};
use crate::docker::expect::tests::{B2, example_state, is_builtin_chain, ruleset_from_save};
use crate::docker::expect::{self, Layout};
use crate::ruleset::{Policy, Ruleset};

/// A ruleset holding the given `*table`/`-A` text (nft backend, IPv4).
fn ruleset(text: &str, policy: Policy) -> Ruleset {
    ruleset_from_save(Backend::Nft, Family::Ipv4, text, |c| {
        (is_builtin_chain(c), (c == "FORWARD").then_some(policy))
    })
}

fn without(text: &str, drop: &[&str]) -> String {
    text.lines()
        .filter(|l| !drop.contains(&l.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn audit_with(text: &str, claims_present: bool) -> Audit {
    let state = example_state(true, true);
    let e = expect::expect(&state, Layout::V28_0);
    let rs = vec![ruleset(text, Policy::Drop)];
    let bin = Binary {
        path: PathBuf::from("/usr/sbin/iptables-1811-model"),
        version: Some("iptables v1.8.11 (nf_tables)".into()),
        backend: Some(Backend::Nft),
        family: Family::Ipv4,
        explicit: true,
        error: None,
    };
    // Model the 1.8.11 answer: present if the rule or an interface-name look-alike exists.
    let idx = KernelIndex::new(&rs);
    let claims: Vec<Claim> = e
        .rules
        .iter()
        .map(|x| {
            let r = expect::to_rule(x.family, &x.args).unwrap();
            let c = idx.chain(Backend::Nft, x.family, &x.table, &x.chain);
            let exact = c.is_some_and(|c| !c.find_all(&r).is_empty());
            let look = c.is_some_and(|c| {
                c.rules
                    .iter()
                    .any(|k| k.key_ignoring_iface_names() == r.key_ignoring_iface_names())
            });
            let present = exact || (claims_present && look);
            Claim {
                binary: bin.path.clone(),
                family: x.family,
                table: x.table.clone(),
                chain: x.chain.clone(),
                args: x.args.clone(),
                answer: if present {
                    Answer::Present
                } else {
                    Answer::Absent
                },
            }
        })
        .collect();
    let sys = BTreeMap::new();
    run(&Input {
        state: &state,
        expectation: &e,
        rulesets: &rs,
        nft: None,
        binaries: std::slice::from_ref(&bin),
        claims: &claims,
        probes: &[],
        sysctls: &sys,
    })
}

const LOST: &[&str] = &[
    "-A DOCKER ! -i bridge1 -o bridge1 -j DROP",
    "-A DOCKER-BRIDGE -o bridge1 -j DOCKER",
    "-A DOCKER-CT -o bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A DOCKER-ISOLATION-STAGE-1 -i bridge1 ! -o bridge1 -j DOCKER-ISOLATION-STAGE-2",
];

#[test]
fn healthy_is_all_ok() {
    let a = audit_with(B2, true);
    let bad: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(a.problems(), 0);
}

#[test]
fn the_lie_is_named() {
    let a = audit_with(&without(B2, LOST), true);
    let bad: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .collect();
    assert_eq!(bad.len(), LOST.len(), "{bad:#?}");
    for f in &bad {
        assert_eq!(f.status, Status::MissingCliClaimsPresent, "{f:#?}");
        assert!(
            f.lookalike
                .as_deref()
                .is_some_and(|l| l.contains("docker0")),
            "{f:#?}"
        );
        assert!(
            f.effect.is_some()
                && f.fix
                    .as_deref()
                    .is_some_and(|x| x.starts_with("iptables-nft -w -t filter"))
        );
        assert_eq!(f.network.as_deref(), Some("bridge1"));
    }
    assert!(
        a.host
            .iter()
            .any(|h| h.kind == "iptables_cli_lies" && h.severity == Severity::Problem)
    );
    assert!(
        a.host
            .iter()
            .any(|h| h.kind == "forward_policy_drop" && h.message.contains("missing"))
    );
}

#[test]
fn missing_with_truthful_cli() {
    let a = audit_with(&without(B2, LOST), false);
    let bad: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .collect();
    assert_eq!(bad.len(), LOST.len());
    assert!(bad.iter().all(|f| f.status == Status::Missing));
    // The look-alike is still predicted: a 1.8.11 CLI would lie about these.
    assert!(bad.iter().all(|f| f.lookalike.is_some()));
}

#[test]
fn wrong_order_and_extra() {
    // Port ACCEPT below the network's DROP; plus a stray rule in DOCKER.
    let moved = B2
        .replace("-A DOCKER -d 192.0.2.2/32 ! -i bridge1 -o bridge1 -p tcp -m tcp --dport 80 -j ACCEPT\n", "")
        .replace(
            "-A DOCKER-BRIDGE -o docker0 -j DOCKER",
            "-A DOCKER -d 192.0.2.2/32 ! -i bridge1 -o bridge1 -p tcp -m tcp --dport 80 -j ACCEPT\n-A DOCKER -d 192.0.2.9/32 ! -i bridge1 -o bridge1 -p tcp -m tcp --dport 81 -j ACCEPT\n-A DOCKER-BRIDGE -o docker0 -j DOCKER",
        );
    let a = audit_with(&moved, true);
    let bad: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .collect();
    assert_eq!(bad.len(), 2, "{bad:#?}");
    assert!(
        bad.iter()
            .any(|f| f.status == Status::WrongOrder && f.rule.contains("--dport 80"))
    );
    assert!(
        bad.iter()
            .any(|f| f.status == Status::Extra && f.rule.contains("192.0.2.9"))
    );
}

#[test]
fn undecodable_is_never_missing() {
    let mut rs = ruleset(&without(B2, LOST), Policy::Accept);
    let t = rs.tables.iter_mut().find(|t| t.name == "filter").unwrap();
    let c = t.chains.iter_mut().find(|c| c.name == "DOCKER-CT").unwrap();
    let mut r = c.rules[0].clone();
    r.undecoded.push(crate::ruleset::Undecoded {
        what: "expr x".into(),
        reason: "test".into(),
        raw: vec![1],
    });
    c.rules.push(r);
    let state = example_state(true, true);
    let e = expect::expect(&state, Layout::V28_0);
    let sys = BTreeMap::new();
    let a = run(&Input {
        state: &state,
        expectation: &e,
        rulesets: std::slice::from_ref(&rs),
        nft: None,
        binaries: &[],
        claims: &[],
        probes: &[],
        sysctls: &sys,
    });
    let ct: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.chain == "DOCKER-CT" && f.network.is_some() && f.status != Status::Ok)
        .collect();
    assert_eq!(ct.len(), 1);
    assert_eq!(ct[0].status, Status::Undecodable);
}
