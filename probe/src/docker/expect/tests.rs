//! The reference's Docker 28.0.1 worked examples (b.1, b.2, b.4): the expectation must be
//! exactly the rules Docker's generated documents list, and their order must satisfy every
//! ordering constraint. The listings live in `worked/*.rules`, shared with the end-to-end
//! test tests/tests/check_worked_examples.rs.

use super::*;
use crate::docker::state::*;

pub(crate) fn example_state(proxy: bool, with_user_net: bool) -> DockerState {
    let mut nets = vec![Network {
        id: "f".repeat(64),
        bridge: "docker0".into(),
        subnets: vec![Subnet {
            subnet: "172.17.0.0/16".parse().unwrap(),
            gateway: Some("172.17.0.1".parse().unwrap()),
        }],
        ..Network::with_defaults("bridge")
    }];
    let mut containers = vec![];
    if with_user_net {
        let mut n = nets[0].clone();
        n.name = "bridge1".into();
        n.bridge = "bridge1".into();
        n.subnets = vec![Subnet {
            subnet: "192.0.2.0/24".parse().unwrap(),
            gateway: Some("192.0.2.1".parse().unwrap()),
        }];
        nets.push(n);
        containers.push(Container {
            name: "c1".into(),
            id: String::new(),
            endpoints: vec![Endpoint {
                network: "bridge1".into(),
                ipv4: Some("192.0.2.2".parse().unwrap()),
                ipv6: None,
            }],
            ports: vec![PortBinding {
                host_ip: Some("0.0.0.0".parse().unwrap()),
                host_port: 8080,
                container_port: 80,
                proto: Proto::Tcp,
            }],
            ports_network: None,
            exposed: vec![],
            links: vec![],
        });
    }
    DockerState {
        source: StateSource::Bundle,
        degraded: None,
        engine_version: Some("28.0.1".into()),
        daemon: DaemonSettings {
            userland_proxy: proxy,
            ip6tables: Some(false),
            ..Default::default()
        },
        networks: nets,
        containers,
        swarm: None,
    }
}

pub(crate) const B1: &str = include_str!("worked/b1.rules");

pub(crate) const B2: &str = concat!(
    include_str!("worked/b2-filter.rules"),
    include_str!("worked/b2-nat-raw.rules")
);

pub(crate) const B4_NAT_RAW: &str = include_str!("worked/b4-nat-raw.rules");

/// `*table` / `-A CHAIN args` lines → (table, chain, rule) in order.
pub(crate) fn parse_save(text: &str) -> Vec<(String, String, Rule)> {
    let mut table = String::new();
    let mut out = Vec::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(t) = l.strip_prefix('*') {
            table = t.into();
            continue;
        }
        let w: Vec<String> = l.split_whitespace().map(String::from).collect();
        assert_eq!(w[0], "-A");
        let rule = to_rule(Family::Ipv4, &w[2..]).unwrap();
        out.push((table.clone(), w[1].clone(), rule));
    }
    out
}

/// Whether a chain of iptables' own (a hook's) carries that name.
pub(crate) fn is_builtin_chain(name: &str) -> bool {
    matches!(
        name,
        "FORWARD" | "PREROUTING" | "POSTROUTING" | "OUTPUT" | "INPUT"
    )
}

/// A ruleset holding `text`'s `*table` / `-A` lines, tables and chains in first-seen order;
/// `chain` gives each chain's built-in flag and policy from its name.
pub(crate) fn ruleset_from_save(
    backend: crate::ruleset::Backend,
    family: Family,
    text: &str,
    chain: impl Fn(&str) -> (bool, Option<crate::ruleset::Policy>),
) -> crate::ruleset::Ruleset {
    use crate::ruleset::{Chain, Table};
    let mut tables: Vec<Table> = Vec::new();
    for (t, c, r) in parse_save(text) {
        let ti = match tables.iter().position(|x| x.name == t) {
            Some(i) => i,
            None => {
                tables.push(Table {
                    name: t.clone(),
                    chains: vec![],
                });
                tables.len() - 1
            }
        };
        let table = &mut tables[ti];
        let ci = match table.chains.iter().position(|x| x.name == c) {
            Some(i) => i,
            None => {
                let (builtin, policy) = chain(&c);
                table.chains.push(Chain {
                    name: c.clone(),
                    builtin,
                    policy,
                    counters: None,
                    rules: vec![],
                });
                table.chains.len() - 1
            }
        };
        table.chains[ci].rules.push(r);
    }
    crate::ruleset::Ruleset {
        backend,
        family,
        genid: None,
        tables,
    }
}

