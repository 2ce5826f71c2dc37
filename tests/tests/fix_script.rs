//! `nfprobe check --fix-script`, applied and then measured with traffic: every published port
//! answers from the external client and from the host's 127.0.0.1, containers on different
//! networks cannot reach each other (TCP to port 80 times out both ways), a DOCKER-USER rule
//! that drops one client source still drops it, the DOCKER-USER jump stays first, and `check`
//! then exits 0. On a real dockerd 20.10 running the iptables-1.8.11 bug model and on the
//! Docker 28.0.1 layout with the bug's preset. Also: the naive repair (`-I CHAIN RULE`, what
//! nfprobe printed before) is measured to open the host and `check` names why, and a script
//! whose chain changed after it was made refuses to run and changes nothing.

mod check_common;

use std::path::PathBuf;

use check_common::*;
use lab::LabCore;
use lab::testing::{
    Expect::*, SECOND_CLIENT_ADDR, add_second_client_addr, assert_expectations,
    http_from_client_source, isolation_breaches,
};
use serde_json::Value;

/// `nfprobe --netns HOST check ARGS` for either flavour; `--fix-script` gives the script.
struct Checker {
    netns: PathBuf,
    args: Vec<String>,
    _bundle: Option<Scratch>,
}

impl Checker {
    fn real(lab: &lab::real::Lab) -> Self {
        let sock = format!("unix://{}", lab.docker_socket().unwrap().display());
        Checker {
            netns: lab.host_netns_path(),
            args: vec!["--docker-host".into(), sock],
            _bundle: None,
        }
    }

    fn docker28(lab: &lab::docker28::Lab) -> Self {
        let dir = Scratch::new("fx28");
        let file = dir.dir.join("bundle.json");
        write_json(&file, &bundle_from_lab(lab.docker_state()));
        Checker {
            netns: lab.host_netns_path(),
            args: vec!["--docker-state".into(), file.display().to_string()],
            _bundle: Some(dir),
        }
    }

    fn argv<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["--netns", self.netns.to_str().unwrap(), "check"];
        v.extend(self.args.iter().map(String::as_str));
        v.extend_from_slice(extra);
        v
    }

    fn check(&self) -> (i32, Value) {
        nfprobe_json(&self.argv(&[]))
    }

    fn script(&self) -> String {
        let (code, out, err) = nfprobe_text(&self.argv(&["--fix-script"]));
        assert!(
            code == 0 || code == 1,
            "check --fix-script exit {code}: {err}"
        );
        assert!(out.starts_with("#!/bin/sh"), "{out}");
        out
    }
}

/// Run a fix script in the lab's host netns; (exit code, stderr).
fn run_script(lab: &LabCore, script: &str) -> (i32, String) {
    let file = lab.dir().join(format!("fix-{}.sh", unique("s")));
    std::fs::write(&file, script).unwrap();
    let out = lab.host_netns().cmd("sh").arg(&file).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The iptables binary of the lab's backend.
fn ipt(lab: &LabCore) -> &'static str {
    match lab.topology().backend.as_str() {
        "legacy" => "iptables-legacy",
        _ => "iptables-nft",
    }
}

/// Every rule of filter, nat and raw as `iptables -S` prints them (no counters).
fn rules_now(lab: &LabCore) -> String {
    ["filter", "nat", "raw"]
        .iter()
        .map(|t| lab.run_in_host(ipt(lab), &["-w", "-t", t, "-S"]).unwrap())
        .collect::<Vec<_>>()
        .join("")
}

fn forward_rules(lab: &LabCore) -> Vec<String> {
    lab.run_in_host(ipt(lab), &["-w", "-S", "FORWARD"])
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("-A "))
        .map(str::to_owned)
        .collect()
}

/// An admin's DOCKER-USER rule: drop everything from the client's second address.
fn drop_second_client_in_docker_user(lab: &LabCore) {
    add_second_client_addr(lab).unwrap();
    lab.run_in_host(
        ipt(lab),
        &[
            "-w",
            "-I",
            "DOCKER-USER",
            "-s",
            &format!("{SECOND_CLIENT_ADDR}/32"),
            "-j",
            "DROP",
        ],
    )
    .unwrap();
}

