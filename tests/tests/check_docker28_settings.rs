//! Section (c) settings a Docker 28.3 host can carry, loaded with the real iptables-nft into a
//! netns of our own: the default bridge with icc=false and a legacy `--link`, a network with
//! `com.docker.network.bridge.trusted_host_interfaces`, an SCTP port published by a daemon run
//! with DOCKER_IPTABLES_SCTP_CHECKSUM=1, and a swarm node's routing mesh (docker_gwbridge and
//! DOCKER-INGRESS). The rules are written here by hand from moby's goldens and code at v28.3.0
//! (iptabler testdata, iptablesdoc swarm-portmap.md, `ChainInfo.Link`, `filterDirectAccess`,
//! `setPerPortForwarding`, `programIngress`). `check --docker-state` reports nothing; each rule
//! deleted on its own is reported exactly, as missing, with its effect and fix.

mod check_common;

use check_common::*;
use serde_json::{Value, json};

const FILTER: &str =
    include_str!("../../probe/src/docker/expect/worked/settings-28.3-filter.rules");

const NAT: &str = include_str!("../../probe/src/docker/expect/worked/settings-28.3-nat.rules");

const RAW: &str = include_str!("../../probe/src/docker/expect/worked/settings-28.3-raw.rules");

const MANGLE: &str =
    include_str!("../../probe/src/docker/expect/worked/settings-28.3-mangle.rules");

/// The rules this test is about (the rest is the ordinary per-network layout).
const NEW_RULES: [(&str, &str); 14] = [
    (
        "filter",
        "-A DOCKER -s 172.17.0.3/32 -d 172.17.0.2/32 -i docker0 -o docker0 -p tcp -m tcp --dport 5432 -j ACCEPT",
    ),
    (
        "filter",
        "-A DOCKER -s 172.17.0.2/32 -d 172.17.0.3/32 -i docker0 -o docker0 -p tcp -m tcp --sport 5432 -j ACCEPT",
    ),
    ("raw", "-A PREROUTING -d 192.0.2.2/32 -i eth9 -j ACCEPT"),
    (
        "mangle",
        "-A POSTROUTING -p sctp -m sctp --sport 9 -j CHECKSUM --checksum-fill",
    ),
    ("filter", "-A DOCKER-FORWARD -j DOCKER-INGRESS"),
    (
        "filter",
        "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT",
    ),
    (
        "filter",
        "-A DOCKER-INGRESS -p tcp -m tcp --sport 8080 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ),
    ("filter", "-A DOCKER-INGRESS -j RETURN"),
    (
        "nat",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS",
    ),
    (
        "nat",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER-INGRESS",
    ),
    (
        "nat",
        "-A POSTROUTING -o docker_gwbridge -m addrtype --src-type LOCAL -j MASQUERADE",
    ),
    (
        "nat",
        "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080",
    ),
    ("nat", "-A DOCKER-INGRESS -j RETURN"),
    ("raw", "-A PREROUTING -d 192.0.2.2/32 ! -i bridge1 -j DROP"),
];

fn all_rules() -> String {
    format!("{FILTER}{NAT}{RAW}{MANGLE}")
}

/// What a 28.3 daemon (and a manager node's `/services`) would report, as a bundle.
fn bundle(allow_direct_routing: bool) -> Value {
    let mut docker: Value = serde_json::from_str(include_str!(
        "../../probe/src/docker/expect/worked/settings-28.3.docker.json"
    ))
    .unwrap();
    docker["daemon"]["allow-direct-routing"] = json!(allow_direct_routing);
    json!({"format": "nfprobe-bundle", "version": 1, "host": "section (c) settings",
        "docker": docker})
}

fn check(tag: &str, rules: &str, bundle: &Value) -> (i32, Value) {
    check_with(tag, rules, bundle, 1, &[])
}

fn check_with(
    tag: &str,
    rules: &str,
    bundle: &Value,
    gw_localnet: u8,
    extra: &[&str],
) -> (i32, Value) {
    let s = Scratch::new(tag);
    for b in ["docker0", "docker_gwbridge", "bridge1"] {
        s.run("ip", &["link", "add", b, "type", "bridge"], None);
    }
    // programIngress sets route_localnet on docker_gwbridge; icc=false needs br_netfilter.
    s.run(
        "sysctl",
        &[
            "-qw",
            &format!("net.ipv4.conf.docker_gwbridge.route_localnet={gw_localnet}"),
        ],
        None,
    );
    s.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"], None);
    s.run(
        "sysctl",
        &["-qw", "net.bridge.bridge-nf-call-iptables=1"],
        None,
    );
    check_loaded(&s, rules, bundle, extra)
}

fn without(text: &str, line: &str) -> String {
    let out = text.replace(&format!("{line}\n"), "");
    assert_ne!(out, text, "{line} is in the rules");
    out
}

/// All rules but `line` of `table` (nat and filter both have `-A DOCKER-INGRESS -j RETURN`).
fn all_but(table: &str, line: &str) -> String {
    [FILTER, NAT, RAW, MANGLE]
        .iter()
        .map(|t| {
            if t.starts_with(&format!("*{table}\n")) {
                without(t, line)
            } else {
                (*t).to_owned()
            }
        })
        .collect()
}

#[test]
fn settings_host_is_clean_and_each_new_rule_is_reported_exactly() {
    let (code, v) = check("set", &all_rules(), &bundle(false));
    let (p, h) = (problems(&v), host_problems(&v));
    assert!(p.is_empty() && h.is_empty(), "{p:#?}\n{h:#?}");
    assert_eq!(code, 0);
    assert_eq!(v["layout"], "v28_3");
    let n = v["findings"].as_array().unwrap().len();
    assert_eq!(
        n,
        all_rules().lines().filter(|l| l.starts_with("-A")).count(),
        "every rule is expected"
    );
    assert!(
        !v["host"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "not_modelled"),
        "{:#}",
        v["host"]
    );

    for (table, line) in NEW_RULES {
        let (code, v) = check("setx", &all_but(table, line), &bundle(false));
        assert_eq!(code, 1, "{line}");
        let p = problems(&v);
        assert_eq!(p.len(), 1, "{line}: {p:#?}");
        let f = p[0];
        assert_eq!(f["status"], "missing", "{f:#}");
        let (chain, rule) = parse_line(line);
        assert_eq!(finding_rule(f), (table.to_owned(), chain, rule), "{f:#}");
        assert!(f["effect"].as_str().is_some_and(|e| !e.is_empty()), "{f:#}");
        let fix = f["fix"].as_str().unwrap();
        assert!(
            fix.starts_with(&format!("iptables-nft -w -t {table} ")),
            "{fix}"
        );
        assert!(host_problems(&v).is_empty(), "{line}: {:#}", v["host"]);
    }
}

#[test]
fn trusted_accept_below_the_drop_is_wrong_order() {
    let accept = "-A PREROUTING -d 192.0.2.2/32 -i eth9 -j ACCEPT";
    let raw = format!("{}{accept}\n", without(RAW, accept));
    let (code, v) = check(
        "seto",
        &format!("{FILTER}{NAT}{raw}{MANGLE}"),
        &bundle(false),
    );
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "wrong_order", "{:#}", p[0]);
    assert_eq!(finding_rule(p[0]).1, "PREROUTING");
    assert!(
        p[0]["effect"].as_str().unwrap().contains("trusted"),
        "{:#}",
        p[0]
    );
}

