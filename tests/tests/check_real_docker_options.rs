//! Network options on the real dockerd (Debian's 20.10) in a lab netns, asked through its
//! Engine API: an `--internal` network and a network with
//! `com.docker.network.bridge.enable_icc=false`. Healthy → 0 findings and exit 0; each of the
//! option's rules deleted by hand (as dockerd spelled it) → exactly that rule missing, and its
//! fix puts it back.

mod check_common;

use check_common::*;
use lab::real::{Lab, Options};
use serde_json::Value;

fn check(lab: &Lab) -> (i32, Value) {
    let ns = lab.host_netns_path();
    let sock = format!(
        "unix://{}",
        lab.docker_socket()
            .expect("real lab has a socket")
            .display()
    );
    nfprobe_json(&[
        "--netns",
        ns.to_str().unwrap(),
        "check",
        "--docker-host",
        &sock,
    ])
}

/// Run `words` (an iptables command line) in the lab's host netns.
fn in_lab(lab: &Lab, words: &[&str]) {
    let st = std::process::Command::new("nsenter")
        .arg(format!("--net={}", lab.host_netns_path().display()))
        .arg("--")
        .args(words)
        .status()
        .unwrap();
    assert!(st.success(), "{words:?} in the lab netns");
}

/// `iptables-save` of the lab's host netns.
fn save(lab: &Lab) -> String {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", lab.host_netns_path().display()))
        .args(["--", "iptables-save"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// `iptables-restore` of `dump` in the lab's host netns.
fn restore(lab: &Lab, dump: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("nsenter")
        .arg(format!("--net={}", lab.host_netns_path().display()))
        .args(["--", "iptables-restore"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dump.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn real_dockerd_internal_and_icc_false_networks() {
    let lab = Lab::up(Options {
        networks: 0,
        ..Options::default()
    })
    .unwrap();
    for (name, subnet, opts) in [
        ("intnet", "10.99.1.0/24", vec!["--internal"]),
        (
            "noicc",
            "10.99.2.0/24",
            vec!["-o", "com.docker.network.bridge.enable_icc=false"],
        ),
    ] {
        let mut args = vec!["network", "create", "--subnet", subnet];
        args.extend(opts);
        let bridge = format!("com.docker.network.bridge.name=br{name}");
        args.extend(["-o", bridge.as_str(), name]);
        lab.docker(&args).unwrap();
    }
    let img = lab::real::IMAGE;
    for (c, n) in [("i1", "intnet"), ("n1", "noicc"), ("n2", "noicc")] {
        lab.docker(&[
            "run",
            "-d",
            "--name",
            c,
            "--network",
            n,
            img,
            "sleep",
            "600",
        ])
        .unwrap();
    }
    let (code, v) = check(&lab);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
    // The option rules, as nfprobe names them.
    let find = |v: &Value, what: &str| -> String {
        let f: Vec<&Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["what"] == what)
            .collect();
        assert_eq!(f.len(), 1, "{what}: {:#}", v["findings"]);
        assert_eq!(f[0]["status"], "ok", "{:#}", f[0]);
        f[0]["rule"].as_str().unwrap().to_owned()
    };
    let option_rules = [
        (
            "filter",
            find(&v, "internal network intnet: no traffic out"),
        ),
        ("filter", find(&v, "internal network intnet: no traffic in")),
        ("filter", find(&v, "inter-container traffic on intnet")),
        ("filter", find(&v, "icc=false on noicc")),
        ("filter", find(&v, "outgoing traffic from brnoicc")),
    ];
    assert!(
        option_rules[0].1.contains("! -d 10.99.1.0/24"),
        "{option_rules:?}"
    );
    assert!(
        option_rules[3].1.contains("-i brnoicc -o brnoicc -j DROP"),
        "{option_rules:?}"
    );
    let saved = save(&lab);
    for (table, spec) in &option_rules {
        let mut del: Vec<&str> = vec!["iptables", "-w", "-t", table];
        let words: Vec<&str> = spec.split_whitespace().collect();
        del.push("-D");
        del.extend(&words[1..]);
        in_lab(&lab, &del);
        let (code, v) = check(&lab);
        let p = problems(&v);
        assert_eq!(p.len(), 1, "without {spec}: {p:#?}");
        assert_eq!(p[0]["status"], "missing", "{:#}", p[0]);
        assert_eq!(p[0]["rule"], spec.as_str());
        assert!(
            p[0]["fix"]
                .as_str()
                .is_some_and(|f| f.starts_with(&format!("iptables-nft -w -t {table} "))
                    || f.starts_with(&format!("iptables-legacy -w -t {table} "))),
            "{:#}",
            p[0]
        );
        assert_eq!(code, 1);
        // Back to what dockerd made, for the next rule.
        restore(&lab, &saved);
        assert_eq!(check(&lab).0, 0);
    }
    lab.down().unwrap();
}
