//! The reference's Docker 28.0.1 worked examples (docker-firewall.md b.1, b.2, b.4), loaded
//! with the real iptables-nft into a netns of our own: `nfprobe check --docker-state` reports
//! 0 findings for each; removing one rule is reported exactly, with its effect and fix.

mod check_common;

use check_common::*;
use serde_json::{Value, json};

const B1: &str = include_str!("../../probe/src/docker/expect/worked/b1.rules");

const B2_FILTER: &str = include_str!("../../probe/src/docker/expect/worked/b2-filter.rules");

const B2_NAT_RAW: &str = include_str!("../../probe/src/docker/expect/worked/b2-nat-raw.rules");

const B4_NAT_RAW: &str = include_str!("../../probe/src/docker/expect/worked/b4-nat-raw.rules");

fn state(proxy: bool, user_net: bool) -> Value {
    let mut nets = vec![json!({"name": "bridge", "bridge": "docker0",
        "subnets": [{"subnet": "172.17.0.0/16", "gateway": "172.17.0.1"}]})];
    let mut containers = vec![];
    if user_net {
        nets.push(json!({"name": "bridge1", "id": "1".repeat(64),
            "options": {"com.docker.network.bridge.name": "bridge1"},
            "subnets": [{"subnet": "192.0.2.0/24", "gateway": "192.0.2.1"}]}));
        containers.push(json!({"name": "c1", "endpoints": [{"network": "bridge1", "ipv4": "192.0.2.2"}],
            "ports": [{"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80, "proto": "tcp"}]}));
    }
    json!({"format": "nfprobe-bundle", "version": 1, "host": "worked example",
        "docker": {"engine_version": "28.0.1",
            "daemon": {"userland-proxy": proxy, "ip6tables": false},
            "networks": nets, "containers": containers}})
}

/// Load `text` into a fresh netns the way Docker 28.0.1 leaves it, run check on `bundle`.
fn check_example(
    tag: &str,
    text: &str,
    bundle: &Value,
    proxy: bool,
    bridges: &[&str],
) -> (i32, Value) {
    let s = Scratch::new(tag);
    for b in bridges {
        s.run("ip", &["link", "add", b, "type", "bridge"], None);
        s.run(
            "sysctl",
            &[
                "-qw",
                &format!("net.ipv4.conf.{b}.route_localnet={}", u8::from(!proxy)),
            ],
            None,
        );
    }
    s.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"], None);
    check_loaded(&s, text, bundle, &[])
}

fn assert_clean(name: &str, (code, v): (i32, Value)) {
    let p = problems(&v);
    let h = host_problems(&v);
    assert!(
        p.is_empty() && h.is_empty(),
        "{name}: findings {p:#?} host {h:#?}"
    );
    assert_eq!(code, 0, "{name}");
    assert!(
        v["findings"].as_array().unwrap().len() > 10,
        "{name}: the rules were checked"
    );
}

#[test]
fn worked_examples_have_no_findings() {
    assert_clean(
        "b.1",
        check_example("b1", B1, &state(true, false), true, &["docker0"]),
    );
    let b2 = format!("{B2_FILTER}{B2_NAT_RAW}");
    assert_clean(
        "b.2",
        check_example("b2", &b2, &state(true, true), true, &["docker0", "bridge1"]),
    );
    let b4 = format!("{B2_FILTER}{B4_NAT_RAW}");
    assert_clean(
        "b.4",
        check_example(
            "b4",
            &b4,
            &state(false, true),
            false,
            &["docker0", "bridge1"],
        ),
    );
}

#[test]
fn one_removed_rule_is_reported_exactly() {
    let gone = "-A DOCKER-CT -o bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";
    let b4 = format!("{B2_FILTER}{B4_NAT_RAW}").replace(&format!("{gone}\n"), "");
    let (code, v) = check_example(
        "b4x",
        &b4,
        &state(false, true),
        false,
        &["docker0", "bridge1"],
    );
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    let f = p[0];
    assert_eq!(
        f["status"], "missing",
        "the system iptables 1.8.9 tells the truth: {f:#}"
    );
    assert_eq!(finding_rule(f).2, parse_line(gone).1);
    assert_eq!(f["network"], "bridge1");
    assert!(f["effect"].as_str().unwrap().contains("replies"), "{f:#}");
    assert!(
        f["lookalike"].as_str().unwrap().contains("-o docker0"),
        "{f:#}"
    );
    // By number, after docker0's rule: where Docker appended it.
    assert_eq!(
        f["fix"],
        "iptables-nft -w -t filter -I DOCKER-CT 2 -o bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    );
}
