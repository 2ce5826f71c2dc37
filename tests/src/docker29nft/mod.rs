//! Docker 29.0 with `firewall-backend: nftables`, without Docker: the same fake host as
//! docker28 ([`crate::fakehost`]: bridges, veth "containers" running httpd, an external
//! client), Docker's sysctls with the userland proxy off, and the `ip`/`ip6 docker-bridges`
//! tables Docker 29.0 writes, loaded with `nft -f` inside the lab's host netns only. Faults
//! delete rules or verdict-map elements, or move a published port's ACCEPT below the
//! network's final DROP; the tables are then replaced as a whole, as Docker itself does.

mod rules;

pub use crate::fakehost::{NetSpec, PortSpec};
pub use rules::{Kind, Piece, docker_29_0, script};

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::core::LabCore;
use crate::docker28::DockerState;
use crate::fakehost;
use crate::state::LabState;
use crate::topology::{Flavour, Topology};

/// The lab's bundle file (in its folder): the Docker state for `nfprobe check --docker-state`.
pub const BUNDLE: &str = "bundle.json";

/// Pieces picked by kind and (optionally) network index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selector {
    pub kind: Kind,
    /// None: every network (and the table-wide pieces of that kind).
    pub network: Option<usize>,
}

impl Selector {
    pub fn matches(&self, p: &Piece) -> bool {
        p.kind == self.kind && (self.network.is_none() || self.network == p.network)
    }
}

/// A fault injected on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Delete these pieces. CLI: `delete:KIND[@NET]`, e.g. `delete:dnat@1`,
    /// `delete:fwd-in-element@0`.
    Delete(Vec<Selector>),
    /// Put network NET's published-port ACCEPTs below its `UNPUBLISHED PORT DROP`.
    /// CLI: `port-accept-below-drop@NET`.
    PortAcceptBelowDrop(usize),
}

impl FromStr for Fault {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let net = |n: &str| {
            n.parse::<usize>()
                .with_context(|| format!("network in {s:?}"))
        };
        if let Some(n) = s.strip_prefix("port-accept-below-drop@") {
            return Ok(Fault::PortAcceptBelowDrop(net(n)?));
        }
        let Some(sel) = s.strip_prefix("delete:") else {
            bail!("unknown fault {s:?}: delete:KIND[@NET] or port-accept-below-drop@NET");
        };
        let (kind, network) = match sel.split_once('@') {
            Some((k, n)) => (k, Some(net(n)?)),
            None => (sel, None),
        };
        let kind = Kind::parse(kind)
            .filter(|k| Kind::DELETABLE.contains(k))
            .ok_or_else(|| {
                let all: Vec<String> = Kind::DELETABLE.iter().map(|k| k.name()).collect();
                anyhow!("unknown kind {kind:?}; one of {}", all.join(", "))
            })?;
        Ok(Fault::Delete(vec![Selector { kind, network }]))
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::PortAcceptBelowDrop(n) => write!(f, "port-accept-below-drop@{n}"),
            Fault::Delete(sels) => {
                let v: Vec<String> = sels
                    .iter()
                    .map(|s| match s.network {
                        Some(n) => format!("delete:{}@{n}", s.kind),
                        None => format!("delete:{}", s.kind),
                    })
                    .collect();
                f.write_str(&v.join(","))
            }
        }
    }
}

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// Networks, containers and ports (default: 2 user networks, 1 container each, ports
    /// from 8000).
    pub plan: fakehost::Plan,
    pub faults: Vec<Fault>,
}

/// A running docker29-nft lab. Derefs to [`LabCore`].
#[derive(Debug)]
pub struct Lab {
    core: LabCore,
    options: Options,
    nets: Vec<(String, crate::topology::Ipv4Net)>,
    expected: Vec<Piece>,
    applied: Vec<Piece>,
    removed: Vec<Piece>,
    docker_state: DockerState,
}

crate::core::deref_to_core!(Lab);

impl Lab {
    /// Build the lab. On error everything built so far is removed.
    pub fn up(options: Options) -> Result<Lab> {
        fakehost::up_or_removed(|name| Self::build(options, name))
    }

    fn build(options: Options, name: &mut Option<String>) -> Result<Lab> {
        crate::prereq::docker29_nft()?;
        let started = Instant::now();
        let (mut core, host, networks) =
            fakehost::begin(Flavour::Docker29Nft, &options.plan, name)?;
        let (nets, ports) = fakehost::specs(&networks);
        let expected = docker_29_0(&nets, &ports);
        let client = core.add_client(&host)?;
        let mut docker_state =
            crate::docker28::docker_state_of(&networks, options.plan.default_bridge);
        docker_state.engine_version = "29.0.0".into();
        docker_state.daemon.ip6tables = true;
        docker_state.daemon.firewall_backend = Some("nftables".into());
        let topology = Topology {
            flavour: Flavour::Docker29Nft,
            host_netns: host.name().to_owned(),
            client,
            networks,
            docker_socket: None,
            backend: "nft".into(),
            userland_proxy: false,
        };
        core.state_mut().docker_state = Some(docker_state.clone());
        // What `nfprobe check --docker-state` reads for this lab (also by hand).
        std::fs::write(
            core.dir().join(BUNDLE),
            serde_json::to_vec_pretty(&docker_state.bundle())?,
        )?;
        core.set_topology(topology)?;
        let mut lab = Lab {
            core,
            nets: nets.iter().map(|n| (n.bridge.clone(), n.subnet)).collect(),
            applied: expected.clone(),
            expected,
            removed: Vec::new(),
            options: options.clone(),
            docker_state,
        };
        lab.apply(&options.faults)?;
        fakehost::wait_for_servers(&lab.core, Duration::from_secs(3))?;
        log::info!(
            "docker29-nft lab {} up in {:?}",
            lab.name(),
            started.elapsed()
        );
        Ok(lab)
    }

