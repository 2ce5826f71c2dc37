//! Docker 29's `docker-bridges` tables (moby's own `nft list` output for each documented
//! scenario, probe/src/docker/expect/nft29/testdata) loaded into a private netns: nfprobe
//! reads them back, renders every rule as nft does, and the audit's view holds each rule in
//! the canonical form the expectations use, in the same order.

mod common;

use common::TestNetns;
use nfprobe::audit::nft::view_of;
use nfprobe::docker::expect::nft29::canonical;
use nfprobe::kernel::nft;

const FILES: [(&str, &str); 10] = [
    (
        "new-daemon",
        include_str!("../src/docker/expect/nft29/testdata/new-daemon.nft"),
    ),
    (
        "usernet-portmap",
        include_str!("../src/docker/expect/nft29/testdata/usernet-portmap.nft"),
    ),
    (
        "usernet-portmap-lo",
        include_str!("../src/docker/expect/nft29/testdata/usernet-portmap-lo.nft"),
    ),
    (
        "usernet-portmap-noproxy",
        include_str!("../src/docker/expect/nft29/testdata/usernet-portmap-noproxy.nft"),
    ),
    (
        "usernet-portmap-noicc",
        include_str!("../src/docker/expect/nft29/testdata/usernet-portmap-noicc.nft"),
    ),
    (
        "usernet-portmap-natunprot",
        include_str!("../src/docker/expect/nft29/testdata/usernet-portmap-natunprot.nft"),
    ),
    (
        "usernet-portmap-routed",
        include_str!("../src/docker/expect/nft29/testdata/usernet-portmap-routed.nft"),
    ),
    (
        "usernet-internal",
        include_str!("../src/docker/expect/nft29/testdata/usernet-internal.nft"),
    ),
    (
        "unit-proxyoff-snat-lo-ip",
        include_str!("../src/docker/expect/nft29/testdata/unit-proxyoff-snat-lo-ip.nft"),
    ),
    (
        "unit-proxyoff-snat-lo-ip6",
        include_str!("../src/docker/expect/nft29/testdata/unit-proxyoff-snat-lo-ip6.nft"),
    ),
];

/// (chain, rule lines) of a listing, in order.
fn rules_of(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_chain = false;
    for l in text.lines().map(str::trim) {
        if let Some(c) = l.strip_prefix("chain ") {
            out.push((c.trim_end_matches(" {").to_owned(), Vec::new()));
            in_chain = true;
        } else if l == "}" || l.starts_with("map ") {
            in_chain = false;
        } else if in_chain && !l.is_empty() && !l.starts_with("type ") {
            out.last_mut().unwrap().1.push(canonical(l));
        }
    }
    out
}

#[test]
fn docker29_tables_read_back_rule_by_rule() {
    for (name, text) in FILES {
        let ns = TestNetns::new("d29");
        // nft 1.0.6 prints (and accepts) the output hook's dstnat priority only as -100.
        let load = text.replace(
            "type nat hook output priority dstnat",
            "type nat hook output priority -100",
        );
        ns.run_stdin(&["nft", "-f", "-"], &load);
        let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
        // The renderer prints what nft prints.
        let family = if name.ends_with("ip6") { "ip6" } else { "ip" };
        let want = ns.run(&["nft", "list", "table", family, "docker-bridges"]);
        let t = snap
            .tables
            .iter()
            .find(|t| t.name == "docker-bridges")
            .unwrap();
        let mut got = String::new();
        nfprobe::ruleset::nft_text::table(&mut got, t);
        assert_eq!(got, want, "{name}: renderer differs from nft");
        // The audit's view: every rule decoded, in order, canonical as the file says.
        let view = view_of(&snap).unwrap();
        let vt = &view.tables[0];
        for (chain, rules) in rules_of(text) {
            let c = vt.chains.iter().find(|c| c.name == chain).unwrap();
            let have: Vec<String> = c.rules.iter().map(|r| canonical(&r.text)).collect();
            assert_eq!(have, rules, "{name}: chain {chain}");
            assert!(c.rules.iter().all(|r| r.decoded), "{name}: {chain}");
        }
        assert_eq!(vt.maps.len(), 4, "{name}");
        let fwd = vt
            .maps
            .iter()
            .find(|m| m.name == "filter-forward-in-jumps")
            .unwrap();
        assert!(
            fwd.elements
                .iter()
                .all(|e| e.contains(": jump filter-forward-in__")),
            "{fwd:?}"
        );
    }
}

