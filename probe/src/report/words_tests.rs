//! Text for people uses people's words: every finding kind and host note, rendered, carries
//! no Rust Debug spelling ("Nft backend", "state from Api", "Ipv4 FORWARD policy").

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::audit::{self, Finding, Input, Status};
use crate::claims::{Answer, Binary, Claim, LieProbe, ProbeKind};
use crate::docker::expect::tests::{B2, example_state, is_builtin_chain, ruleset_from_save};
use crate::docker::expect::{self, Layout};
use crate::docker::state::StateSource;
use crate::ruleset::{Backend, Family, Policy, Ruleset};

/// Every status; the match fails to compile when a status is added without a line here.
fn all_statuses() -> Vec<Status> {
    let all = [
        Status::Ok,
        Status::Missing,
        Status::MissingCliClaimsPresent,
        Status::PresentCliClaimsMissing,
        Status::WrongOrder,
        Status::Undecodable,
        Status::Extra,
        Status::Unknown,
    ];
    for s in all {
        match s {
            Status::Ok
            | Status::Missing
            | Status::MissingCliClaimsPresent
            | Status::PresentCliClaimsMissing
            | Status::WrongOrder
            | Status::Undecodable
            | Status::Extra
            | Status::Unknown => {}
        }
    }
    all.to_vec()
}

fn ruleset(backend: Backend, family: Family, text: &str) -> Ruleset {
    ruleset_from_save(backend, family, text, |c| {
        (
            is_builtin_chain(c),
            (c == "FORWARD").then_some(Policy::Drop),
        )
    })
}

/// An audit that raises every host note the audit knows (a degraded view, rules in both
/// backends, a lying iptables proven by both probes, a DROP policy, sysctls off) plus one
/// finding of every status in each family.
fn audit_with_everything() -> audit::Audit {
    let mut state = example_state(true, true);
    state.degraded = Some("no Docker socket at /nonexistent".into());
    let e = expect::expect(&state, Layout::V28_0);
    // Half of Docker's rules in each backend, so both hold Docker chains and rules go missing.
    let lines: Vec<&str> = B2.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let rs = vec![
        ruleset(Backend::Nft, Family::Ipv4, &a.join("\n")),
        ruleset(Backend::Legacy, Family::Ipv4, &b.join("\n")),
    ];
    let bin = Binary {
        path: PathBuf::from("/usr/sbin/iptables-nft"),
        version: Some("iptables v1.8.11 (nf_tables)".into()),
        backend: Some(Backend::Nft),
        family: Family::Ipv4,
        explicit: false,
        error: None,
    };
    let claims: Vec<Claim> = e
        .rules
        .iter()
        .map(|x| Claim {
            binary: bin.path.clone(),
            family: x.family,
            table: x.table.clone(),
            chain: x.chain.clone(),
            args: x.args.clone(),
            answer: Answer::Present,
        })
        .collect();
    let probe = |kind| LieProbe {
        binary: bin.path.clone(),
        kind,
        table: "filter".into(),
        chain: "FORWARD".into(),
        from_rule: "-A FORWARD -o br-1 -j DOCKER".into(),
        args: vec!["-o".into(), "br-2".into(), "-j".into(), "DOCKER".into()],
        answer: Answer::Present,
    };
    let probes = [
        probe(ProbeKind::InterfaceNames),
        probe(ProbeKind::Ipv6PrefixLength),
    ];
    let sysctls: BTreeMap<String, Option<String>> = audit::sysctl_names(&state)
        .into_iter()
        .map(|n| (n, Some("0".into())))
        .collect();
    let mut a = audit::run(&Input {
        state: &state,
        expectation: &e,
        rulesets: &rs,
        nft: None,
        binaries: std::slice::from_ref(&bin),
        claims: &claims,
        probes: &probes,
        sysctls: &sysctls,
    });
    a.docker_source = StateSource::Netlink;
    let template = a
        .findings
        .first()
        .cloned()
        .expect("the example expects rules");
    for family in [Family::Ipv4, Family::Ipv6] {
        for status in all_statuses() {
            a.findings.push(Finding {
                status,
                family,
                fix: Some("iptables -t filter -I FORWARD 3 -j DOCKER-USER".into()),
                effect: Some("containers on this network cannot be reached".into()),
                ..template.clone()
            });
        }
    }
    a
}

/// Rust spellings that must never reach a person.
const DEBUG_WORDS: &[&str] = &[
    "Nft",
    "Legacy",
    "Ipv4",
    "Ipv6",
    "Api",
    "Netlink",
    "Bundle",
    "Some(",
    "None",
    "Ok(",
    "Err(",
    "V20",
    "V28",
    "V29",
    "Present",
    "Absent",
    "NotAsked",
    "InterfaceNames",
    "Ipv6PrefixLength",
    "Problem",
    "Info",
    "Drop",
    "Accept",
];

fn debug_words_in(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for w in DEBUG_WORDS {
        for (i, _) in text.match_indices(w) {
            let before = text[..i].chars().next_back();
            let after = text[i + w.len()..].chars().next();
            // A whole word: not inside a longer identifier or a path.
            let inside = |c: Option<char>| {
                c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '/')
            };
            if !inside(before) && (w.ends_with('(') || !inside(after)) {
                let line = text[..i].rsplit('\n').next().unwrap_or("").to_owned()
                    + text[i..].split('\n').next().unwrap_or("");
                bad.push(format!("{w}: {line}"));
            }
        }
    }
    bad
}

#[test]
fn every_finding_and_host_note_is_in_peoples_words() {
    let a = audit_with_everything();
    let kinds: Vec<&str> = a.host.iter().map(|h| h.kind.as_str()).collect();
    for want in [
        "degraded_view",
        "rules_in_both_backends",
        "iptables_cli_lies",
        "ip6tables_prefix_length_lie",
    ] {
        assert!(
            kinds.contains(&want),
            "host note {want} not raised: {kinds:?}"
        );
    }
    for text in [super::text(&a, true), super::fix_script(&a)] {
        let bad = debug_words_in(&text);
        assert!(
            bad.is_empty(),
            "Debug spellings in the report:\n{}\n---\n{text}",
            bad.join("\n")
        );
    }
}

#[test]
fn the_word_check_sees_a_debug_spelling() {
    assert_eq!(debug_words_in("rules in Nft backend").len(), 1);
    assert_eq!(debug_words_in("Ipv4 FORWARD policy is DROP").len(), 1);
    assert!(
        debug_words_in("rules in the nf_tables backend, IPv4 FORWARD policy, docker-nft")
            .is_empty()
    );
}