/// Ports of the client's second (dropped) source that answer anyway: DOCKER-USER bypassed.
fn user_filter_bypasses(lab: &LabCore) -> Vec<String> {
    lab.published_ports()
        .iter()
        .filter_map(|p| {
            let got = http_from_client_source(lab, SECOND_CLIENT_ADDR, p.host_port);
            (!got.is_timeout()).then(|| {
                format!(
                    "port {} from {SECOND_CLIENT_ADDR} (dropped in DOCKER-USER): {got:?}",
                    p.host_port
                )
            })
        })
        .collect()
}

/// What a correct repair leaves: everything answers, nothing crosses networks, the admin's
/// DOCKER-USER filter holds and comes first, `check` is clean.
fn assert_repaired(lab: &LabCore, c: &Checker, first_forward: &str) {
    let all: Vec<_> = (0..lab.networks().len())
        .map(|i| (i, Answers, Answers))
        .collect();
    assert_expectations(lab, &all);
    let breaches = isolation_breaches(lab);
    assert!(breaches.is_empty(), "{breaches:#?}\n{}", rules_now(lab));
    let bypass = user_filter_bypasses(lab);
    assert!(bypass.is_empty(), "{bypass:#?}\n{}", rules_now(lab));
    let fwd = forward_rules(lab);
    assert_eq!(fwd[0], "-A FORWARD -j DOCKER-USER", "{fwd:#?}");
    assert_eq!(fwd[1], first_forward, "{fwd:#?}");
    let (code, v) = c.check();
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
}

/// What nfprobe's fix used to do: `-I CHAIN RULE` (position 1) for each missing rule.
fn naive_repair(lab: &LabCore, v: &Value) {
    for f in problems(v) {
        let rule = f["rule"].as_str().unwrap();
        let mut w: Vec<&str> = rule.split_whitespace().collect();
        w[0] = "-I";
        let mut args = vec!["-w", "-t", f["table"].as_str().unwrap()];
        args.extend(w);
        lab.run_in_host(ipt(lab), &args).unwrap();
    }
}

#[test]
fn real_dockerd_fix_script_restores_ports_isolation_and_docker_user() {
    let lab = lab::real::Lab::up(lab::real::Options {
        faulty_iptables: true,
        ..Default::default()
    })
    .unwrap();
    let c = Checker::real(&lab);
    drop_second_client_in_docker_user(&lab);
    // The bug: labnet1 lost its FORWARD, isolation and loopback-NAT rules.
    assert_expectations(&lab, &[(0, Answers, Answers), (1, TimesOut, TimesOut)]);
    let (code, v) = c.check();
    assert_eq!(code, 1);
    let lost = problems(&v);
    assert_eq!(lost.len(), 7, "{lost:#?}");
    assert!(lost.iter().all(|f| f["network"] == "labnet1"));

    let script = c.script();
    // It names its binary and backend, and places every rule by number.
    assert!(
        script.contains("uses_backend iptables-nft nf_tables"),
        "{script}"
    );
    assert!(
        !script.contains("-D FORWARD -"),
        "never -D by spec:\n{script}"
    );
    for l in script.lines().filter(|l| l.starts_with("iptables-nft ")) {
        let w: Vec<&str> = l.split_whitespace().collect();
        let op = w.iter().position(|x| *x == "-I").unwrap();
        assert!(w[op + 2].parse::<usize>().is_ok(), "{l}");
    }
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 0, "{err}\n{script}");
    assert_repaired(&lab, &c, "-A FORWARD -j DOCKER-ISOLATION-STAGE-1");

    // The old repair, measured: labnet1's FORWARD rules at position 1 open the host.
    let b1 = lab.networks()[1].bridge.clone();
    let mine: Vec<usize> = forward_rules(&lab)
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(&b1))
        .map(|(i, _)| i + 1)
        .collect();
    let copies: Vec<String> = mine
        .iter()
        .map(|&n| forward_rules(&lab)[n - 1].clone())
        .collect();
    for &n in mine.iter().rev() {
        lab.run_in_host("iptables-nft", &["-w", "-D", "FORWARD", &n.to_string()])
            .unwrap();
    }
    let (_, v) = c.check();
    naive_repair(&lab, &v);
    assert!(forward_rules(&lab)[0].contains(&b1));
    assert!(
        !isolation_breaches(&lab).is_empty(),
        "the naive repair keeps isolation?"
    );
    assert!(
        !user_filter_bypasses(&lab).is_empty(),
        "the naive repair keeps DOCKER-USER?"
    );
    let (code, v) = c.check();
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), copies.len(), "{p:#?}");
    for f in &p {
        assert_eq!(f["status"], "wrong_order", "{f:#}");
        let e = f["effect"].as_str().unwrap();
        assert!(e.contains("DOCKER-USER is bypassed for"), "{e}");
        assert!(
            e.contains("networks labnet1 and labnet0 are not isolated"),
            "{e}"
        );
    }
    let script = c.script();
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 0, "{err}\n{script}");
    assert_repaired(&lab, &c, "-A FORWARD -j DOCKER-ISOLATION-STAGE-1");
    lab.down().unwrap();
}