#[test]
fn allow_direct_routing_expects_no_raw_drops() {
    // The daemon option: no direct-access rules at all.
    let (code, v) = check("setd", &format!("{FILTER}{NAT}{MANGLE}"), &bundle(true));
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert_eq!(code, 0);
    // Left over from before the option was set: each DROP is an extra rule (the trusted
    // interface's ACCEPT names no Docker bridge or chain, and does nothing without the DROP).
    let (code, v) = check("setdx", &all_rules(), &bundle(true));
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(
        p.iter()
            .all(|f| f["status"] == "extra" && f["table"] == "raw"),
        "{p:#?}"
    );
}

#[test]
fn swarm_needs_route_localnet_on_docker_gwbridge() {
    let (code, v) = check_with("setl", &all_rules(), &bundle(false), 0, &[]);
    assert_eq!(code, 1);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    let h = host_problems(&v);
    assert_eq!(h.len(), 1, "{h:#?}");
    assert_eq!(h[0]["kind"], "route_localnet_off");
    assert!(
        h[0]["message"]
            .as_str()
            .unwrap()
            .contains("docker_gwbridge"),
        "{:#}",
        h[0]
    );
}

/// iptables 1.8.11's `-C` ignores interface names: with two trusted interfaces, the second
/// interface's ACCEPT looks like the first one's, so Docker never adds it. The system iptables
/// (1.8.9) says it is missing; the 1.8.11 model claims it is there: the lie is named.
#[test]
fn second_trusted_interface_lost_to_the_1811_bug() {
    let mut b = bundle(false);
    b["docker"]["networks"][2]["options"]["com.docker.network.bridge.trusted_host_interfaces"] =
        json!("eth9:eth8");
    let lost = "-A PREROUTING -d 192.0.2.2/32 -i eth8 -j ACCEPT";
    let (code, v) = check("set2", &all_rules(), &b);
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "missing");
    assert_eq!(
        finding_rule(p[0]),
        ("raw".to_owned(), parse_line(lost).0, parse_line(lost).1)
    );
    let model = lab::bugmodel::script_path();
    let (_, v) = check_with(
        "set2m",
        &all_rules(),
        &b,
        1,
        &["--iptables", model.to_str().unwrap()],
    );
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "missing_cli_claims_present", "{:#}", p[0]);
    assert!(
        p[0]["lookalike"].as_str().unwrap().contains("-i eth9"),
        "{:#}",
        p[0]
    );
}
