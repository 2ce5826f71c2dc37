//! The Docker 28.0.1 layout without Docker reproduces the incident: healthy, every published port
//! answers from the external client and from the host's 127.0.0.1; with the rules the 1.8.11 bug
//! loses, the second network's ports and its loopback path time out.
//! Needs root (network namespaces, iptables inside them): fails with a clear message otherwise.

use lab::docker28::{Backend, Fault, Lab, Options, RuleKind, RuleSelector};
use lab::testing::{Expect::*, assert_expectations, assert_nothing_left};

fn up(options: Options) -> Lab {
    lab::core::cleanup_stale();
    Lab::up(options).unwrap_or_else(|e| panic!("docker28 lab up failed: {e:#}"))
}

fn down(lab: Lab) {
    let state = lab.state().clone();
    lab.down().unwrap();
    assert_nothing_left(&state);
}

#[test]
fn lab_docker28_healthy_every_port_answers_from_client_and_loopback() {
    let lab = up(Options {
        containers_per_network: 2,
        ..Options::default()
    });
    assert_eq!(lab.networks().len(), 2);
    assert_eq!(lab.published_ports().len(), 4);
    assert!(
        lab.networks()
            .iter()
            .all(|n| n.bridge.starts_with("br-") && n.bridge.len() == 15)
    );
    // Each container's netns path works with nsenter and holds its address.
    for c in lab.networks().iter().flat_map(|n| &n.containers) {
        let out = std::process::Command::new("nsenter")
            .arg(format!("--net={}", c.netns_path.display()))
            .args(["ip", "-4", "-o", "addr"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("{}/16", c.ip)), "{}: {text}", c.name);
    }
    assert_expectations(&lab, &[(0, Answers, Answers), (1, Answers, Answers)]);
    // What the kernel holds is what the lab says it applied, rule for rule.
    let save = lab.iptables_save().unwrap();
    for r in lab.applied_rules().rules() {
        assert!(save.contains(&r.save_line()), "{r} not in\n{save}");
    }
    assert!(lab.removed_rules().is_empty());
    assert!(save.contains(":FORWARD DROP"));
    // Docker's sysctls.
    let host = lab.host_netns();
    assert_eq!(host.sysctl_get("net.ipv4.ip_forward").unwrap(), "1");
    for n in lab.networks() {
        let key = format!("net.ipv4.conf.{}.route_localnet", n.bridge);
        assert_eq!(host.sysctl_get(&key).unwrap(), "1");
    }
    down(lab);
}

#[test]
fn lab_docker28_iptables_1811_preset_breaks_second_network_and_loopback() {
    let lab = up(Options {
        faults: vec![Fault::Iptables1811],
        ..Options::default()
    });
    // Exactly the a.5 rows for two networks.
    let mut kinds: Vec<(RuleKind, Option<usize>)> = lab
        .removed_rules()
        .iter()
        .map(|r| (r.kind, r.network))
        .collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    let mut want = vec![
        (RuleKind::DefaultDrop, Some(1)),
        (RuleKind::BridgeJump, Some(1)),
        (RuleKind::CtAccept, Some(1)),
        (RuleKind::Isolation1, Some(1)),
        (RuleKind::Isolation2Drop, Some(1)),
        (RuleKind::HairpinMasquerade, Some(1)),
        (RuleKind::OutgoingAccept, Some(0)),
    ];
    want.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(kinds, want);
    let save = lab.iptables_save().unwrap();
    for r in lab.removed_rules() {
        assert!(!save.contains(&r.save_line()), "{r} still in the kernel");
    }
    // Network 1: no DOCKER-BRIDGE jump (client SYN falls to FORWARD DROP), no hairpin MASQUERADE
    // (loopback reply goes nowhere). Network 0 lost its `-i BR -j ACCEPT` to the buggy -D run by
    // network 1's setIcc, so its replies to the external client are dropped too, while its
    // loopback path (no FORWARD) still works.
    assert_expectations(&lab, &[(0, TimesOut, Answers), (1, TimesOut, TimesOut)]);
    down(lab);
}

