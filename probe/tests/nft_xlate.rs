//! iptables-nft tables read from the kernel and translated to the canonical model, checked
//! against what iptables-nft-save 1.8.9 prints for the same rules.

mod common;

use std::net::IpAddr;

use common::TestNetns;
use nfprobe::kernel::nft;
use nfprobe::ruleset::xlate::iptables_ruleset;
use nfprobe::ruleset::{ExtBody, Family, Match, Policy, Rule, Target, Verdict};

const RULES: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ZED - [0:0]
:DOCKER - [0:0]
:ABC - [0:0]
-A INPUT -s 10.0.0.0/8 -d 1.2.3.4 -i eth+ -p udp --sport 53 -j ACCEPT
-A INPUT -s 10.1.2.0/255.255.0.255 -p tcp --dport 1000:2000 ! --sport 5 -j DROP
-A INPUT -f -j DROP
-A INPUT ! -p tcp -m limit --limit 5/min -j LOG --log-prefix \"x \"
-A INPUT -m mark --mark 0x1/0xff -j ACCEPT
-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN -j ACCEPT
-A FORWARD ! -i lo ! -o docker0 ! -s 192.168.0.0/16 -j RETURN
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -m comment --comment \"a b\" -j ACCEPT
-A ZED -m comment --comment kube -j ABC
-A ABC -g ZED
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -j CT --notrack
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
COMMIT
";

/// Either the words (once the extension decoder exists) or exactly the blob iptables-nft
/// itself would rebuild for that match.
fn assert_body(m: &Match, name: &str, words: &[&str], blob: &[u8]) {
    assert_eq!(m.name, name);
    match &m.body {
        ExtBody::Decoded(w) => assert_eq!(w, words, "{name}"),
        ExtBody::Raw(b) => assert_eq!(&b[..blob.len()], blob, "{name} blob"),
    }
}

fn ne16(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn iptables_nft_ipv4_tables_translate_like_iptables_nft_save() {
    let ns = TestNetns::new("xl");
    ns.run_stdin(&["iptables-nft-restore"], RULES);
    let rs = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let ipt = iptables_ruleset(&rs, Family::Ipv4);
    let names: Vec<_> = ipt.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["raw", "filter", "nat"]);
    let filter = &ipt.tables[1];
    let chains: Vec<_> = filter.chains.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        chains,
        ["INPUT", "FORWARD", "OUTPUT", "ABC", "DOCKER", "ZED"]
    );
    assert_eq!(filter.chains[1].policy, Some(Policy::Drop));
    assert!(filter.chains[1].builtin && !filter.chains[3].builtin);

    let input: &[Rule] = &filter.chains[0].rules;
    for r in input {
        assert!(r.undecoded.is_empty(), "{:?}", r.undecoded);
        assert!(r.counters.is_some());
    }
    // -s 10.0.0.0/8 -d 1.2.3.4/32 -i eth+ -p udp -m udp --sport 53 -j ACCEPT
    let r = &input[0];
    let s = r.ip.src.unwrap();
    assert_eq!(
        (s.addr, s.mask, s.invert),
        (ip("10.0.0.0"), ip("255.0.0.0"), false)
    );
    assert_eq!(r.ip.dst.unwrap().mask, ip("255.255.255.255"));
    let i = r.ip.in_iface.as_ref().unwrap();
    assert_eq!(
        (i.name.as_str(), i.wildcard, i.invert),
        ("eth", true, false)
    );
    assert_eq!(r.ip.proto.unwrap().proto, 17);
    assert_body(
        &r.matches[0],
        "udp",
        &["--sport", "53"],
        &ne16(&[53, 53, 0, 0xffff]),
    );
    assert_eq!(r.target, Target::Verdict(Verdict::Accept));
    // -s 10.1.0.0/255.255.0.255 -p tcp -m tcp ! --sport 5 --dport 1000:2000 -j DROP
    let r = &input[1];
    assert_eq!(r.ip.src.unwrap().addr, ip("10.1.0.0"));
    assert_eq!(r.ip.src.unwrap().mask, ip("255.255.0.255"));
    let mut tcp = ne16(&[5, 5, 1000, 2000]);
    tcp.extend([0, 0, 0, 1]);
    assert_body(
        &r.matches[0],
        "tcp",
        &["!", "--sport", "5", "--dport", "1000:2000"],
        &tcp,
    );
    // -f
    assert_eq!(input[2].ip.fragment, Some(false));
    // ! -p tcp -m limit --limit 5/min -j LOG --log-prefix "x "
    let r = &input[3];
    assert!(r.ip.proto.unwrap().invert);
    let mut lim = 120_000u32.to_ne_bytes().to_vec();
    lim.extend(5u32.to_ne_bytes());
    assert_body(&r.matches[0], "limit", &["--limit", "5/min"], &lim);
    assert!(matches!(&r.target, Target::Ext { name, .. } if name == "LOG"));
    // -m mark --mark 0x1/0xff
    let mut mark = 1u32.to_ne_bytes().to_vec();
    mark.extend(0xffu32.to_ne_bytes());
    mark.push(0);
    assert_body(&input[4].matches[0], "mark", &["--mark", "0x1/0xff"], &mark);
    // -p tcp -m tcp --tcp-flags SYN,ACK SYN
    let mut flags = ne16(&[0, 0xffff, 0, 0xffff]);
    flags.extend([0, 0x12, 0x02, 0]);
    assert_body(
        &input[5].matches[0],
        "tcp",
        &["--tcp-flags", "SYN,ACK", "SYN"],
        &flags,
    );
    // ! -s 192.168.0.0/16 ! -i lo ! -o docker0
    let r = &filter.chains[1].rules[0];
    assert!(r.ip.src.unwrap().invert && r.ip.in_iface.as_ref().unwrap().invert);
    let o = r.ip.out_iface.as_ref().unwrap();
    assert_eq!(
        (o.name.as_str(), o.wildcard, o.invert),
        ("docker0", false, true)
    );
    assert_eq!(r.target, Target::Verdict(Verdict::Return));

    // ABC: -g ZED ; DOCKER: tcp then comment, in that order ; ZED: -j ABC
    assert_eq!(filter.chains[3].rules[0].target, Target::Goto("ZED".into()));
    let d = &filter.chains[4].rules[0];
    assert_eq!(d.matches.len(), 2);
    assert_body(
        &d.matches[0],
        "tcp",
        &["--dport", "80"],
        &ne16(&[0, 0xffff, 80, 80]),
    );
    assert_eq!(d.matches[1].name, "comment");
    assert_eq!(
        d.matches[1].body,
        ExtBody::Decoded(vec!["--comment".into(), "\"a b\"".into()])
    );
    assert_eq!(filter.chains[5].rules[0].target, Target::Jump("ABC".into()));

    let nat = &ipt.tables[2];
    let post = nat.chains.iter().find(|c| c.name == "POSTROUTING").unwrap();
    assert!(matches!(&post.rules[0].target, Target::Ext { name, .. } if name == "MASQUERADE"));
    assert_eq!(
        nat.chains
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "missing built-ins are shown, as iptables-nft-save does"
    );
}

