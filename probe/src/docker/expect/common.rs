//! Shared pieces of every layout: the builder that records rules in Docker's order, and the
//! address spellings Docker uses.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{ChainSpec, Expectation, Expected, Layout, Op, Order};
use crate::docker::state::{Container, DockerState, Endpoint, Network, PortBinding};
use crate::ruleset::parse::{ParseError, parse_args};
use crate::ruleset::{Family, Rule};

/// Docker argument list → canonical rule. The one place that chooses the parser.
pub fn to_rule(family: Family, args: &[String]) -> Result<Rule, ParseError> {
    // The chain name is irrelevant to the rule itself; `ruleset::parse` wants a command.
    let mut words = Vec::with_capacity(args.len() + 2);
    words.extend(["-A".to_owned(), "DOCKER-EXPECT".to_owned()]);
    words.extend_from_slice(args);
    parse_args(family, &words).map(|p| p.rule)
}

pub(super) struct Builder {
    pub e: Expectation,
    /// (family, table, chain, args) → index, so a rule programmed twice is kept once.
    seen: HashMap<(Family, String, String, Vec<String>), usize>,
}

/// Who a rule belongs to.
#[derive(Clone, Copy)]
pub(super) struct Owner<'a> {
    pub net: Option<&'a Network>,
}

impl Builder {
    pub fn new(layout: Layout) -> Self {
        Self {
            e: Expectation {
                layout,
                chains: Vec::new(),
                rules: Vec::new(),
                order: Vec::new(),
                nft: Vec::new(),
                notes: Vec::new(),
            },
            seen: HashMap::new(),
        }
    }

    pub fn chain(&mut self, family: Family, table: &str, chain: &str) {
        let c = ChainSpec {
            family,
            table: table.into(),
            chain: chain.into(),
        };
        if !self.e.chains.contains(&c) {
            self.e.chains.push(c);
        }
    }

    /// Record a rule; a rule Docker programs twice (same family/table/chain/args) is kept once.
    #[allow(clippy::too_many_arguments)]
    pub fn rule(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        op: Op,
        args: &[&str],
        owner: Owner<'_>,
        what: impl Into<String>,
        effect: impl Into<String>,
    ) -> usize {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let key = (family, table.to_owned(), chain.to_owned(), args.clone());
        if let Some(&i) = self.seen.get(&key) {
            return i;
        }
        self.seen.insert(key, self.e.rules.len());
        self.e.rules.push(Expected {
            family,
            table: table.into(),
            chain: chain.into(),
            args,
            op,
            network: owner.net.map(|n| n.name.clone()),
            bridge: owner.net.map(Network::bridge),
            what: what.into(),
            effect: effect.into(),
        });
        self.e.rules.len() - 1
    }

    pub fn order(&mut self, first: usize, then: usize, why: impl Into<String>) {
        if first != then {
            self.e.order.push(Order {
                first,
                then,
                why: why.into(),
            });
        }
    }

    pub fn note(&mut self, n: impl Into<String>) {
        let n = n.into();
        if !self.e.notes.contains(&n) {
            self.e.notes.push(n);
        }
    }
}

/// Families Docker programs for the daemon: IPv4 with `iptables`, IPv6 with `ip6tables`
/// (default on from 27.0).
pub(super) fn families(state: &DockerState) -> Vec<Family> {
    let mut f = Vec::new();
    if state.daemon.iptables {
        f.push(Family::Ipv4);
    }
    let v6_default = state.version().is_some_and(|(m, _)| m >= 27);
    if state.daemon.ip6tables.unwrap_or(v6_default) {
        f.push(Family::Ipv6);
    }
    f
}

/// A network takes part in a family when it has a subnet of that family (IPv6 also needs
/// EnableIPv6).
pub(super) fn net_subnet(n: &Network, family: Family) -> Option<String> {
    let v4 = family == Family::Ipv4;
    if !v4 && !n.enable_ipv6 {
        return None;
    }
    n.subnets_of(v4)
        .next()
        .map(|s| s.subnet.network().to_string())
}

pub(super) fn loopback(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "127.0.0.0/8",
        Family::Ipv6 => "::1/128",
    }
}

pub(super) fn ip_of(ep: &Endpoint, family: Family) -> Option<IpAddr> {
    match family {
        Family::Ipv4 => ep.ipv4,
        Family::Ipv6 => ep.ipv6,
    }
}

/// `host:port` as Go's net.JoinHostPort writes it (IPv6 in brackets).
pub(super) fn join_host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// The host address a binding of this family listens on, or None when the binding belongs
/// to the other family. Unspecified/absent → `0/0` (any).
pub(super) fn binding_host(
    state: &DockerState,
    net: &Network,
    p: &PortBinding,
    family: Family,
) -> Option<String> {
    let default = match family {
        Family::Ipv4 => net
            .host_binding_ipv4
            .or(state.daemon.ip.filter(IpAddr::is_ipv4)),
        Family::Ipv6 => state.daemon.ip.filter(IpAddr::is_ipv6),
    };
    let ip = p.host_ip.or(default);
    match (family, ip) {
        (Family::Ipv4, None) => Some("0/0".into()),
        (Family::Ipv4, Some(IpAddr::V4(a))) if a.is_unspecified() => Some("0/0".into()),
        (Family::Ipv4, Some(IpAddr::V4(a))) => Some(a.to_string()),
        (Family::Ipv6, Some(IpAddr::V6(a))) if a.is_unspecified() => Some("::/0".into()),
        (Family::Ipv6, Some(IpAddr::V6(a))) => Some(a.to_string()),
        _ => None,
    }
}

/// Every (container, endpoint, network, binding) whose ports are mapped on that network.
pub(super) fn port_mappings(
    state: &DockerState,
) -> Vec<(&Container, &Endpoint, &Network, &PortBinding)> {
    let mut out = Vec::new();
    for c in &state.containers {
        let Some((net, ep)) = state.port_endpoint(c) else {
            continue;
        };
        for p in &c.ports {
            out.push((c, ep, net, p));
        }
    }
    out
}

pub(super) fn port_label(c: &Container, p: &PortBinding) -> String {
    format!(
        "published port {}/{} -> {}:{}",
        p.host_port,
        p.proto.as_str(),
        c.name,
        p.container_port
    )
}
