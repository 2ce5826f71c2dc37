//! `check` without the Engine API never guesses: it reads what Docker's own rules in the
//! kernel show (the layout, the userland-proxy setting, published ports and their containers
//! from the DNAT rules) and reports a rule missing only when the kernel implies it. Healthy
//! labs give no finding at all; the fault presets give exactly the removed rules as missing,
//! nothing `extra`, nothing `unknown`.

mod check_common;

use check_common::*;
use lab::docker28::{Fault, Lab, Options, RuleKind, RuleSelector};
use serde_json::Value;

/// `check --no-docker-api` of a lab's host netns (system iptables: truthful claims).
fn check_without_api(ns: &std::path::Path) -> (i32, Value) {
    nfprobe_json(&["--netns", ns.to_str().unwrap(), "check", "--no-docker-api"])
}

fn statuses(v: &Value, status: &str) -> Vec<(String, String, nfprobe::ruleset::Rule)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == status)
        .map(finding_rule)
        .collect()
}

/// Exactly `removed` is reported, as `missing`, and nothing else is anything but ok.
fn assert_exactly_missing(v: &Value, removed: &[lab::docker28::Rule]) {
    let want: Vec<_> = removed
        .iter()
        .map(|r| {
            let (c, rule) = parse_line(&r.save_line());
            (r.table.name().to_owned(), c, rule)
        })
        .collect();
    let got = statuses(v, "missing");
    for w in &want {
        assert!(
            got.contains(w),
            "removed but not reported missing: {w:?}\n{:#?}",
            problems(v)
        );
    }
    for g in &got {
        assert!(want.contains(g), "reported missing but not removed: {g:?}");
    }
    assert_eq!(
        problems(v).len(),
        want.len(),
        "only the removed rules may be reported (no extra, no unknown): {:#?}",
        problems(v)
    );
}

#[test]
fn docker28_layout_without_the_api_healthy_and_presets() {
    // Healthy, with the default bridge: no finding, exit 0, the layout read off the kernel.
    let lab = Lab::up(Options {
        default_bridge: true,
        ..Options::default()
    })
    .unwrap();
    let (code, v) = check_without_api(&lab.host_netns_path());
    assert_eq!(v["docker_source"], "netlink");
    assert_eq!(v["layout"], "v28_0", "{:#?}", v["notes"]);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
    // Every published port was read back from its DNAT: one container per network.
    for n in v["networks"].as_array().unwrap() {
        if n["bridge"] != "docker0" {
            assert_eq!(n["containers"], 1, "{n:#}");
        }
    }
    lab.down().unwrap();

    for preset in [Fault::Iptables1811, Fault::Iptables1811SkipsOnly] {
        let lab = Lab::up(Options {
            networks: 3,
            faults: vec![preset.clone()],
            ..Options::default()
        })
        .unwrap();
        let removed = lab.removed_rules().to_vec();
        assert!(removed.len() >= 8, "{preset}: {removed:?}");
        let (code, v) = check_without_api(&lab.host_netns_path());
        assert_eq!(code, 1);
        assert_exactly_missing(&v, &removed);
        lab.down().unwrap();
    }
}

#[test]
fn a_ports_accept_is_missing_when_its_dnat_shows_the_port() {
    let mut lab = Lab::up(Options::default()).unwrap();
    let removed = lab
        .delete_rules(&[RuleSelector {
            kind: RuleKind::PortAccept,
            network: Some(0),
        }])
        .unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    let (code, v) = check_without_api(&lab.host_netns_path());
    assert_eq!(code, 1);
    assert_exactly_missing(&v, &removed);
    lab.down().unwrap();
}

#[test]
fn real_dockerd_without_the_api_healthy_and_with_the_bug_model() {
    use lab::real::{Lab, Options};
    let lab = Lab::up(Options::default()).unwrap();
    let (code, v) = check_without_api(&lab.host_netns_path());
    assert_eq!(v["layout"], "v20", "{:#?}", v["notes"]);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
    lab.down().unwrap();

    let lab = Lab::up(Options {
        networks: 3,
        faulty_iptables: true,
        ..Options::default()
    })
    .unwrap();
    // What the Engine API view says was lost is the truth to match.
    let ns = lab.host_netns_path();
    let sock = format!("unix://{}", lab.docker_socket().unwrap().display());
    let (_, with_api) = nfprobe_json(&[
        "--netns",
        ns.to_str().unwrap(),
        "check",
        "--docker-host",
        &sock,
    ]);
    let lost = statuses(&with_api, "missing");
    assert!(lost.len() >= 6, "{:#?}", problems(&with_api));
    assert_eq!(problems(&with_api).len(), lost.len());
    let (code, v) = check_without_api(&ns);
    assert_eq!(code, 1);
    let got = statuses(&v, "missing");
    for l in &lost {
        assert!(
            got.contains(l),
            "lost but not reported without the API: {l:?}"
        );
    }
    assert_eq!(got.len(), lost.len(), "{:#?}", problems(&v));
    assert_eq!(
        problems(&v).len(),
        lost.len(),
        "no extra, no unknown: {:#?}",
        problems(&v)
    );
    lab.down().unwrap();
}
