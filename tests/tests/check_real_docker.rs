//! A real dockerd (Debian's 20.10) in a lab netns, asked through its Engine API:
//! healthy → exit 0; dockerd running the iptables-1.8.11 bug model and `--iptables` pointing at
//! the same model → every lost rule is `missing_cli_claims_present` and nothing else is flagged;
//! the same host checked with the system iptables → those rules are `missing`.
//! Then the bundle round trip: `collect` here, `check --docker-state` from another netns gives
//! the same findings.

mod check_common;

use check_common::*;
use lab::real::{Lab, Options};
use serde_json::Value;

fn check(lab: &Lab, extra: &[&str]) -> (i32, Value) {
    let ns = lab.host_netns_path();
    let sock = format!(
        "unix://{}",
        lab.docker_socket()
            .expect("real lab has a socket")
            .display()
    );
    let mut args = vec![
        "--netns",
        ns.to_str().unwrap(),
        "check",
        "--docker-host",
        &sock,
    ];
    args.extend_from_slice(extra);
    nfprobe_json(&args)
}

/// `nfprobe collect` of the lab's host netns through its Docker socket into `file`.
fn collect(lab: &Lab, extra: &[&str], file: &std::path::Path) {
    let ns = lab.host_netns_path();
    let sock = format!("unix://{}", lab.docker_socket().unwrap().display());
    let mut args = vec![
        "--netns",
        ns.to_str().unwrap(),
        "collect",
        "--docker-host",
        &sock,
    ];
    args.extend_from_slice(extra);
    args.extend(["-o", file.to_str().unwrap()]);
    let (c, _, err) = nfprobe_text(&args);
    assert_eq!(c, 0, "{err}");
}

