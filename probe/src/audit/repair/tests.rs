//! The planner against whole rulesets: a plan applied step by step (checks included) to an
//! in-memory chain must leave what Docker itself would have, and a new audit finds nothing.

use std::collections::BTreeMap;

use super::*;
use crate::audit::{Audit, Input as AuditInput, run};
use crate::docker::expect::tests::{B2, example_state, parse_save, ruleset_from_save};
use crate::docker::expect::{self, Layout, to_rule};
use crate::docker::state::{DockerState, Network, Subnet};
use crate::ruleset::{Chain, Policy, Ruleset, Table};

fn ruleset(text: &str) -> Ruleset {
    ruleset_from_save(Backend::Nft, Family::Ipv4, text, |c| {
        let builtin = !c.starts_with("DOCKER");
        (builtin, builtin.then_some(Policy::Drop))
    })
}

fn audit(state: &DockerState, layout: Layout, rs: &Ruleset) -> Audit {
    let e = expect::expect(state, layout);
    let sys = BTreeMap::new();
    run(&AuditInput {
        state,
        expectation: &e,
        rulesets: std::slice::from_ref(rs),
        nft: None,
        binaries: &[],
        claims: &[],
        probes: &[],
        sysctls: &sys,
    })
}

/// Apply every chain plan as the script would: checks first, then each step after checking
/// its neighbour. Panics where the script would stop.
fn apply(a: &Audit, rs: &mut Ruleset) {
    for p in &a.repair {
        assert!(p.refused.is_none(), "{p:#?}");
        let t = rs.tables.iter_mut().find(|t| t.name == p.table).unwrap();
        if p.create {
            assert!(t.chains.iter().all(|c| c.name != p.chain));
            t.chains.push(Chain {
                name: p.chain.clone(),
                builtin: false,
                policy: None,
                counters: None,
                rules: vec![],
            });
        }
        let c = t.chains.iter_mut().find(|c| c.name == p.chain).unwrap();
        let at = |c: &Chain, n: usize| text::spec(&c.name, &c.rules[n - 1]);
        assert_eq!(c.rules.len(), p.rules_before);
        for k in &p.checks {
            assert_eq!(at(c, k.number), k.text);
        }
        for s in &p.steps {
            match s {
                Step::Insert {
                    number,
                    args,
                    anchor,
                    text,
                    ..
                } => {
                    if let Some(an) = anchor {
                        assert_eq!(at(c, an.number), an.text);
                    }
                    let r = to_rule(p.family, args).unwrap();
                    assert_eq!(text::spec(&c.name, &r), *text);
                    c.rules.insert(number - 1, r);
                }
                Step::Delete { at: k, .. } => {
                    assert_eq!(at(c, k.number), k.text);
                    c.rules.remove(k.number - 1);
                }
            }
        }
    }
}

fn chain_text(rs: &Ruleset, table: &str, chain: &str) -> Vec<String> {
    rs.tables
        .iter()
        .find(|t| t.name == table)
        .and_then(|t| t.chains.iter().find(|c| c.name == chain))
        .map(|c| c.rules.iter().map(|r| text::spec(chain, r)).collect())
        .unwrap_or_default()
}

