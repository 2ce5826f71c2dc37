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

/// Probe every published port of `net` from the external client and from the host's loopback;
/// returns a list of mismatches (empty = as expected).
pub fn check_network(
    lab: &LabCore,
    net: &Network,
    from_client: Expect,
    from_host: Expect,
) -> Vec<String> {
    let mut bad = Vec::new();
    for c in &net.containers {
        for p in &c.ports {
            for (who, expect, got) in [
                (
                    "external client",
                    from_client,
                    lab.http_from_client(p.host_port, PROBE_TIMEOUT),
                ),
                (
                    "host 127.0.0.1",
                    from_host,
                    lab.http_from_host(p.host_port, PROBE_TIMEOUT),
                ),
            ] {
                let ok = match (expect, &got) {
                    (Expect::Answers, Outcome::Ok(body)) => body == &c.http_body,
                    (Expect::TimesOut, Outcome::TimedOut) => true,
                    _ => false,
                };
                if !ok {
                    bad.push(format!(
                        "network {} ({}) container {} port {}: from {who} expected {expect:?}, got {got:?}",
                        net.name, net.bridge, c.name, p.host_port
                    ));
                }
            }
        }
    }
    bad
}

/// Panic with every mismatch listed (and the ruleset, to debug).
pub fn assert_expectations(lab: &LabCore, expectations: &[(usize, Expect, Expect)]) {
    let mut bad = Vec::new();
    for &(i, c, h) in expectations {
        bad.extend(check_network(lab, &lab.networks()[i], c, h));
    }
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
