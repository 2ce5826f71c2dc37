//! The attempts of one run: which ports, from where, and which of them Docker means to block.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::Serialize;

use crate::docker::state::{DockerState, Proto};
use crate::kernel::link::{self, Snapshot};
use crate::kernel::netns::NetnsSpec;

/// The published port an attempt is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    pub container: String,
    pub network: String,
    pub bridge: String,
    pub host_port: u16,
    pub container_port: u16,
    /// The container's address on its network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_ip: Option<IpAddr>,
}

/// Where an attempt starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VantageKind {
    /// A network namespace routed to the host (`--from-netns`): a remote user.
    Outside,
    /// The Docker host itself, to 127.0.0.1 (`curl localhost:PORT`).
    HostLoopback,
    /// The Docker host itself, to its own address.
    HostAddress,
    /// A container on another Docker network (the isolation path).
    Container,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vantage {
    pub kind: VantageKind,
    /// The Docker network a container vantage point is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// People's words: "outside client (nsname)", "the host via 127.0.0.1", ...
    pub label: String,
    /// The namespace the connection is made in (None: this process's own).
    #[serde(skip)]
    pub netns: Option<NetnsSpec>,
}

/// One planned attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub target: SocketAddr,
    pub from: Vantage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortInfo>,
    /// Docker means this connection to be blocked, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_blocked: Option<String>,
}

/// What the plan is built from.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    /// The Docker host's namespace (None: this process's).
    pub host: Option<NetnsSpec>,
    /// The outside client's namespace.
    pub from_netns: Option<NetnsSpec>,
    /// Explicit targets; empty: every published TCP port.
    pub targets: Vec<SocketAddr>,
    /// Only these vantage points (empty: every one that applies).
    pub only: Vec<VantageKind>,
}

/// The plan plus what was left out and why.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub attempts: Vec<Planned>,
    pub notes: Vec<String>,
}

/// Every published IPv4 TCP port of every container, with its network.
pub fn published_ports(
    state: &DockerState,
    notes: &mut Vec<String>,
) -> Vec<(PortInfo, Option<IpAddr>)> {
    let mut out = Vec::new();
    for c in &state.containers {
        let Some((net, ep)) = state.port_endpoint(c) else {
            if !c.ports.is_empty() {
                notes.push(format!(
                    "container {}: no network its ports are published on",
                    c.name
                ));
            }
            continue;
        };
        for p in &c.ports {
            if p.host_port == 0 {
                continue;
            }
            if p.proto != Proto::Tcp {
                notes.push(format!(
                    "{}/{} of container {}: only TCP ports are attempted",
                    p.host_port,
                    p.proto.as_str(),
                    c.name
                ));
                continue;
            }
            if p.host_ip.is_some_and(|ip| ip.is_ipv6()) {
                notes.push(format!(
                    "{} of container {} is published on IPv6 only: IPv6 is not attempted yet",
                    p.host_port, c.name
                ));
                continue;
            }
            let info = PortInfo {
                container: c.name.clone(),
                network: net.name.clone(),
                bridge: net.bridge(),
                host_port: p.host_port,
                container_port: p.container_port,
                container_ip: ep.ipv4,
            };
            let host_ip = p.host_ip.filter(|ip| !ip.is_unspecified());
            if !out.iter().any(|(i, h): &(PortInfo, Option<IpAddr>)| {
                i.host_port == info.host_port && *h == host_ip
            }) {
                out.push((info, host_ip));
            }
        }
    }
    out.sort_by_key(|(i, _)| i.host_port);
    out
}

/// IPv4 addresses of interfaces that are not loopback, not Docker bridges and not bridge
/// ports: the host's own addresses.
fn own_addresses(snap: &Snapshot) -> Vec<(IpAddr, u8)> {
    let skip: Vec<u32> = snap
        .links
        .iter()
        .filter(|l| l.name == "lo" || l.master.is_some() || l.kind.as_deref() == Some("bridge"))
        .map(|l| l.ifindex)
        .collect();
    snap.addresses
        .iter()
        .filter(|a| a.addr.is_ipv4() && !a.addr.is_loopback() && !skip.contains(&a.ifindex))
        .map(|a| (a.addr, a.prefix_len))
        .collect()
}

fn same_subnet(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        _ => false,
    }
}

