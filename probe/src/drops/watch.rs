//! Which interfaces to watch: the Docker bridges of a namespace with their veth ports (and the
//! container-side peers), or the interfaces the user named; and the uplinks, whose kernel
//! statistics show what came in before it went to a bridge (never watched for drops).

use std::collections::BTreeMap;
use std::net::IpAddr;

use probe_common::drops::{WATCH_BRIDGE, WATCH_NAMED, WATCH_PEER, WATCH_PORT};
use serde::Serialize;

use crate::kernel::link::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Bridge,
    Port,
    Peer,
    Named,
    /// Another interface of the host with an address (where outside traffic comes in):
    /// interface statistics only, its drops are not watched.
    Uplink,
}

impl Role {
    /// Bits of the drop watch list (0: not on it).
    pub fn bits(self) -> u32 {
        match self {
            Role::Bridge => WATCH_BRIDGE,
            Role::Port => WATCH_PORT,
            Role::Peer => WATCH_PEER,
            Role::Named => WATCH_NAMED,
            Role::Uplink => 0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Bridge => "bridge",
            Role::Port => "port",
            Role::Peer => "peer",
            Role::Named => "named",
            Role::Uplink => "uplink",
        }
    }
}

/// One watched interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Inode of its network namespace.
    pub netns: u32,
    pub ifindex: u32,
    pub name: String,
    pub role: Role,
    /// The bridge a port belongs to (or the bridge behind a peer).
    pub bridge: Option<String>,
    /// For a port: the peer's (netnsid, ifindex) as seen from the port's namespace.
    #[serde(skip)]
    pub peer: Option<(i32, u32)>,
    /// For a bridge: its subnets (network address, prefix), watched as flows.
    #[serde(skip)]
    pub nets: Vec<(IpAddr, u8)>,
}

/// The network address of `addr/prefix`.
pub fn network(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::from((bits & mask).to_be_bytes())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::from((bits & mask).to_be_bytes())
        }
    }
}

/// What to watch in the namespace `netns` (its inode) given its links: the named interfaces
/// if any (all must exist), else every Docker bridge and its ports.
pub fn select(snap: &Snapshot, netns: u32, ifaces: &[String]) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    if !ifaces.is_empty() {
        for name in ifaces {
            let link = snap.by_name(name).ok_or_else(|| name.clone())?;
            out.push(Target {
                netns,
                ifindex: link.ifindex,
                name: link.name.clone(),
                role: Role::Named,
                bridge: link
                    .master
                    .and_then(|m| snap.by_index(m))
                    .map(|b| b.name.clone()),
                peer: None,
                nets: Vec::new(),
            });
        }
        return Ok(out);
    }
    for br in snap.docker_bridges() {
        out.push(Target {
            netns,
            ifindex: br.link.ifindex,
            name: br.link.name.clone(),
            role: Role::Bridge,
            bridge: None,
            peer: None,
            nets: br
                .addresses
                .iter()
                .filter(|a| !a.addr.is_ipv6() || !is_link_local(a.addr))
                .map(|a| (network(a.addr, a.prefix_len), a.prefix_len))
                .collect(),
        });
        for port in br.ports {
            out.push(Target {
                netns,
                ifindex: port.ifindex,
                name: port.name.clone(),
                role: Role::Port,
                bridge: Some(br.link.name.clone()),
                peer: port.link_netnsid.zip(port.link),
                nets: Vec::new(),
            });
        }
    }
    Ok(out)
}

/// The namespace's other interfaces that are up and carry an address that is not link-local:
/// loopback, the Docker bridges and their ports excluded. Traffic to the containers comes in
/// on these.
pub fn uplinks(snap: &Snapshot, netns: u32) -> Vec<Target> {
    let docker: Vec<u32> = snap
        .docker_bridges()
        .iter()
        .map(|b| b.link.ifindex)
        .collect();
    snap.links
        .iter()
        .filter(|l| l.up && l.name != "lo" && !docker.contains(&l.ifindex))
        .filter(|l| !l.master.is_some_and(|m| docker.contains(&m)))
        .filter(|l| {
            snap.addresses
                .iter()
                .any(|a| a.ifindex == l.ifindex && !is_link_local(a.addr) && !a.addr.is_loopback())
        })
        .map(|l| Target {
            netns,
            ifindex: l.ifindex,
            name: l.name.clone(),
            role: Role::Uplink,
            bridge: None,
            peer: None,
            nets: Vec::new(),
        })
        .collect()
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

/// Targets keyed by (netns, ifindex), the watch map's key.
pub fn by_key(targets: &[Target]) -> BTreeMap<(u32, u32), Target> {
    targets
        .iter()
        .map(|t| ((t.netns, t.ifindex), t.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::link::Link;

    fn link(ifindex: u32, name: &str, kind: &str, master: Option<u32>) -> Link {
        Link {
            ifindex,
            name: name.into(),
            kind: Some(kind.into()),
            master,
            link: None,
            link_netnsid: None,
            up: true,
            mtu: None,
            mac: None,
        }
    }

    #[test]
    fn docker_bridges_and_ports_or_named() {
        let snap = Snapshot {
            links: vec![
                link(2, "docker0", "bridge", None),
                link(3, "vethaaa", "veth", Some(2)),
                link(4, "virbr0", "bridge", None),
                link(5, "vethbbb", "veth", Some(4)),
            ],
            addresses: vec![],
        };
        let t = select(&snap, 99, &[]).unwrap();
        let names: Vec<_> = t.iter().map(|t| (t.name.as_str(), t.role)).collect();
        assert_eq!(names, [("docker0", Role::Bridge), ("vethaaa", Role::Port)]);
        assert_eq!(t[1].bridge.as_deref(), Some("docker0"));
        let t = select(&snap, 99, &["vethbbb".into()]).unwrap();
        assert_eq!(t[0].role, Role::Named);
        assert_eq!(t[0].bridge.as_deref(), Some("virbr0"));
        assert_eq!(select(&snap, 99, &["nope".into()]).unwrap_err(), "nope");
        let mut snap = snap;
        snap.links.push(link(6, "eth0", "veth", None));
        snap.links.push(link(1, "lo", "loopback", None));
        snap.links.push(link(7, "eth1", "veth", None));
        let addr = |ifindex: u32, a: &str| crate::kernel::link::Address {
            ifindex,
            addr: a.parse().unwrap(),
            prefix_len: 24,
        };
        snap.addresses = vec![
            addr(6, "192.0.2.10"),
            addr(1, "127.0.0.1"),
            addr(2, "172.17.0.1"),
            addr(7, "fe80::1"),
        ];
        let up: Vec<_> = uplinks(&snap, 99)
            .into_iter()
            .map(|t| (t.name, t.role))
            .collect();
        assert_eq!(up, [("eth0".to_owned(), Role::Uplink)]);
        assert_eq!(
            network("172.18.0.1".parse().unwrap(), 16),
            "172.18.0.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network("fd00::1:2".parse().unwrap(), 64),
            "fd00::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network("10.1.2.3".parse().unwrap(), 0),
            "0.0.0.0".parse::<IpAddr>().unwrap()
        );
    }
}
