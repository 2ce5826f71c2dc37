//! Docker's view of itself, from the Engine API over its unix socket, plus the daemon settings
//! that change the firewall (dockerd's command line and its config file). Without an API the
//! caller builds a degraded view from the bridges the kernel knows (`degraded`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use super::http::{self, HttpError};
use super::state::*;
use crate::kernel::proc;

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

#[derive(Debug, Error)]
pub enum DiscoverError {
    #[error("Docker host `{0}` is not supported: only unix:///path sockets are")]
    UnsupportedHost(String),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("Docker API {what}: not JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("Docker API {what}: {reason}")]
    Shape { what: String, reason: String },
}

/// `--docker-host` if given, else `$DOCKER_HOST`, else the default socket.
pub fn socket_path(flag: Option<&str>) -> Result<PathBuf, DiscoverError> {
    let env = std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty());
    let host = flag.map(str::to_owned).or(env);
    match host {
        None => Ok(PathBuf::from(DEFAULT_SOCKET)),
        Some(h) => match h.strip_prefix("unix://") {
            Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
            _ if h.starts_with('/') => Ok(PathBuf::from(h)),
            _ => Err(DiscoverError::UnsupportedHost(h)),
        },
    }
}

/// Everything from the Engine API on `socket`, and the daemon's settings.
pub fn from_api(socket: &Path, timeout: Duration) -> Result<DockerState, DiscoverError> {
    let get = |path: &str| -> Result<Value, DiscoverError> {
        let body = http::get(socket, path, timeout)?;
        serde_json::from_slice(&body).map_err(|source| DiscoverError::Json {
            what: path.to_owned(),
            source,
        })
    };
    let version = get("/version")?;
    let networks = get("/networks")?;
    let containers = get("/containers/json")?;
    // Swarm is optional: an older or odd daemon without /info still gets checked.
    let swarm = get("/info").ok().and_then(|info| {
        let s = swarm_node(&info)?;
        Some(swarm_state(s, |p| get(p).ok()))
    });
    let mut state = DockerState {
        source: StateSource::Api,
        degraded: None,
        engine_version: version
            .get("Version")
            .and_then(Value::as_str)
            .map(str::to_owned),
        daemon: daemon_settings(socket),
        networks: parse_networks(&networks)?,
        containers: Vec::new(),
        swarm,
    };
    state.containers = parse_containers(&containers, &state.networks)?;
    Ok(state)
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn opt_bool(opts: &BTreeMap<String, String>, k: &str, default: bool) -> bool {
    match opts.get(k).map(String::as_str) {
        Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        _ => default,
    }
}

fn opt_ip(opts: &BTreeMap<String, String>, k: &str) -> Option<IpAddr> {
    opts.get(k)
        .and_then(|v| v.parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_unspecified())
}

/// `GET /networks` → bridge networks in creation order.
pub fn parse_networks(v: &Value) -> Result<Vec<Network>, DiscoverError> {
    let list = v.as_array().ok_or_else(|| DiscoverError::Shape {
        what: "/networks".into(),
        reason: "not a list".into(),
    })?;
    let mut out: Vec<(String, Network)> = Vec::new();
    for n in list {
        if s(n, "Driver") != Some("bridge") {
            continue;
        }
        let options: BTreeMap<String, String> = n
            .get("Options")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let mut subnets = Vec::new();
        if let Some(cfg) = n
            .get("IPAM")
            .and_then(|i| i.get("Config"))
            .and_then(Value::as_array)
        {
            for c in cfg {
                let Some(subnet) = s(c, "Subnet").and_then(|x| x.parse::<Cidr>().ok()) else {
                    continue;
                };
                let gateway = s(c, "Gateway").and_then(|g| g.parse().ok());
                subnets.push(Subnet { subnet, gateway });
            }
        }
        let mode = |k: &str| {
            options
                .get(k)
                .and_then(|m| GatewayMode::parse(m))
                .unwrap_or_default()
        };
        let net = Network {
            name: s(n, "Name").unwrap_or_default().to_owned(),
            id: s(n, "Id").unwrap_or_default().to_owned(),
            bridge: String::new(),
            internal: n.get("Internal").and_then(Value::as_bool).unwrap_or(false),
            enable_ipv6: n
                .get("EnableIPv6")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            subnets,
            icc: opt_bool(&options, "com.docker.network.bridge.enable_icc", true),
            masquerade: opt_bool(
                &options,
                "com.docker.network.bridge.enable_ip_masquerade",
                true,
            ),
            host_ipv4: opt_ip(&options, "com.docker.network.host_ipv4"),
            host_ipv6: opt_ip(&options, "com.docker.network.host_ipv6"),
            host_binding_ipv4: opt_ip(&options, "com.docker.network.bridge.host_binding_ipv4"),
            gateway_mode_ipv4: mode("com.docker.network.bridge.gateway_mode_ipv4"),
            gateway_mode_ipv6: mode("com.docker.network.bridge.gateway_mode_ipv6"),
            trusted_host_interfaces: options
                .get(TRUSTED_HOST_INTERFACES)
                .map(|v| parse_trusted(v))
                .unwrap_or_default(),
            options,
        };
        let mut net = net;
        net.bridge = net.bridge();
        out.push((created_key(s(n, "Created").unwrap_or_default()), net));
    }
    // Stable: equal timestamps keep the API's order.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, n)| n).collect())
}

/// RFC 3339 with a variable-length fraction → a key that sorts chronologically.
fn created_key(t: &str) -> String {
    let (head, rest) = t.split_once('.').unwrap_or((t.trim_end_matches('Z'), "Z"));
    let frac: String = rest.chars().take_while(char::is_ascii_digit).collect();
    format!("{head}.{frac:0<9}")
}

/// `GET /containers/json` (running containers) → endpoints and published ports.
pub fn parse_containers(v: &Value, nets: &[Network]) -> Result<Vec<Container>, DiscoverError> {
    let list = v.as_array().ok_or_else(|| DiscoverError::Shape {
        what: "/containers/json".into(),
        reason: "not a list".into(),
    })?;
    let mut out = Vec::new();
    // (parent, child): a child lists `/PARENT/ALIAS` among its names for every legacy link.
    let mut links: Vec<(String, String)> = Vec::new();
    for c in list {
        let names: Vec<&str> = c
            .get("Names")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let name = names
            .iter()
            .map(|n| n.trim_start_matches('/'))
            .find(|n| !n.contains('/'))
            .or(names.first().map(|n| n.trim_start_matches('/')))
            .unwrap_or_default()
            .to_owned();
        for n in &names {
            if let Some((parent, _alias)) = n.trim_start_matches('/').split_once('/') {
                links.push((parent.to_owned(), name.clone()));
            }
        }
        let mut endpoints = Vec::new();
        if let Some(ns) = c
            .get("NetworkSettings")
            .and_then(|n| n.get("Networks"))
            .and_then(Value::as_object)
        {
            for (net_name, e) in ns {
                if !nets.iter().any(|n| &n.name == net_name) {
                    continue;
                }
                let ip = |k: &str| {
                    s(e, k)
                        .filter(|x| !x.is_empty())
                        .and_then(|x| x.parse::<IpAddr>().ok())
                };
                endpoints.push(Endpoint {
                    network: net_name.clone(),
                    ipv4: ip("IPAddress"),
                    ipv6: ip("GlobalIPv6Address"),
                });
            }
        }
        let mut ports = Vec::new();
        let mut exposed = Vec::new();
        for p in c
            .get("Ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(port), Some(proto)) = (
                p.get("PrivatePort")
                    .and_then(Value::as_u64)
                    .and_then(|x| u16::try_from(x).ok()),
                s(p, "Type").and_then(Proto::parse),
            ) {
                exposed.push(ExposedPort { port, proto });
            }
            // Exposed, not published: no IP and no PublicPort, no rules. A port published on
            // a routed network has its host address but no host port (moby's port mapper
            // sets it to 0 when NAT is off): its ACCEPT rule exists, its DNAT does not.
            let host_port = match p.get("PublicPort").and_then(Value::as_u64) {
                Some(h) => h,
                None if s(p, "IP").is_some() => 0,
                None => continue,
            };
            let Some(container_port) = p.get("PrivatePort").and_then(Value::as_u64) else {
                continue;
            };
            let (Ok(host_port), Ok(container_port)) =
                (u16::try_from(host_port), u16::try_from(container_port))
            else {
                continue;
            };
            let Some(proto) = s(p, "Type").and_then(Proto::parse) else {
                continue;
            };
            ports.push(PortBinding {
                host_ip: s(p, "IP").and_then(|x| x.parse().ok()),
                host_port,
                container_port,
                proto,
            });
        }
        ports.sort_by_key(|p| {
            (
                p.container_port,
                p.proto,
                p.host_ip.is_some_and(|i| i.is_ipv6()),
            )
        });
        ports.dedup();
        exposed.sort();
        exposed.dedup();
        let mode = c
            .get("HostConfig")
            .and_then(|h| s(h, "NetworkMode"))
            .map(|m| if m == "default" { "bridge" } else { m });
        let ports_network = mode
            .filter(|m| endpoints.iter().any(|e| &e.network == m))
            .map(str::to_owned);
        out.push(Container {
            name,
            id: s(c, "Id").unwrap_or_default().to_owned(),
            endpoints,
            ports,
            ports_network,
            exposed,
            links: Vec::new(),
        });
    }
    for (parent, child) in links {
        if let Some(p) = out.iter_mut().find(|c| c.name == parent)
            && !p.links.contains(&child)
        {
            p.links.push(child);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The settings of the dockerd serving `socket`: its command line, then its config file.
pub fn daemon_settings(socket: &Path) -> DaemonSettings {
    let pid = proc::socket_server_pid(socket);
    let args = pid.and_then(proc::cmdline).unwrap_or_default();
    let config_path = flag_value(&args, "--config-file")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/docker/daemon.json"));
    let config = std::fs::read(&config_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let mut d = settings_from(&args, config.as_ref(), &config_path.display().to_string());
    if let Some(pid) = pid {
        d.sources.insert("dockerd-pid".into(), pid.to_string());
        // Read by moby's port code with os.Getenv, so only dockerd's environment counts.
        d.sctp_checksum =
            proc::environ_var(pid, "DOCKER_IPTABLES_SCTP_CHECKSUM").as_deref() == Some("1");
        d.no_iptables_raw =
            proc::environ_var(pid, "DOCKER_INSECURE_NO_IPTABLES_RAW").as_deref() == Some("1");
        for k in ["sctp-checksum", "no-iptables-raw"] {
            d.sources.insert(k.into(), format!("/proc/{pid}/environ"));
        }
    }
    d
}

/// Combine a dockerd argv and a parsed daemon.json (command line wins).
pub fn settings_from(args: &[String], config: Option<&Value>, config_name: &str) -> DaemonSettings {
    let mut d = DaemonSettings::default();
    let mut src = BTreeMap::new();
    let bool_keys = [
        "userland-proxy",
        "iptables",
        "ip6tables",
        "ip-forward",
        "ip-forward-no-drop",
        "icc",
        "ip-masq",
        "allow-direct-routing",
    ];
    for key in bool_keys {
        let from_cli = flag_bool(args, &format!("--{key}"));
        let from_cfg = config.and_then(|c| c.get(key)).and_then(Value::as_bool);
        let (val, from) = match (from_cli, from_cfg) {
            (Some(v), _) => (Some(v), "cmdline".to_owned()),
            (None, Some(v)) => (Some(v), config_name.to_owned()),
            _ => (None, "default".to_owned()),
        };
        if let Some(v) = val {
            match key {
                "userland-proxy" => d.userland_proxy = v,
                "iptables" => d.iptables = v,
                "ip6tables" => d.ip6tables = Some(v),
                "ip-forward" => d.ip_forward = v,
                "ip-forward-no-drop" => d.ip_forward_no_drop = v,
                "icc" => d.icc = v,
                "allow-direct-routing" => d.allow_direct_routing = v,
                _ => d.ip_masq = v,
            }
        }
        src.insert(key.to_owned(), from);
    }
    let backend = flag_value(args, "--firewall-backend")
        .map(|v| (v, "cmdline".to_owned()))
        .or_else(|| {
            config
                .and_then(|c| c.get("firewall-backend"))
                .and_then(Value::as_str)
                .map(|v| (v.to_owned(), config_name.to_owned()))
        });
    if let Some((v, from)) = backend {
        d.firewall_backend = Some(v);
        src.insert("firewall-backend".into(), from);
    }
    let fwmark = flag_value(args, "--bridge-accept-fwmark")
        .map(|v| (v, "cmdline".to_owned()))
        .or_else(|| {
            config
                .and_then(|c| c.get("bridge-accept-fwmark"))
                .and_then(Value::as_str)
                .map(|v| (v.to_owned(), config_name.to_owned()))
        });
    if let Some((v, from)) = fwmark.filter(|(v, _)| !v.is_empty()) {
        d.bridge_accept_fwmark = Some(v);
        src.insert("bridge-accept-fwmark".into(), from);
    }
    let ip = flag_value(args, "--ip").or_else(|| {
        config
            .and_then(|c| c.get("ip"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    // `0.0.0.0` is the default; `::` is not (it binds published ports to IPv6 only).
    d.ip = ip
        .and_then(|v| v.parse::<IpAddr>().ok())
        .filter(|i| !(i.is_ipv4() && i.is_unspecified()));
    d.sources = src;
    d
}

/// `/info` → the node's swarm role, when it takes part in a swarm.
pub fn swarm_node(info: &Value) -> Option<Swarm> {
    let sw = info.get("Swarm")?;
    let node_state = s(sw, "LocalNodeState")?;
    if node_state != "active" {
        return None;
    }
    Some(Swarm {
        node_state: node_state.to_owned(),
        manager: sw
            .get("ControlAvailable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ingress_gateway: None,
        ingress_ports: Vec::new(),
        ports_source: None,
    })
}

/// Fill in what the node knows about the routing mesh: the ingress sandbox's address on
/// docker_gwbridge (`GET /networks/docker_gwbridge`, container `ingress-sbox`) and the
/// ingress-mode ports: a manager lists every service (`GET /services`, with protocols); a
/// worker only sees the ingress network's service table (`GET /networks/ingress?verbose=true`),
/// which names no protocol.
pub fn swarm_state(mut sw: Swarm, get: impl Fn(&str) -> Option<Value>) -> Swarm {
    sw.ingress_gateway = get("/networks/docker_gwbridge")
        .as_ref()
        .and_then(ingress_sandbox_ip);
    if sw.manager
        && let Some(services) = get("/services?status=true")
    {
        sw.ingress_ports = ingress_ports_of_services(&services);
        sw.ports_source = Some("services".into());
    } else if let Some(ingress) = get("/networks/ingress?verbose=true") {
        sw.ingress_ports = ingress_ports_of_network(&ingress);
        sw.ports_source = Some("ingress-network".into());
    }
    sw
}

/// `Containers["ingress-sbox"].IPv4Address` of docker_gwbridge, without its prefix length.
pub fn ingress_sandbox_ip(gwbridge: &Value) -> Option<IpAddr> {
    let cs = gwbridge.get("Containers")?.as_object()?;
    let sb = cs.get("ingress-sbox").or_else(|| {
        cs.values()
            .find(|c| s(c, "Name") == Some("gateway_ingress-sbox"))
    })?;
    let a = s(sb, "IPv4Address")?;
    a.split('/').next()?.parse().ok()
}

/// `GET /services` → ingress-mode published ports, with their service and protocol.
pub fn ingress_ports_of_services(v: &Value) -> Vec<IngressPort> {
    let mut out = Vec::new();
    for svc in v.as_array().into_iter().flatten() {
        // No running task: no load-balancer backend, so programIngress never ran for it.
        let running = svc
            .get("ServiceStatus")
            .and_then(|st| st.get("RunningTasks"))
            .and_then(Value::as_u64);
        if running == Some(0) {
            continue;
        }
        let name = svc.get("Spec").and_then(|sp| s(sp, "Name"));
        let ports = svc
            .get("Endpoint")
            .and_then(|e| e.get("Ports"))
            .and_then(Value::as_array);
        for p in ports.into_iter().flatten() {
            if s(p, "PublishMode").is_some_and(|m| m != "ingress") {
                continue; // host-mode ports are the task's own, no routing mesh
            }
            let port = |k: &str| {
                p.get(k)
                    .and_then(Value::as_u64)
                    .and_then(|x| u16::try_from(x).ok())
                    .filter(|x| *x != 0)
            };
            let Some(published_port) = port("PublishedPort") else {
                continue;
            };
            out.push(IngressPort {
                published_port,
                target_port: port("TargetPort"),
                proto: Some(
                    s(p, "Protocol")
                        .and_then(Proto::parse)
                        .unwrap_or(Proto::Tcp),
                ),
                service: name.map(str::to_owned),
            });
        }
    }
    out
}

/// `GET /networks/ingress?verbose=true` → `Services.NAME.Ports` = `Target: 80, Publish: 8080`
/// (libnetwork agent.go), protocol unknown.
pub fn ingress_ports_of_network(v: &Value) -> Vec<IngressPort> {
    let mut out = Vec::new();
    let Some(services) = v.get("Services").and_then(Value::as_object) else {
        return out;
    };
    for (name, svc) in services {
        for p in svc
            .get("Ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let field = |k: &str| {
                p.split(',')
                    .filter_map(|kv| kv.split_once(':'))
                    .find(|(key, _)| key.trim() == k)
                    .and_then(|(_, v)| v.trim().parse::<u16>().ok())
                    .filter(|x| *x != 0)
            };
            let Some(published_port) = field("Publish") else {
                continue;
            };
            out.push(IngressPort {
                published_port,
                target_port: field("Target"),
                proto: None,
                service: Some(name.clone()),
            });
        }
    }
    out
}

/// `--name=VALUE` or `--name VALUE`.
fn flag_value(args: &[String], name: &str) -> Option<String> {
    let eq = format!("{name}=");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(&eq) {
            return Some(v.to_owned());
        }
        if a == name {
            return it.next().cloned();
        }
    }
    None
}

/// Go-style bool flag: `--name`, `--name=true|false`.
fn flag_bool(args: &[String], name: &str) -> Option<bool> {
    let eq = format!("{name}=");
    let mut found = None;
    for a in args {
        if a == name {
            found = Some(true);
        } else if let Some(v) = a.strip_prefix(&eq) {
            found = match v {
                "true" | "1" | "t" | "T" | "TRUE" | "True" => Some(true),
                "false" | "0" | "f" | "F" | "FALSE" | "False" => Some(false),
                _ => found,
            };
        }
    }
    found
}

/// A bridge the kernel reports, for the degraded (no API) view.
#[derive(Debug, Clone)]
pub struct KernelBridge {
    pub name: String,
    pub addrs: Vec<Cidr>,
}

/// Docker-looking bridges (`docker0`, `br-<12 hex>`) as networks with Docker's defaults.
pub fn degraded(bridges: &[KernelBridge], reason: &str) -> DockerState {
    let docker_like = |n: &str| {
        n == "docker0"
            || n.strip_prefix("br-")
                .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let networks = bridges
        .iter()
        .filter(|b| docker_like(&b.name))
        .map(|b| Network {
            name: if b.name == "docker0" {
                "bridge".into()
            } else {
                b.name.clone()
            },
            bridge: b.name.clone(),
            enable_ipv6: b
                .addrs
                .iter()
                .any(|a| !a.is_v4() && !is_link_local6(&a.addr)),
            subnets: b
                .addrs
                .iter()
                .filter(|a| a.is_v4() || !is_link_local6(&a.addr))
                .map(|a| Subnet {
                    subnet: a.network(),
                    gateway: Some(a.addr),
                })
                .collect(),
            ..Network::with_defaults("")
        })
        .collect();
    DockerState {
        source: StateSource::Netlink,
        degraded: Some(format!(
            "{reason}; bridges and addresses come from the kernel, published ports and their \
             containers from Docker's DNAT rules, the userland-proxy setting and the rule layout \
             from Docker's rules; network options are unknown (Docker's defaults assumed)"
        )),
        engine_version: None,
        daemon: DaemonSettings::default(),
        networks,
        containers: Vec::new(),
        swarm: None,
    }
}

fn is_link_local6(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_selection() {
        assert_eq!(
            socket_path(Some("unix:///tmp/d.sock")).unwrap(),
            PathBuf::from("/tmp/d.sock")
        );
        assert!(socket_path(Some("tcp://1.2.3.4:2375")).is_err());
    }

    #[test]
    fn networks_from_api_json() {
        let v = json!([
            {"Name":"web","Id":"0123456789abcdef","Driver":"bridge","Created":"2025-01-01T10:00:00.5Z",
             "Internal":false,"EnableIPv6":false,
             "IPAM":{"Config":[{"Subnet":"192.0.2.0/24","Gateway":"192.0.2.1"}]},
             "Options":{"com.docker.network.bridge.enable_icc":"false",
                        "com.docker.network.host_ipv4":"198.51.100.9"}},
            {"Name":"host","Driver":"host"},
            {"Name":"bridge","Id":"ffff","Driver":"bridge","Created":"2025-01-01T10:00:00.12Z",
             "IPAM":{"Config":[{"Subnet":"172.17.0.0/16"}]},
             "Options":{"com.docker.network.bridge.name":"docker0"}}
        ]);
        let n = parse_networks(&v).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].name, "bridge", "sorted by creation time");
        assert_eq!(n[0].bridge, "docker0");
        assert_eq!(n[1].bridge, "br-0123456789ab");
        assert!(!n[1].icc);
        assert_eq!(n[1].host_ipv4, Some("198.51.100.9".parse().unwrap()));
        assert!(parse_networks(&json!({})).is_err());
    }

    #[test]
    fn containers_from_api_json() {
        let nets = parse_networks(&json!([
            {"Name":"bridge","Id":"ffff","Driver":"bridge",
             "IPAM":{"Config":[{"Subnet":"172.17.0.0/16"}]},
             "Options":{"com.docker.network.bridge.name":"docker0"}}
        ]))
        .unwrap();
        let v = json!([{"Id":"c1id","Names":["/c1"],"HostConfig":{"NetworkMode":"default"},
            "Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
                     {"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
                     {"PrivatePort":443,"Type":"tcp"}],
            "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2","GlobalIPv6Address":""}}}}]);
        let c = parse_containers(&v, &nets).unwrap();
        assert_eq!(c[0].name, "c1");
        assert_eq!(c[0].ports.len(), 2);
        assert_eq!(c[0].ports_network.as_deref(), Some("bridge"));
        assert_eq!(c[0].endpoints[0].ipv4, Some("172.17.0.2".parse().unwrap()));
        assert_eq!(c[0].endpoints[0].ipv6, None);
    }

    #[test]
    fn links_exposed_ports_and_trusted_interfaces() {
        let nets = parse_networks(&json!([
            {"Name":"bridge","Id":"ffff","Driver":"bridge",
             "IPAM":{"Config":[{"Subnet":"172.17.0.0/16"}]},
             "Options":{"com.docker.network.bridge.name":"docker0",
                        "com.docker.network.bridge.enable_icc":"false",
                        "com.docker.network.bridge.trusted_host_interfaces":"eth1:wg0"}}
        ]))
        .unwrap();
        assert_eq!(nets[0].trusted_host_interfaces, ["eth1", "wg0"]);
        // `docker run --link db:database web`: db is also named /web/database.
        let v = json!([
            {"Id":"w","Names":["/web"],"HostConfig":{"NetworkMode":"default"},"Ports":[],
             "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.3"}}}},
            {"Id":"d","Names":["/web/database","/db"],"HostConfig":{"NetworkMode":"default"},
             "Ports":[{"PrivatePort":5432,"Type":"tcp"},{"PrivatePort":53,"Type":"udp"},
                      {"IP":"0.0.0.0","PrivatePort":53,"PublicPort":5353,"Type":"udp"}],
             "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2"}}}}
        ]);
        let c = parse_containers(&v, &nets).unwrap();
        assert_eq!(c[0].name, "db");
        assert_eq!(c[1].name, "web");
        assert_eq!(c[1].links, ["db"]);
        assert!(c[0].links.is_empty());
        assert_eq!(
            c[0].exposed,
            [
                ExposedPort {
                    port: 53,
                    proto: Proto::Udp
                },
                ExposedPort {
                    port: 5432,
                    proto: Proto::Tcp
                }
            ]
        );
        assert_eq!(c[0].ports.len(), 1);
    }

    /// `-p 8080:80` on a network with gateway_mode_ipv4=routed: /containers/json lists the
    /// binding with its host address and no PublicPort (the port mapper set it to 0).
    #[test]
    fn routed_port_has_no_host_port() {
        let nets = parse_networks(&json!([
            {"Name":"r","Id":"aaaabbbbccccdddd","Driver":"bridge",
             "IPAM":{"Config":[{"Subnet":"192.0.2.0/24"}]},
             "Options":{"com.docker.network.bridge.gateway_mode_ipv4":"routed"}}
        ]))
        .unwrap();
        let v = json!([
            {"Id":"c","Names":["/c"],"HostConfig":{"NetworkMode":"r"},
             "Ports":[{"IP":"0.0.0.0","PrivatePort":80,"Type":"tcp"},
                      {"PrivatePort":81,"Type":"tcp"}],
             "NetworkSettings":{"Networks":{"r":{"IPAddress":"192.0.2.2"}}}}
        ]);
        let c = parse_containers(&v, &nets).unwrap();
        assert_eq!(
            c[0].ports,
            [PortBinding {
                host_ip: Some("0.0.0.0".parse().unwrap()),
                host_port: 0,
                container_port: 80,
                proto: Proto::Tcp,
            }]
        );
    }

    #[test]
    fn swarm_from_info_gwbridge_and_services() {
        assert!(swarm_node(&json!({"Swarm":{"LocalNodeState":"inactive"}})).is_none());
        assert!(swarm_node(&json!({})).is_none());
        let gw = json!({"Name":"docker_gwbridge","Containers":{"ingress-sbox":{
            "Name":"gateway_ingress-sbox","IPv4Address":"172.18.0.2/16","IPv6Address":""}}});
        let services = json!([{"Spec":{"Name":"web"},"ServiceStatus":{"RunningTasks":2},
            "Endpoint":{"Ports":[
            {"Protocol":"udp","TargetPort":53,"PublishedPort":5353,"PublishMode":"ingress"},
            {"Protocol":"tcp","TargetPort":80,"PublishedPort":8080,"PublishMode":"host"}]}},
            {"Spec":{"Name":"idle"},"ServiceStatus":{"RunningTasks":0},"Endpoint":{"Ports":[
            {"Protocol":"tcp","TargetPort":80,"PublishedPort":9090,"PublishMode":"ingress"}]}}]);
        let ingress = json!({"Name":"ingress","Services":{"web":{"VIP":"10.0.0.2",
            "Ports":["Target: 80, Publish: 8080"]}}});
        let get = |p: &str| match p {
            "/networks/docker_gwbridge" => Some(gw.clone()),
            "/services?status=true" => Some(services.clone()),
            "/networks/ingress?verbose=true" => Some(ingress.clone()),
            _ => None,
        };
        // A manager lists the services: protocols known, host-mode ports skipped.
        let m = swarm_node(&json!({"Swarm":{"LocalNodeState":"active","ControlAvailable":true}}))
            .unwrap();
        let m = swarm_state(m, get);
        assert_eq!(m.ingress_gateway, Some("172.18.0.2".parse().unwrap()));
        assert_eq!(m.ports_source.as_deref(), Some("services"));
        assert_eq!(
            m.ingress_ports,
            [IngressPort {
                published_port: 5353,
                target_port: Some(53),
                proto: Some(Proto::Udp),
                service: Some("web".into())
            }]
        );
        // A worker sees the ingress network's table: no protocol.
        let w = swarm_node(&json!({"Swarm":{"LocalNodeState":"active","ControlAvailable":false}}))
            .unwrap();
        let w = swarm_state(w, get);
        assert_eq!(w.ports_source.as_deref(), Some("ingress-network"));
        assert_eq!(w.ingress_ports[0].published_port, 8080);
        assert_eq!(w.ingress_ports[0].target_port, Some(80));
        assert_eq!(w.ingress_ports[0].proto, None);
    }

    #[test]
    fn settings_cmdline_beats_config() {
        let args: Vec<String> = ["dockerd", "--userland-proxy=false", "--ip", "10.0.0.1"]
            .map(String::from)
            .into();
        let cfg =
            json!({"userland-proxy": true, "iptables": false, "firewall-backend": "nftables"});
        let d = settings_from(&args, Some(&cfg), "daemon.json");
        assert!(!d.userland_proxy);
        assert!(!d.iptables);
        assert!(d.nftables());
        assert_eq!(d.ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(d.sources["userland-proxy"], "cmdline");
        assert_eq!(d.sources["iptables"], "daemon.json");
        let d = settings_from(&[], None, "x");
        assert!(d.userland_proxy && d.iptables && d.icc && !d.allow_direct_routing);
        let d = settings_from(&[], Some(&json!({"allow-direct-routing": true})), "x");
        assert!(d.allow_direct_routing);
        let args: Vec<String> = ["dockerd", "--allow-direct-routing"]
            .map(String::from)
            .into();
        assert!(settings_from(&args, None, "x").allow_direct_routing);
    }

    #[test]
    fn bridge_accept_fwmark_from_cmdline_or_config() {
        let d = settings_from(&[], None, "x");
        assert_eq!(d.bridge_accept_fwmark, None);
        assert!(!d.sources.contains_key("bridge-accept-fwmark"));
        let cfg = json!({"bridge-accept-fwmark": "0x2/0x3"});
        let d = settings_from(&[], Some(&cfg), "daemon.json");
        assert_eq!(d.bridge_accept_fwmark.as_deref(), Some("0x2/0x3"));
        assert_eq!(d.sources["bridge-accept-fwmark"], "daemon.json");
        for args in [
            ["dockerd", "--bridge-accept-fwmark=2/3"]
                .map(String::from)
                .to_vec(),
            ["dockerd", "--bridge-accept-fwmark", "2/3"]
                .map(String::from)
                .to_vec(),
        ] {
            let d = settings_from(&args, Some(&cfg), "daemon.json");
            assert_eq!(d.bridge_accept_fwmark.as_deref(), Some("2/3"));
            assert_eq!(d.sources["bridge-accept-fwmark"], "cmdline");
        }
        // `--ip ::` binds published ports to IPv6 only: kept; `0.0.0.0` is the default.
        let args: Vec<String> = ["dockerd", "--ip=::"].map(String::from).into();
        assert_eq!(
            settings_from(&args, None, "x").ip,
            Some("::".parse().unwrap())
        );
        let args: Vec<String> = ["dockerd", "--ip=0.0.0.0"].map(String::from).into();
        assert_eq!(settings_from(&args, None, "x").ip, None);
        // An empty value is Docker's "not set".
        let d = settings_from(&[], Some(&json!({"bridge-accept-fwmark": ""})), "c");
        assert_eq!(d.bridge_accept_fwmark, None);
    }

    #[test]
    fn degraded_view_keeps_docker_bridges_only() {
        let b = vec![
            KernelBridge {
                name: "docker0".into(),
                addrs: vec!["172.17.0.1/16".parse().unwrap()],
            },
            KernelBridge {
                name: "virbr0".into(),
                addrs: vec![],
            },
            KernelBridge {
                name: "br-0123456789ab".into(),
                addrs: vec![
                    "fe80::1/64".parse().unwrap(),
                    "10.1.0.1/24".parse().unwrap(),
                ],
            },
        ];
        let s = degraded(&b, "no API");
        assert_eq!(s.networks.len(), 2);
        assert_eq!(s.networks[0].subnets[0].subnet.to_string(), "172.17.0.0/16");
        assert_eq!(s.networks[1].subnets.len(), 1);
        assert!(s.degraded.is_some());
    }
}