/// Docker's own spelling (what it feeds to `nft -f`) reads back as the expectations' spelling:
/// one-element sets become plain comparisons, two-element sets (trusted host interfaces)
/// stay sets, `iifname ==` loses its `==`, bare comments get quotes.
#[test]
fn docker_spelling_reads_back_canonically() {
    let ns = TestNetns::new("d29s");
    ns.run_stdin(
        &["nft", "-f", "-"],
        "table ip docker-bridges {
            chain raw-PREROUTING {
                type filter hook prerouting priority raw; policy accept;
                ip daddr 192.0.2.2 iifname != { bridge1, } counter drop comment \"DROP DIRECT ACCESS\"
                ip daddr 192.0.2.3 iifname != { eth1, bridge1 } counter drop comment \"DROP DIRECT ACCESS\"
            }
            chain filter-forward-in__bridge1 {
                iifname == bridge1 counter accept comment ICC
                ip daddr != 127.0.0.1/8 fib daddr type local counter accept
            }
        }",
    );
    let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let view = view_of(&snap).unwrap();
    let rules = |c: &str| -> Vec<String> {
        view.tables[0]
            .chains
            .iter()
            .find(|x| x.name == c)
            .unwrap()
            .rules
            .iter()
            .map(|r| canonical(&r.text))
            .collect()
    };
    assert_eq!(
        rules("raw-PREROUTING"),
        [
            canonical(
                "ip daddr 192.0.2.2 iifname != \"bridge1\" counter drop comment \"DROP DIRECT ACCESS\""
            ),
            canonical("ip daddr 192.0.2.3 iifname != { \"bridge1\", \"eth1\" } drop"),
        ]
    );
    assert_eq!(
        rules("filter-forward-in__bridge1"),
        [
            canonical("iifname \"bridge1\" counter accept comment \"ICC\""),
            canonical("ip daddr != 127.0.0.0/8 fib daddr type local accept"),
        ]
    );
}