#[test]
fn ipv6_header_and_foreign_rules() {
    let ns = TestNetns::new("xl6");
    ns.run(&[
        "ip6tables-nft",
        "-A",
        "INPUT",
        "-s",
        "2001:db8::/48",
        "-d",
        "2001:db8:1::1",
        "-i",
        "eth0",
        "-p",
        "udp",
        "--dport",
        "53",
        "-j",
        "ACCEPT",
    ]);
    ns.run(&[
        "ip6tables-nft",
        "-A",
        "INPUT",
        "-s",
        "2001:db8::/ffff:ff00::",
        "-j",
        "DROP",
    ]);
    // A rule written by nft into the iptables table: kept, marked undecodable.
    ns.run(&[
        "nft",
        "add rule ip6 filter INPUT ct state established accept",
    ]);
    let rs = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let ipt = iptables_ruleset(&rs, Family::Ipv6);
    assert_eq!(ipt.tables.len(), 1);
    let input = &ipt.tables[0].chains[0];
    assert_eq!(input.rules.len(), 3);
    let r = &input.rules[0];
    assert_eq!(r.ip.src.unwrap().addr, ip("2001:db8::"));
    assert_eq!(r.ip.src.unwrap().mask, ip("ffff:ffff:ffff::"));
    assert_eq!(
        r.ip.dst.unwrap().mask,
        ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    );
    assert_eq!(r.ip.in_iface.as_ref().unwrap().name, "eth0");
    assert_body(
        &r.matches[0],
        "udp",
        &["--dport", "53"],
        &ne16(&[0, 0xffff, 53, 53]),
    );
    assert_eq!(input.rules[1].ip.src.unwrap().mask, ip("ffff:ff00::"));
    let foreign = &input.rules[2];
    assert!(!foreign.undecoded.is_empty());
    assert!(!foreign.is_decoded());
    assert!(
        foreign.undecoded.iter().any(|u| u.what.contains("ct")),
        "{:?}",
        foreign.undecoded
    );
}

