//! A real Docker Engine (dockerd 20.10 in a lab netns) reproduces the incident: healthy, every
//! published port answers from the external client and from 127.0.0.1 in the host netns; with
//! the iptables-1.8.11 bug model as dockerd's `iptables`, the second network's ports and its
//! loopback path time out while the first network keeps working.
//! Needs root and docker.io/containerd/runc: fails with a message naming what is missing.

use lab::real::{Lab, Options};
use lab::testing::{Expect::*, assert_expectations, assert_nothing_left};

fn up(options: Options) -> Lab {
    lab::core::cleanup_stale();
    let lab = Lab::up(options).unwrap_or_else(|e| panic!("real docker lab up failed: {e:#}"));
    for (stage, t) in lab.timings() {
        eprintln!("{} {t:>8.2?} {stage}", lab.name());
    }
    lab
}

fn down(lab: Lab) {
    let state = lab.state().clone();
    let t = std::time::Instant::now();
    lab.down().unwrap();
    eprintln!("{} down in {:.2?}", state.name, t.elapsed());
    assert_nothing_left(&state);
}

fn hairpin(bridge: &str) -> String {
    format!("-A POSTROUTING -o {bridge} -m addrtype --src-type LOCAL -j MASQUERADE")
}

#[test]
fn lab_real_docker_healthy_every_port_answers_from_client_and_loopback() {
    let lab = up(Options::default());
    assert!(lab.docker_state().engine_version.starts_with("20.10"));
    let ps = lab.docker(&["ps", "--format", "{{.Names}}"]).unwrap();
    assert!(ps.contains("n0c0") && ps.contains("n1c0"), "{ps}");
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
    let save = lab.iptables_save().unwrap();
    for n in lab.networks() {
        assert!(save.contains(&hairpin(&n.bridge)), "{}", save);
    }
    down(lab);
}

#[test]
fn lab_real_docker_faulty_iptables_breaks_second_network_and_loopback() {
    let lab = up(Options {
        faulty_iptables: true,
        ..Options::default()
    });
    // dockerd really ran the bug model.
    let log = lab.dockerd_log();
    assert!(
        log.contains(&format!("{}/bin/iptables", lab.dir().display())),
        "dockerd did not use the bug model; log:\n{log}"
    );
    let save = lab.iptables_save().unwrap();
    let (b0, b1) = (&lab.networks()[0].bridge, &lab.networks()[1].bridge);
    assert!(save.contains(&hairpin(b0)), "{save}");
    assert!(!save.contains(&hairpin(b1)), "{save}");
    assert!(
        save.contains(&format!("-A FORWARD -o {b0} -j DOCKER")),
        "{save}"
    );
    assert!(
        !save.contains(&format!("-A FORWARD -o {b1} -j DOCKER")),
        "{save}"
    );
    assert_expectations(&lab, &[(0, Answers, Answers), (1, TimesOut, TimesOut)]);
    down(lab);
}

#[test]
fn lab_real_docker_userland_proxy_hides_the_loopback_breakage_only() {
    // With the proxy on, 127.0.0.1 goes through docker-proxy (no hairpin MASQUERADE needed), so
    // the bug hides there; the external client still times out on the second network.
    let lab = up(Options {
        faulty_iptables: true,
        userland_proxy: true,
        ..Options::default()
    });
    let ps = lab.run_in_host("ps", &["-eo", "args"]).unwrap();
    assert!(ps.contains("docker-proxy"), "{ps}");
    assert_expectations(&lab, &[(0, Answers, Answers), (1, TimesOut, Answers)]);
    down(lab);
}

#[test]
fn lab_real_docker_dual_stack_faulty_iptables_loses_the_second_networks_ip6tables_rules() {
    let lab = up(Options {
        faulty_iptables: true,
        ipv6: true,
        ..Options::default()
    });
    let (b0, b1) = (&lab.networks()[0].bridge, &lab.networks()[1].bridge);
    // dockerd ran the model as ip6tables too: labnet1's IPv6 FORWARD rules are gone.
    let save6 = lab.run_in_host("ip6tables-nft-save", &[]).unwrap();
    assert!(
        save6.contains(&format!("-A FORWARD -o {b0} -j DOCKER")),
        "{save6}"
    );
    assert!(
        !save6.contains(&format!("-A FORWARD -o {b1} -j DOCKER")),
        "{save6}"
    );
    assert!(
        save6.contains("-A DOCKER -p tcp -m tcp --dport 8010 -j DNAT"),
        "{save6}"
    );
    for n in lab.networks() {
        let c = &n.containers[0];
        let v6 = lab.container_ipv6(&c.name).unwrap();
        assert!(
            v6.to_string()
                .starts_with(&lab.network_ipv6_subnet(&n.name).unwrap()[..11]),
            "{v6}"
        );
    }
    let t = lab::testing::PROBE_TIMEOUT;
    assert!(lab.http6_from_client(8000, t).is_ok());
    assert!(lab.http6_from_client(8010, t).is_timeout());
    assert_expectations(&lab, &[(0, Answers, Answers), (1, TimesOut, TimesOut)]);
    down(lab);
}