/// Every object nfprobe expects for a busy Docker 29 host (default bridge, dual-stack network
/// with SNAT and a loopback binding, nat-unprotected, routed, internal, trusted host
/// interfaces; userland proxy off), created in a private netns from the expectation's own
/// `nft` commands (the ones `--fix-script` prints), reads back as exactly what is expected:
/// every rule and element ok, nothing extra, no host finding.
#[test]
fn expected_objects_created_by_their_fix_commands_audit_clean() {
    use nfprobe::audit::nft::audit;
    use nfprobe::docker::expect::nft29::{NftItem, TABLE};
    use nfprobe::docker::expect::{Layout, expect};
    use nfprobe::docker::state::DockerState;

    let state: DockerState = serde_json::from_str(
        r#"{
        "engine_version": "29.0.0",
        "daemon": {"userland-proxy": false, "firewall-backend": "nftables", "ip6tables": true},
        "networks": [
          {"name": "bridge", "bridge": "docker0",
           "subnets": [{"subnet": "172.17.0.0/16"}]},
          {"name": "dual", "bridge": "br-dual", "enable_ipv6": true,
           "subnets": [{"subnet": "192.0.2.0/24"}, {"subnet": "fd00:1::/64"}],
           "host_ipv4": "198.51.100.7", "host_ipv6": "fd00:9::7",
           "options": {"com.docker.network.bridge.trusted_host_interfaces": "eth1:eth2"}},
          {"name": "unprot", "bridge": "br-unprot", "icc": false,
           "gateway_mode_ipv4": "nat-unprotected", "subnets": [{"subnet": "192.0.3.0/24"}]},
          {"name": "routed", "bridge": "br-routed", "enable_ipv6": true,
           "gateway_mode_ipv4": "routed", "gateway_mode_ipv6": "routed",
           "subnets": [{"subnet": "192.0.4.0/24"}, {"subnet": "fd00:4::/64"}]},
          {"name": "inside", "bridge": "br-inside", "internal": true, "icc": false,
           "subnets": [{"subnet": "192.0.5.0/24"}]}
        ],
        "containers": [
          {"name": "web", "endpoints": [{"network": "dual", "ipv4": "192.0.2.2", "ipv6": "fd00:1::2"}],
           "ports": [{"host_port": 8080, "container_port": 80},
                     {"host_ip": "127.0.0.1", "host_port": 8081, "container_port": 81, "proto": "udp"}]},
          {"name": "u", "endpoints": [{"network": "unprot", "ipv4": "192.0.3.2"}],
           "ports": [{"host_port": 9090, "container_port": 90}]},
          {"name": "r", "endpoints": [{"network": "routed", "ipv4": "192.0.4.2", "ipv6": "fd00:4::2"}],
           "ports": [{"host_port": 7070, "container_port": 70, "proto": "sctp"}]},
          {"name": "i", "endpoints": [{"network": "inside", "ipv4": "192.0.5.2"}]}
        ]}"#,
    )
    .unwrap();
    let e = expect(&state, Layout::V29Nft);
    let mut script = String::new();
    for fam in ["ip", "ip6"] {
        script.push_str(&format!("add table {fam} {TABLE}\n"));
    }
    // Chains and maps first (elements and rules refer to them), then the rest in order.
    for x in e
        .nft
        .iter()
        .filter(|x| matches!(x.item, NftItem::Chain { .. } | NftItem::Map))
    {
        script.push_str(&x.create());
        script.push('\n');
    }
    for x in e
        .nft
        .iter()
        .filter(|x| matches!(x.item, NftItem::Rule { .. } | NftItem::Element { .. }))
    {
        script.push_str(&x.create());
        script.push('\n');
    }
    let ns = TestNetns::new("d29x");
    ns.run_stdin(&["nft", "-f", "-"], &script);
    let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let view = view_of(&snap).unwrap();
    let (findings, host) = audit(&e, Some(&view));
    let bad: Vec<_> = findings
        .iter()
        .filter(|f| f.status != nfprobe::audit::Status::Ok)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}\n{script}");
    assert!(host.is_empty(), "{host:#?}");
    let n = e
        .nft
        .iter()
        .filter(|x| matches!(x.item, NftItem::Rule { .. } | NftItem::Element { .. }))
        .count();
    assert_eq!(findings.len(), n);
    // The expectation covers what the settings imply.
    for want in [
        "snat to fd00:9::7",
        "dnat to [fd00:1::2]:80",
        "ip6 saddr != fe80::/10",
        "DROP REMOTE LOOPBACK",
        "UNPROTECTED",
        "meta l4proto ipv6-icmp",
        "INTERNAL NETWORK EGRESS",
        "\"eth2\"",
    ] {
        assert!(script.contains(want), "{want} not expected:\n{script}");
    }
}

/// A Docker 29 nftables host with the settings modelled beyond the documented scenarios:
/// `--bridge-accept-fwmark 0x2/0x3`, `--allow-direct-routing`, legacy `--link` on the default
/// bridge with icc=false (dual stack, so the IPv4-only link rules and the per-family fwmark
/// rules are both exercised).
fn settings_state() -> nfprobe::docker::state::DockerState {
    serde_json::from_str(
        r#"{
        "engine_version": "29.0.0",
        "daemon": {"firewall-backend": "nftables", "ip6tables": true, "icc": false,
                   "bridge-accept-fwmark": "0x2/0x3", "allow-direct-routing": true},
        "networks": [
          {"name": "bridge", "bridge": "docker0", "icc": false, "enable_ipv6": true,
           "subnets": [{"subnet": "172.17.0.0/16"}, {"subnet": "fd00:17::/64"}]},
          {"name": "web", "bridge": "br-web",
           "subnets": [{"subnet": "192.0.2.0/24"}]}
        ],
        "containers": [
          {"name": "db", "endpoints": [{"network": "bridge", "ipv4": "172.17.0.2", "ipv6": "fd00:17::2"}],
           "exposed": [{"port": 5432}],
           "ports": [{"host_port": 5353, "container_port": 53, "proto": "udp"}]},
          {"name": "app", "endpoints": [{"network": "bridge", "ipv4": "172.17.0.3", "ipv6": "fd00:17::3"}],
           "links": ["db"]},
          {"name": "w", "endpoints": [{"network": "web", "ipv4": "192.0.2.2"}],
           "ports": [{"host_port": 8080, "container_port": 80}]}
        ]}"#,
    )
    .unwrap()
}

