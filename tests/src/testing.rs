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

/// Containers of different networks that reach each other: a TCP connect from one container's
/// netns to the other's address, on port 80 (its server) and port 81 (nothing listens: a
/// reset means the path is open), both directions, all probed at once. Docker's isolation
/// means every such connect times out; each one that does not is listed. (Port 81 matters
/// for Docker 28, whose raw-table direct-access DROP still guards the published port 80.)
pub fn isolation_breaches(lab: &LabCore) -> Vec<String> {
    let mut pairs = Vec::new();
    for (i, a) in lab.networks().iter().enumerate() {
        for (j, b) in lab.networks().iter().enumerate() {
            if i == j {
                continue;
            }
            for ca in &a.containers {
                for cb in &b.containers {
                    for port in [80, 81] {
                        pairs.push((a, ca, b, cb, port));
                    }
                }
            }
        }
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|&(a, ca, b, cb, port)| {
                s.spawn(move || {
                    let to = std::net::SocketAddr::from((cb.ip, port));
                    let got = crate::net::tcp_connect(&ca.netns_path, to, PROBE_TIMEOUT);
                    (!got.is_timeout()).then(|| {
                        format!(
                            "{} ({}) -> {} ({}) {to}: {got:?}, expected a timeout (networks isolated)",
                            ca.name, a.name, cb.name, b.name
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

/// A second source address on the external client's link (`198.51.100.3`), for a rule that
/// drops one source while the other keeps working. Idempotent.
pub const SECOND_CLIENT_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 51, 100, 3);

pub fn add_second_client_addr(lab: &LabCore) -> anyhow::Result<()> {
    let have = lab
        .client_netns()
        .ip(&["-4", "-o", "addr", "show", "dev", "eth0"])?;
    if !have.contains(&format!("{SECOND_CLIENT_ADDR}/")) {
        lab.client_netns().ip(&[
            "addr",
            "add",
            &format!("{SECOND_CLIENT_ADDR}/24"),
            "dev",
            "eth0",
        ])?;
    }
    Ok(())
}

/// HTTP GET `host:port` from the external client with source address `src` (curl
/// `--interface`): Ok(body), or TimedOut when nothing answered within [`PROBE_TIMEOUT`].
pub fn http_from_client_source(lab: &LabCore, src: std::net::Ipv4Addr, port: u16) -> Outcome {
    let url = format!("http://{}:{port}/", lab.host_addr_for_client());
    let secs = format!("{:.1}", PROBE_TIMEOUT.as_secs_f64());
    let out = lab
        .client_netns()
        .cmd("curl")
        .args(["-s", "-m", &secs, "--interface", &src.to_string(), &url])
        .output();
    match out {
        Ok(o) if o.status.success() => Outcome::Ok(String::from_utf8_lossy(&o.stdout).into()),
        Ok(o) if o.status.code() == Some(28) => Outcome::TimedOut,
        Ok(o) => Outcome::Error(format!("curl exit {:?}", o.status.code())),
        Err(e) => Outcome::Error(e.to_string()),
    }
}
