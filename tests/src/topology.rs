//! Plain data describing what a lab built: namespaces, networks, containers, published ports.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

/// Which kind of lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// Real dockerd 20.10 in a netns.
    Real,
    /// Docker 28.0.1 layout built without Docker.
    Docker28,
    /// Docker 29.0 `firewall-backend: nftables` layout built without Docker.
    #[serde(rename = "docker29-nft")]
    Docker29Nft,
    /// One empty netns ([`crate::scratch::Scratch`]).
    Scratch,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Real => "real",
            Flavour::Docker28 => "docker28",
            Flavour::Docker29Nft => "docker29-nft",
            Flavour::Scratch => "scratch",
        })
    }
}

/// An IPv4 prefix such as 172.18.0.0/16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Self { addr, prefix }
    }
    /// The n-th address of the prefix (n = 1 is the gateway in Docker's allocation).
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr).wrapping_add(n))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| anyhow!("not an IPv4 prefix: {s:?}"))?;
        let addr = a.parse().with_context(|| format!("address in {s:?}"))?;
        let prefix: u8 = p
            .parse()
            .with_context(|| format!("prefix length in {s:?}"))?;
        if prefix > 32 {
            return Err(anyhow!("prefix length > 32 in {s:?}"));
        }
        Ok(Self { addr, prefix })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// A published port: host_port (on every host address) → container_port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub name: String,
    /// 64-hex id (Docker's, or a made-up one in the docker28 flavour).
    pub id: String,
    /// docker28: the lab netns (name under /run/netns) that plays this container. real: None.
    pub netns: Option<String>,
    /// The container's network namespace as a path, both flavours (docker28: /run/netns/NAME;
    /// real: Docker's sandbox key under the lab folder). Usable with `nsenter --net=PATH`.
    pub netns_path: PathBuf,
    pub ip: Ipv4Addr,
    pub ports: Vec<PublishedPort>,
    /// What its HTTP server answers to `GET /` (so a probe can tell who answered).
    pub http_body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Docker network name.
    pub name: String,
    /// 64-hex network id.
    pub id: String,
    /// Bridge interface in the host netns (`br-<12 hex>` or `docker0`).
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub containers: Vec<Container>,
}

/// The external client: its own netns on a veth to the host netns, default route via the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub netns: String,
    /// The client's address.
    pub addr: Ipv4Addr,
    /// The host's address on the client link: what the client connects to.
    pub host_addr: Ipv4Addr,
    /// The host-side interface of the client link.
    pub host_if: String,
}

/// Everything a lab built, as plain data (also stored in the lab's state.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub flavour: Flavour,
    /// The netns playing the Docker host (real: where dockerd runs).
    pub host_netns: String,
    pub client: Client,
    /// In creation order.
    pub networks: Vec<Network>,
    /// real flavour: dockerd's API socket.
    pub docker_socket: Option<PathBuf>,
    /// `iptables` backend the rules live in: "nft" or "legacy".
    pub backend: String,
    pub userland_proxy: bool,
}