#[test]
fn lab_docker28_skipped_rules_only_first_network_works_second_times_out() {
    let lab = up(Options {
        faults: vec![Fault::Iptables1811SkipsOnly],
        ..Options::default()
    });
    // The six a.5 rows of network 1 plus its outgoing ACCEPT (the look-alike of network 0's
    // `-i BR -j ACCEPT` makes Docker skip the Append when -D does not remove that look-alike).
    assert_eq!(lab.removed_rules().len(), 7);
    assert!(lab.removed_rules().iter().all(|r| r.network == Some(1)));
    assert_expectations(&lab, &[(0, Answers, Answers), (1, TimesOut, TimesOut)]);
    down(lab);
}

#[test]
fn lab_docker28_forward_accept_hides_the_forward_losses_but_not_loopback() {
    // "This shows only when the FORWARD policy is DROP": with ACCEPT the external client gets
    // through; the missing hairpin MASQUERADE still breaks 127.0.0.1 for network 1.
    let mut lab = up(Options {
        faults: vec![Fault::Iptables1811],
        ..Options::default()
    });
    lab.set_forward_policy("ACCEPT").unwrap();
    assert_expectations(&lab, &[(0, Answers, Answers), (1, Answers, TimesOut)]);
    down(lab);
}

#[test]
fn lab_docker28_delete_rules_at_runtime() {
    let mut lab = up(Options::default());
    let gone = lab
        .delete_rules(&[RuleSelector {
            kind: RuleKind::HairpinMasquerade,
            network: Some(0),
        }])
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(lab.removed_rules().len(), 1);
    assert!(!lab.iptables_save().unwrap().contains(&gone[0].save_line()));
    // Only network 0's loopback path breaks.
    assert_expectations(&lab, &[(0, Answers, TimesOut), (1, Answers, Answers)]);
    down(lab);
}

#[test]
fn lab_docker28_legacy_backend_and_both_backends() {
    let lab = up(Options {
        backend: Backend::Legacy,
        networks: 1,
        default_bridge: true,
        faults: vec![Fault::BothBackends],
        ..Options::default()
    });
    assert_eq!(lab.networks()[0].bridge, "docker0");
    assert_eq!(lab.networks()[1].bridge.len(), 15);
    let legacy = lab.iptables_save_backend("legacy").unwrap();
    let nft = lab.iptables_save_backend("nft").unwrap();
    for r in lab.applied_rules().rules() {
        assert!(legacy.contains(&r.save_line()), "{r} not in legacy");
        assert!(nft.contains(&r.save_line()), "{r} not in nft");
    }
    assert_expectations(&lab, &[(0, Answers, Answers), (1, Answers, Answers)]);
    down(lab);
}

#[test]
fn lab_docker28_state_and_teardown_after_panic() {
    lab::core::cleanup_stale();
    let mut state = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::up(Options {
            networks: 1,
            ..Options::default()
        })
        .unwrap();
        // Another process can find it by name.
        let found = lab::state::find(lab.name()).unwrap();
        assert_eq!(found.topology.as_ref(), Some(lab.topology()));
        let ds = found.docker_state.unwrap();
        assert_eq!(ds.engine_version, "28.0.1");
        assert!(!ds.daemon.userland_proxy);
        assert_eq!(ds.containers[0].ports[0].host_port, 8000);
        let json = serde_json::to_string(&ds).unwrap();
        assert!(json.contains(&lab.networks()[0].bridge));
        state = Some(lab.state().clone());
        panic!("on purpose: the drop guard must remove the lab");
    }));
    assert!(result.is_err());
    assert_nothing_left(&state.unwrap());
}

#[test]
fn lab_docker28_failed_up_removes_what_it_built() {
    lab::core::cleanup_stale();
    // Network 1's host port overflows u16: up fails after network 0 and its httpd exist.
    let err = Lab::up(Options {
        first_host_port: 65530,
        ..Options::default()
    })
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("host port out of range"), "{msg}");
    let name = msg
        .split_whitespace()
        .nth(1)
        .map(|n| n.trim_end_matches(':'))
        .unwrap();
    assert!(name.starts_with("nfl"), "{msg}");
    assert!(
        !std::path::Path::new(lab::names::LAB_ROOT)
            .join(name)
            .exists()
    );
    assert!(lab::netns::list(&format!("{name}-")).is_empty());
}
