//! Without the Engine API: what the kernel's own rules show about Docker's configuration.
//!
//! The degraded view knows Docker's bridges and their addresses (rtnetlink) but not its
//! containers, published ports or options. Docker's rules carry some of that: the nat OUTPUT
//! jump and the loopback MASQUERADE rules tell whether the userland proxy is off, each DNAT
//! rule names a published port and the container behind it, and the chain set and a few rule
//! shapes tell the rule layout. What the rules do not show stays unknown and is said so; it is
//! never guessed into a "missing" rule.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::expect::Layout;
use super::state::{Container, DockerState, Endpoint, PortBinding, Proto};
use crate::ruleset::{Family, Ruleset, render};

/// One rule of Docker's tables as iptables-save words (decodable rules only).
struct KernelRule<'a> {
    family: Family,
    table: &'a str,
    chain: &'a str,
    words: Vec<String>,
}

impl KernelRule<'_> {
    /// The value after `flag` (`--dport 80` → `80`), unless negated (`! -i br`).
    fn value(&self, flag: &str) -> Option<&str> {
        let i = self.words.iter().position(|w| w == flag)?;
        if i > 0 && self.words[i - 1] == "!" {
            return None;
        }
        self.words.get(i + 1).map(String::as_str)
    }

    fn has(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
    }

    fn target(&self) -> Option<&str> {
        self.value("-j")
    }
}

fn kernel_rules(rulesets: &[Ruleset]) -> Vec<KernelRule<'_>> {
    let mut out = Vec::new();
    for rs in rulesets {
        for t in &rs.tables {
            for c in &t.chains {
                for r in c.rules.iter().filter(|r| r.undecoded.is_empty()) {
                    out.push(KernelRule {
                        family: rs.family,
                        table: &t.name,
                        chain: &c.name,
                        words: render::rule_text(r)
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect(),
                    });
                }
            }
        }
    }
    out
}

/// `172.18.0.2:80` or `[fd00::2]:80` → (address, port).
fn split_host_port(s: &str) -> Option<(IpAddr, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.parse().ok()?, port.parse().ok()?))
}

/// `192.0.2.7/32` or `192.0.2.7` → the address of a single-host match.
fn single_host(s: &str) -> Option<IpAddr> {
    match s.split_once('/') {
        Some((a, "32" | "128")) => a.parse().ok(),
        Some(_) => None,
        None => s.parse().ok(),
    }
}

fn proto(s: &str) -> Option<Proto> {
    match s {
        "tcp" => Some(Proto::Tcp),
        "udp" => Some(Proto::Udp),
        "sctp" => Some(Proto::Sctp),
        _ => None,
    }
}

/// Fill `state` (a degraded view: bridges only) with what Docker's rules in the kernel show,
/// and return what could not be told, in people's words. The layout is read off the kernel
/// separately ([`layout`]).
pub fn from_kernel(state: &mut DockerState, rulesets: &[Ruleset]) -> Vec<String> {
    let rules = kernel_rules(rulesets);
    let mut notes = Vec::new();
    userland_proxy(state, &rules, &mut notes);
    published_ports(state, &rules, &mut notes);
    notes
}

fn userland_proxy(state: &mut DockerState, rules: &[KernelRule<'_>], notes: &mut Vec<String>) {
    let output_jumps: Vec<&KernelRule<'_>> = rules
        .iter()
        .filter(|r| r.table == "nat" && r.chain == "OUTPUT" && r.target() == Some("DOCKER"))
        .collect();
    let loopback_masq = rules.iter().any(|r| {
        r.table == "nat"
            && r.chain == "POSTROUTING"
            && r.has("--src-type")
            && r.value("--src-type") == Some("LOCAL")
            && r.value("-o").is_some()
    });
    // Proxy on: OUTPUT skips loopback (`! -d 127.0.0.0/8`); off: it does not, and every
    // network gets a loopback MASQUERADE.
    let skips_loopback = |r: &KernelRule<'_>| {
        r.words
            .windows(3)
            .any(|w| w[0] == "!" && w[1] == "-d" && (w[2] == "127.0.0.0/8" || w[2] == "::1/128"))
    };
    let (proxy, why) = match (output_jumps.is_empty(), loopback_masq) {
        (false, _) if output_jumps.iter().all(|r| skips_loopback(r)) => {
            (Some(true), "nat OUTPUT skips 127.0.0.0/8")
        }
        (false, _) => (Some(false), "nat OUTPUT does not skip 127.0.0.0/8"),
        (true, true) => (Some(false), "a loopback MASQUERADE rule exists"),
        (true, false) => (None, ""),
    };
    match proxy {
        Some(p) => {
            state.daemon.userland_proxy = p;
            state
                .daemon
                .sources
                .insert("userland-proxy".into(), format!("kernel ({why})"));
        }
        None => notes.push(
            "whether the userland proxy is on cannot be read from the kernel (no nat OUTPUT \
             jump to DOCKER and no loopback MASQUERADE): Docker's default (on) is assumed"
                .into(),
        ),
    }
}

