//! The Docker 28.0.1 layout without Docker: a host netns with bridges (`br-<12 hex>`, optionally
//! `docker0`), a netns per container on a veth running busybox httpd, Docker's sysctls, and the
//! 28.0.1 rules (userland-proxy off, as in the incident) applied by the real iptables, nft or
//! legacy backend. Faults are injected on purpose ([`Fault`]).

mod rules;
mod state;

pub use rules::{
    Chain, Compare, NetSpec, Op, PortSpec, Rule, RuleKind, Ruleset, Table, blank_interfaces,
    docker_28_0_1, docker_28_0_1_calls,
};
pub use state::{DaemonSettings, DockerContainer, DockerNetwork, DockerPort, DockerState};

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::core::LabCore;
use crate::fakehost;
use crate::state::LabState;
use crate::topology::{Flavour, Network, Topology};

/// Which iptables backend holds the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Nft,
    Legacy,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Legacy => "legacy",
        }
    }
    pub fn other(self) -> Backend {
        match self {
            Backend::Nft => Backend::Legacy,
            Backend::Legacy => Backend::Nft,
        }
    }
    /// The iptables program of this backend (`iptables-nft` / `iptables-legacy`).
    pub fn iptables(self) -> &'static str {
        match self {
            Backend::Nft => "iptables-nft",
            Backend::Legacy => "iptables-legacy",
        }
    }
    fn restore(self) -> &'static str {
        match self {
            Backend::Nft => "iptables-nft-restore",
            Backend::Legacy => "iptables-legacy-restore",
        }
    }
}

impl FromStr for Backend {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "nft" => Ok(Backend::Nft),
            "legacy" => Ok(Backend::Legacy),
            _ => bail!("unknown iptables backend {s:?} (nft or legacy)"),
        }
    }
}

/// Rules picked by kind and (optionally) network index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSelector {
    pub kind: RuleKind,
    /// Network index in creation order; None = every network (and network-less rules).
    pub network: Option<usize>,
}

impl RuleSelector {
    pub fn matches(&self, r: &Rule) -> bool {
        r.kind == self.kind && (self.network.is_none() || self.network == r.network)
    }
}

/// A fault injected on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// Exactly what Docker 28.0.1 ends up with on iptables-nft 1.8.11: the replay of Docker's
    /// calls with the buggy `-C`/`-D` (reference a.5). For N networks: the 2nd+ networks lose
    /// DOCKER drop, DOCKER-BRIDGE, DOCKER-CT, both isolation rules and the hairpin LOCAL
    /// MASQUERADE; every network but the last loses its DOCKER-FORWARD `-i BR -j ACCEPT`.
    /// CLI: `iptables-1.8.11`.
    Iptables1811,
    /// Only the rules the buggy `-C` makes Docker skip (no wrong `-D`): the 2nd+ networks' 7
    /// rules; the first network keeps everything. CLI: `iptables-1.8.11-skips`.
    Iptables1811SkipsOnly,
    /// Delete these rules. CLI: `delete:KIND[@NET]`, e.g. `delete:ct-accept@1`.
    DeleteRules(Vec<RuleSelector>),
    /// Load the same rules into the other backend too. CLI: `both-backends`.
    BothBackends,
    /// Set FORWARD's policy. CLI: `forward-accept` / `forward-drop`.
    ForwardPolicy(String),
}

