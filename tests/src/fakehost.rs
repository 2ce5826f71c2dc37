//! A Docker host without Docker, shared by the flavours that build a rule layout by hand
//! (docker28, docker29-nft): bridges (`br-<12 hex>`, optionally `docker0`), a netns per
//! container on a veth running busybox httpd, and the wait until every httpd answers.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::core::{LabCore, Vantage};
use crate::names;
use crate::netns::{self, Netns};
use crate::topology::{Container, Flavour, Ipv4Net, Network, Proto, PublishedPort};

/// A network as the rule generators need it.
#[derive(Debug, Clone)]
pub struct NetSpec {
    pub bridge: String,
    pub subnet: Ipv4Net,
}

/// A published port as the rule generators need it.
#[derive(Debug, Clone)]
pub struct PortSpec {
    pub network: usize,
    pub container_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

/// The generators' view of built networks: each network, each published port.
pub fn specs(networks: &[Network]) -> (Vec<NetSpec>, Vec<PortSpec>) {
    let nets = networks
        .iter()
        .map(|n| NetSpec {
            bridge: n.bridge.clone(),
            subnet: n.subnet,
        })
        .collect();
    let ports = networks
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            n.containers.iter().flat_map(move |c| {
                c.ports.iter().map(move |p| PortSpec {
                    network: i,
                    container_ip: c.ip,
                    host_port: p.host_port,
                    container_port: p.container_port,
                    proto: p.proto,
                })
            })
        })
        .collect();
    (nets, ports)
}

/// Start a lab of `flavour`: its record, the host netns, the networks of `plan` and Docker's
/// sysctls (userland proxy off). `name` is set as soon as the lab has one.
pub(crate) fn begin(
    flavour: Flavour,
    plan: &Plan,
    name: &mut Option<String>,
) -> Result<(LabCore, Netns, Vec<Network>)> {
    let mut core = LabCore::begin(flavour)?;
    *name = Some(core.name().to_owned());
    let host = core.add_netns("host")?;
    netns::ensure_named(&host)?;
    let networks = build_networks(&mut core, &host, plan)?;
    docker_sysctls(&host, &networks)?;
    Ok((core, host, networks))
}

/// What to build: user networks in order (docker0 first when asked), containers per network,
/// each publishing one TCP port to its port 80.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub networks: usize,
    pub containers_per_network: usize,
    /// Also the default bridge docker0 (172.17.0.0/16), created first.
    pub default_bridge: bool,
    /// Host port of network i, container j = first_host_port + 10*i + j.
    pub first_host_port: u16,
}

impl Default for Plan {
    /// Two user networks, one container each, host ports from 8000.
    fn default() -> Self {
        Self {
            networks: 2,
            containers_per_network: 1,
            default_bridge: false,
            first_host_port: 8000,
        }
    }
}

/// Run a flavour's `build`; on error, name the lab whose half-built parts were removed (the
/// lab was dropped inside `build`, which tore it down).
pub(crate) fn up_or_removed<T>(build: impl FnOnce(&mut Option<String>) -> Result<T>) -> Result<T> {
    let mut name = None;
    build(&mut name).map_err(|e| match name {
        Some(n) => e.context(format!(
            "lab {n}: up failed; everything it built was removed"
        )),
        None => e,
    })
}

/// Bridges, container namespaces with their veths, addresses, routes and httpd servers.
pub(crate) fn build_networks(
    core: &mut LabCore,
    host: &Netns,
    plan: &Plan,
) -> Result<Vec<Network>> {
    let lab_name = core.name().to_owned();
    let www = core.dir().join("www");
    let mut networks: Vec<Network> = Vec::new();
    let total = plan.networks + usize::from(plan.default_bridge);
    for i in 0..total {
        let is_docker0 = plan.default_bridge && i == 0;
        let id = names::hex_id(&format!("{lab_name}/network/{i}"));
        let (name, bridge) = if is_docker0 {
            ("bridge".to_owned(), "docker0".to_owned())
        } else {
            (format!("labnet{i}"), names::bridge_name(&id))
        };
        let third = u8::try_from(17 + i + usize::from(!plan.default_bridge))
            .map_err(|_| anyhow!("too many networks"))?;
        let subnet = Ipv4Net::new(Ipv4Addr::new(172, third, 0, 0), 16);
        let gateway = subnet.nth(1);
        host.ip(&["link", "add", &bridge, "type", "bridge"])?;
        host.ip(&["addr", "add", &format!("{gateway}/16"), "dev", &bridge])?;
        host.ip(&["link", "set", &bridge, "up"])?;
        let mut containers = Vec::new();
        for j in 0..plan.containers_per_network {
            let cname = format!("n{i}c{j}");
            let cid = names::hex_id(&format!("{lab_name}/container/{i}/{j}"));
            let ns = core.add_netns(&format!("c{i}-{j}"))?;
            let ip = subnet.nth(2 + u32::try_from(j)?);
            let veth = names::veth_name(&cid);
            host.veth_into(&veth, &ns)?;
            host.ip(&["link", "set", &veth, "master", &bridge, "up"])?;
            ns.ip(&["addr", "add", &format!("{ip}/16"), "dev", "eth0"])?;
            ns.ip(&["link", "set", "eth0", "up"])?;
            ns.ip(&["route", "add", "default", "via", &gateway.to_string()])?;
            let body = format!("nfprobe-lab {lab_name} {cname}\n");
            let root = www.join(&cname);
            std::fs::create_dir_all(&root)?;
            std::fs::write(root.join("index.html"), &body)?;
            let root_s = root.to_string_lossy().into_owned();
            core.spawn(
                &ns,
                &format!("httpd {cname}"),
                "busybox",
                &["httpd", "-f", "-p", "0.0.0.0:80", "-h", &root_s],
                &[],
            )?;
            let host_port = u16::try_from(10 * i + j)
                .ok()
                .and_then(|d| plan.first_host_port.checked_add(d))
                .ok_or_else(|| anyhow!("host port out of range"))?;
            containers.push(Container {
                name: cname,
                id: cid,
                netns: Some(ns.name().to_owned()),
                netns_path: ns.path(),
                ip,
                ports: vec![PublishedPort {
                    host_port,
                    container_port: 80,
                    proto: Proto::Tcp,
                }],
                http_body: body,
            });
        }
        networks.push(Network {
            name,
            id,
            bridge,
            subnet,
            gateway,
            containers,
        });
    }
    Ok(networks)
}

/// Docker's sysctls with the userland proxy off: forwarding on, route_localnet on each bridge,
/// bridge-nf-call-iptables where br_netfilter is loaded.
pub(crate) fn docker_sysctls(host: &Netns, networks: &[Network]) -> Result<()> {
    host.sysctl("net.ipv4.ip_forward", "1")?;
    for n in networks {
        host.sysctl(&format!("net.ipv4.conf.{}.route_localnet", n.bridge), "1")?;
    }
    if host
        .sysctl_get("net.bridge.bridge-nf-call-iptables")
        .is_ok()
    {
        host.sysctl("net.bridge.bridge-nf-call-iptables", "1")?;
    }
    Ok(())
}

/// Wait until every container's httpd answers on its own address (from the host netns).
pub(crate) fn wait_for_servers(core: &LabCore, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    for n in core.networks() {
        for c in &n.containers {
            let addr = SocketAddr::V4(SocketAddrV4::new(c.ip, 80));
            loop {
                let o = core.tcp(&Vantage::Host, addr, Duration::from_millis(200));
                if o.is_ok() {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "httpd of container {} ({addr}) not answering: {o:?}",
                        c.name
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    Ok(())
}