/// The container namespace holding `ip`: only namespaces whose veth is a port of one of the
/// host's bridges count (other hosts' labs on the same machine reuse the same subnets).
fn netns_holding(
    ip: IpAddr,
    host: Option<&NetnsSpec>,
    host_snap: &Snapshot,
    host_ino: Option<u64>,
    cache: &mut BTreeMap<u64, (PathBuf, Vec<IpAddr>)>,
) -> Option<PathBuf> {
    if cache.is_empty() {
        let peers: Vec<i32> = host_snap
            .links
            .iter()
            .filter(|l| l.master.is_some())
            .filter_map(|l| l.link_netnsid)
            .collect();
        let spaces: Vec<(PathBuf, u64)> = link::namespaces()
            .into_iter()
            .filter(|(_, ino)| Some(*ino) != host_ino)
            .collect();
        let paths: Vec<PathBuf> = spaces.iter().map(|(p, _)| p.clone()).collect();
        let ids = link::netnsids(host, &paths).unwrap_or_default();
        for ((path, ino), id) in spaces.into_iter().zip(ids) {
            if !id.is_some_and(|id| peers.contains(&id)) {
                continue;
            }
            let spec = NetnsSpec::parse(&path.display().to_string());
            let addrs = link::snapshot(Some(&spec))
                .map(|s| s.addresses.iter().map(|a| a.addr).collect())
                .unwrap_or_default();
            cache.insert(ino, (path, addrs));
        }
    }
    cache
        .values()
        .find(|(_, addrs)| addrs.contains(&ip))
        .map(|(p, _)| p.clone())
}

fn inode(ns: Option<&NetnsSpec>) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let p = ns
        .map(|n| n.path.clone())
        .unwrap_or_else(|| PathBuf::from("/proc/self/ns/net"));
    std::fs::metadata(p).ok().map(|m| m.ino())
}

