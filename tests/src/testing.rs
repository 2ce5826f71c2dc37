//! Helpers for the end-to-end tests: probe every published port and say exactly which
//! expectation failed, and prove a lab left nothing behind.

use std::time::Duration;

use crate::core::LabCore;
use crate::net::Outcome;
use crate::state::LabState;
use crate::topology::Network;

/// Probe timeout used by the tests: the incident's symptom is a timeout, so keep it short.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Expected result of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// HTTP 200 from the right container.
    Answers,
    /// No answer within the timeout (packets dropped).
    TimesOut,
}

/// Probe every published port of `net` from the external client and from the host's loopback
/// (all probes at once, so timeouts do not add up); returns the mismatches (empty = as expected).
pub fn check_network(
    lab: &LabCore,
    net: &Network,
    from_client: Expect,
    from_host: Expect,
) -> Vec<String> {
    let mut probes = Vec::new();
    for c in &net.containers {
        for p in &c.ports {
            probes.push((c, p.host_port, "external client", from_client));
            probes.push((c, p.host_port, "host 127.0.0.1", from_host));
        }
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = probes
            .iter()
            .map(|&(c, port, who, expect)| {
                s.spawn(move || {
                    let got = if who == "external client" {
                        lab.http_from_client(port, PROBE_TIMEOUT)
                    } else {
                        lab.http_from_host(port, PROBE_TIMEOUT)
                    };
                    let ok = match (expect, &got) {
                        (Expect::Answers, Outcome::Ok(body)) => body == &c.http_body,
                        (Expect::TimesOut, Outcome::TimedOut) => true,
                        _ => false,
                    };
                    (!ok).then(|| {
                        format!(
                            "network {} ({}) container {} port {port}: from {who} expected {expect:?}, got {got:?}",
                            net.name, net.bridge, c.name
                        )
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or_else(|_| Some("probe thread panicked".into()))
            })
            .collect()
    })
}

/// Panic with every mismatch listed (and the ruleset, to debug).
pub fn assert_expectations(lab: &LabCore, expectations: &[(usize, Expect, Expect)]) {
    let bad: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = expectations
            .iter()
            .map(|&(i, c, h)| s.spawn(move || check_network(lab, &lab.networks()[i], c, h)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["probe thread panicked".into()])
            })
            .collect()
    });
    if !bad.is_empty() {
        panic!(
            "{}\n--- iptables-save of {}:\n{}",
            bad.join("\n"),
            lab.host_netns().name(),
            lab.iptables_save().unwrap_or_else(|e| e.to_string())
        );
    }
}

/// Panic if anything of the lab still exists.
pub fn assert_nothing_left(state: &LabState) {
    let left = crate::teardown::leftovers(state);
    assert!(left.is_empty(), "lab {} left behind: {left:?}", state.name);
}
