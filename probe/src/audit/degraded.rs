//! Without the Engine API, a rule is reported missing only when the kernel itself implies it:
//! the same rule exists for another network or another published port (its twin), or the
//! port's own DNAT rule is there. Anything else cannot be told from the kernel and is
//! `unknown`, with the reason; a rule in Docker's chains that nothing inferred explains is
//! `unknown` too, not `extra`.

use std::net::IpAddr;

use super::{Finding, Status};
use crate::docker::state::{DockerState, StateSource};

/// The rule with every network's bridge name, every address and every port number replaced
/// by a placeholder: two networks' (or two ports') copies of one Docker rule look alike.
fn shape(rule: &str, bridges: &[String]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for w in rule.split_whitespace() {
        if bridges.iter().any(|b| b == w) {
            words.push("BR");
        } else if is_address(w) {
            words.push("ADDR");
        } else if w.bytes().all(|b| b.is_ascii_digit()) {
            words.push("N");
        } else {
            words.push(w);
        }
    }
    words.join(" ")
}

/// `172.18.0.2`, `172.18.0.0/16`, `[fd00::2]:80`, `172.18.0.2:80`.
fn is_address(w: &str) -> bool {
    let host = w.split('/').next().unwrap_or(w);
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && h.contains(['.', ']']) => h,
        _ => host,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// The container address a port rule names (`--to-destination CIP:PORT` or `-d CIP`).
fn container_addresses(rule: &str, state: &DockerState) -> Vec<IpAddr> {
    state
        .containers
        .iter()
        .flat_map(|c| &c.endpoints)
        .flat_map(|e| [e.ipv4, e.ipv6])
        .flatten()
        .filter(|ip| {
            rule.split_whitespace().any(|w| {
                let host = w.split('/').next().unwrap_or(w);
                let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
                host.trim_start_matches('[').trim_end_matches(']') == ip.to_string()
            })
        })
        .collect()
}

const NO_TWIN: &str = "without the Engine API nfprobe cannot tell whether Docker installs this \
     rule here: no other network or published port has it either (a network or daemon option \
     may turn it off)";
const UNEXPLAINED: &str = "in Docker's chains, but without the Engine API nfprobe cannot tell \
     which network, container or option it belongs to";

/// Apply the rule above to the findings of a degraded (no Engine API) view.
pub(crate) fn refine(findings: &mut [Finding], state: &DockerState) {
    if state.source != StateSource::Netlink {
        return;
    }
    let bridges: Vec<String> = state.networks.iter().map(|n| n.bridge()).collect();
    let present: Vec<(usize, String)> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            matches!(
                f.status,
                Status::Ok | Status::WrongOrder | Status::PresentCliClaimsMissing
            )
        })
        .map(|(i, f)| (i, shape(&f.rule, &bridges)))
        .collect();
    let mut verdicts = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        match f.status {
            Status::Extra => verdicts.push((i, UNEXPLAINED)),
            Status::Missing | Status::MissingCliClaimsPresent if f.network.is_some() => {
                let s = shape(&f.rule, &bridges);
                let twin = present.iter().any(|(j, ps)| {
                    let g = &findings[*j];
                    *ps == s && g.family == f.family && g.table == f.table && g.chain == f.chain
                });
                // A port rule's evidence is the port's own DNAT, from which the port was read.
                let cips = container_addresses(&f.rule, state);
                let port_seen = !cips.is_empty()
                    && present.iter().any(|(j, _)| {
                        let g = &findings[*j];
                        g.network == f.network
                            && g.rule.contains("DNAT")
                            && container_addresses(&g.rule, state)
                                .iter()
                                .any(|ip| cips.contains(ip))
                    });
                if !twin && !port_seen {
                    verdicts.push((i, NO_TWIN));
                }
            }
            _ => {}
        }
    }
    for (i, why) in verdicts {
        let f = &mut findings[i];
        f.status = Status::Unknown;
        f.fix = None;
        f.effect = None;
        f.detail = Some(why.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_look_alike_across_networks_and_ports() {
        let b = vec!["br-aaaaaaaaaaaa".to_owned(), "br-bbbbbbbbbbbb".to_owned()];
        assert_eq!(
            shape("-A FORWARD -o br-aaaaaaaaaaaa -j DOCKER", &b),
            shape("-A FORWARD -o br-bbbbbbbbbbbb -j DOCKER", &b)
        );
        assert_eq!(
            shape(
                "-A DOCKER -p tcp -m tcp --dport 8000 -j DNAT --to-destination 172.18.0.2:80",
                &b
            ),
            shape(
                "-A DOCKER -p tcp -m tcp --dport 8010 -j DNAT --to-destination [fd00::2]:8080",
                &b
            )
        );
        assert_ne!(
            shape("-A FORWARD -o br-aaaaaaaaaaaa -j DOCKER", &b),
            shape("-A FORWARD -i br-aaaaaaaaaaaa -j DOCKER", &b)
        );
        assert!(is_address("172.18.0.0/16") && is_address("[fd00::2]:80") && !is_address("DOCKER"));
    }
}