fn check(state: &DockerState, text: &str, only_tables: &[&str]) {
    assert_layout(state, Layout::V28_0, text, only_tables);
}

/// The expectation's (table, chain, rule) in `tables` (all when empty) equals `text` exactly,
/// each once, and every ordering constraint holds in `text`'s order.
pub(crate) fn assert_layout(state: &DockerState, layout: Layout, text: &str, tables: &[&str]) {
    let e = expect(state, layout);
    let canon = canonical(&e);
    let want = parse_save(text);
    let wanted = |t: &str| tables.is_empty() || tables.contains(&t);
    let got: Vec<(String, String, Rule)> = e
        .rules
        .iter()
        .zip(&canon)
        .filter(|(r, _)| wanted(&r.table))
        .map(|(r, c)| (r.table.clone(), r.chain.clone(), c.clone().unwrap()))
        .collect();
    for g in &got {
        assert!(want.contains(g), "expected but not in the listing: {g:?}");
    }
    for w in &want {
        assert!(got.contains(w), "in the listing but not expected: {w:?}");
    }
    assert_eq!(got.len(), want.len(), "each rule once");
    // Each rule's rank (where Docker's programming leaves it) is its place in the listing.
    let listed = |i: usize| {
        let r = canon[i].as_ref().unwrap();
        want.iter()
            .position(|(t, c, w)| *t == e.rules[i].table && *c == e.rules[i].chain && w == r)
            .unwrap()
    };
    for i in 0..e.rules.len() {
        for j in 0..e.rules.len() {
            let (a, b) = (&e.rules[i], &e.rules[j]);
            if i == j || !wanted(&a.table) || (a.table != b.table || a.chain != b.chain) {
                continue;
            }
            assert_eq!(
                e.rank_of(i) < e.rank_of(j),
                listed(i) < listed(j),
                "Docker's order of {} and {}",
                a.spec(),
                b.spec()
            );
        }
    }
    for o in &e.order {
        let (a, b) = (&e.rules[o.first], &e.rules[o.then]);
        if !wanted(&a.table) {
            continue;
        }
        let pos = |i: usize| {
            let r = canon[i].as_ref().unwrap();
            want.iter()
                .position(|(t, c, w)| *t == e.rules[i].table && *c == e.rules[i].chain && w == r)
                .unwrap()
        };
        assert!(
            pos(o.first) < pos(o.then),
            "{} before {}: {}",
            a.spec(),
            b.spec(),
            o.why
        );
    }
}

#[test]
fn b1_new_daemon() {
    check(&example_state(true, false), B1, &[]);
}

#[test]
fn b2_user_network_published_port_proxy_on() {
    check(&example_state(true, true), B2, &[]);
}

#[test]
fn b4_published_port_proxy_off() {
    let s = example_state(false, true);
    check(&s, B4_NAT_RAW, &["nat", "raw"]);
    // filter is identical to b.2.
    let b2_filter: String = B2.split("*nat").next().unwrap().to_owned();
    check(&s, &b2_filter, &["filter"]);
}

#[test]
fn layouts_by_version() {
    assert_eq!(
        Layout::for_version(Some((20, 10)), false),
        Some(Layout::V20)
    );
    assert_eq!(
        Layout::for_version(Some((28, 0)), false),
        Some(Layout::V28_0)
    );
    assert_eq!(
        Layout::for_version(Some((28, 2)), false),
        Some(Layout::V28_2)
    );
    assert_eq!(
        Layout::for_version(Some((28, 5)), false),
        Some(Layout::V28_3)
    );
    assert_eq!(
        Layout::for_version(Some((29, 0)), true),
        Some(Layout::V29Nft)
    );
}

#[test]
fn v20_default_bridge_matches_reference_d() {
    let mut s = example_state(true, false);
    s.engine_version = Some("20.10.24".into());
    let e = expect(&s, Layout::V20);
    let want = parse_save(
        "*filter
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
*nat
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN",
    );
    let canon = canonical(&e);
    assert_eq!(canon.len(), want.len());
    for (r, c) in e.rules.iter().zip(&canon) {
        let t = (r.table.clone(), r.chain.clone(), c.clone().unwrap());
        assert!(want.contains(&t), "{t:?}");
    }
}

