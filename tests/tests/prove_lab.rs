//! Issue 14: `nfprobe prove` against the labs. Each test runs the real binary against a lab
//! whose rules were lost the way iptables-nft 1.8.11 loses them (a real dockerd with the bug
//! model as its iptables, and the Docker 28.0.1 layout with the preset), reads its JSON, and
//! checks the chain of evidence: the kernel's drop of exactly that flow, the rule or policy
//! counter that took the packets, and the missing rules `check` names.

mod check_common;
mod common;

use std::sync::Mutex;

use check_common::*;
use common::require_root_and_btf;
use lab::LabCore;
use serde_json::Value;

/// The lab tests share two cores with everything else: one lab at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `nfprobe --netns HOST prove --from-netns CLIENT ARGS --json`: (exit code, report).
fn prove(lab: &LabCore, extra: &[&str]) -> (i32, Value) {
    let ns = lab.host_netns_path();
    let client = lab.client_netns();
    let mut args = vec![
        "--netns",
        ns.to_str().unwrap(),
        "prove",
        "--from-netns",
        client.name(),
    ];
    args.extend_from_slice(extra);
    nfprobe_json(&args)
}

fn attempts(v: &Value) -> &Vec<Value> {
    v["attempts"].as_array().expect("attempts")
}

/// The one attempt from `vantage` to the port `host_port` (`container` vantage: to the
/// container behind it).
fn find<'a>(v: &'a Value, vantage: &str, host_port: u16) -> &'a Value {
    attempts(v)
        .iter()
        .find(|a| a["vantage"] == vantage && a["port"]["host_port"] == host_port)
        .unwrap_or_else(|| panic!("no {vantage} attempt to port {host_port}: {v:#}"))
}

fn drops(a: &Value) -> &Vec<Value> {
    a["evidence"]["drops"].as_array().unwrap()
}

fn findings(a: &Value) -> &Vec<Value> {
    a["evidence"]["findings"].as_array().unwrap()
}

/// The outside client's attempt on the broken network: dropped in FORWARD on its bridge, the
/// FORWARD policy (or a DROP rule) took the packets, and the lost rules are named.
fn assert_forward_drop_explained(v: &Value, port: u16, bridge: &str, network: &str) {
    let a = find(v, "outside", port);
    assert_eq!(a["verdict"], "timeout_explained", "{a:#}");
    let d = drops(a);
    assert!(
        d.iter().any(|d| d["reason"] == "NETFILTER_DROP"
            && d["hook"] == "FORWARD"
            && d["iface"] == bridge),
        "NETFILTER_DROP at FORWARD on {bridge}: {a:#}"
    );
    // The packet the kernel dropped is the DNATed one: towards the container, from the client.
    assert!(
        d.iter()
            .any(|d| d["packet"].as_str().unwrap().contains(":80 [S]")),
        "{a:#}"
    );
    let counters = a["evidence"]["counters"].as_array().unwrap();
    let took = counters
        .iter()
        .find(|c| c["drops"] == true && c["chain"] == "FORWARD")
        .unwrap_or_else(|| panic!("a FORWARD DROP rule or policy took the packets: {a:#}"));
    let syns = a["connect"]["segments_out"].as_u64().unwrap();
    assert!(syns >= 1);
    let took = took["packets"].as_u64().unwrap();
    match a["evidence"]["counters_ambiguous"].as_str() {
        // Nothing else crossed FORWARD: the counter took exactly the attempt's SYNs.
        None => assert_eq!(took, syns, "every SYN, nothing else: {a:#}"),
        // An earlier attempt's late packets (the container retransmitting its SYN-ACK) were
        // dropped meanwhile: said, not guessed.
        Some(why) => {
            assert!(why.contains("earlier attempts"), "{a:#}");
            assert!(took > syns, "{a:#}");
        }
    }
    let f = findings(a);
    assert!(!f.is_empty(), "{a:#}");
    assert!(
        f.iter()
            .all(|f| f["network"] == network || f["network"].is_null()),
        "{a:#}"
    );
    assert!(
        f.iter().any(|f| f["table"] == "filter"),
        "a lost FORWARD-path rule: {a:#}"
    );
}