impl VantageKind {
    /// The netfilter hooks this attempt's packets (both directions) go through on the host.
    pub fn hooks(self) -> &'static [&'static str] {
        match self {
            // Forwarded to the container, answered through FORWARD again.
            VantageKind::Outside | VantageKind::Container => {
                &["PREROUTING", "FORWARD", "POSTROUTING"]
            }
            // Made on the host; the answers come back in through INPUT.
            VantageKind::HostLoopback | VantageKind::HostAddress => {
                &["OUTPUT", "POSTROUTING", "PREROUTING", "INPUT"]
            }
        }
    }

    pub const ALL: [VantageKind; 4] = [
        VantageKind::Outside,
        VantageKind::HostLoopback,
        VantageKind::HostAddress,
        VantageKind::Container,
    ];
    pub fn name(self) -> &'static str {
        match self {
            VantageKind::Outside => "outside",
            VantageKind::HostLoopback => "host-loopback",
            VantageKind::HostAddress => "host-address",
            VantageKind::Container => "container",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Build the plan. Addresses come from rtnetlink in the host's and the client's namespaces.
pub fn build(state: &DockerState, input: &PlanInput) -> Result<Plan, link::LinkError> {
    let mut plan = build_all(state, input)?;
    if !input.only.is_empty() {
        plan.attempts.retain(|a| input.only.contains(&a.from.kind));
    }
    Ok(plan)
}

fn build_all(state: &DockerState, input: &PlanInput) -> Result<Plan, link::LinkError> {
    let mut plan = Plan::default();
    let host_snap = link::snapshot(input.host.as_ref())?;
    let own = own_addresses(&host_snap);
    let host_label = "host".to_owned();
    // The host's address as the outside client reaches it: the one on the client's subnet.
    let outside = match &input.from_netns {
        Some(ns) => {
            let client = link::snapshot(Some(ns))?;
            let client_addrs: Vec<(IpAddr, u8)> = client
                .addresses
                .iter()
                .filter(|a| a.addr.is_ipv4() && !a.addr.is_loopback())
                .map(|a| (a.addr, a.prefix_len))
                .collect();
            let dst = own
                .iter()
                .map(|(a, _)| *a)
                .find(|h| client_addrs.iter().any(|(c, p)| same_subnet(*c, *h, *p)));
            if dst.is_none() {
                plan.notes.push(format!(
                    "no host address shares a subnet with {}: the outside client is only used for --target",
                    ns.spec
                ));
            }
            let from = Vantage {
                kind: VantageKind::Outside,
                network: None,
                label: match client_addrs.first() {
                    Some((a, _)) => format!("outside client {a}"),
                    None => format!("outside client ({})", ns.spec),
                },
                netns: Some(ns.clone()),
            };
            Some((from, dst))
        }
        None => None,
    };
    let loopback = Vantage {
        kind: VantageKind::HostLoopback,
        network: None,
        label: format!("{host_label} via 127.0.0.1"),
        netns: input.host.clone(),
    };
    let own_addr = own.first().map(|(a, _)| *a);
    let host_addr = own_addr.map(|a| Vantage {
        kind: VantageKind::HostAddress,
        network: None,
        label: format!("{host_label} via {a}"),
        netns: input.host.clone(),
    });

    if !input.targets.is_empty() {
        let ports = published_ports(state, &mut Vec::new());
        for t in &input.targets {
            let port = ports
                .iter()
                .find(|(p, _)| p.host_port == t.port())
                .map(|(p, _)| p.clone());
            if let Some((from, _)) = &outside {
                plan.attempts.push(Planned {
                    target: *t,
                    from: from.clone(),
                    port: port.clone(),
                    expect_blocked: None,
                });
            }
            let from = if t.ip().is_loopback() {
                loopback.clone()
            } else {
                Vantage {
                    kind: VantageKind::HostAddress,
                    network: None,
                    label: host_label.clone(),
                    netns: input.host.clone(),
                }
            };
            plan.attempts.push(Planned {
                target: *t,
                from,
                port,
                expect_blocked: None,
            });
        }
        return Ok(plan);
    }

    let ports = published_ports(state, &mut plan.notes);
    if ports.is_empty() {
        plan.notes
            .push("no running container publishes a TCP port".to_owned());
    }
    let host_ino = inode(input.host.as_ref());
    let mut ns_cache = BTreeMap::new();
    for (port, host_ip) in &ports {
        let p = port.host_port;
        if let Some((from, dst)) = &outside {
            let dst = host_ip.or(*dst);
            if let Some(d) = dst {
                plan.attempts.push(Planned {
                    target: SocketAddr::new(d, p),
                    from: from.clone(),
                    port: Some(port.clone()),
                    expect_blocked: None,
                });
            }
        }
        if host_ip.is_none_or(|ip| ip.is_loopback()) {
            plan.attempts.push(Planned {
                target: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p),
                from: loopback.clone(),
                port: Some(port.clone()),
                expect_blocked: None,
            });
        }
        if let Some(from) = &host_addr {
            let d = host_ip.filter(|ip| !ip.is_loopback()).or(own_addr);
            if let Some(d) = d {
                plan.attempts.push(Planned {
                    target: SocketAddr::new(d, p),
                    from: from.clone(),
                    port: Some(port.clone()),
                    expect_blocked: None,
                });
            }
        }
        // The isolation path: a container on another network straight to this container.
        let Some(cip) = port.container_ip else {
            continue;
        };
        let other = state.containers.iter().find_map(|c| {
            c.endpoints.iter().find_map(|e| {
                let net = state.network(&e.network)?;
                (e.network != port.network
                    && e.ipv4.is_some()
                    && !c.endpoints.iter().any(|x| x.network == port.network))
                .then_some((c, net, e.ipv4))
            })
        });
        let Some((c, net, Some(ip))) = other else {
            continue;
        };
        let Some(path) =
            netns_holding(ip, input.host.as_ref(), &host_snap, host_ino, &mut ns_cache)
        else {
            plan.notes.push(format!(
                "container {} ({ip}): its network namespace was not found; the isolation path to {} is not attempted",
                c.name, port.container
            ));
            continue;
        };
        let target_net = state.network(&port.network);
        let why = if target_net.is_some_and(|n| n.internal) {
            format!("{} is an internal network", port.network)
        } else {
            format!(
                "Docker isolates network {} from network {}",
                net.name, port.network
            )
        };
        plan.attempts.push(Planned {
            target: SocketAddr::new(cip, port.container_port),
            from: Vantage {
                kind: VantageKind::Container,
                // Without the Engine API a container is named by its address already.
                label: if c.name.contains(&ip.to_string()) {
                    c.name.clone()
                } else {
                    format!("container {} ({ip})", c.name)
                },
                network: Some(net.name.clone()),
                netns: Some(NetnsSpec::parse(&path.display().to_string())),
            },
            port: Some(port.clone()),
            expect_blocked: Some(why),
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(same_subnet(a("198.51.100.2"), a("198.51.100.1"), 24));
        assert!(!same_subnet(a("198.51.101.2"), a("198.51.100.1"), 24));
        assert!(same_subnet(a("10.0.0.1"), a("192.168.0.1"), 0));
        assert!(!same_subnet(a("10.0.0.1"), a("::1"), 0));
    }
}
