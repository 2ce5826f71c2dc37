//! What Docker says about itself: engine version, daemon settings that change the firewall,
//! bridge networks and the containers on them with their published ports.
//!
//! This is also the `docker` section of a bundle (docs/bundle.md), so every field a person
//! writing it by hand may omit has a serde default matching Docker's own default.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where the Docker state came from; `Netlink` is the degraded view without the Engine API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateSource {
    /// The Engine API answered.
    Api,
    /// No API: bridges and addresses from rtnetlink only (no containers, no ports, guessed
    /// options).
    Netlink,
    /// Read from a bundle file (collected elsewhere or written by hand).
    #[default]
    Bundle,
}

/// People's words for where the state came from.
impl std::fmt::Display for StateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StateSource::Api => "the Engine API",
            StateSource::Netlink => "the kernel's bridges (no Engine API)",
            StateSource::Bundle => "a bundle file",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DockerState {
    #[serde(default)]
    pub source: StateSource,
    /// Why the view is incomplete (no API, ...). `None` for a complete view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// Engine version as `/version` reports it, e.g. `28.0.1` or `20.10.24+dfsg1`.
    #[serde(default)]
    pub engine_version: Option<String>,
    #[serde(default)]
    pub daemon: DaemonSettings,
    /// Bridge networks in creation order (the order decides where Inserted rules end up).
    #[serde(default)]
    pub networks: Vec<Network>,
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Swarm mode as this node sees it; None: not in a swarm (or not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
}

/// What a swarm node knows about the routing mesh (moby libnetwork/service_linux.go
/// `programIngress`): the ingress sandbox's address on docker_gwbridge and the ingress-mode
/// published ports of every service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Swarm {
    /// `/info` Swarm.LocalNodeState (`active` when the node takes part).
    #[serde(default = "active")]
    pub node_state: String,
    /// `/info` Swarm.ControlAvailable: a manager can list services with their protocols.
    #[serde(default)]
    pub manager: bool,
    /// The ingress sandbox's IPv4 address on docker_gwbridge (`ingress-sbox`): the DNAT target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_gateway: Option<IpAddr>,
    /// Ingress-mode published ports (host-mode ports have no such rules).
    #[serde(default)]
    pub ingress_ports: Vec<IngressPort>,
    /// Where the ports came from: `services` (a manager's `/services`) or `ingress-network`
    /// (a worker's verbose `/networks/ingress`, which names no protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports_source: Option<String>,
}

fn active() -> String {
    "active".into()
}

impl Swarm {
    pub fn is_active(&self) -> bool {
        self.node_state == "active"
    }
}

/// One ingress-mode published port of a swarm service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngressPort {
    pub published_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u16>,
    /// None: unknown (a worker node is not told); tcp is assumed and the report says so.
    #[serde(default = "some_tcp")]
    pub proto: Option<Proto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

fn some_tcp() -> Option<Proto> {
    Some(Proto::Tcp)
}

/// dockerd settings that change which rules exist (`dockerd --help` names, daemon.json keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct DaemonSettings {
    pub userland_proxy: bool,
    pub iptables: bool,
    /// None: the version's default (off before 27.0, on from 27.0).
    pub ip6tables: Option<bool>,
    pub ip_forward: bool,
    pub ip_forward_no_drop: bool,
    /// `iptables` (default) or `nftables` (29+, experimental).
    pub firewall_backend: Option<String>,
    /// `--icc` (default bridge only).
    pub icc: bool,
    /// `--ip-masq` (default bridge only).
    pub ip_masq: bool,
    /// `--ip`: default host IP for published ports.
    pub ip: Option<IpAddr>,
    /// `--allow-direct-routing` (28.2+): no raw-table direct-access drops.
    pub allow_direct_routing: bool,
    /// `DOCKER_IPTABLES_SCTP_CHECKSUM=1` in dockerd's environment (28.x: SCTP CHECKSUM rules).
    pub sctp_checksum: bool,
    /// `DOCKER_INSECURE_NO_IPTABLES_RAW=1` in dockerd's environment (28.0.2+: no raw-table
    /// rules at all).
    pub no_iptables_raw: bool,
    /// `--bridge-accept-fwmark` (29.0+): `MARK[/MASK]` as given (Go integer syntax); bridge
    /// networks accept forwarded packets carrying it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge_accept_fwmark: Option<String>,
    /// Where each value was found (`cmdline`, `/etc/docker/daemon.json`, `default`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            userland_proxy: true,
            iptables: true,
            ip6tables: None,
            ip_forward: true,
            ip_forward_no_drop: false,
            firewall_backend: None,
            icc: true,
            ip_masq: true,
            ip: None,
            allow_direct_routing: false,
            sctp_checksum: false,
            no_iptables_raw: false,
            bridge_accept_fwmark: None,
            sources: BTreeMap::new(),
        }
    }
}

