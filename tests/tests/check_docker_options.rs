//! One lab per Docker option that changes the firewall (issue 13, part 2): for each, a host
//! that runs it, its rules written here by hand from moby's code at the release tags
//! (v28.5.2 internal/iptabler network.go, endpoint.go, port.go, link.go and the
//! `TestIptabler` goldens; v27.5.1 setup_ip_tables_linux.go and port_mapping_linux.go;
//! libnetwork/service_linux.go for swarm), loaded with the real iptables-nft into a netns of
//! our own. `check --docker-state` on the healthy host reports nothing and exits 0; each rule
//! the option adds, deleted on its own, is reported exactly, as missing. Options nfprobe does
//! not model are named in the report and their rules are unknown, never `extra`.

mod check_common;

use check_common::*;
use nfprobe::docker::expect::to_rule;
use nfprobe::ruleset::{Family, Rule};
use serde_json::{Value, json};

/// Chains Docker 28.x creates (iptables backend).
const CHAINS_28: &[(&str, &str)] = &[
    ("nat", "DOCKER"),
    ("filter", "DOCKER"),
    ("filter", "DOCKER-BRIDGE"),
    ("filter", "DOCKER-CT"),
    ("filter", "DOCKER-FORWARD"),
    ("filter", "DOCKER-ISOLATION-STAGE-1"),
    ("filter", "DOCKER-ISOLATION-STAGE-2"),
    ("filter", "DOCKER-USER"),
];

/// Chains Docker 20.10–27.x creates.
const CHAINS_27: &[(&str, &str)] = &[
    ("nat", "DOCKER"),
    ("filter", "DOCKER"),
    ("filter", "DOCKER-ISOLATION-STAGE-1"),
    ("filter", "DOCKER-ISOLATION-STAGE-2"),
    ("filter", "DOCKER-USER"),
];

/// Daemon-wide rules of Docker 28.3+ (setupIPChains, setupUserChain without the RETURN).
const DAEMON_28: &str = "
*filter
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-FORWARD
-A DOCKER-FORWARD -j DOCKER-CT
-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1
-A DOCKER-FORWARD -j DOCKER-BRIDGE
*nat
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
";

#[derive(Clone)]
struct Case {
    tag: &'static str,
    chains: &'static [(&'static str, &'static str)],
    /// `*table` sections of `-A` lines, the daemon-wide ones included.
    rules: String,
    /// The Engine API's view, as a bundle's `docker` section.
    docker: Value,
    /// (table, line) of the rules this option adds.
    option_rules: Vec<(&'static str, &'static str)>,
    /// The same for ip6tables (empty: no IPv6 rules).
    rules6: String,
    option_rules6: Vec<(&'static str, &'static str)>,
}

/// Merge `*table` sections (the same table may appear in several pieces).
/// The messages of the host notes that name something nfprobe does not model.
fn not_modelled(v: &Value) -> Vec<&str> {
    v["host"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "not_modelled")
        .map(|h| h["message"].as_str().unwrap())
        .collect()
}

/// The one finding that is judged (not unknown), which must be `missing`.
fn the_one_judged_is_missing(v: &Value) -> &Value {
    let judged: Vec<&Value> = problems(v)
        .into_iter()
        .filter(|f| f["status"] != "unknown")
        .collect();
    assert_eq!(judged.len(), 1, "{judged:#?}");
    assert_eq!(judged[0]["status"], "missing");
    judged[0]
}

fn merge(parts: &[&str]) -> String {
    let mut tables: Vec<(String, Vec<String>)> = Vec::new();
    for p in parts {
        let mut cur: Option<usize> = None;
        for l in p.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(t) = l.strip_prefix('*') {
                cur = Some(match tables.iter().position(|(n, _)| n == t) {
                    Some(i) => i,
                    None => {
                        tables.push((t.to_owned(), Vec::new()));
                        tables.len() - 1
                    }
                });
            } else {
                let i = cur.expect("a rule before its *table line");
                tables[i].1.push(l.to_owned());
            }
        }
    }
    tables
        .into_iter()
        .map(|(t, ls)| format!("*{t}\n{}\n", ls.join("\n")))
        .collect()
}