#[test]
fn real_dockerd_fix_script_refuses_a_chain_that_changed() {
    let lab = lab::real::Lab::up(lab::real::Options {
        faulty_iptables: true,
        ..Default::default()
    })
    .unwrap();
    let c = Checker::real(&lab);
    let script = c.script();
    // One more rule in FORWARD since the plan: the count differs.
    lab.run_in_host(
        "iptables-nft",
        &["-w", "-A", "FORWARD", "-i", "wg0", "-j", "ACCEPT"],
    )
    .unwrap();
    let before = rules_now(&lab);
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("FORWARD holds 7 rules; this plan was made when it held 6"),
        "{err}"
    );
    assert_eq!(
        rules_now(&lab),
        before,
        "a refused script changed something"
    );
    // Same count, but the neighbour the plan relies on is another rule now.
    lab.run_in_host("iptables-nft", &["-w", "-D", "FORWARD", "7"])
        .unwrap();
    lab.run_in_host("iptables-nft", &["-w", "-D", "FORWARD", "2"])
        .unwrap();
    lab.run_in_host(
        "iptables-nft",
        &["-w", "-A", "FORWARD", "-j", "DOCKER-ISOLATION-STAGE-1"],
    )
    .unwrap();
    let before = rules_now(&lab);
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("the chain changed"), "{err}");
    assert_eq!(
        rules_now(&lab),
        before,
        "a refused script changed something"
    );
    lab.down().unwrap();
}

#[test]
fn docker28_fix_script_restores_ports_isolation_and_docker_user() {
    use lab::docker28::{Fault, Lab, Options};
    let lab = Lab::up(Options {
        faults: vec![Fault::Iptables1811],
        ..Options::default()
    })
    .unwrap();
    let c = Checker::docker28(&lab);
    drop_second_client_in_docker_user(&lab);
    assert_expectations(&lab, &[(0, TimesOut, Answers), (1, TimesOut, TimesOut)]);
    let (code, v) = c.check();
    assert_eq!(code, 1);
    assert_eq!(problems(&v).len(), lab.removed_rules().len());

    // The naive repair puts labnet0's `-i BR -j ACCEPT` above DOCKER-FORWARD's jumps.
    naive_repair(&lab, &v);
    assert!(
        !isolation_breaches(&lab).is_empty(),
        "the naive repair keeps isolation?"
    );
    let (code, v) = c.check();
    assert_eq!(code, 1);
    let p = problems(&v);
    assert!(
        p.iter().any(|f| f["status"] == "wrong_order"
            && f["chain"] == "DOCKER-FORWARD"
            && f["effect"]
                .as_str()
                .unwrap()
                .contains("networks labnet0 and labnet1 are not isolated")),
        "{p:#?}"
    );
    let script = c.script();
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 0, "{err}\n{script}");
    assert_repaired(&lab, &c, "-A FORWARD -j DOCKER-FORWARD");
    lab.down().unwrap();
}