impl FromStr for Fault {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "iptables-1.8.11" | "preset" => Fault::Iptables1811,
            "iptables-1.8.11-skips" => Fault::Iptables1811SkipsOnly,
            "both-backends" => Fault::BothBackends,
            "forward-accept" => Fault::ForwardPolicy("ACCEPT".into()),
            "forward-drop" => Fault::ForwardPolicy("DROP".into()),
            _ => {
                let Some(sel) = s.strip_prefix("delete:") else {
                    bail!(
                        "unknown fault {s:?}: iptables-1.8.11, iptables-1.8.11-skips, both-backends, \
                         forward-accept, forward-drop, delete:KIND[@NET]"
                    );
                };
                let (kind, net) = match sel.split_once('@') {
                    Some((k, n)) => (
                        k,
                        Some(
                            n.parse::<usize>()
                                .with_context(|| format!("network in {s:?}"))?,
                        ),
                    ),
                    None => (sel, None),
                };
                let kind = RuleKind::parse(kind).ok_or_else(|| {
                    let all: Vec<String> = RuleKind::ALL.iter().map(|k| k.name()).collect();
                    anyhow!("unknown rule kind {kind:?}; one of {}", all.join(", "))
                })?;
                Fault::DeleteRules(vec![RuleSelector { kind, network: net }])
            }
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Iptables1811 => f.write_str("iptables-1.8.11"),
            Fault::Iptables1811SkipsOnly => f.write_str("iptables-1.8.11-skips"),
            Fault::BothBackends => f.write_str("both-backends"),
            Fault::ForwardPolicy(p) => write!(f, "forward-{}", p.to_lowercase()),
            Fault::DeleteRules(sels) => {
                let v: Vec<String> = sels
                    .iter()
                    .map(|s| match s.network {
                        Some(n) => format!("delete:{}@{n}", s.kind.name()),
                        None => format!("delete:{}", s.kind.name()),
                    })
                    .collect();
                f.write_str(&v.join(","))
            }
        }
    }
}

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// User networks (`br-<12 hex>`), created in order. Default 2.
    pub networks: usize,
    /// Containers per network, each publishing one TCP port to its port 80. Default 1.
    pub containers_per_network: usize,
    /// Also the default bridge docker0 (172.17.0.0/16), created first. Default false.
    pub default_bridge: bool,
    pub backend: Backend,
    pub faults: Vec<Fault>,
    /// Host port of network i, container j = first_host_port + 10*i + j. Default 8000.
    pub first_host_port: u16,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            networks: 2,
            containers_per_network: 1,
            default_bridge: false,
            backend: Backend::Nft,
            faults: Vec::new(),
            first_host_port: 8000,
        }
    }
}

/// A running docker28 lab. Derefs to [`LabCore`] for the common accessors and probes.
#[derive(Debug)]
pub struct Lab {
    core: LabCore,
    options: Options,
    expected: Ruleset,
    applied: Ruleset,
    removed: Vec<Rule>,
    docker_state: DockerState,
}

crate::core::deref_to_core!(Lab);

impl Lab {
    /// Build the lab. On error everything built so far is removed.
    pub fn up(options: Options) -> Result<Lab> {
        fakehost::up_or_removed(|name| Self::build(options, name))
    }