fn keyed(v: &Value) -> Vec<(String, String, String)> {
    let mut k: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["status"].as_str().unwrap().to_owned(),
                f["table"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    k.sort();
    k
}

#[test]
fn real_dockerd_healthy_is_clean() {
    let lab = Lab::up(Options::default()).unwrap();
    let (code, v) = check(&lab, &[]);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
    assert_eq!(v["docker_source"], "api");
    assert_eq!(v["layout"], "v20");
    assert_eq!(v["networks"].as_array().unwrap().len(), 2);
    let rules = v["findings"].as_array().unwrap().len();
    assert!(
        rules >= 25,
        "two networks with a published port each: {rules} rules checked"
    );

    // Without the API: bridges from the kernel, clearly marked as a degraded view.
    let ns = lab.host_netns_path();
    let (_, d) = nfprobe_json(&["--netns", ns.to_str().unwrap(), "check", "--no-docker-api"]);
    assert_eq!(d["docker_source"], "netlink");
    assert!(
        d["degraded"]
            .as_str()
            .is_some_and(|s| s.contains("--no-docker-api")),
        "{}",
        d["degraded"]
    );
    assert!(
        d["host"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "degraded_view"),
        "{:#?}",
        d["host"]
    );
    let bridges: Vec<&str> = d["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["bridge"].as_str().unwrap())
        .collect();
    assert_eq!(bridges.len(), 2, "{bridges:?}");
    for n in lab.networks() {
        assert!(
            bridges.contains(&n.bridge.as_str()),
            "{} not in {bridges:?}",
            n.bridge
        );
    }
    // The per-network FORWARD rules do not depend on the unknown settings: all present.
    let fwd: Vec<&Value> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["chain"] == "FORWARD" && f["network"].is_string())
        .collect();
    assert!(fwd.len() >= 8, "{fwd:#?}");
    for f in fwd {
        assert_eq!(f["status"], "ok", "{f:#}");
    }
    lab.down().unwrap();
}

#[test]
fn real_dockerd_with_buggy_iptables() {
    let lab = Lab::up(Options {
        networks: 3,
        faulty_iptables: true,
        ..Options::default()
    })
    .unwrap();
    let model = lab::bugmodel::script_path();
    let (code, v) = check(&lab, &["--iptables", model.to_str().unwrap()]);
    assert_eq!(code, 1);
    let p = problems(&v);
    assert!(
        p.len() >= 6,
        "networks 2 and 3 lose their FORWARD and isolation rules: {p:#?}"
    );
    for f in &p {
        assert_eq!(f["status"], "missing_cli_claims_present", "{f:#}");
        assert!(f["lookalike"].is_string(), "{f:#}");
        let net = f["network"].as_str().unwrap_or("");
        assert!(!net.is_empty(), "a lost rule belongs to a network: {f:#}");
    }
    // Nothing else: the only host problem is the lying binary itself.
    let kinds: Vec<_> = host_problems(&v)
        .iter()
        .map(|h| h["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![Value::from("iptables_cli_lies")],
        "{:#?}",
        v["host"]
    );

    // Same host, system iptables only: the same rules, now plainly missing.
    let (code2, v2) = check(&lab, &[]);
    assert_eq!(code2, 1);
    let p2 = problems(&v2);
    assert_eq!(p2.len(), p.len());
    for f in &p2 {
        assert_eq!(f["status"], "missing", "{f:#}");
    }
    let rules = |p: &[&Value]| {
        let mut r: Vec<String> = p
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_owned())
            .collect();
        r.sort();
        r
    };
    assert_eq!(rules(&p), rules(&p2));
    assert!(host_problems(&v2).is_empty(), "{:#?}", host_problems(&v2));

    // Bundle round trip: collect here, check the bundle from another (empty) netns.
    let other = Scratch::new("rt");
    let file = other.dir.join("bundle.json");
    collect(&lab, &["--iptables", model.to_str().unwrap()], &file);
    let (code3, v3) = nfprobe_json(&[
        "--netns",
        &other.path(),
        "check",
        "--docker-state",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code3, code);
    assert_eq!(keyed(&v3), keyed(&v));
    assert_eq!(v3["host"], v["host"]);
    lab.down().unwrap();
}

/// Dual-stack (20.10 with experimental ip6tables, `--ipv6` networks): the ip6tables rules are
/// expected and all there; every IPv6 published port answers from the client.
#[test]
fn real_dockerd_dual_stack_healthy_is_clean() {
    let lab = Lab::up(Options {
        ipv6: true,
        ..Options::default()
    })
    .unwrap();
    let (code, v) = check(&lab, &[]);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
    let v6 = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["family"] == "ipv6" && f["network"].is_string())
        .count();
    assert!(v6 >= 20, "two dual-stack networks: {v6} IPv6 rules checked");
    for port in [8000, 8010] {
        assert!(
            lab.http6_from_client(port, lab::testing::PROBE_TIMEOUT)
                .is_ok()
        );
    }
    lab.down().unwrap();
}

/// FORWARD policy ACCEPT where Docker set DROP: with 20.10 nothing else stops forwarded
/// traffic into container networks. Measured: the client, routing through the host, reaches an
/// unpublished port of a container only once the policy is ACCEPT; `check` calls it a problem.
#[test]
fn real_dockerd_forward_policy_accept_is_a_problem_and_opens_the_containers() {
    let lab = Lab::up(Options::default()).unwrap();
    let c = &lab.networks()[0].containers[0];
    // Port 81 is not published (nothing listens): dropped, or reset once the path is open.
    // (20.10 accepts the published port 80 from anywhere that routes to it, by design.)
    let direct = std::net::SocketAddr::from((c.ip, 81));
    let t = lab::testing::PROBE_TIMEOUT;
    let got = lab.tcp(&lab::Vantage::Client, direct, t);
    assert!(got.is_timeout(), "{got:?}");
    lab.run_in_host("iptables-nft", &["-w", "-P", "FORWARD", "ACCEPT"])
        .unwrap();
    let got = lab.tcp(&lab::Vantage::Client, direct, t);
    assert!(matches!(got, lab::Outcome::Refused(_)), "{got:?}");
    let (code, v) = check(&lab, &[]);
    assert_eq!(code, 1);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    let h = host_problems(&v);
    assert_eq!(h.len(), 1, "{h:#?}");
    assert_eq!(h[0]["kind"], "forward_policy_accept");
    assert!(
        h[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("IPv4 FORWARD policy is ACCEPT"),
        "{:#}",
        h[0]
    );
    lab.run_in_host("iptables-nft", &["-w", "-P", "FORWARD", "DROP"])
        .unwrap();
    let (code, _) = check(&lab, &[]);
    assert_eq!(code, 0);
    lab.down().unwrap();
}

/// Legacy `--link` on the default bridge with `--icc=false`: the real dockerd 20.10 programs
/// the per-link ACCEPTs (both directions, per exposed port of the linked container); nfprobe
/// expects exactly those, and reports one deleted by hand as missing. dockerd runs with
/// DOCKER_IPTABLES_SCTP_CHECKSUM=1, which `collect` finds in its environment.
#[test]
fn real_dockerd_legacy_link_with_icc_false() {
    let lab = Lab::up(Options {
        networks: 0,
        default_bridge_icc: Some(false),
        dockerd_env: vec![("DOCKER_IPTABLES_SCTP_CHECKSUM".into(), "1".into())],
        ..Options::default()
    })
    .unwrap();
    let img = lab::real::IMAGE;
    // db listens on 5432 (busybox nc, one connection at a time, forever).
    lab.docker(&[
        "run",
        "-d",
        "--name",
        "db",
        "--expose",
        "5432",
        "--expose",
        "53/udp",
        img,
        "sh",
        "-c",
        "while true; do echo db | nc -l -p 5432; done",
    ])
    .unwrap();
    lab.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--link",
        "db:database",
        img,
        "sleep",
        "600",
    ])
    .unwrap();
    // The link works across icc=false: web reaches db:5432.
    let reach = || {
        lab.docker(&[
            "exec",
            "web",
            "sh",
            "-c",
            "nc -w 2 172.17.0.2 5432 </dev/null",
        ])
        .map(|out| out.contains("db"))
        .unwrap_or(false)
    };
    let t0 = std::time::Instant::now();
    while !reach() {
        assert!(
            t0.elapsed().as_secs() < 10,
            "web cannot reach db:5432 through the link"
        );
    }
    let (code, v) = check(&lab, &[]);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
    let links: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["what"]
                .as_str()
                .is_some_and(|w| w.starts_with("link web -> db"))
        })
        .collect();
    assert_eq!(links.len(), 4, "{links:#?}");
    assert!(
        links
            .iter()
            .all(|f| f["status"] == "ok" && f["chain"] == "DOCKER")
    );

    // What collect saw: the link, the exposed ports, dockerd's environment.
    let out = Scratch::new("lnk");
    let file = out.dir.join("bundle.json");
    collect(&lab, &[], &file);
    let b: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let d = &b["docker"];
    assert_eq!(d["daemon"]["sctp-checksum"], true, "{:#}", d["daemon"]);
    assert!(
        d["daemon"]["sources"]["sctp-checksum"]
            .as_str()
            .unwrap()
            .ends_with("/environ")
    );
    let cs = d["containers"].as_array().unwrap();
    let web = cs.iter().find(|c| c["name"] == "web").unwrap();
    assert_eq!(web["links"], serde_json::json!(["db"]));
    let db = cs.iter().find(|c| c["name"] == "db").unwrap();
    assert_eq!(
        db["exposed"],
        serde_json::json!([{"port": 53, "proto": "udp"}, {"port": 5432, "proto": "tcp"}])
    );
    assert!(d["swarm"].is_null());

    // Delete the web -> db 5432/tcp ACCEPT in the lab's netns, as dockerd spelled it.
    let gone = links
        .iter()
        .find(|f| {
            let r = f["rule"].as_str().unwrap();
            r.contains("--dport 5432")
        })
        .unwrap();
    let spec = gone["rule"].as_str().unwrap().to_owned();
    let mut words: Vec<&str> = spec.split_whitespace().collect();
    words[0] = "-D";
    let st = std::process::Command::new("nsenter")
        .arg(format!("--net={}", lab.host_netns_path().display()))
        .args(["--", "iptables", "-w"])
        .args(&words)
        .status()
        .unwrap();
    assert!(st.success(), "iptables -D in the lab netns: {spec}");
    // What the finding's effect says: web no longer reaches db on 5432/tcp.
    assert!(
        !reach(),
        "the link rule is gone, icc=false drops web -> db:5432"
    );
    let (code, v) = check(&lab, &[]);
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "missing");
    assert_eq!(p[0]["rule"], spec.as_str());
    assert!(
        p[0]["effect"]
            .as_str()
            .unwrap()
            .contains("web cannot reach linked container db on 5432/tcp"),
        "{:#}",
        p[0]
    );
    // Its fix restores the link (run inside the lab netns).
    let fix = p[0]["fix"].as_str().unwrap();
    let fix_words: Vec<&str> = fix.split_whitespace().collect();
    let st = std::process::Command::new("nsenter")
        .arg(format!("--net={}", lab.host_netns_path().display()))
        .arg("--")
        .args(&fix_words)
        .status()
        .unwrap();
    assert!(st.success(), "{fix}");
    assert!(reach(), "the fix puts the link back");
    let (code, _) = check(&lab, &[]);
    assert_eq!(code, 0);
    lab.down().unwrap();
}