/// The host's `curl 127.0.0.1:PORT` on the broken network: DNATed but not masqueraded, and
/// what the kernel then did to it (NEIGH_FAILED on the bridge or IP_LOCALNET in the
/// container, reference kernel-drops-observed.md).
fn assert_loopback_explained(v: &Value, port: u16) {
    let a = find(v, "host-loopback", port);
    assert_eq!(a["verdict"], "timeout_explained", "{a:#}");
    let d = drops(a);
    assert!(
        d.iter()
            .any(|d| d["reason"] == "NEIGH_FAILED" || d["reason"] == "IP_LOCALNET"),
        "{a:#}"
    );
    let f = findings(a);
    assert!(
        f.iter().any(|f| f["table"] == "nat"
            && f["rule"].as_str().unwrap().contains("MASQUERADE")
            && f["rule"].as_str().unwrap().contains("LOCAL")),
        "the loopback MASQUERADE is named: {a:#}"
    );
    let ct = &a["evidence"]["conntrack"];
    assert_eq!(
        ct["nat"],
        serde_json::json!(["dnat"]),
        "DNAT, no SNAT: {a:#}"
    );
    assert!(
        ct["reply"].as_str().unwrap().ends_with(&format!(
            "> 127.0.0.1:{}",
            a["connect"]["source"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
        )),
        "the container would have to answer 127.0.0.1: {a:#}"
    );
}

fn assert_ok_no_drops(v: &Value, vantage: &str, port: u16) {
    let a = find(v, vantage, port);
    assert_eq!(a["verdict"], "ok", "{a:#}");
    assert!(drops(a).is_empty(), "{a:#}");
    assert!(
        a["connect"]["http"].as_str().unwrap().contains("200"),
        "{a:#}"
    );
}

/// Every attempt Docker means to allow is ok without a drop; the isolation path is blocked.
fn assert_healthy(code: i32, v: &Value) {
    assert_eq!(code, 0, "{v:#}");
    assert!(!attempts(v).is_empty());
    for a in attempts(v) {
        if a["expect"] == "reachable" {
            assert_eq!(a["verdict"], "ok", "{a:#}");
            assert!(drops(a).is_empty(), "{a:#}");
        } else {
            assert_eq!(a["verdict"], "blocked_as_intended", "{a:#}");
        }
    }
}

fn isolation_verdicts(v: &Value) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = attempts(v)
        .iter()
        .filter(|a| a["vantage"] == "container")
        .map(|a| {
            (
                a["port"]["host_port"].as_u64().unwrap(),
                a["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `nft`'s ruleset generation and the ruleset without counters, in the lab's host netns.
fn ruleset_state(lab: &LabCore) -> (u32, String) {
    let spec = nfprobe::kernel::netns::NetnsSpec::parse(lab.host_netns_path().to_str().unwrap());
    let genid = nfprobe::kernel::nft::read_genid(Some(&spec)).unwrap();
    let text = lab.run_in_host("iptables-nft-save", &[]).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            // `:CHAIN POLICY [p:b]`: the counters move with the attempts' packets.
            match l.find(" [") {
                Some(i) if l.starts_with(':') => l[..i].to_owned(),
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    (genid, text)
}

#[test]
fn real_dockerd_lost_rules_are_proven_and_the_healthy_lab_is_clean() {
    require_root_and_btf();
    let _g = serial();
    // Healthy first: the isolation verdict of the broken lab must match this one.
    let healthy = lab::real::Lab::up(lab::real::Options::default()).unwrap();
    let sock = format!("unix://{}", healthy.docker_socket().unwrap().display());
    let (code, v) = prove(&healthy, &["--docker-host", &sock]);
    assert_healthy(code, &v);
    let healthy_isolation = isolation_verdicts(&v);
    assert_eq!(healthy_isolation.len(), 2, "{v:#}");
    healthy.down().unwrap();

    let lab = lab::real::Lab::up(lab::real::Options {
        faulty_iptables: true,
        ..Default::default()
    })
    .unwrap();
    let sock = format!("unix://{}", lab.docker_socket().unwrap().display());
    let model = lab::bugmodel::script_path();
    let before = ruleset_state(&lab);
    let (code, v) = prove(
        &lab,
        &[
            "--docker-host",
            &sock,
            "--iptables",
            model.to_str().unwrap(),
        ],
    );
    let after = ruleset_state(&lab);
    assert_eq!(before, after, "prove changed nothing in the ruleset");
    assert_eq!(code, 1, "{v:#}");
    let n1 = &lab.networks()[0];
    let n2 = &lab.networks()[1];
    let p1 = n1.containers[0].ports[0].host_port;
    let p2 = n2.containers[0].ports[0].host_port;
    assert_forward_drop_explained(&v, p2, &n2.bridge, &n2.name);
    assert_loopback_explained(&v, p2);
    assert_ok_no_drops(&v, "outside", p1);
    assert_ok_no_drops(&v, "host-loopback", p1);
    // The isolation path, n1's container to n2's: blocked in the healthy lab. Here the bug
    // also lost n2's isolation rules, so it connects: said, with the lost rules as evidence.
    let iso = find(&v, "container", p2);
    let healthy_iso = healthy_isolation
        .iter()
        .find(|(port, _)| *port == u64::from(p2))
        .unwrap();
    assert_eq!(healthy_iso.1, "blocked_as_intended");
    assert_eq!(iso["verdict"], "open_not_intended", "{iso:#}");
    assert!(
        findings(iso)
            .iter()
            .any(|f| f["chain"].as_str().unwrap().starts_with("DOCKER-ISOLATION")),
        "{iso:#}"
    );
    // The CLI claim and the troubleshooting flow.
    let a = find(&v, "outside", p2);
    assert!(
        findings(a).iter().any(|f| !f["cli_says_present"]
            .as_array()
            .unwrap_or(&vec![])
            .is_empty()),
        "the bug model says present for a lost rule: {a:#}"
    );
    let t = &v["troubleshooting"];
    assert!(
        t["binaries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["lies_on_check"] == true),
        "{t:#}"
    );
    assert_eq!(t["userland_proxy"], false);
    assert!(t["docker_version"].as_str().unwrap().starts_with("20.10"));
    let advice = t["advice"].as_array().unwrap();
    assert!(
        advice
            .iter()
            .any(|a| a.as_str().unwrap().contains("1.8.12")),
        "{t:#}"
    );
    assert!(
        advice
            .iter()
            .any(|a| a.as_str().unwrap().contains("restart dockerd")),
        "{t:#}"
    );
    lab.down().unwrap();
}

#[test]
fn docker28_preset_is_proven_then_the_fix_script_makes_every_attempt_ok() {
    require_root_and_btf();
    let _g = serial();
    let lab = lab::docker28::Lab::up(lab::docker28::Options {
        faults: vec![lab::docker28::Fault::Iptables1811],
        ..Default::default()
    })
    .unwrap();
    let dir = std::env::temp_dir().join(unique("prove28"));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("bundle.json");
    write_json(&bundle, &bundle_from_lab(lab.docker_state()));
    let b = bundle.to_str().unwrap();

    // --dry-run plans and makes no attempt: no new connection, so the nat rules every planned
    // attempt would cross do not move: the ports' DNATs (outside, host) and the subnets'
    // MASQUERADEs (container to container). The nat table sees each connection's first
    // packet; other nat counters can move with the lab's own background packets (seen once:
    // one host-to-container packet through OUTPUT and the loopback MASQUERADE, no DNAT, while
    // the dry run printed its plan).
    let nat_counters = || {
        lab.run_in_host("iptables-nft-save", &["-c", "-t", "nat"])
            .unwrap()
            .lines()
            .filter(|l| l.contains("-j DNAT") || (l.contains(" -s ") && l.contains(" ! -o ")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = nat_counters();
    let ns = lab.host_netns_path();
    let (code, out, err) = nfprobe_text(&[
        "--netns",
        ns.to_str().unwrap(),
        "prove",
        "--docker-state",
        b,
        "--from-netns",
        lab.client_netns().name(),
        "--dry-run",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plan"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains(" → ")).count(),
        8,
        "2 ports × (outside, 127.0.0.1, host address, other network): {out}"
    );
    assert_eq!(nat_counters(), before, "dry run sent nothing");

    let (genid_before, rules_before) = ruleset_state(&lab);
    let (code, v) = prove(&lab, &["--docker-state", b]);
    assert_eq!(ruleset_state(&lab), (genid_before, rules_before));
    assert_eq!(code, 1, "{v:#}");
    let n1 = &lab.networks()[0];
    let n2 = &lab.networks()[1];
    let p1 = n1.containers[0].ports[0].host_port;
    let p2 = n2.containers[0].ports[0].host_port;
    assert_forward_drop_explained(&v, p2, &n2.bridge, &n2.name);
    assert_loopback_explained(&v, p2);
    // 28.0.1 on 1.8.11 also deletes the first network's `DOCKER-FORWARD -i BR -j ACCEPT`
    // (reference a.5): its SYN gets through, the container's SYN-ACKs die in FORWARD.
    let a = find(&v, "outside", p1);
    assert_eq!(a["verdict"], "timeout_explained", "{a:#}");
    assert!(
        drops(a).iter().any(|d| d["reason"] == "NETFILTER_DROP"
            && d["hook"] == "FORWARD"
            && d["in_iface"] == n1.bridge.as_str()
            && d["packet"].as_str().unwrap().contains("[SA]")),
        "{a:#}"
    );
    assert!(
        findings(a)
            .iter()
            .any(|f| f["rule"] == format!("-A DOCKER-FORWARD -i {} -j ACCEPT", n1.bridge).as_str()),
        "{a:#}"
    );
    assert!(a["evidence"]["counters_ambiguous"].is_null(), "{a:#}");
    assert_ok_no_drops(&v, "host-loopback", p1);
    // The preset also loses isolation rules: where a container now reaches another network,
    // the verdict says so and names the lost rules.
    for a in attempts(&v).iter().filter(|a| a["vantage"] == "container") {
        match a["verdict"].as_str().unwrap() {
            "blocked_as_intended" => {}
            "open_not_intended" => assert!(!findings(a).is_empty(), "{a:#}"),
            other => panic!("isolation attempt verdict {other}: {a:#}"),
        }
    }

    // The text report: a paragraph per failing port, then the table and troubleshooting.
    let (code, text, _) = nfprobe_text(&[
        "--netns",
        ns.to_str().unwrap(),
        "prove",
        "--docker-state",
        b,
        "--from-netns",
        lab.client_netns().name(),
        "--no-claims",
    ]);
    assert_eq!(code, 1);
    assert!(text.contains(&format!("port {p2} (")), "{text}");
    assert!(text.contains("timeout_explained"), "{text}");
    assert!(text.contains("NETFILTER_DROP at FORWARD"), "{text}");
    assert!(text.contains("Troubleshooting:"), "{text}");
    // The missing rules of a port are said once per port, not once per attempt.
    let block = text
        .split(&format!("port {p2} ("))
        .nth(1)
        .and_then(|b| b.split("\n\n").next())
        .unwrap_or_default();
    assert_eq!(block.matches("Why (nfprobe check)").count(), 1, "{block}");
    let rule_lines: Vec<&str> = block.lines().filter(|l| l.starts_with("    -t ")).collect();
    let mut unique = rule_lines.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), rule_lines.len(), "{block}");
    assert!(!rule_lines.is_empty(), "{block}");

    // Apply what `check --fix-script` says, then everything works.
    let (_, script, err) = nfprobe_text(&[
        "--netns",
        ns.to_str().unwrap(),
        "check",
        "--docker-state",
        b,
        "--fix-script",
    ]);
    let path = dir.join("fix.sh");
    std::fs::write(&path, &script).unwrap();
    lab.run_in_host("sh", &[path.to_str().unwrap()])
        .unwrap_or_else(|e| panic!("fix script failed: {e}\n{script}\n{err}"));
    let (code, v) = prove(&lab, &["--docker-state", b]);
    assert_healthy(code, &v);
    // One explicit target, from the host only: one attempt, tied to its published port.
    let target = format!("127.0.0.1:{p2}");
    let (code, v) = nfprobe_json(&[
        "--netns",
        ns.to_str().unwrap(),
        "prove",
        "--docker-state",
        b,
        "--target",
        &target,
    ]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(attempts(&v).len(), 1, "{v:#}");
    let a = &attempts(&v)[0];
    assert_eq!(a["target"], target.as_str());
    assert_eq!(a["vantage"], "host-loopback");
    assert_eq!(a["port"]["network"], n2.name.as_str());
    assert_eq!(a["verdict"], "ok", "{a:#}");
    let _ = std::fs::remove_dir_all(&dir);
    lab.down().unwrap();
}

#[test]
fn nothing_to_attempt_is_exit_2_with_the_reason() {
    require_root_and_btf();
    let ns = common::TestNetns::new("prove");
    let dir = std::env::temp_dir().join(unique("prove-empty"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bundle.json");
    write_json(
        &file,
        &serde_json::json!({"format": "nfprobe-bundle", "version": 1, "host": "empty",
            "docker": {"engine_version": "28.0.1", "networks": [], "containers": []}}),
    );
    let (code, out, err) = nfprobe_text(&[
        "--netns",
        &ns.name,
        "prove",
        "--docker-state",
        file.to_str().unwrap(),
        "--no-claims",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("nothing to attempt"), "{err}");
    assert!(
        err.contains("no running container publishes a TCP port"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