#[test]
fn docker28_fix_script_from_the_lost_state() {
    use lab::docker28::{Fault, Lab, Options};
    let lab = Lab::up(Options {
        networks: 3,
        faults: vec![Fault::Iptables1811],
        ..Options::default()
    })
    .unwrap();
    let c = Checker::docker28(&lab);
    drop_second_client_in_docker_user(&lab);
    let script = c.script();
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 0, "{err}\n{script}");
    assert_repaired(&lab, &c, "-A FORWARD -j DOCKER-FORWARD");
    // Docker's own order, chain by chain.
    let save = lab.iptables_save().unwrap();
    let lines = |chain: &str| -> Vec<String> {
        save.lines()
            .filter(|l| l.starts_with(&format!("-A {chain} ")))
            .map(str::to_owned)
            .collect()
    };
    for chain in [
        "DOCKER-FORWARD",
        "DOCKER-CT",
        "DOCKER-BRIDGE",
        "DOCKER-ISOLATION-STAGE-1",
    ] {
        let want: Vec<String> = lab
            .expected_rules()
            .rules()
            .filter(|r| r.chain == chain && r.table == lab::docker28::Table::Filter)
            .map(|r| r.save_line())
            .collect();
        assert_eq!(lines(chain), want, "{chain}");
    }
    // The DOCKER-USER jump lost: the dropped source gets through; check names it, the script
    // puts it back first.
    lab.run_in_host(ipt(&lab), &["-w", "-D", "FORWARD", "1"])
        .unwrap();
    assert!(!user_filter_bypasses(&lab).is_empty());
    let (code, v) = c.check();
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["rule"], "-A FORWARD -j DOCKER-USER");
    assert!(
        p[0]["effect"]
            .as_str()
            .unwrap()
            .starts_with("DOCKER-USER is bypassed for all forwarded traffic"),
        "{:#}",
        p[0]
    );
    let script = c.script();
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 0, "{err}\n{script}");
    assert_repaired(&lab, &c, "-A FORWARD -j DOCKER-FORWARD");
    lab.down().unwrap();
}

