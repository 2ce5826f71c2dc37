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