/// Create every expected object in `ns` from the expectation's own `nft` commands.
fn create_all(ns: &TestNetns, e: &nfprobe::docker::expect::Expectation) {
    use nfprobe::docker::expect::nft29::{NftItem, TABLE};
    let mut script = String::new();
    for fam in ["ip", "ip6"] {
        script.push_str(&format!("add table {fam} {TABLE}\n"));
    }
    for pass in [true, false] {
        for x in &e.nft {
            if matches!(x.item, NftItem::Chain { .. } | NftItem::Map) == pass {
                script.push_str(&x.create());
                script.push('\n');
            }
        }
    }
    ns.run_stdin(&["nft", "-f", "-"], &script);
}

fn audit_ns(
    ns: &TestNetns,
    e: &nfprobe::docker::expect::Expectation,
) -> Vec<nfprobe::audit::Finding> {
    let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let view = view_of(&snap).unwrap();
    let (findings, host) = nfprobe::audit::nft::audit(e, Some(&view));
    assert!(host.is_empty(), "{host:#?}");
    findings
}

/// What Docker 29.0 writes for these settings (moby nftabler network.go `nftFwMark`, link.go
/// `updateLegacyLinkRules`: its own words, as it feeds them to nft) reads back from the kernel
/// as exactly the rules nfprobe expects.
#[test]
fn docker_spelling_of_fwmark_and_link_rules_reads_back_as_expected() {
    use nfprobe::docker::expect::{Layout, expect};
    let ns = TestNetns::new("d29f");
    ns.run_stdin(
        &["nft", "-f", "-"],
        "table ip docker-bridges {
            chain filter-forward-in__docker0 {
                ct state established,related counter accept
                meta mark and 3 == 2 counter accept comment \"ALLOW FW MARK\"
                ip saddr 172.17.0.3 ip daddr 172.17.0.2 udp dport 53 counter accept
                ip saddr 172.17.0.2 udp sport 53 ip daddr 172.17.0.3 counter accept
                ip saddr 172.17.0.3 ip daddr 172.17.0.2 tcp dport 5432 counter accept
                ip saddr 172.17.0.2 tcp sport 5432 ip daddr 172.17.0.3 counter accept
                iifname == docker0 counter drop comment ICC
            }
        }
        table ip6 docker-bridges {
            chain filter-forward-in__docker0 {
                ct state established,related counter accept
                meta mark and 3 == 2 counter accept comment \"ALLOW FW MARK\"
                iifname == docker0 counter drop comment ICC
            }
        }",
    );
    let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let view = view_of(&snap).unwrap();
    let e = expect(&settings_state(), Layout::V29Nft);
    for t in &view.tables {
        let have: Vec<String> = t.chains[0]
            .rules
            .iter()
            .map(|r| canonical(&r.text))
            .collect();
        let want: Vec<String> = e
            .nft
            .iter()
            .filter(|x| x.family == t.family && x.chain == "filter-forward-in__docker0")
            .filter_map(|x| match &x.item {
                nfprobe::docker::expect::nft29::NftItem::Rule { rule } => Some(canonical(rule)),
                _ => None,
            })
            .take(have.len())
            .collect();
        assert_eq!(have, want, "{:?}", t.family);
    }
}