impl DaemonSettings {
    pub fn nftables(&self) -> bool {
        self.firewall_backend.as_deref() == Some("nftables")
    }
}

/// `com.docker.network.bridge.gateway_mode_ipv4|6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayMode {
    #[default]
    Nat,
    NatUnprotected,
    Routed,
    Isolated,
}

impl GatewayMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "nat" | "" => Self::Nat,
            "nat-unprotected" => Self::NatUnprotected,
            "routed" => Self::Routed,
            "isolated" => Self::Isolated,
            _ => return None,
        })
    }
    pub fn is_nat(self) -> bool {
        matches!(self, Self::Nat | Self::NatUnprotected)
    }
}

/// An address with a prefix length, written `172.17.0.0/16` (also in bundles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// The network address (host bits cleared), as Docker passes it to iptables.
    pub fn network(&self) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let m = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & m).into())
            }
        };
        Cidr {
            addr,
            prefix: self.prefix,
        }
    }
    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// `ip` lies in this network (same family, same network bits).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && Cidr {
                addr: *ip,
                prefix: self.prefix,
            }
            .network()
            .addr
                == self.network().addr
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected ADDRESS/PREFIX"))?;
        let addr: IpAddr = a.parse().map_err(|e| format!("`{s}`: {e}"))?;
        let prefix: u8 = p.parse().map_err(|e| format!("`{s}`: prefix: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("`{s}`: prefix longer than {max}"));
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: Cidr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

fn yes() -> bool {
    true
}

/// One bridge network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    #[serde(default)]
    pub id: String,
    /// Linux bridge name; empty in a hand-written bundle means "derive it" (see `bridge()`).
    #[serde(default)]
    pub bridge: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default = "yes")]
    pub icc: bool,
    #[serde(default = "yes")]
    pub masquerade: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ipv4: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ipv6: Option<IpAddr>,
    /// `com.docker.network.bridge.host_binding_ipv4`: default host IP for this network's ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_binding_ipv4: Option<IpAddr>,
    #[serde(default)]
    pub gateway_mode_ipv4: GatewayMode,
    #[serde(default)]
    pub gateway_mode_ipv6: GatewayMode,
    /// `com.docker.network.bridge.trusted_host_interfaces` (28.2+, `:`-separated): host
    /// interfaces allowed to reach the containers directly, like the bridge itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_host_interfaces: Vec<String>,
    /// The network's raw driver options, for the report.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

impl Network {
    /// A network named `name` with Docker's defaults (icc, masquerade, nat) and no subnet.
    pub fn with_defaults(name: &str) -> Network {
        Network {
            name: name.into(),
            id: String::new(),
            bridge: String::new(),
            internal: false,
            enable_ipv6: false,
            subnets: Vec::new(),
            icc: true,
            masquerade: true,
            host_ipv4: None,
            host_ipv6: None,
            host_binding_ipv4: None,
            gateway_mode_ipv4: GatewayMode::Nat,
            gateway_mode_ipv6: GatewayMode::Nat,
            trusted_host_interfaces: Vec::new(),
            options: BTreeMap::new(),
        }
    }

    /// `com.docker.network.bridge.name`, else the name Docker derives: `br-` + 12 of the id.
    pub fn bridge(&self) -> String {
        if !self.bridge.is_empty() {
            return self.bridge.clone();
        }
        if let Some(b) = self.options.get("com.docker.network.bridge.name") {
            return b.clone();
        }
        if self.name == "bridge" {
            return "docker0".into();
        }
        let short: String = self.id.chars().take(12).collect();
        format!("br-{short}")
    }

    /// The trusted host interfaces: the field, else the driver option.
    pub fn trusted_interfaces(&self) -> Vec<String> {
        if !self.trusted_host_interfaces.is_empty() {
            return self.trusted_host_interfaces.clone();
        }
        self.options
            .get(TRUSTED_HOST_INTERFACES)
            .map(|v| parse_trusted(v))
            .unwrap_or_default()
    }

    pub fn subnets_of(&self, v4: bool) -> impl Iterator<Item = &Subnet> {
        self.subnets.iter().filter(move |s| s.subnet.is_v4() == v4)
    }

    pub fn gateway_mode(&self, v4: bool) -> GatewayMode {
        if v4 {
            self.gateway_mode_ipv4
        } else {
            self.gateway_mode_ipv6
        }
    }
}

pub const TRUSTED_HOST_INTERFACES: &str = "com.docker.network.bridge.trusted_host_interfaces";

/// `eth0:eth1` → names, as moby splits them (empty parts dropped).
pub fn parse_trusted(v: &str) -> Vec<String> {
    v.split(':')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A container's attachment to one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Network name (as in `Network::name`).
    pub network: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "sctp" => Proto::Sctp,
            _ => return None,
        })
    }
}