/// IPv6 connects between containers of different networks that do not time out (port 80
/// served, port 81 closed: a reset means the path is open).
fn ipv6_isolation_breaches(lab: &lab::real::Lab) -> Vec<String> {
    let mut out = Vec::new();
    for a in lab.networks() {
        for b in lab.networks().iter().filter(|b| b.name != a.name) {
            for ca in &a.containers {
                for cb in &b.containers {
                    let ip = lab.container_ipv6(&cb.name).unwrap();
                    for port in [80, 81] {
                        let to = std::net::SocketAddr::from((ip, port));
                        let got =
                            lab::net::tcp_connect(&ca.netns_path, to, lab::testing::PROBE_TIMEOUT);
                        if !got.is_timeout() {
                            out.push(format!("{} -> {} {to}: {got:?}", ca.name, cb.name));
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn real_dockerd_dual_stack_ip6tables_rules_lost_named_and_restored() {
    let lab = lab::real::Lab::up(lab::real::Options {
        faulty_iptables: true,
        ipv6: true,
        ..Default::default()
    })
    .unwrap();
    let c = Checker::real(&lab);
    drop_second_client_in_docker_user(&lab);
    let t = lab::testing::PROBE_TIMEOUT;
    let (p0, p1) = (8000, 8010);
    // The bug model loses labnet1's ip6tables rules too: its IPv6 port times out.
    assert!(lab.http6_from_client(p0, t).is_ok());
    assert!(lab.http6_from_client(p1, t).is_timeout());
    let bin = lab.dir().join("bin");
    let m4 = bin.join(lab::bugmodel::SCRIPT_NAME);
    let m6 = bin.join("ip6tables-1.8.11-bug-model");
    let mut argv = c.argv(&["--iptables", m4.to_str().unwrap()]);
    argv.extend(["--iptables", m6.to_str().unwrap()]);
    let (code, v) = nfprobe_json(&argv);
    assert_eq!(code, 1);
    let v6: Vec<&Value> = problems(&v)
        .into_iter()
        .filter(|f| f["family"] == "ipv6")
        .collect();
    assert_eq!(v6.len(), 7, "{v6:#?}");
    let subnet6 = lab.network_ipv6_subnet("labnet1").unwrap();
    for f in &v6 {
        assert_eq!(f["status"], "missing_cli_claims_present", "{f:#}");
        assert_eq!(f["network"], "labnet1");
        assert!(f["effect"].as_str().unwrap().ends_with("(IPv6)"), "{f:#}");
        assert!(
            f["fix"]
                .as_str()
                .unwrap()
                .starts_with("ip6tables-nft -w -t "),
            "{f:#}"
        );
        let liar = f["claims"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["lie"] == true)
            .unwrap();
        assert!(
            liar["binary"]
                .as_str()
                .unwrap()
                .ends_with("ip6tables-1.8.11-bug-model")
        );
    }
    let host = v["host"].as_array().unwrap();
    assert!(
        host.iter().any(|h| h["kind"] == "iptables_cli_lies"
            && h["message"]
                .as_str()
                .unwrap()
                .contains("ip6tables-1.8.11-bug-model")),
        "{host:#?}"
    );
    // The second lie (section e): the system ip6tables-nft ignores IPv6 prefix lengths.
    let prefix = host
        .iter()
        .find(|h| {
            h["kind"] == "ip6tables_prefix_length_lie"
                && h["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("/usr/sbin/ip6tables ")
        })
        .unwrap_or_else(|| panic!("{host:#?}"));
    let msg = prefix["message"].as_str().unwrap();
    assert!(msg.contains(&subnet6[..subnet6.len() - 3]), "{msg}");
    // The text report marks the IPv6 findings.
    let (_, text, _) = nfprobe_text(&c.argv(&[]));
    assert!(text.contains("IPv6 filter FORWARD"), "{text}");

    let script = c.script();
    assert!(
        script.contains("uses_backend ip6tables-nft nf_tables"),
        "{script}"
    );
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 0, "{err}\n{script}");
    assert!(
        lab.http6_from_client(p1, t).is_ok(),
        "{}",
        lab.run_in_host("ip6tables-nft-save", &[]).unwrap()
    );
    assert!(lab.http6_from_client(p0, t).is_ok());
    let b6 = ipv6_isolation_breaches(&lab);
    assert!(b6.is_empty(), "{b6:#?}");
    assert_repaired(&lab, &c, "-A FORWARD -j DOCKER-ISOLATION-STAGE-1");
    lab.down().unwrap();
}

#[test]
fn docker28_legacy_backend_fix_script_uses_iptables_legacy() {
    use lab::docker28::{Backend, Fault, Lab, Options};
    let lab = Lab::up(Options {
        backend: Backend::Legacy,
        faults: vec![Fault::Iptables1811SkipsOnly],
        ..Options::default()
    })
    .unwrap();
    let c = Checker::docker28(&lab);
    drop_second_client_in_docker_user(&lab);
    assert_expectations(&lab, &[(0, Answers, Answers), (1, TimesOut, TimesOut)]);
    let script = c.script();
    assert!(
        script.contains("uses_backend iptables-legacy legacy"),
        "{script}"
    );
    assert!(!script.contains("iptables-nft"), "{script}");
    let (code, err) = run_script(&lab, &script);
    assert_eq!(code, 0, "{err}\n{script}");
    assert_repaired(&lab, &c, "-A FORWARD -j DOCKER-FORWARD");
    lab.down().unwrap();
}