#[test]
fn settings_change_rules() {
    // iptables=false: nothing.
    let mut s = example_state(true, true);
    s.daemon.iptables = false;
    assert!(expect(&s, Layout::V28_0).rules.is_empty());
    // icc=false, host_ipv4, nat-unprotected, routed, internal.
    let mut s = example_state(true, true);
    s.networks[1].icc = false;
    s.networks[1].host_ipv4 = Some("198.51.100.7".parse().unwrap());
    let e = expect(&s, Layout::V28_0);
    let specs: Vec<String> = e.rules.iter().map(Expected::spec).collect();
    assert!(specs.contains(&"-A DOCKER-FORWARD -i bridge1 -o bridge1 -j DROP".to_owned()));
    assert!(specs.contains(&"-A DOCKER-FORWARD -i bridge1 ! -o bridge1 -j ACCEPT".to_owned()));
    assert!(specs.contains(
        &"-A POSTROUTING -s 192.0.2.0/24 ! -o bridge1 -j SNAT --to-source 198.51.100.7".to_owned()
    ));
    s.networks[1].gateway_mode_ipv4 = GatewayMode::NatUnprotected;
    let specs: Vec<String> = expect(&s, Layout::V28_0)
        .rules
        .iter()
        .map(Expected::spec)
        .collect();
    assert!(specs.contains(&"-A DOCKER ! -i bridge1 -o bridge1 -j ACCEPT".to_owned()));
    assert!(
        !specs.iter().any(|s| s.contains("--dport 80 -j ACCEPT")),
        "{specs:?}"
    );
    assert!(
        !specs
            .iter()
            .any(|s| s.starts_with("-A PREROUTING -p tcp -d 192.0.2.2"))
    );
    s.networks[1].gateway_mode_ipv4 = GatewayMode::Routed;
    let specs: Vec<String> = expect(&s, Layout::V28_0)
        .rules
        .iter()
        .map(Expected::spec)
        .collect();
    assert!(specs.contains(&"-A DOCKER -o bridge1 -p icmp -j ACCEPT".to_owned()));
    assert!(specs.contains(&"-A DOCKER-ISOLATION-STAGE-1 -o bridge1 -j RETURN".to_owned()));
    assert!(!specs.iter().any(|s| s.contains("DNAT")));
    s.networks[1].internal = true;
    let specs: Vec<String> = expect(&s, Layout::V28_0)
        .rules
        .iter()
        .map(Expected::spec)
        .collect();
    assert!(
        specs.contains(
            &"-A DOCKER-ISOLATION-STAGE-1 -i bridge1 ! -d 192.0.2.0/24 -j DROP".to_owned()
        )
    );
    assert!(!specs.iter().any(|s| s.contains("-o bridge1 -j DOCKER")));
    // 29: DOCKER-INTERNAL, no skip-DNAT RETURN, no DOCKER-USER RETURN; 28.2 raw per endpoint.
    let s = example_state(true, true);
    let specs: Vec<String> = expect(&s, Layout::V29)
        .rules
        .iter()
        .map(Expected::spec)
        .collect();
    assert!(specs.contains(&"-A DOCKER-FORWARD -j DOCKER-INTERNAL".to_owned()));
    assert!(!specs.iter().any(|s| s.contains("ISOLATION")
        || s == "-A DOCKER -i bridge1 -j RETURN"
        || s == "-A DOCKER-USER -j RETURN"));
    assert!(specs.contains(&"-A PREROUTING -d 192.0.2.2 ! -i bridge1 -j DROP".to_owned()));
    // nftables: rule by rule (details in nft29/tests.rs).
    let e = expect(&s, Layout::V29Nft);
    assert!(e.rules.is_empty());
    let has = |chain: &str, rule: &str| {
        e.nft.iter().any(|n| {
            n.chain == chain
                && matches!(&n.item, super::nft29::NftItem::Rule { rule: r } if r == rule)
        })
    };
    assert!(has(
        "filter-forward-in__bridge1",
        "counter drop comment \"UNPUBLISHED PORT DROP\""
    ));
    assert!(has(
        "nat-prerouting-and-output",
        "iifname != \"bridge1\" tcp dport 8080 counter dnat to 192.0.2.2:80 comment \"DNAT\""
    ));
}