/// iptables-restore input: `chains` declared, FORWARD's policy DROP (dockerd enabled
/// forwarding itself).
fn restore(rules: &str, chains: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut table: Option<&str> = None;
    let close = |out: &mut String, t: Option<&str>| {
        if t.is_some() {
            out.push_str("COMMIT\n");
        }
    };
    for l in rules.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(t) = l.strip_prefix('*') {
            close(&mut out, table);
            table = Some(t);
            out.push_str(&format!("*{t}\n"));
            if t == "filter" {
                out.push_str(":FORWARD DROP [0:0]\n");
            }
            for (ct, c) in chains {
                if *ct == t {
                    out.push_str(&format!(":{c} - [0:0]\n"));
                }
            }
            // Chains only some hosts have (swarm).
            if rules.contains("DOCKER-INGRESS") && (t == "filter" || t == "nat") {
                out.push_str(":DOCKER-INGRESS - [0:0]\n");
            }
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    close(&mut out, table);
    out
}

fn bridges(docker: &Value) -> Vec<String> {
    docker["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["bridge"].as_str().unwrap().to_owned())
        .collect()
}

/// A fresh netns with `docker`'s bridges and `rules` loaded, and the bundle file.
fn prepare(c: &Case, rules: &str, docker: &Value) -> (Scratch, std::path::PathBuf) {
    let s = Scratch::new(c.tag);
    for b in bridges(docker) {
        s.run("ip", &["link", "add", &b, "type", "bridge"], None);
    }
    s.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"], None);
    // icc=false needs br_netfilter's bridge-nf-call-iptables.
    s.run(
        "sysctl",
        &["-qw", "net.bridge.bridge-nf-call-iptables=1"],
        None,
    );
    // programIngress sets route_localnet on docker_gwbridge (its absence is a host finding
    // of its own, tested elsewhere).
    if docker["swarm"].is_object() {
        s.run(
            "sysctl",
            &["-qw", "net.ipv4.conf.docker_gwbridge.route_localnet=1"],
            None,
        );
    }
    s.run("iptables-nft-restore", &[], Some(&restore(rules, c.chains)));
    if !c.rules6.is_empty() {
        s.run(
            "ip6tables-nft-restore",
            &[],
            Some(&restore(&c.rules6, c.chains)),
        );
    }
    let file = s.dir.join("bundle.json");
    let bundle = json!({"format": "nfprobe-bundle", "version": 1, "host": c.tag,
        "docker": docker});
    write_json(&file, &bundle);
    (s, file)
}

/// Load `rules` into a fresh netns with `docker`'s bridges and run `check` on the bundle.
fn check(c: &Case, rules: &str, docker: &Value) -> (i32, Value) {
    let (s, file) = prepare(c, rules, docker);
    let ns = s.path();
    nfprobe_json(&[
        "--netns",
        &ns,
        "check",
        "--docker-state",
        file.to_str().unwrap(),
    ])
}

/// The same, as the text an operator reads: (exit code, stdout).
fn check_text(c: &Case, rules: &str, docker: &Value) -> (i32, String) {
    let (s, file) = prepare(c, rules, docker);
    let ns = s.path();
    let (code, out, err) = nfprobe_text(&[
        "--netns",
        &ns,
        "check",
        "--docker-state",
        file.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{out}\n{err}");
    (code, out)
}

fn rule_count(rules: &str) -> usize {
    rules.lines().filter(|l| l.trim().starts_with("-A")).count()
}

/// `rules` without `line` in `table`.
fn without(rules: &str, table: &str, line: &str) -> String {
    let mut out = String::new();
    let mut cur = "";
    let mut removed = false;
    for l in rules.lines() {
        if let Some(t) = l.strip_prefix('*') {
            cur = t;
        } else if cur == table && l.trim() == line && !removed {
            removed = true;
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    assert!(removed, "{table}: {line} is not in the rules");
    out
}

/// Healthy: 0 findings, exit 0, every rule in the kernel expected. Then each option rule
/// deleted alone: exactly that rule missing, with its effect and fix, exit 1.
fn healthy_and_each_rule_exact(c: &Case) {
    let (code, v) = check(c, &c.rules, &c.docker);
    let (p, h) = (problems(&v), host_problems(&v));
    assert!(p.is_empty() && h.is_empty(), "{}: {p:#?}\n{h:#?}", c.tag);
    assert_eq!(code, 0, "{}", c.tag);
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        rule_count(&c.rules) + rule_count(&c.rules6),
        "{}: every rule in the kernel is expected: {:#}",
        c.tag,
        v["findings"]
    );
    assert!(not_modelled(&v).is_empty(), "{}: {:#}", c.tag, v["host"]);
    assert!(!c.option_rules.is_empty() || !c.option_rules6.is_empty());
    let cases = c
        .option_rules
        .iter()
        .map(|r| (Family::Ipv4, r))
        .chain(c.option_rules6.iter().map(|r| (Family::Ipv6, r)));
    for (family, (table, line)) in cases {
        let (code, v) = if family == Family::Ipv4 {
            check(c, &without(&c.rules, table, line), &c.docker)
        } else {
            let c6 = Case {
                rules6: without(&c.rules6, table, line),
                ..c.clone()
            };
            check(&c6, &c.rules, &c.docker)
        };
        let p = problems(&v);
        assert_eq!(p.len(), 1, "{}: without {line}: {p:#?}", c.tag);
        let f = p[0];
        assert_eq!(f["status"], "missing", "{f:#}");
        assert_eq!(
            parse_family(f["rule"].as_str().unwrap(), family),
            parse_family(line, family),
            "{f:#}"
        );
        assert_eq!(f["table"], *table, "{f:#}");
        assert_eq!(f["family"], family_word(family), "{f:#}");
        assert!(f["effect"].as_str().is_some_and(|e| !e.is_empty()), "{f:#}");
        let binary = if family == Family::Ipv4 {
            "iptables-nft"
        } else {
            "ip6tables-nft"
        };
        assert!(
            f["fix"]
                .as_str()
                .is_some_and(|x| x.starts_with(&format!("{binary} -w -t {table} "))),
            "{f:#}"
        );
        assert!(host_problems(&v).is_empty(), "{}: {:#}", c.tag, v["host"]);
        assert_eq!(code, 1, "{}: without {line}", c.tag);
    }
}

/// `-A CHAIN args...` → (chain, canonical rule) in `family`.
fn parse_family(line: &str, family: Family) -> (String, Rule) {
    let w: Vec<String> = line.split_whitespace().map(String::from).collect();
    let r = to_rule(family, &w[2..]).unwrap_or_else(|e| panic!("{line}: {e}"));
    (w[1].clone(), r)
}

/// The family as the JSON report spells it.
fn family_word(family: Family) -> Value {
    serde_json::to_value(family).unwrap()
}

fn net(name: &str, bridge: &str, subnet: &str) -> Value {
    json!({"name": name, "bridge": bridge, "subnets": [{"subnet": subnet}]})
}

fn ctr(name: &str, network: &str, ip: &str) -> Value {
    json!({"name": name, "endpoints": [{"network": network, "ipv4": ip}]})
}

fn docker(engine: &str, networks: Vec<Value>, containers: Vec<Value>) -> Value {
    json!({"engine_version": engine, "daemon": {"ip6tables": false},
        "networks": networks, "containers": containers})
}

/// gateway_mode_ipv4=nat-unprotected (28.0+): `! -i BR -o BR -j ACCEPT` instead of the DROP,
/// no per-port ACCEPT, no raw direct-access DROP (setDefaultForwardRule, setPerPortIptables,
/// filterDirectAccess @ v28.5.2).
#[test]
fn gateway_mode_nat_unprotected() {
    let mut n = net("unprot", "brunprot", "192.0.2.0/24");
    n["gateway_mode_ipv4"] = json!("nat-unprotected");
    let mut c1 = ctr("c1", "unprot", "192.0.2.2");
    c1["ports"] = json!([{"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80}]);
    let case = Case {
        tag: "oNU",
        chains: CHAINS_28,
        rules: merge(&[
            DAEMON_28,
            "*nat
            -A POSTROUTING -s 192.0.2.0/24 ! -o brunprot -j MASQUERADE
            -A DOCKER -i brunprot -j RETURN
            -A DOCKER ! -i brunprot -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80
            *filter
            -A DOCKER ! -i brunprot -o brunprot -j ACCEPT
            -A DOCKER-BRIDGE -o brunprot -j DOCKER
            -A DOCKER-CT -o brunprot -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-FORWARD -i brunprot -j ACCEPT
            -A DOCKER-ISOLATION-STAGE-1 -i brunprot ! -o brunprot -j DOCKER-ISOLATION-STAGE-2
            -A DOCKER-ISOLATION-STAGE-2 -o brunprot -j DROP",
        ]),
        docker: docker("28.5.2", vec![n], vec![c1]),
        option_rules: vec![("filter", "-A DOCKER ! -i brunprot -o brunprot -j ACCEPT")],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// The routed network's rules @ v28.5.2: no MASQUERADE or DNAT (the port mapper gives the
/// port no host port), the skip-DNAT RETURN (masquerade on, proxy on), ICMP accepted, the
/// isolation RETURN and replies ACCEPT Inserted in stage 1, the per-port ACCEPTs, no raw
/// rules.
const ROUTED: &str = "
*nat
-A DOCKER -i brrouted -j RETURN
*filter
-A DOCKER -d 198.51.100.2/32 ! -i brrouted -o brrouted -p tcp -m tcp --dport 81 -j ACCEPT
-A DOCKER -d 198.51.100.2/32 ! -i brrouted -o brrouted -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER -o brrouted -p icmp -j ACCEPT
-A DOCKER ! -i brrouted -o brrouted -j DROP
-A DOCKER-BRIDGE -o brrouted -j DOCKER
-A DOCKER-CT -o brrouted -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-FORWARD -i brrouted -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i brrouted -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -o brrouted -j RETURN
-A DOCKER-ISOLATION-STAGE-1 -i brrouted ! -o brrouted -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-2 -o brrouted -j DROP
";

fn routed_docker(engine: &str, mode: &str) -> Value {
    let mut n = net("rtd", "brrouted", "198.51.100.0/24");
    n["gateway_mode_ipv4"] = json!(mode);
    let mut c = ctr("c2", "rtd", "198.51.100.2");
    // What the Engine API lists for `-p 8080:80` on a routed network: no host port.
    // `-p 127.0.0.1:8081:81` as well: a loopback binding without a host port has no raw
    // loopback DROP (filterPortMappedOnLoopback needs a host port).
    c["ports"] = json!([{"host_ip": "0.0.0.0", "host_port": 0, "container_port": 80},
        {"host_ip": "127.0.0.1", "host_port": 0, "container_port": 81}]);
    docker(engine, vec![n], vec![c])
}

#[test]
fn gateway_mode_routed() {
    let case = Case {
        tag: "oRT",
        chains: CHAINS_28,
        rules: merge(&[DAEMON_28, ROUTED]),
        docker: routed_docker("28.5.2", "routed"),
        option_rules: vec![
            (
                "filter",
                "-A DOCKER -d 198.51.100.2/32 ! -i brrouted -o brrouted -p tcp -m tcp --dport 80 -j ACCEPT",
            ),
            ("filter", "-A DOCKER -o brrouted -p icmp -j ACCEPT"),
            (
                "filter",
                "-A DOCKER-ISOLATION-STAGE-1 -i brrouted -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            ),
            (
                "filter",
                "-A DOCKER-ISOLATION-STAGE-1 -o brrouted -j RETURN",
            ),
        ],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// Docker 27.x, gateway_mode_ipv4=routed (v27.5.1 `setupIPTablesInternal`: `natDisabled`):
/// rules in FORWARD, no MASQUERADE, no skip-DNAT RETURN, no DNAT or hairpin, the per-port
/// ACCEPT kept.
#[test]
fn gateway_mode_routed_on_27() {
    let case = Case {
        tag: "oR27",
        chains: CHAINS_27,
        rules: merge(&["*filter
            -A FORWARD -j DOCKER-USER
            -A FORWARD -j DOCKER-ISOLATION-STAGE-1
            -A FORWARD -o brrouted -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A FORWARD -o brrouted -j DOCKER
            -A FORWARD -i brrouted ! -o brrouted -j ACCEPT
            -A FORWARD -i brrouted -o brrouted -j ACCEPT
            -A DOCKER -d 198.51.100.2/32 ! -i brrouted -o brrouted -p tcp -m tcp --dport 80 -j ACCEPT
            -A DOCKER -d 198.51.100.2/32 ! -i brrouted -o brrouted -p tcp -m tcp --dport 81 -j ACCEPT
            -A DOCKER-ISOLATION-STAGE-1 -i brrouted ! -o brrouted -j DOCKER-ISOLATION-STAGE-2
            -A DOCKER-ISOLATION-STAGE-1 -j RETURN
            -A DOCKER-ISOLATION-STAGE-2 -o brrouted -j DROP
            -A DOCKER-ISOLATION-STAGE-2 -j RETURN
            -A DOCKER-USER -j RETURN
            *nat
            -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
            -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER"]),
        docker: routed_docker("27.5.1", "routed"),
        option_rules: vec![(
            "filter",
            "-A DOCKER -d 198.51.100.2/32 ! -i brrouted -o brrouted -p tcp -m tcp --dport 80 -j ACCEPT",
        )],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// gateway_mode_ipv4=isolated (internal only) and a plain `--internal` network with
/// icc=false: the two stage-1 subnet drops and the ICC rule in DOCKER-FORWARD, nothing else
/// (setupInternalNetworkRules, setIcc(internal=true) @ v28.5.2).
#[test]
fn gateway_mode_isolated_and_internal_networks() {
    let mut iso = net("iso", "briso", "203.0.113.0/24");
    iso["internal"] = json!(true);
    iso["gateway_mode_ipv4"] = json!("isolated");
    let mut int = net("int", "brint", "10.10.0.0/24");
    int["internal"] = json!(true);
    int["icc"] = json!(false);
    let case = Case {
        tag: "oISO",
        chains: CHAINS_28,
        rules: merge(&[
            DAEMON_28,
            "*filter
            -A DOCKER-FORWARD -i briso -o briso -j ACCEPT
            -A DOCKER-FORWARD -i brint -o brint -j DROP
            -A DOCKER-ISOLATION-STAGE-1 ! -s 10.10.0.0/24 -o brint -j DROP
            -A DOCKER-ISOLATION-STAGE-1 ! -d 10.10.0.0/24 -i brint -j DROP
            -A DOCKER-ISOLATION-STAGE-1 ! -s 203.0.113.0/24 -o briso -j DROP
            -A DOCKER-ISOLATION-STAGE-1 ! -d 203.0.113.0/24 -i briso -j DROP",
        ]),
        docker: docker(
            "28.5.2",
            vec![iso, int],
            vec![ctr("a", "iso", "203.0.113.2"), ctr("b", "int", "10.10.0.2")],
        ),
        option_rules: vec![
            ("filter", "-A DOCKER-FORWARD -i briso -o briso -j ACCEPT"),
            ("filter", "-A DOCKER-FORWARD -i brint -o brint -j DROP"),
            (
                "filter",
                "-A DOCKER-ISOLATION-STAGE-1 ! -s 10.10.0.0/24 -o brint -j DROP",
            ),
            (
                "filter",
                "-A DOCKER-ISOLATION-STAGE-1 ! -d 10.10.0.0/24 -i brint -j DROP",
            ),
            (
                "filter",
                "-A DOCKER-ISOLATION-STAGE-1 ! -s 203.0.113.0/24 -o briso -j DROP",
            ),
            (
                "filter",
                "-A DOCKER-ISOLATION-STAGE-1 ! -d 203.0.113.0/24 -i briso -j DROP",
            ),
        ],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// A user network with com.docker.network.bridge.enable_icc=false (`--icc=false` for the
/// default bridge): ICC DROP and the non-ICC outgoing ACCEPT in DOCKER-FORWARD instead of
/// `-i BR -j ACCEPT` (setupNonInternalNetworkRules, setIcc @ v28.5.2).
#[test]
fn icc_false() {
    let mut n = net("noicc", "brnoicc", "10.20.0.0/24");
    n["icc"] = json!(false);
    n["options"] = json!({"com.docker.network.bridge.enable_icc": "false"});
    let case = Case {
        tag: "oICC",
        chains: CHAINS_28,
        rules: merge(&[
            DAEMON_28,
            "*nat
            -A POSTROUTING -s 10.20.0.0/24 ! -o brnoicc -j MASQUERADE
            -A DOCKER -i brnoicc -j RETURN
            *filter
            -A DOCKER ! -i brnoicc -o brnoicc -j DROP
            -A DOCKER-BRIDGE -o brnoicc -j DOCKER
            -A DOCKER-CT -o brnoicc -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-FORWARD -i brnoicc -o brnoicc -j DROP
            -A DOCKER-FORWARD -i brnoicc ! -o brnoicc -j ACCEPT
            -A DOCKER-ISOLATION-STAGE-1 -i brnoicc ! -o brnoicc -j DOCKER-ISOLATION-STAGE-2
            -A DOCKER-ISOLATION-STAGE-2 -o brnoicc -j DROP
            *raw
            -A PREROUTING -d 10.20.0.2/32 ! -i brnoicc -j DROP",
        ]),
        docker: docker("28.5.2", vec![n], vec![ctr("c3", "noicc", "10.20.0.2")]),
        option_rules: vec![
            ("filter", "-A DOCKER-FORWARD -i brnoicc -o brnoicc -j DROP"),
            (
                "filter",
                "-A DOCKER-FORWARD -i brnoicc ! -o brnoicc -j ACCEPT",
            ),
        ],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// The default bridge with `--icc=false` and `docker run --link db web`: per exposed port of
/// db, `-i docker0 -o docker0 -p tcp -s WEB -d DB --dport 5432 -j ACCEPT` and the reply with
/// `--sport` (link.go `AddLink` → `ChainInfo.Link`, Appended to filter DOCKER, IPv4).
#[test]
fn legacy_link_with_icc_false() {
    let mut n = net("bridge", "docker0", "172.17.0.0/16");
    n["icc"] = json!(false);
    let mut db = ctr("db", "bridge", "172.17.0.2");
    db["exposed"] = json!([{"port": 5432}]);
    let mut web = ctr("web", "bridge", "172.17.0.3");
    web["links"] = json!(["db"]);
    let mut d = docker("28.5.2", vec![n], vec![db, web]);
    d["daemon"]["icc"] = json!(false);
    let case = Case {
        tag: "oLNK",
        chains: CHAINS_28,
        rules: merge(&[
            DAEMON_28,
            "*nat
            -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
            -A DOCKER -i docker0 -j RETURN
            *filter
            -A DOCKER ! -i docker0 -o docker0 -j DROP
            -A DOCKER -s 172.17.0.3/32 -d 172.17.0.2/32 -i docker0 -o docker0 -p tcp -m tcp --dport 5432 -j ACCEPT
            -A DOCKER -s 172.17.0.2/32 -d 172.17.0.3/32 -i docker0 -o docker0 -p tcp -m tcp --sport 5432 -j ACCEPT
            -A DOCKER-BRIDGE -o docker0 -j DOCKER
            -A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-FORWARD -i docker0 -o docker0 -j DROP
            -A DOCKER-FORWARD -i docker0 ! -o docker0 -j ACCEPT
            -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
            -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
            *raw
            -A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP
            -A PREROUTING -d 172.17.0.3/32 ! -i docker0 -j DROP",
        ]),
        docker: d,
        option_rules: vec![
            (
                "filter",
                "-A DOCKER -s 172.17.0.3/32 -d 172.17.0.2/32 -i docker0 -o docker0 -p tcp -m tcp --dport 5432 -j ACCEPT",
            ),
            (
                "filter",
                "-A DOCKER -s 172.17.0.2/32 -d 172.17.0.3/32 -i docker0 -o docker0 -p tcp -m tcp --sport 5432 -j ACCEPT",
            ),
        ],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// A nat network with one container and a published port (28.2+): the raw direct-access
/// DROP per endpoint.
const NAT_NET: &str = "
*nat
-A POSTROUTING -s 192.0.2.0/24 ! -o brnat -j MASQUERADE
-A DOCKER -i brnat -j RETURN
-A DOCKER ! -i brnat -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80
*filter
-A DOCKER -d 192.0.2.2/32 ! -i brnat -o brnat -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER ! -i brnat -o brnat -j DROP
-A DOCKER-BRIDGE -o brnat -j DOCKER
-A DOCKER-CT -o brnat -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-FORWARD -i brnat -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i brnat ! -o brnat -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-2 -o brnat -j DROP
";

fn nat_docker(engine: &str) -> Value {
    let mut c = ctr("c1", "natnet", "192.0.2.2");
    c["ports"] = json!([{"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80}]);
    docker(
        engine,
        vec![net("natnet", "brnat", "192.0.2.0/24")],
        vec![c],
    )
}

/// com.docker.network.bridge.trusted_host_interfaces=eth9:eth8 (28.2+): raw PREROUTING
/// `-d CIP -i IF -j ACCEPT` per interface, Appended before the direct-access DROP
/// (filterDirectAccess @ v28.5.2).
#[test]
fn trusted_host_interfaces() {
    let mut d = nat_docker("28.5.2");
    d["networks"][0]["options"] =
        json!({"com.docker.network.bridge.trusted_host_interfaces": "eth9:eth8"});
    let case = Case {
        tag: "oTHI",
        chains: CHAINS_28,
        rules: merge(&[
            DAEMON_28,
            NAT_NET,
            "*raw
            -A PREROUTING -d 192.0.2.2/32 -i eth9 -j ACCEPT
            -A PREROUTING -d 192.0.2.2/32 -i eth8 -j ACCEPT
            -A PREROUTING -d 192.0.2.2/32 ! -i brnat -j DROP",
        ]),
        docker: d,
        option_rules: vec![
            ("raw", "-A PREROUTING -d 192.0.2.2/32 -i eth9 -j ACCEPT"),
            ("raw", "-A PREROUTING -d 192.0.2.2/32 -i eth8 -j ACCEPT"),
        ],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// `--allow-direct-routing` (28.2+): no raw direct-access rules at all. Healthy with the
/// option: nothing to report. The same kernel judged as a daemon without the option: exactly
/// the endpoint's DROP is missing.
#[test]
fn allow_direct_routing() {
    let mut d = nat_docker("28.5.2");
    d["daemon"]["allow-direct-routing"] = json!(true);
    let rules = merge(&[DAEMON_28, NAT_NET]);
    let case = Case {
        tag: "oADR",
        chains: CHAINS_28,
        rules: rules.clone(),
        docker: d,
        option_rules: vec![],
        rules6: String::new(),
        option_rules6: vec![],
    };
    let (code, v) = check(&case, &rules, &case.docker);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#}", v["host"]);
    assert_eq!(code, 0);
    assert_eq!(v["findings"].as_array().unwrap().len(), rule_count(&rules));
    let (code, v) = check(&case, &rules, &nat_docker("28.5.2"));
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "missing");
    let line = "-A PREROUTING -d 192.0.2.2/32 ! -i brnat -j DROP";
    let (chain, rule) = parse_line(line);
    assert_eq!(finding_rule(p[0]), ("raw".to_owned(), chain, rule));
    assert_eq!(code, 1);
}

/// DOCKER_IPTABLES_SCTP_CHECKSUM=1 in dockerd's environment (28.x): mangle POSTROUTING
/// `-p sctp --sport CPORT -j CHECKSUM --checksum-fill` per published SCTP port
/// (setPerPortForwarding @ v28.5.2).
#[test]
fn sctp_checksum() {
    let mut c = ctr("s1", "sctpnet", "192.0.2.2");
    c["ports"] = json!([{"host_ip": "0.0.0.0", "host_port": 9000, "container_port": 9,
        "proto": "sctp"}]);
    let mut d = docker(
        "28.5.2",
        vec![net("sctpnet", "brsctp", "192.0.2.0/24")],
        vec![c],
    );
    d["daemon"]["sctp-checksum"] = json!(true);
    let case = Case {
        tag: "oSCTP",
        chains: CHAINS_28,
        rules: merge(&[
            DAEMON_28,
            "*nat
            -A POSTROUTING -s 192.0.2.0/24 ! -o brsctp -j MASQUERADE
            -A DOCKER -i brsctp -j RETURN
            -A DOCKER ! -i brsctp -p sctp -m sctp --dport 9000 -j DNAT --to-destination 192.0.2.2:9
            *filter
            -A DOCKER -d 192.0.2.2/32 ! -i brsctp -o brsctp -p sctp -m sctp --dport 9 -j ACCEPT
            -A DOCKER ! -i brsctp -o brsctp -j DROP
            -A DOCKER-BRIDGE -o brsctp -j DOCKER
            -A DOCKER-CT -o brsctp -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-FORWARD -i brsctp -j ACCEPT
            -A DOCKER-ISOLATION-STAGE-1 -i brsctp ! -o brsctp -j DOCKER-ISOLATION-STAGE-2
            -A DOCKER-ISOLATION-STAGE-2 -o brsctp -j DROP
            *raw
            -A PREROUTING -d 192.0.2.2/32 ! -i brsctp -j DROP
            *mangle
            -A POSTROUTING -p sctp -m sctp --sport 9 -j CHECKSUM --checksum-fill",
        ]),
        docker: d,
        option_rules: vec![(
            "mangle",
            "-A POSTROUTING -p sctp -m sctp --sport 9 -j CHECKSUM --checksum-fill",
        )],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
}

/// A swarm node's routing mesh on 28.x: docker_gwbridge (icc=false) and DOCKER-INGRESS in nat
/// and filter for `docker service create -p 8080:80` (programIngress @ v28.5.2; the layout
/// of iptablesdoc/generated/swarm-portmap.md @ v28.3.0).
#[test]
fn swarm_ingress() {
    let mut gw = net("docker_gwbridge", "docker_gwbridge", "172.18.0.0/16");
    gw["icc"] = json!(false);
    let mut d = docker("28.5.2", vec![gw], vec![]);
    d["swarm"] = json!({"node_state": "active", "manager": true,
        "ingress_gateway": "172.18.0.2",
        "ingress_ports": [{"published_port": 8080, "target_port": 80, "proto": "tcp",
            "service": "web"}],
        "ports_source": "services"});
    let ingress = vec![
        ("filter", "-A DOCKER-FORWARD -j DOCKER-INGRESS"),
        (
            "filter",
            "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT",
        ),
        (
            "filter",
            "-A DOCKER-INGRESS -p tcp -m tcp --sport 8080 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ),
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
    ];
    let case = Case {
        tag: "oSWM",
        chains: CHAINS_28,
        rules: merge(&[
            "*filter
            -A FORWARD -j DOCKER-USER
            -A FORWARD -j DOCKER-FORWARD
            -A DOCKER-FORWARD -j DOCKER-INGRESS
            -A DOCKER-FORWARD -j DOCKER-CT
            -A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1
            -A DOCKER-FORWARD -j DOCKER-BRIDGE
            -A DOCKER ! -i docker_gwbridge -o docker_gwbridge -j DROP
            -A DOCKER-BRIDGE -o docker_gwbridge -j DOCKER
            -A DOCKER-CT -o docker_gwbridge -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-FORWARD -i docker_gwbridge -o docker_gwbridge -j DROP
            -A DOCKER-FORWARD -i docker_gwbridge ! -o docker_gwbridge -j ACCEPT
            -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT
            -A DOCKER-INGRESS -p tcp -m tcp --sport 8080 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-INGRESS -j RETURN
            -A DOCKER-ISOLATION-STAGE-1 -i docker_gwbridge ! -o docker_gwbridge -j DOCKER-ISOLATION-STAGE-2
            -A DOCKER-ISOLATION-STAGE-2 -o docker_gwbridge -j DROP
            *nat
            -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS
            -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
            -A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER-INGRESS
            -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
            -A POSTROUTING -o docker_gwbridge -m addrtype --src-type LOCAL -j MASQUERADE
            -A POSTROUTING -s 172.18.0.0/16 ! -o docker_gwbridge -j MASQUERADE
            -A DOCKER -i docker_gwbridge -j RETURN
            -A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080
            -A DOCKER-INGRESS -j RETURN",
        ]),
        docker: d,
        option_rules: ingress,
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);

    // The same node when the Engine API does not give the ingress sandbox's address: the
    // DNAT (whose target that is) is named as not modelled and unknown, never extra; the
    // rest of DOCKER-INGRESS is judged as before.
    let mut d = case.docker.clone();
    d["swarm"]["ingress_gateway"] = Value::Null;
    let (code, v) = check(&case, &case.rules, &d);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "unknown", "{:#}", p[0]);
    assert!(
        p[0]["rule"].as_str().unwrap().contains("DNAT"),
        "{:#}",
        p[0]
    );
    assert!(
        p[0]["detail"]
            .as_str()
            .unwrap()
            .contains("swarm's routing mesh without the ingress sandbox's address"),
        "{:#}",
        p[0]
    );
    let notes = not_modelled(&v);
    assert_eq!(notes.len(), 1, "{:#}", v["host"]);
    assert!(notes[0].contains("ingress-sbox"), "{}", notes[0]);
    assert!(host_problems(&v).is_empty(), "{:#}", v["host"]);
    assert_eq!(code, 0);
    let lost = "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT";
    let (code, v) = check(&case, &without(&case.rules, "filter", lost), &d);
    the_one_judged_is_missing(&v);
    assert_eq!(code, 1);
}

/// WSL2 mirrored networking (not modelled): with the proxy on Docker adds
/// `-t nat -I DOCKER -d 127.0.0.0/8 -i loopback0 -j RETURN` (mirroredWSL2Workaround @
/// v28.5.2). The rule is listed as unknown with the option named, the host note says what is
/// not judged, nothing is `extra`, exit 0; the nat network's own rules are still judged.
#[test]
fn wsl2_mirrored_is_named_not_extra() {
    let wsl = "-A DOCKER -d 127.0.0.0/8 -i loopback0 -j RETURN";
    let rules = merge(&[
        DAEMON_28,
        NAT_NET,
        "*raw
        -A PREROUTING -d 192.0.2.2/32 ! -i brnat -j DROP",
        &format!("*nat\n{wsl}"),
    ]);
    let case = Case {
        tag: "oWSL",
        chains: CHAINS_28,
        rules: rules.clone(),
        docker: nat_docker("28.5.2"),
        option_rules: vec![],
        rules6: String::new(),
        option_rules6: vec![],
    };
    let (code, v) = check(&case, &rules, &case.docker);
    assert!(
        problems(&v).iter().all(|f| f["status"] == "unknown"),
        "{:#?}",
        problems(&v)
    );
    let unknown: Vec<&Value> = problems(&v);
    assert_eq!(unknown.len(), 1, "{unknown:#?}");
    assert!(unknown[0]["rule"].as_str().unwrap().contains("loopback0"));
    assert!(
        unknown[0]["detail"]
            .as_str()
            .unwrap()
            .contains("WSL2 mirrored networking"),
        "{:#}",
        unknown[0]
    );
    let notes = not_modelled(&v);
    assert_eq!(notes.len(), 1, "{:#}", v["host"]);
    assert!(
        notes[0].contains("WSL2 mirrored networking (interface loopback0)"),
        "{}",
        notes[0]
    );
    assert!(host_problems(&v).is_empty(), "{:#}", v["host"]);
    assert_eq!(code, 0);
    // What an operator reads.
    let (code, out) = check_text(&case, &rules, &case.docker);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("unknown (not judged)") && out.contains("loopback0"),
        "{out}"
    );
    assert!(out.contains("WSL2 mirrored networking"), "{out}");
    assert!(!out.contains("extra "), "{out}");
    // The network's own rules are still judged: one lost is missing.
    let (code, v) = check(
        &case,
        &without(
            &rules,
            "filter",
            "-A DOCKER-CT -o brnat -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ),
        &case.docker,
    );
    the_one_judged_is_missing(&v);
    assert_eq!(code, 1);
}

/// A gateway mode nfprobe does not know (a newer Docker's, say): the network's rules are not
/// guessed. Each is unknown, the host note names the network and the option, nothing is
/// `extra` or `missing` for it, exit 0; the other network is still judged.
#[test]
fn unknown_gateway_mode_is_named_not_judged() {
    let mut d = routed_docker("28.5.2", "nat");
    d["networks"][0]["options"] =
        json!({"com.docker.network.bridge.gateway_mode_ipv4": "routed-future"});
    let mut other = nat_docker("28.5.2");
    d["networks"]
        .as_array_mut()
        .unwrap()
        .push(other["networks"][0].take());
    d["containers"]
        .as_array_mut()
        .unwrap()
        .push(other["containers"][0].take());
    let rules = merge(&[
        DAEMON_28,
        ROUTED,
        NAT_NET,
        "*raw
        -A PREROUTING -d 192.0.2.2/32 ! -i brnat -j DROP",
    ]);
    let case = Case {
        tag: "oUGM",
        chains: CHAINS_28,
        rules: rules.clone(),
        docker: d,
        option_rules: vec![],
        rules6: String::new(),
        option_rules6: vec![],
    };
    let (code, v) = check(&case, &rules, &case.docker);
    let p = problems(&v);
    assert!(p.iter().all(|f| f["status"] == "unknown"), "{p:#?}");
    assert_eq!(
        p.len(),
        rule_count(ROUTED),
        "every rule of the network: {p:#?}"
    );
    for f in &p {
        assert!(
            f["detail"]
                .as_str()
                .unwrap()
                .contains("network rtd uses gateway_mode_ipv4=routed-future"),
            "{f:#}"
        );
    }
    let notes = not_modelled(&v);
    assert_eq!(notes.len(), 1, "{:#}", v["host"]);
    assert!(
        notes[0].starts_with(
            "network rtd uses gateway_mode_ipv4=routed-future, which nfprobe does not model"
        ) && notes[0].contains("listed as unknown, not judged"),
        "{}",
        notes[0]
    );
    assert!(host_problems(&v).is_empty(), "{:#}", v["host"]);
    assert_eq!(code, 0);
    let rtd = v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "rtd")
        .unwrap();
    assert_eq!(
        rtd["not_modelled"],
        json!(["gateway_mode_ipv4=routed-future"])
    );
    let (_, out) = check_text(&case, &rules, &case.docker);
    assert!(
        out.contains(
            "not judged: it uses gateway_mode_ipv4=routed-future, which nfprobe does not model"
        ),
        "{out}"
    );
    assert!(
        out.contains("network rtd uses gateway_mode_ipv4=routed-future"),
        "{out}"
    );
    assert!(!out.contains("extra "), "{out}");
    // The modelled network is judged as ever.
    let lost = "-A DOCKER ! -i brnat -o brnat -j DROP";
    let (code, v) = check(&case, &without(&rules, "filter", lost), &case.docker);
    let judged = the_one_judged_is_missing(&v);
    let (chain, rule) = parse_line(lost);
    assert_eq!(finding_rule(judged), ("filter".to_owned(), chain, rule));
    assert_eq!(code, 1);
}

/// A routed network next to a nat network: healthy, then the order that matters (setINC,
/// setICMP @ v28.5.2). The routed network's stage-1 RETURN below the nat network's jump to
/// stage 2 drops traffic into it from there; its ICMP ACCEPT below its own DROP drops ping:
/// each is reported as wrong order, with the effect, alone.
#[test]
fn routed_next_to_nat_and_the_order_that_matters() {
    let mut d = routed_docker("28.5.2", "routed");
    let mut other = nat_docker("28.5.2");
    d["networks"]
        .as_array_mut()
        .unwrap()
        .push(other["networks"][0].take());
    d["containers"]
        .as_array_mut()
        .unwrap()
        .push(other["containers"][0].take());
    let raw = "*raw\n-A PREROUTING -d 192.0.2.2/32 ! -i brnat -j DROP";
    let rules = merge(&[DAEMON_28, ROUTED, NAT_NET, raw]);
    let case = Case {
        tag: "oRTN",
        chains: CHAINS_28,
        rules: rules.clone(),
        docker: d,
        option_rules: vec![(
            "filter",
            "-A DOCKER-ISOLATION-STAGE-1 -o brrouted -j RETURN",
        )],
        rules6: String::new(),
        option_rules6: vec![],
    };
    healthy_and_each_rule_exact(&case);
    for (line, chain, why) in [
        (
            "-A DOCKER-ISOLATION-STAGE-1 -o brrouted -j RETURN",
            "DOCKER-ISOLATION-STAGE-1",
            "drops traffic from other networks into routed network rtd",
        ),
        (
            "-A DOCKER -o brrouted -p icmp -j ACCEPT",
            "DOCKER",
            "drops ICMP into the routed network",
        ),
    ] {
        // The rule moved to the end of its chain.
        let moved = merge(&[
            &without(&rules, "filter", line),
            &format!("*filter\n{line}"),
        ]);
        let (code, v) = check(&case, &moved, &case.docker);
        let p = problems(&v);
        assert_eq!(p.len(), 1, "{line}: {p:#?}");
        assert_eq!(p[0]["status"], "wrong_order", "{:#}", p[0]);
        assert_eq!(p[0]["chain"], chain);
        assert!(p[0]["effect"].as_str().unwrap().contains(why), "{:#}", p[0]);
        assert_eq!(code, 1);
    }
}

/// A dual-stack network with gateway_mode_ipv4=nat and gateway_mode_ipv6=routed (28.x):
/// IPv4 as any nat network; IPv6 has no DNAT (the `::` binding gets no host port), the ICMPv6
/// ACCEPT, the routed stage-1 rules and the per-port ACCEPT, no raw rules (the
/// `gwm=routed` ip6tables goldens @ v28.5.2). Each family's own option rules are judged in
/// that family.
#[test]
fn gateway_mode_ipv6_routed_next_to_ipv4_nat() {
    let mut n = net("ds", "brds", "192.0.2.0/24");
    n["enable_ipv6"] = json!(true);
    n["subnets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"subnet": "fd00:db8:1::/64"}));
    n["gateway_mode_ipv6"] = json!("routed");
    let mut c = json!({"name": "c1", "endpoints": [{"network": "ds", "ipv4": "192.0.2.2",
        "ipv6": "fd00:db8:1::2"}]});
    c["ports"] = json!([{"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80},
        {"host_ip": "::", "host_port": 0, "container_port": 80}]);
    let mut d = docker("28.5.2", vec![n], vec![c]);
    d["daemon"]["ip6tables"] = json!(true);
    let v4 = NAT_NET.replace("brnat", "brds");
    let case = Case {
        tag: "oDS",
        chains: CHAINS_28,
        rules: merge(&[
            DAEMON_28,
            &v4,
            "*raw\n-A PREROUTING -d 192.0.2.2/32 ! -i brds -j DROP",
        ]),
        docker: d,
        option_rules: vec![("raw", "-A PREROUTING -d 192.0.2.2/32 ! -i brds -j DROP")],
        rules6: merge(&["*filter
            -A FORWARD -j DOCKER-USER
            -A FORWARD -j DOCKER-FORWARD
            -A DOCKER-FORWARD -j DOCKER-CT
            -A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1
            -A DOCKER-FORWARD -j DOCKER-BRIDGE
            -A DOCKER -d fd00:db8:1::2/128 ! -i brds -o brds -p tcp -m tcp --dport 80 -j ACCEPT
            -A DOCKER -o brds -p ipv6-icmp -j ACCEPT
            -A DOCKER ! -i brds -o brds -j DROP
            -A DOCKER-BRIDGE -o brds -j DOCKER
            -A DOCKER-CT -o brds -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-FORWARD -i brds -j ACCEPT
            -A DOCKER-ISOLATION-STAGE-1 -i brds -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A DOCKER-ISOLATION-STAGE-1 -o brds -j RETURN
            -A DOCKER-ISOLATION-STAGE-1 -i brds ! -o brds -j DOCKER-ISOLATION-STAGE-2
            -A DOCKER-ISOLATION-STAGE-2 -o brds -j DROP
            *nat
            -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
            -A OUTPUT ! -d ::1/128 -m addrtype --dst-type LOCAL -j DOCKER
            -A DOCKER -i brds -j RETURN"]),
        option_rules6: vec![
            ("filter", "-A DOCKER -o brds -p ipv6-icmp -j ACCEPT"),
            (
                "filter",
                "-A DOCKER-ISOLATION-STAGE-1 -i brds -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            ),
            ("filter", "-A DOCKER-ISOLATION-STAGE-1 -o brds -j RETURN"),
            (
                "filter",
                "-A DOCKER -d fd00:db8:1::2/128 ! -i brds -o brds -p tcp -m tcp --dport 80 -j ACCEPT",
            ),
        ],
    };
    healthy_and_each_rule_exact(&case);
}
