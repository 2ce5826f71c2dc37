//! The Docker state the docker28 lab plays, as plain serde data: what a Docker 28.0.1 daemon
//! would report about itself, its networks and containers. Another part of the project turns it
//! into the "Docker state bundle" that `nfprobe check --docker-state` reads.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

impl DockerState {
    /// The nfprobe bundle (docs/bundle.md, `docker` section only) describing this state:
    /// what `nfprobe check --docker-state FILE` reaself.
    pub fn bundle(&self) -> Value {
        let nets: Vec<Value> = self
            .networks
            .iter()
            .map(|n| {
                let mut v = json!({
                    "name": n.name, "id": n.id, "bridge": n.bridge, "internal": n.internal,
                    "subnets": [{"subnet": n.subnet, "gateway": n.gateway}],
                    "icc": n.enable_icc, "masquerade": n.enable_ip_masquerade,
                    "gateway_mode_ipv4": n.gateway_mode_ipv4,
                });
                if let Some(h) = &n.host_ipv4 {
                    v["host_ipv4"] = json!(h);
                }
                v
            })
            .collect();
        let containers: Vec<Value> = self
            .containers
            .iter()
            .map(|c| {
                json!({
                    "name": c.name, "id": c.id,
                    "endpoints": [{"network": c.network, "ipv4": c.ip}],
                    "ports": c.ports.iter().map(|p| json!({
                        "host_ip": p.host_ip, "host_port": p.host_port,
                        "container_port": p.container_port, "proto": p.proto})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut daemon = json!({
            "iptables": self.daemon.iptables, "ip6tables": self.daemon.ip6tables,
            "userland-proxy": self.daemon.userland_proxy, "ip-forward": self.daemon.ip_forward,
            "ip-forward-no-drop": self.daemon.ip_forward_no_drop,
        });
        if let Some(b) = &self.daemon.firewall_backend {
            daemon["firewall-backend"] = json!(b);
        }
        json!({
            "format": "nfprobe-bundle", "version": 1,
            "docker": {
                "engine_version": self.engine_version,
                "daemon": daemon,
                "networks": nets,
                "containers": containers,
            }
        })
    }
}