fn live_save(ns: &TestNetns, cmd: &str, counters: bool) -> String {
    let args: &[&str] = if counters { &[cmd, "-c"] } else { &[cmd] };
    ns.run(args)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Whole tables: our read + xlate + render equals the live `iptables-nft-save`.
fn assert_same_as_save(ns: &TestNetns, family: Family) {
    let rs = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let ipt = iptables_ruleset(&rs, family);
    // The streaming reader (translate chain by chain) gives the same model.
    let streamed =
        nfprobe::ruleset::xlate::read_iptables_ruleset(Some(&ns.spec()), family).unwrap();
    assert_eq!(format!("{streamed:?}"), format!("{ipt:?}"));
    let cmd = match family {
        Family::Ipv4 => "iptables-nft-save",
        Family::Ipv6 => "ip6tables-nft-save",
    };
    for counters in [false, true] {
        let ours = nfprobe::ruleset::render::save(&ipt, counters);
        let streamed =
            nfprobe::ruleset::xlate::read_iptables_save(Some(&ns.spec()), family, counters)
                .unwrap();
        assert_eq!(streamed, ours, "streamed save text");
        let theirs = live_save(ns, cmd, counters);
        if ours != theirs {
            let mut report = String::new();
            for (a, b) in theirs.lines().zip(ours.lines()) {
                if a != b {
                    report.push_str(&format!("  save: {a}\n  ours: {b}\n"));
                }
            }
            panic!(
                "{cmd}{} differs ({} vs {} lines):\n{report}",
                if counters { " -c" } else { "" },
                theirs.lines().count(),
                ours.lines().count()
            );
        }
    }
}

#[test]
fn whole_tables_equal_iptables_nft_save() {
    let ns = TestNetns::new("sv");
    ns.run_stdin(&["iptables-nft-restore"], RULES);
    ns.run_stdin(
        &["iptables-nft-restore", "--noflush"],
        include_str!("data/kube_like.rules"),
    );
    // Some traffic so counters are not all zero.
    ns.run(&["ip", "link", "set", "lo", "up"]);
    let _ = ns.try_run(&["curl", "-s", "-m", "1", "http://127.0.0.1:9/"], None);
    assert_same_as_save(&ns, Family::Ipv4);
    ns.run_stdin(&["ip6tables-nft-restore"], include_str!("data/v6.rules"));
    assert_same_as_save(&ns, Family::Ipv6);
}

/// Enough chains for the parallel dump workers; both strategies and the live tool agree.
#[test]
fn many_chains_parallel_dump_equals_iptables_nft_save() {
    let ns = TestNetns::new("par");
    let mut rules =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for c in 0..150 {
        rules.push_str(&format!(":C{c:03} - [0:0]\n"));
    }
    for c in 0..150 {
        rules.push_str(&format!(
            "-A FORWARD -m comment --comment \"to {c}\" -j C{c:03}\n"
        ));
        for r in 0..3 {
            rules.push_str(&format!(
                "-A C{c:03} -s 10.{c}.{r}.0/24 -p tcp -m tcp --dport {} -m conntrack --ctstate NEW -j ACCEPT\n",
                1000 + r
            ));
        }
    }
    rules.push_str("COMMIT\n");
    ns.run_stdin(&["iptables-nft-restore"], &rules);
    let a = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let b = nft::read_ruleset_with(
        Some(&ns.spec()),
        &nft::ReadOptions {
            rule_dump: nft::RuleDump::PerFamily,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(a, b);
    assert_same_as_save(&ns, Family::Ipv4);
}

/// The port encodings iptables-nft 1.8.9 picks by range (one cmp for both ports, `<=` for
/// `0:N`, `>` for `! 0:N`, a range otherwise), `-j TRACE` (`meta nftrace set`) and NFLOG's
/// native `log` prefix beyond 63 bytes: all decoded and printed as iptables-nft-save does.
#[test]
fn port_encodings_trace_and_long_nflog_prefix() {
    let ns = TestNetns::new("pe");
    let long = "p".repeat(100);
    let rules = format!(
        "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp --sport 1 --dport 65535
-A INPUT -p udp --sport 65535 --dport 1 -j ACCEPT
-A INPUT -p tcp ! --sport 7 ! --dport 9
-A INPUT -p tcp ! --sport 7 --dport 9
-A INPUT -p tcp --sport :5
-A INPUT -p tcp ! --sport :5
-A INPUT -p udp ! --dport 0:1023
-A INPUT -p udp --dport 1:
-A INPUT -p udp ! --dport 1:
-A INPUT -p tcp --sport 0:65534 --dport 65535:
-A INPUT -p tcp --dport 0
-A INPUT -p tcp ! --dport 1024:65535 --tcp-flags SYN,ACK SYN
-A OUTPUT -j NFLOG --nflog-prefix {long} --nflog-group 3 --nflog-threshold 2
-A OUTPUT -j NFLOG --nflog-size 128
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp --dport 22 -j TRACE
-A OUTPUT -j TRACE
COMMIT
"
    );
    ns.run_stdin(&["iptables-nft-restore"], &rules);
    let rs = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let ipt = iptables_ruleset(&rs, Family::Ipv4);
    let mut n = 0;
    for t in &ipt.tables {
        for c in &t.chains {
            for r in &c.rules {
                assert!(r.is_decoded(), "{}: {r:?}", c.name);
                n += 1;
            }
        }
    }
    assert_eq!(n, 16);
    let text = nfprobe::ruleset::render::save(&ipt, false);
    assert!(text.contains(&format!("--nflog-prefix {long} ")), "{text}");
    assert!(text.contains("-A OUTPUT -j TRACE"), "{text}");
    assert_same_as_save(&ns, Family::Ipv4);
}
