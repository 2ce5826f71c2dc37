//! The Docker state the docker28 lab plays, as plain serde data: what a Docker 28.0.1 daemon
//! would report about itself, its networks and containers. Another part of the project turns it
//! into the "Docker state bundle" that `nfprobe check --docker-state` reads.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerState {
    /// "28.0.1".
    pub engine_version: String,
    /// Daemon settings that shape the rules.
    pub daemon: DaemonSettings,
    /// In creation order.
    pub networks: Vec<DockerNetwork>,
    pub containers: Vec<DockerContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSettings {
    pub iptables: bool,
    pub ip6tables: bool,
    pub userland_proxy: bool,
    /// dockerd enabled net.ipv4.ip_forward itself (so it set FORWARD's policy to DROP).
    pub ip_forward: bool,
    pub ip_forward_no_drop: bool,
    /// The default bridge (docker0) exists.
    pub default_bridge: bool,
    /// `nftables` for Docker 29's nftables backend (None: iptables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall_backend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerNetwork {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// "bridge".
    pub driver: String,
    /// Bridge interface: `br-<id[..12]>` or docker0.
    pub bridge: String,
    /// "172.18.0.0/16".
    pub subnet: String,
    pub gateway: String,
    pub internal: bool,
    pub enable_icc: bool,
    pub enable_ip_masquerade: bool,
    /// "nat".
    pub gateway_mode_ipv4: String,
    pub host_ipv4: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerContainer {
    pub id: String,
    pub name: String,
    /// Network name.
    pub network: String,
    pub ip: String,
    pub ports: Vec<DockerPort>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerPort {
    /// "0.0.0.0" (all addresses).
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// "tcp" / "udp".
    pub proto: String,
}