/// The network whose subnet holds `ip`.
fn network_of(state: &DockerState, ip: IpAddr) -> Option<String> {
    state
        .networks
        .iter()
        .find(|n| n.subnets.iter().any(|s| s.subnet.contains(&ip)))
        .map(|n| n.name.clone())
}

fn published_ports(state: &mut DockerState, rules: &[KernelRule<'_>], notes: &mut Vec<String>) {
    // Container address → its ports, in the kernel's order.
    let mut by_ip: BTreeMap<IpAddr, (String, Vec<PortBinding>)> = BTreeMap::new();
    for r in rules
        .iter()
        .filter(|r| r.table == "nat" && r.chain == "DOCKER" && r.target() == Some("DNAT"))
    {
        let Some((cip, cport)) = r.value("--to-destination").and_then(split_host_port) else {
            continue;
        };
        let (Some(p), Some(hport)) = (
            r.value("-p").and_then(proto),
            r.value("--dport").and_then(|v| v.parse::<u16>().ok()),
        ) else {
            continue;
        };
        let Some(net) = network_of(state, cip) else {
            notes.push(format!(
                "a DNAT rule forwards port {hport}/{} to {cip}, which is in no Docker network's subnet",
                p.as_str()
            ));
            continue;
        };
        let host_ip = r.value("-d").and_then(single_host);
        let entry = by_ip.entry(cip).or_insert_with(|| (net, Vec::new()));
        let binding = PortBinding {
            host_ip,
            host_port: hport,
            container_port: cport,
            proto: p,
        };
        if !entry.1.contains(&binding) {
            entry.1.push(binding);
        }
    }
    // A port's ACCEPT without a DNAT: published, but its host port cannot be read back.
    for r in rules
        .iter()
        .filter(|r| r.table == "filter" && r.chain == "DOCKER" && r.target() == Some("ACCEPT"))
    {
        let (Some(cip), Some(p), Some(cport)) = (
            r.value("-d").and_then(single_host),
            r.value("-p"),
            r.value("--dport").and_then(|v| v.parse::<u16>().ok()),
        ) else {
            continue;
        };
        let known = by_ip.get(&cip).is_some_and(|(_, ps)| {
            ps.iter()
                .any(|b| b.container_port == cport && b.proto.as_str() == p)
        });
        if !known {
            notes.push(format!(
                "{} has an ACCEPT rule for {cip}:{cport}/{p} but no DNAT rule: the port's DNAT may \
                 be lost, or it was published without a host port; without the Engine API its \
                 host port is unknown",
                match r.family {
                    Family::Ipv4 => "IPv4",
                    Family::Ipv6 => "IPv6",
                }
            ));
        }
    }
    for (cip, (net, ports)) in by_ip {
        let (ipv4, ipv6) = match cip {
            IpAddr::V4(_) => (Some(cip), None),
            IpAddr::V6(_) => (None, Some(cip)),
        };
        state.containers.push(Container {
            name: format!("container {cip}"),
            id: String::new(),
            endpoints: vec![Endpoint {
                network: net.clone(),
                ipv4,
                ipv6,
            }],
            ports,
            ports_network: Some(net),
            exposed: Vec::new(),
            links: Vec::new(),
        });
    }
}

/// The rule layout Docker's chains and rule shapes show: (layout, why).
pub fn layout(rulesets: &[Ruleset], nftables_tables: bool) -> (Layout, String) {
    if nftables_tables {
        return (
            Layout::V29Nft,
            "the nftables docker-bridges tables exist".into(),
        );
    }
    let rules = kernel_rules(rulesets);
    let has_chain = |name: &str| {
        rulesets.iter().any(|rs| {
            rs.tables
                .iter()
                .any(|t| t.name == "filter" && t.chains.iter().any(|c| c.name == name))
        })
    };
    if has_chain("DOCKER-INTERNAL") {
        return (Layout::V29, "chain DOCKER-INTERNAL exists".into());
    }
    if !has_chain("DOCKER-FORWARD") {
        return (Layout::V20, "no DOCKER-FORWARD chain".into());
    }
    // 28.3+ dropped DOCKER-USER's RETURN rule; 28.0 drops direct access per published port
    // (`--dport` in raw PREROUTING), 28.2 per endpoint.
    let user_return = rules
        .iter()
        .any(|r| r.table == "filter" && r.chain == "DOCKER-USER" && r.target() == Some("RETURN"));
    if !user_return {
        return (
            Layout::V28_3,
            "DOCKER-FORWARD exists and DOCKER-USER has no RETURN rule".into(),
        );
    }
    let raw_drops: Vec<&KernelRule<'_>> = rules
        .iter()
        .filter(|r| r.table == "raw" && r.chain == "PREROUTING" && r.target() == Some("DROP"))
        .collect();
    if !raw_drops.is_empty() && raw_drops.iter().all(|r| r.value("--dport").is_none()) {
        return (
            Layout::V28_2,
            "DOCKER-USER returns and raw drops are per endpoint".into(),
        );
    }
    (
        Layout::V28_0,
        if raw_drops.is_empty() {
            "DOCKER-USER returns (28.0 or 28.2: no raw drop shows which; 28.0 assumed)".into()
        } else {
            "DOCKER-USER returns and raw drops are per published port".into()
        },
    )
}