/// One published port binding (`-p [HIP:]HPORT:CPORT[/proto]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortBinding {
    /// Unspecified (`0.0.0.0` / `::`) or absent: all addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    /// 0: no host port (no DNAT).
    #[serde(default)]
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default = "tcp")]
    pub proto: Proto,
}

fn tcp() -> Proto {
    Proto::Tcp
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub ports: Vec<PortBinding>,
    /// Network the ports are published on (Docker's gateway endpoint). None: the first
    /// non-internal endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports_network: Option<String>,
    /// Exposed ports (`EXPOSE`, `--expose`); published container ports count too. Legacy
    /// links open these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<ExposedPort>,
    /// Containers this one was started with `--link` to (their names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// `PORT/PROTO` of an exposed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExposedPort {
    pub port: u16,
    #[serde(default = "tcp")]
    pub proto: Proto,
}

impl Container {
    /// What a legacy link to this container opens: its exposed ports and its published
    /// container ports (Docker adds those to ExposedPorts), sorted, once each.
    pub fn link_ports(&self) -> Vec<ExposedPort> {
        let mut v: Vec<ExposedPort> = self.exposed.clone();
        v.extend(self.ports.iter().map(|p| ExposedPort {
            port: p.container_port,
            proto: p.proto,
        }));
        v.sort();
        v.dedup();
        v
    }
}

impl DockerState {
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The endpoint a container's published ports are mapped on.
    pub fn port_endpoint<'a>(&'a self, c: &'a Container) -> Option<(&'a Network, &'a Endpoint)> {
        let pick = |e: &&Endpoint| match &c.ports_network {
            Some(n) => &e.network == n,
            None => self.network(&e.network).is_some_and(|n| !n.internal),
        };
        let ep = c.endpoints.iter().find(pick)?;
        Some((self.network(&ep.network)?, ep))
    }

    /// The engine version is before `major.minor.patch`; None when unknown.
    pub fn before(&self, major: u32, minor: u32, patch: u32) -> Option<bool> {
        let v = self.engine_version.as_deref()?;
        let (ma, mi) = parse_version(v)?;
        let p = v
            .trim()
            .trim_start_matches('v')
            .split(|c: char| !c.is_ascii_digit())
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        Some((ma, mi, p) < (major, minor, patch))
    }

    /// Major and minor engine version (`28.0.1` → (28, 0)); None when unknown.
    pub fn version(&self) -> Option<(u32, u32)> {
        parse_version(self.engine_version.as_deref()?)
    }
}

/// `28.0.1`, `20.10.24+dfsg1`, `v27.5.1` → (major, minor).
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim().trim_start_matches('v');
    let mut it = v.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_network_and_parse() {
        let c: Cidr = "192.0.2.7/24".parse().unwrap();
        assert_eq!(c.network().to_string(), "192.0.2.0/24");
        let c: Cidr = "2001:db8::1/64".parse().unwrap();
        assert_eq!(c.network().to_string(), "2001:db8::/64");
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("10.0.0.0".parse::<Cidr>().is_err());
        let c: Cidr = "10.0.0.1/0".parse().unwrap();
        assert_eq!(c.network().to_string(), "0.0.0.0/0");
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("28.0.1"), Some((28, 0)));
        assert_eq!(parse_version("20.10.24+dfsg1"), Some((20, 10)));
        assert_eq!(parse_version("v29"), Some((29, 0)));
        assert_eq!(parse_version("x"), None);
        let at = |v: &str| DockerState {
            engine_version: Some(v.into()),
            ..serde_json::from_str::<DockerState>("{}").unwrap()
        };
        assert_eq!(at("28.0.1").before(28, 0, 2), Some(true));
        assert_eq!(at("28.0.2").before(28, 0, 2), Some(false));
        assert_eq!(at("28.1.0-rc.1").before(28, 0, 2), Some(false));
        assert_eq!(at("20.10.24+dfsg1").before(28, 0, 2), Some(true));
    }

    #[test]
    fn bridge_names() {
        let mut n = Network {
            id: "ab12cd34ef56aa77".into(),
            ..Network::with_defaults("web")
        };
        assert_eq!(n.bridge(), "br-ab12cd34ef56");
        assert!(n.trusted_interfaces().is_empty());
        n.options
            .insert(TRUSTED_HOST_INTERFACES.into(), "eth1::eth2".into());
        assert_eq!(n.trusted_interfaces(), ["eth1", "eth2"]);
        n.options
            .insert("com.docker.network.bridge.name".into(), "bridge1".into());
        assert_eq!(n.bridge(), "bridge1");
    }
}