    fn build(options: Options, name: &mut Option<String>) -> Result<Lab> {
        crate::prereq::docker28()?;
        let started = Instant::now();
        // Docker's sysctls: it enabled forwarding itself (hence FORWARD DROP), and with the
        // proxy off it sets route_localnet on each bridge and wants bridge-nf-call-iptables.
        let (mut core, host, networks) = fakehost::begin(
            Flavour::Docker28,
            &fakehost::Plan {
                networks: options.networks,
                containers_per_network: options.containers_per_network,
                default_bridge: options.default_bridge,
                first_host_port: options.first_host_port,
            },
            name,
        )?;
        // The rules: replay Docker 28.0.1 (healthy, and with the 1.8.11 comparison if asked).
        let (nets, ports) = fakehost::specs(&networks);
        let expected = docker_28_0_1(&nets, &ports, Compare::Exact, "DROP");
        let compare = if options.faults.contains(&Fault::Iptables1811) {
            Compare::Iptables1811
        } else if options.faults.contains(&Fault::Iptables1811SkipsOnly) {
            Compare::Iptables1811SkipsOnly
        } else {
            Compare::Exact
        };
        let mut applied = docker_28_0_1(&nets, &ports, compare, "DROP");
        for f in &options.faults {
            match f {
                Fault::DeleteRules(sels) => {
                    applied.remove_where(|r| sels.iter().any(|s| s.matches(r)));
                }
                Fault::ForwardPolicy(p) => applied.set_policy(Table::Filter, "FORWARD", p),
                _ => {}
            }
        }
        let removed = expected.missing_from(&applied);
        let text = applied.restore_text();
        let file = core.dir().join("rules.iptables-restore");
        std::fs::write(&file, &text)?;
        let file_s = file.to_string_lossy().into_owned();
        host.run(options.backend.restore(), &[&file_s])
            .context("loading the Docker 28 rules")?;
        if options.faults.contains(&Fault::BothBackends) {
            host.run(options.backend.other().restore(), &[&file_s])
                .context("loading the Docker 28 rules into the other backend")?;
        }

        let client = core.add_client(&host)?;

        let docker_state = docker_state_of(&networks, options.default_bridge);
        let topology = Topology {
            flavour: Flavour::Docker28,
            host_netns: host.name().to_owned(),
            client,
            networks,
            docker_socket: None,
            backend: options.backend.name().to_owned(),
            userland_proxy: false,
        };
        {
            let st = core.state_mut();
            st.docker_state = Some(docker_state.clone());
            st.removed_rules = removed.iter().map(|r| r.to_string()).collect();
        }
        core.set_topology(topology)?;
        let lab = Lab {
            core,
            options,
            expected,
            applied,
            removed,
            docker_state,
        };
        fakehost::wait_for_servers(&lab.core, Duration::from_secs(3))?;
        log::info!("docker28 lab {} up in {:?}", lab.name(), started.elapsed());
        Ok(lab)
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// What a healthy Docker 28.0.1 installs for this layout.
    pub fn expected_rules(&self) -> &Ruleset {
        &self.expected
    }

    /// What the lab loaded (expected minus the faults).
    pub fn applied_rules(&self) -> &Ruleset {
        &self.applied
    }

    /// Rules of [`expected_rules`](Self::expected_rules) missing from the kernel on purpose.
    pub fn removed_rules(&self) -> &[Rule] {
        &self.removed
    }

    /// The Docker state this lab plays (networks, containers, ports, daemon settings).
    pub fn docker_state(&self) -> &DockerState {
        &self.docker_state
    }

    /// Delete rules now (by `iptables -D` of the lab's backend in the host netns); returns them.
    pub fn delete_rules(&mut self, selectors: &[RuleSelector]) -> Result<Vec<Rule>> {
        let gone = self
            .applied
            .remove_where(|r| selectors.iter().any(|s| s.matches(r)));
        let host = self.host_netns();
        for r in &gone {
            let mut args = vec!["-t", r.table.name(), "-D", r.chain.as_str()];
            args.extend(r.spec.split_whitespace());
            host.run(self.options.backend.iptables(), &args)?;
        }
        self.removed = self.expected.missing_from(&self.applied);
        Ok(gone)
    }

    /// Set filter FORWARD's policy now ("ACCEPT" or "DROP").
    pub fn set_forward_policy(&mut self, policy: &str) -> Result<()> {
        self.host_netns()
            .run(self.options.backend.iptables(), &["-P", "FORWARD", policy])?;
        self.applied.set_policy(Table::Filter, "FORWARD", policy);
        Ok(())
    }

    /// Tear down now.
    pub fn down(self) -> Result<()> {
        self.core.down()
    }

    /// Keep running after this process (see [`LabCore::persist`]).
    pub fn persist(self) -> Result<LabState> {
        self.core.persist()
    }
}

/// The Docker state for networks built by a lab (daemon settings as in the incident).
pub fn docker_state_of(networks: &[Network], default_bridge: bool) -> DockerState {
    DockerState {
        engine_version: "28.0.1".into(),
        daemon: DaemonSettings {
            iptables: true,
            ip6tables: false,
            userland_proxy: false,
            ip_forward: true,
            ip_forward_no_drop: false,
            default_bridge,
            firewall_backend: None,
        },
        networks: networks
            .iter()
            .map(|n| DockerNetwork {
                id: n.id.clone(),
                name: n.name.clone(),
                driver: "bridge".into(),
                bridge: n.bridge.clone(),
                subnet: n.subnet.to_string(),
                gateway: n.gateway.to_string(),
                internal: false,
                enable_icc: true,
                enable_ip_masquerade: true,
                gateway_mode_ipv4: "nat".into(),
                host_ipv4: None,
            })
            .collect(),
        containers: networks
            .iter()
            .flat_map(|n| {
                n.containers.iter().map(move |c| DockerContainer {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    network: n.name.clone(),
                    ip: c.ip.to_string(),
                    ports: c
                        .ports
                        .iter()
                        .map(|p| DockerPort {
                            host_ip: "0.0.0.0".into(),
                            host_port: p.host_port,
                            container_port: p.container_port,
                            proto: p.proto.to_string(),
                        })
                        .collect(),
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_print() {
        for s in [
            "iptables-1.8.11",
            "iptables-1.8.11-skips",
            "both-backends",
            "forward-accept",
            "delete:ct-accept@1",
            "delete:hairpin-masquerade",
        ] {
            let f: Fault = s.parse().unwrap();
            assert_eq!(f.to_string(), s);
        }
        assert!("delete:nope".parse::<Fault>().is_err());
        assert!("bogus".parse::<Fault>().is_err());
    }
}