fn without(text: &str, drop: &[&str]) -> String {
    text.lines()
        .filter(|l| !drop.contains(&l.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn docker28_lost_rules_go_back_where_docker_puts_them() {
    let state = example_state(true, true);
    let lost = [
        "-A DOCKER ! -i bridge1 -o bridge1 -j DROP",
        "-A DOCKER-BRIDGE -o bridge1 -j DOCKER",
        "-A DOCKER-CT -o bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A DOCKER-ISOLATION-STAGE-1 -i bridge1 ! -o bridge1 -j DOCKER-ISOLATION-STAGE-2",
        "-A DOCKER-ISOLATION-STAGE-2 -o bridge1 -j DROP",
        "-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "-A FORWARD -j DOCKER-USER",
    ];
    // An admin's own rule at the end of FORWARD stays below Docker's.
    let broken = format!(
        "{}\n*filter\n-A FORWARD -i wg0 -j ACCEPT\n",
        without(B2, &lost)
    );
    let mut rs = ruleset(&broken);
    let a = audit(&state, Layout::V28_0, &rs);
    assert_eq!(a.problems(), lost.len(), "{:#?}", a.findings);
    apply(&a, &mut rs);
    let again = audit(&state, Layout::V28_0, &rs);
    assert_eq!(again.problems(), 0, "{:#?}", again.findings);
    let healthy = ruleset(B2);
    for (t, c) in [
        ("filter", "DOCKER"),
        ("filter", "DOCKER-CT"),
        ("filter", "DOCKER-BRIDGE"),
        ("filter", "DOCKER-FORWARD"),
        ("filter", "DOCKER-ISOLATION-STAGE-1"),
        ("filter", "DOCKER-ISOLATION-STAGE-2"),
    ] {
        assert_eq!(chain_text(&rs, t, c), chain_text(&healthy, t, c), "{c}");
    }
    assert_eq!(
        chain_text(&rs, "filter", "FORWARD"),
        [
            "-A FORWARD -j DOCKER-USER",
            "-A FORWARD -j DOCKER-FORWARD",
            "-A FORWARD -i wg0 -j ACCEPT"
        ]
    );
}

/// Docker 20.10 with two user networks; `n1` created last.
fn v20_state() -> DockerState {
    let mut s = example_state(false, false);
    s.engine_version = Some("20.10.24".into());
    s.networks.clear();
    for (i, name) in ["n0", "n1"].iter().enumerate() {
        s.networks.push(Network {
            id: format!("{i}").repeat(64),
            bridge: format!("br-{i}{i}{i}"),
            subnets: vec![Subnet {
                subnet: format!("172.{}.0.0/16", 18 + i).parse().unwrap(),
                gateway: Some(format!("172.{}.0.1", 18 + i).parse().unwrap()),
            }],
            ..Network::with_defaults(name)
        });
    }
    s
}

/// `ruleset(text)` plus the chains Docker creates even when they hold no rule yet.
fn ruleset_with_chains(text: &str, state: &DockerState, layout: Layout) -> Ruleset {
    let mut rs = ruleset(text);
    for c in expect::expect(state, layout).chains {
        let t = match rs.tables.iter().position(|t| t.name == c.table) {
            Some(t) => t,
            None => {
                rs.tables.push(Table {
                    name: c.table.clone(),
                    chains: vec![],
                });
                rs.tables.len() - 1
            }
        };
        if rs.tables[t].chains.iter().all(|x| x.name != c.chain) {
            rs.tables[t].chains.push(Chain {
                name: c.chain.clone(),
                builtin: false,
                policy: None,
                counters: None,
                rules: vec![],
            });
        }
    }
    rs
}

/// The expectation's rules in Docker's order, as iptables-save text.
fn healthy_text(state: &DockerState, layout: Layout) -> String {
    let e = expect::expect(state, layout);
    let mut idx: Vec<usize> = (0..e.rules.len()).collect();
    idx.sort_by_key(|&i| {
        (
            e.rules[i].table.clone(),
            e.rules[i].chain.clone(),
            e.rank_of(i),
        )
    });
    let mut out = String::new();
    for i in idx {
        let r = &e.rules[i];
        let rule = to_rule(r.family, &r.args).unwrap();
        out.push_str(&format!("*{}\n{}\n", r.table, text::spec(&r.chain, &rule)));
    }
    out
}

#[test]
fn v20_rules_put_at_the_top_are_named_and_moved_below_the_jumps() {
    let state = v20_state();
    let healthy = healthy_text(&state, Layout::V20);
    let fwd = chain_text(&ruleset(&healthy), "filter", "FORWARD");
    assert_eq!(fwd[0], "-A FORWARD -j DOCKER-USER");
    assert_eq!(fwd[1], "-A FORWARD -j DOCKER-ISOLATION-STAGE-1");
    assert!(fwd[2].contains("br-111"), "newest network first: {fwd:#?}");
    // What `-I FORWARD RULE` for n1's four rules does: they land above both jumps.
    let n1: Vec<&String> = fwd.iter().filter(|l| l.contains("br-111")).collect();
    let mut broken_fwd: Vec<String> = n1.iter().map(|s| s.to_string()).collect();
    broken_fwd.extend(fwd.iter().filter(|l| !l.contains("br-111")).cloned());
    let mut rs = ruleset_with_chains(&healthy, &state, Layout::V20);
    let ft = rs.tables.iter().position(|t| t.name == "filter").unwrap();
    let fc = rs.tables[ft]
        .chains
        .iter_mut()
        .find(|c| c.name == "FORWARD")
        .unwrap();
    fc.rules = broken_fwd
        .iter()
        .map(|l| parse_save(&format!("*filter\n{l}"))[0].2.clone())
        .collect();
    let a = audit(&state, Layout::V20, &rs);
    let bad: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.status.is_problem())
        .collect();
    assert_eq!(bad.len(), 4, "{bad:#?}");
    for f in &bad {
        assert_eq!(f.status, Status::WrongOrder);
        let eff = f.effect.as_deref().unwrap();
        assert!(eff.contains("DOCKER-USER is bypassed"), "{eff}");
        assert!(eff.contains("networks n1 and n0 are not isolated"), "{eff}");
    }
    apply(&a, &mut rs);
    assert_eq!(chain_text(&rs, "filter", "FORWARD"), fwd);
    let again = audit(&state, Layout::V20, &rs);
    assert_eq!(again.problems(), 0, "{:#?}", again.findings);
}

#[test]
fn v20_second_network_lost_goes_below_the_jumps_in_docker_order() {
    let state = v20_state();
    let healthy = healthy_text(&state, Layout::V20);
    let lost: Vec<String> = healthy
        .lines()
        .filter(|l| l.contains("br-111") && !l.contains("-s 172.19") && !l.contains("DNAT"))
        .map(str::to_owned)
        .collect();
    assert!(lost.len() >= 7, "{lost:#?}");
    let lost_ref: Vec<&str> = lost.iter().map(String::as_str).collect();
    let mut rs = ruleset_with_chains(&without(&healthy, &lost_ref), &state, Layout::V20);
    let a = audit(&state, Layout::V20, &rs);
    assert_eq!(a.problems(), lost.len(), "{:#?}", a.findings);
    // Each finding's own fix names a position, never a bare `-I CHAIN RULE`.
    for f in a.findings.iter().filter(|f| f.status.is_problem()) {
        let fix = f.fix.as_deref().unwrap();
        let w: Vec<&str> = fix.split_whitespace().collect();
        let i = w.iter().position(|x| *x == "-I").unwrap();
        assert!(w[i + 2].parse::<usize>().is_ok(), "{fix}");
    }
    apply(&a, &mut rs);
    let healthy_rs = ruleset(&healthy);
    for (t, c) in [
        ("filter", "FORWARD"),
        ("filter", "DOCKER-ISOLATION-STAGE-1"),
        ("filter", "DOCKER-ISOLATION-STAGE-2"),
        ("nat", "POSTROUTING"),
    ] {
        assert_eq!(chain_text(&rs, t, c), chain_text(&healthy_rs, t, c), "{c}");
    }
}

#[test]
fn a_copy_above_the_jumps_is_deleted_by_number_and_a_lost_jump_restored() {
    let state = example_state(true, true);
    // A second copy of bridge1's outgoing ACCEPT above Docker's jumps, and the isolation jump
    // lost: the copy is deleted (one stays in place), the jump goes back between the others.
    let broken = B2.replace(
        "-A DOCKER-FORWARD -j DOCKER-CT\n",
        "-A DOCKER-FORWARD -i bridge1 -j ACCEPT\n-A DOCKER-FORWARD -j DOCKER-CT\n",
    );
    let broken = without(&broken, &["-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1"]);
    let mut rs = ruleset(&broken);
    let a = audit(&state, Layout::V28_0, &rs);
    assert!(a.findings.iter().any(|f| f.status == Status::WrongOrder));
    apply(&a, &mut rs);
    assert_eq!(
        chain_text(&rs, "filter", "DOCKER-FORWARD"),
        chain_text(&ruleset(B2), "filter", "DOCKER-FORWARD")
    );
    assert_eq!(audit(&state, Layout::V28_0, &rs).problems(), 0);
}

#[test]
fn forward_policy_accept_is_a_problem_only_where_nothing_else_drops() {
    let state = v20_state();
    let healthy = healthy_text(&state, Layout::V20);
    let mut rs = ruleset_with_chains(&healthy, &state, Layout::V20);
    assert_eq!(audit(&state, Layout::V20, &rs).problems(), 0);
    for t in &mut rs.tables {
        for c in &mut t.chains {
            if c.name == "FORWARD" {
                c.policy = Some(Policy::Accept);
            }
        }
    }
    let a = audit(&state, Layout::V20, &rs);
    assert_eq!(a.problems(), 1, "{:#?}", a.host);
    let h = a
        .host
        .iter()
        .find(|h| h.kind == "forward_policy_accept")
        .unwrap();
    assert!(
        h.message.contains("every port of every container"),
        "{}",
        h.message
    );
    assert!(
        h.fix
            .as_deref()
            .unwrap()
            .starts_with("iptables-nft -w -P FORWARD DROP")
    );
    // Docker 28: each network's DROP still protects: said, not counted as a problem.
    let s28 = example_state(true, true);
    let mut rs = ruleset(B2);
    for t in &mut rs.tables {
        for c in &mut t.chains {
            if c.name == "FORWARD" {
                c.policy = Some(Policy::Accept);
            }
        }
    }
    let a = audit(&s28, Layout::V28_0, &rs);
    assert_eq!(a.problems(), 0, "{:#?}", a.host);
    assert!(a.host.iter().any(|h| h.kind == "forward_policy_accept"));
}

#[test]
fn docker28_jump_above_docker_user_is_named_and_moved() {
    let state = example_state(true, true);
    let swapped = B2.replace(
        "-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-FORWARD",
        "-A FORWARD -j DOCKER-FORWARD\n-A FORWARD -j DOCKER-USER",
    );
    assert_ne!(swapped, B2);
    let mut rs = ruleset(&swapped);
    let a = audit(&state, Layout::V28_0, &rs);
    let bad: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.status.is_problem())
        .collect();
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(bad[0].status, Status::WrongOrder);
    assert_eq!(bad[0].rule, "-A FORWARD -j DOCKER-FORWARD");
    assert!(
        bad[0]
            .effect
            .as_deref()
            .unwrap()
            .starts_with("DOCKER-USER is bypassed for all forwarded container traffic")
    );
    apply(&a, &mut rs);
    assert_eq!(
        chain_text(&rs, "filter", "FORWARD"),
        ["-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-FORWARD"]
    );
    assert_eq!(audit(&state, Layout::V28_0, &rs).problems(), 0);
}

#[test]
fn a_lost_chain_is_created_and_filled_in_order() {
    let state = v20_state();
    let healthy = healthy_text(&state, Layout::V20);
    // DOCKER-USER gone with its RETURN and the FORWARD jump; nat DOCKER (empty) gone too.
    let broken = without(
        &healthy,
        &["-A DOCKER-USER -j RETURN", "-A FORWARD -j DOCKER-USER"],
    );
    let mut rs = ruleset_with_chains(&broken, &state, Layout::V20);
    for t in &mut rs.tables {
        t.chains
            .retain(|c| !(c.name == "DOCKER-USER" || (t.name == "nat" && c.name == "DOCKER")));
    }
    let a = audit(&state, Layout::V20, &rs);
    assert!(a.problems() >= 4, "{:#?}", a.host);
    let created: Vec<_> = a
        .repair
        .iter()
        .filter(|p| p.create)
        .map(|p| p.chain.as_str())
        .collect();
    assert_eq!(created, ["DOCKER-USER", "DOCKER"]);
    apply(&a, &mut rs);
    assert_eq!(audit(&state, Layout::V20, &rs).problems(), 0);
    assert_eq!(
        chain_text(&rs, "filter", "FORWARD")[0],
        "-A FORWARD -j DOCKER-USER"
    );
}

#[test]
fn the_script_checks_before_it_changes_and_says_what_it_could_not_repair() {
    let state = example_state(true, true);
    let rs = ruleset(&without(
        B2,
        &[
            "-A DOCKER-CT -o bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A DOCKER-BRIDGE -o bridge1 -j DOCKER",
        ],
    ));
    let mut a = audit(&state, Layout::V28_0, &rs);
    let s = crate::report::fix_script(&a);
    let first_change = s.find("iptables-nft -w -t").unwrap();
    for check in [
        "uses_backend iptables-nft nf_tables",
        "chain_has iptables-nft filter DOCKER-CT 1",
    ] {
        assert!(s.find(check).unwrap() < first_change, "{check}\n{s}");
    }
    assert!(
        s.contains("iptables-nft -w -t filter -I DOCKER-CT 2 -o bridge1"),
        "{s}"
    );
    assert!(!s.contains("exit 4"), "{s}");
    // A chain without a safe position: named, its checks and steps left out, exit 4 at the end.
    let p = a
        .repair
        .iter_mut()
        .find(|p| p.chain == "DOCKER-CT")
        .unwrap();
    p.refused = Some("test".into());
    p.steps.clear();
    let s = crate::report::fix_script(&a);
    assert!(
        !s.contains("chain_has iptables-nft filter DOCKER-CT"),
        "{s}"
    );
    assert!(s.contains("# NOT REPAIRED: test"), "{s}");
    assert!(s.trim_end().ends_with("exit 4"), "{s}");
    assert!(s.contains("-I DOCKER-BRIDGE 2 -o bridge1"), "{s}");
}

#[test]
fn a_builtin_chain_of_a_missing_table_is_filled_not_created() {
    // Docker 28.2+: raw PREROUTING direct-access drops; nf_tables holds no raw table at all.
    let mut state = example_state(false, true);
    state.engine_version = Some("28.3.0".into());
    let healthy = healthy_text(&state, Layout::V28_3);
    assert!(healthy.contains("*raw"), "{healthy}");
    let no_raw: String = {
        let mut out = String::new();
        let mut lines = healthy.lines();
        while let Some(l) = lines.next() {
            if l == "*raw" {
                lines.next();
                continue;
            }
            out.push_str(l);
            out.push('\n');
        }
        out
    };
    let mut rs = ruleset_with_chains(&no_raw, &state, Layout::V28_3);
    rs.tables.retain(|t| t.name != "raw");
    let a = audit(&state, Layout::V28_3, &rs);
    let p = a.repair.iter().find(|p| p.table == "raw").unwrap();
    assert!(!p.create, "{p:#?}");
    assert_eq!(p.rules_before, 0);
    rs.tables.push(Table {
        name: "raw".into(),
        chains: vec![Chain {
            name: "PREROUTING".into(),
            builtin: true,
            policy: Some(Policy::Accept),
            counters: None,
            rules: vec![],
        }],
    });
    apply(&a, &mut rs);
    assert_eq!(audit(&state, Layout::V28_3, &rs).problems(), 0);
}