    /// Apply faults on top of what is loaded now, and reload both tables (`nft -f` in the
    /// host netns). Returns the pieces this call removed.
    pub fn apply(&mut self, faults: &[Fault]) -> Result<Vec<Piece>> {
        let before = self.applied.len();
        let mut gone = Vec::new();
        for f in faults {
            match f {
                Fault::Delete(sels) => {
                    let (out, keep): (Vec<Piece>, Vec<Piece>) = self
                        .applied
                        .drain(..)
                        .partition(|p| sels.iter().any(|s| s.matches(p)));
                    self.applied = keep;
                    gone.extend(out);
                }
                Fault::PortAcceptBelowDrop(n) => {
                    let is = |p: &Piece, k: Kind| p.kind == k && p.network == Some(*n);
                    let mut moved = Vec::new();
                    let mut i = 0;
                    while i < self.applied.len() {
                        if is(&self.applied[i], Kind::PortAccept) {
                            moved.push(self.applied.remove(i));
                        } else {
                            i += 1;
                        }
                    }
                    let at = self
                        .applied
                        .iter()
                        .position(|p| is(p, Kind::UnpublishedDrop))
                        .ok_or_else(|| anyhow!("network {n} has no UNPUBLISHED PORT DROP"))?;
                    for (k, p) in moved.into_iter().enumerate() {
                        self.applied.insert(at + 1 + k, p);
                    }
                }
            }
        }
        if self.applied.len() + gone.len() != before {
            bail!("fault bookkeeping lost a piece");
        }
        let nets: Vec<NetSpec> = self
            .nets
            .iter()
            .map(|(b, s)| NetSpec {
                bridge: b.clone(),
                subnet: *s,
            })
            .collect();
        let text = script(&self.applied, &nets);
        let file = self.core.dir().join("docker-bridges.nft");
        std::fs::write(&file, &text)?;
        let file_s = file.to_string_lossy().into_owned();
        self.host_netns()
            .run("nft", &["-f", &file_s])
            .context("loading the Docker 29 nftables tables")?;
        self.removed = self
            .expected
            .iter()
            .filter(|p| !self.applied.contains(p))
            .cloned()
            .collect();
        let record: Vec<String> = self
            .removed
            .iter()
            .map(|p| format!("{} docker-bridges {}: {}", p.family, p.chain, p.listed))
            .chain(faults.iter().filter_map(|f| match f {
                Fault::PortAcceptBelowDrop(_) => Some(f.to_string()),
                Fault::Delete(_) => None,
            }))
            .collect();
        self.core.state_mut().removed_rules = record;
        self.core.save()?;
        Ok(gone)
    }

    /// Load the healthy tables again (everything Docker 29.0 writes, nothing removed).
    pub fn reset(&mut self) -> Result<()> {
        self.applied = self.expected.clone();
        self.apply(&[]).map(|_| ())
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// What a healthy Docker 29.0 writes for this lab.
    pub fn expected(&self) -> &[Piece] {
        &self.expected
    }

    /// What is loaded now, in order.
    pub fn applied(&self) -> &[Piece] {
        &self.applied
    }

    /// Pieces of [`expected`](Self::expected) missing from the kernel on purpose.
    pub fn removed(&self) -> &[Piece] {
        &self.removed
    }

    /// The Docker state this lab plays (29.0.0, firewall-backend nftables, proxy off).
    pub fn docker_state(&self) -> &DockerState {
        &self.docker_state
    }

    /// The bundle `nfprobe check --docker-state` reads for this lab.
    pub fn bundle_path(&self) -> std::path::PathBuf {
        self.core.dir().join(BUNDLE)
    }

    /// `nft list table FAMILY docker-bridges` in the host netns.
    pub fn nft_list(&self, family: &str) -> Result<String> {
        self.host_netns()
            .run("nft", &["list", "table", family, "docker-bridges"])
    }

    pub fn down(self) -> Result<()> {
        self.core.down()
    }

    pub fn persist(self) -> Result<LabState> {
        self.core.persist()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_print() {
        for s in [
            "delete:dnat@1",
            "delete:fwd-in-element",
            "port-accept-below-drop@0",
        ] {
            let f: Fault = s.parse().unwrap();
            assert_eq!(f.to_string(), s);
        }
        assert!("delete:other".parse::<Fault>().is_err());
        assert!("bogus".parse::<Fault>().is_err());
    }

    #[test]
    fn script_names_every_piece_once() {
        let nets = vec![NetSpec {
            bridge: "br-0123456789ab".into(),
            subnet: "172.18.0.0/16".parse().unwrap(),
        }];
        let ports = vec![PortSpec {
            network: 0,
            container_ip: "172.18.0.2".parse().unwrap(),
            host_port: 8000,
            container_port: 80,
            proto: crate::topology::Proto::Tcp,
        }];
        let p = docker_29_0(&nets, &ports);
        let s = script(&p, &nets);
        assert!(s.contains("iifname == br-0123456789ab counter accept comment ICC"));
        assert!(s.contains("br-0123456789ab : jump filter-forward-in__br-0123456789ab"));
        assert_eq!(s.matches("comment DNAT").count(), 1);
    }
}