/// The settings' rules created from their fix commands audit clean (no DROP DIRECT ACCESS is
/// expected with allow-direct-routing, and none is there); then each fwmark and link rule,
/// deleted from the kernel, is reported exactly as `missing` with an `nft insert rule` that
/// puts it back in place, after which the audit is clean again.
#[test]
fn fwmark_link_and_direct_routing_rules_audit_clean_and_each_loss_is_missing() {
    use nfprobe::audit::Status;
    use nfprobe::docker::expect::nft29::NftItem;
    use nfprobe::docker::expect::{Layout, expect};
    let e = expect(&settings_state(), Layout::V29Nft);
    assert!(
        !e.nft.iter().any(
            |x| matches!(&x.item, NftItem::Rule { rule } if rule.contains("DROP DIRECT ACCESS"))
        ),
        "allow-direct-routing: no direct-access drop"
    );
    let ns = TestNetns::new("d29g");
    create_all(&ns, &e);
    let clean = audit_ns(&ns, &e);
    let bad: Vec<_> = clean.iter().filter(|f| f.status != Status::Ok).collect();
    assert!(bad.is_empty(), "{bad:#?}");
    let targets: Vec<(nfprobe::ruleset::Family, String, String)> = e
        .nft
        .iter()
        .filter_map(|x| match &x.item {
            NftItem::Rule { rule }
                if rule.contains("FW MARK")
                    || (rule.starts_with("ip saddr 172.17.0.") && rule.ends_with("accept")) =>
            {
                Some((x.family, x.chain.clone(), rule.clone()))
            }
            _ => None,
        })
        .collect();
    // fwmark: docker0 and br-web (IPv4), docker0 (IPv6); links: 2 ports x 2 directions.
    assert_eq!(targets.len(), 3 + 4, "{targets:#?}");
    for (family, chain, rule) in &targets {
        let fam = if *family == nfprobe::ruleset::Family::Ipv4 {
            "ip"
        } else {
            "ip6"
        };
        let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
        let view = view_of(&snap).unwrap();
        let handle = view
            .tables
            .iter()
            .find(|t| t.family == *family)
            .and_then(|t| t.chains.iter().find(|c| &c.name == chain))
            .and_then(|c| {
                c.rules
                    .iter()
                    .find(|r| canonical(&r.text) == canonical(rule))
            })
            .map(|r| r.handle)
            .unwrap_or_else(|| panic!("{rule} not in the kernel"));
        let h = handle.to_string();
        ns.run(&[
            "nft",
            "delete",
            "rule",
            fam,
            "docker-bridges",
            chain,
            "handle",
            &h,
        ]);
        let found = audit_ns(&ns, &e);
        let bad: Vec<_> = found.iter().filter(|f| f.status != Status::Ok).collect();
        assert_eq!(bad.len(), 1, "{rule}: {bad:#?}");
        let f = bad[0];
        assert_eq!(f.status, Status::Missing, "{rule}");
        assert_eq!(canonical(&f.rule), canonical(rule));
        assert_eq!(&f.chain, chain);
        let fix = f.fix.clone().unwrap();
        assert!(
            fix.starts_with(&format!(
                "nft 'insert rule {fam} docker-bridges {chain} handle "
            )),
            "{fix}"
        );
        assert!(f.effect.as_deref().is_some_and(|x| !x.is_empty()));
        ns.run(&["sh", "-c", &fix]);
        let again = audit_ns(&ns, &e);
        let bad: Vec<_> = again.iter().filter(|f| f.status != Status::Ok).collect();
        assert!(bad.is_empty(), "after `{fix}`: {bad:#?}");
    }
}

/// The same host through the binary and a hand-written bundle (`bridge-accept-fwmark`,
/// `allow-direct-routing`, `links`, `exposed` as docs/bundle.md spells them): `check
/// --docker-state` exits 0 with every finding ok; with one link rule deleted it exits 1 and
/// names exactly that rule as missing.
#[test]
fn bundle_with_the_new_settings_checks_clean_through_the_binary() {
    use nfprobe::docker::expect::{Layout, expect};
    let state = settings_state();
    let e = expect(&state, Layout::V29Nft);
    let ns = TestNetns::new("d29c");
    for s in [
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        "net.ipv6.conf.default.forwarding=1",
    ] {
        ns.run(&["sysctl", "-qw", s]);
    }
    create_all(&ns, &e);
    /// Removed on drop, also when an assertion fails.
    struct Dir(std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = Dir(std::env::temp_dir().join(format!("nfp-d29c-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("bundle.json");
    let bundle = serde_json::json!({
        "format": "nfprobe-bundle",
        "version": 1,
        "docker": serde_json::to_value(&state).unwrap(),
    });
    std::fs::write(&file, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nfprobe"))
            .args(["--netns", &ns.name, "check", "--docker-state"])
            .arg(&file)
            .arg("--json")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let problems = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] != "ok")
            .cloned()
            .collect()
    };
    let (code, v) = run();
    assert_eq!(code, Some(0), "{:#?}\n{:#?}", problems(&v), v["host"]);
    let link = "ip saddr 172.17.0.2 tcp sport 5432 ip daddr 172.17.0.3 counter accept";
    let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let view = view_of(&snap).unwrap();
    let handle = view
        .tables
        .iter()
        .find(|t| t.family == nfprobe::ruleset::Family::Ipv4)
        .unwrap()
        .chains
        .iter()
        .find(|c| c.name == "filter-forward-in__docker0")
        .unwrap()
        .rules
        .iter()
        .find(|r| canonical(&r.text) == canonical(link))
        .unwrap()
        .handle;
    ns.run(&[
        "nft",
        "delete",
        "rule",
        "ip",
        "docker-bridges",
        "filter-forward-in__docker0",
        "handle",
        &handle.to_string(),
    ]);
    let (code, v) = run();
    assert_eq!(code, Some(1));
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "missing");
    assert_eq!(canonical(p[0]["rule"].as_str().unwrap()), canonical(link));
    assert!(
        p[0]["effect"]
            .as_str()
            .unwrap()
            .contains("db can no longer open connections")
    );
}

/// A verdict map nfprobe cannot print exactly (here: an element carries a comment, which it
/// does not render) makes each expected element of that map undecodable, never ok, missing or
/// extra; a rule it cannot print in a Docker chain makes a lost rule of that chain
/// undecodable, not missing.
#[test]
fn maps_and_rules_nfprobe_cannot_render_are_undecodable_in_check() {
    use nfprobe::audit::Status;
    use nfprobe::docker::expect::nft29::NftItem;
    use nfprobe::docker::expect::{Layout, expect};
    let e = expect(&settings_state(), Layout::V29Nft);
    let ns = TestNetns::new("d29u");
    create_all(&ns, &e);
    let (map, key) = e
        .nft
        .iter()
        .find_map(|x| match &x.item {
            NftItem::Element { key, .. } if x.family == nfprobe::ruleset::Family::Ipv4 => {
                Some((x.chain.clone(), key.clone()))
            }
            _ => None,
        })
        .expect("an IPv4 map element is expected");
    let before = audit_ns(&ns, &e);
    assert!(before.iter().all(|f| f.status == Status::Ok));
    ns.run(&[
        "nft",
        "add",
        "element",
        "ip",
        "docker-bridges",
        &map,
        "{ \"nfp-extra0\" comment \"by hand\" : drop }",
    ]);
    let found = audit_ns(&ns, &e);
    let of_map: Vec<_> = found
        .iter()
        .filter(|f| {
            f.family == nfprobe::ruleset::Family::Ipv4
                && f.chain == map
                && f.rule.starts_with("element ")
        })
        .collect();
    assert!(of_map.iter().any(|f| f.rule.contains(&key)), "{of_map:#?}");
    for f in &of_map {
        assert_eq!(f.status, Status::Undecodable, "{f:#?}");
        assert!(
            f.detail.as_deref().is_some_and(|d| d.contains("comments")),
            "{f:#?}"
        );
    }
    assert!(
        !found.iter().any(|f| f.rule.contains("nfp-extra0")),
        "an element of an unreadable map is not reported as extra"
    );

    // A rule nfprobe cannot print (meta skuid: nft prints user names) in a chain that lost one of Docker's rules.
    let (chain, rule) = e
        .nft
        .iter()
        .find_map(|x| match &x.item {
            NftItem::Rule { rule }
                if x.family == nfprobe::ruleset::Family::Ipv4 && rule.contains("FW MARK") =>
            {
                Some((x.chain.clone(), rule.clone()))
            }
            _ => None,
        })
        .expect("a fwmark rule");
    let snap = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let view = view_of(&snap).unwrap();
    let handle = view
        .tables
        .iter()
        .find(|t| t.family == nfprobe::ruleset::Family::Ipv4)
        .and_then(|t| t.chains.iter().find(|c| c.name == chain))
        .and_then(|c| {
            c.rules
                .iter()
                .find(|r| canonical(&r.text) == canonical(&rule))
        })
        .map(|r| r.handle.to_string())
        .expect("the fwmark rule is in the kernel");
    ns.run(&[
        "nft",
        "delete",
        "rule",
        "ip",
        "docker-bridges",
        &chain,
        "handle",
        &handle,
    ]);
    ns.run(&[
        "nft",
        "add",
        "rule",
        "ip",
        "docker-bridges",
        &chain,
        "meta",
        "skuid",
        "0",
        "counter",
    ]);
    let found = audit_ns(&ns, &e);
    let f = found
        .iter()
        .find(|f| f.chain == chain && canonical(&f.rule) == canonical(&rule))
        .expect("the lost rule has a finding");
    assert_eq!(f.status, Status::Undecodable, "{f:#?}");
    let extra = found
        .iter()
        .find(|f| f.chain == chain && f.rule.contains("undecodable"))
        .expect("the unreadable rule is reported");
    assert!(extra.rule.contains("meta skuid"), "{extra:#?}");
}
