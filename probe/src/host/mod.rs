//! One host's facts, gathered and audited: Docker's state (Engine API, a bundle, or the kernel's
//! bridges), the kernel's rulesets, the iptables CLI's claims and the sysctls. `check`,
//! `collect` (and the commands built on them) call this; the CLI only parses and prints.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::audit;
use crate::claims::{self, Binary, Claim, LieProbe};
use crate::docker::discover::{self, KernelBridge};
use crate::docker::expect::{self, Expectation, Layout};
use crate::docker::infer;
use crate::docker::state::{Cidr, DockerState, StateSource};
use crate::kernel::netns::{self, NetnsSpec};
use crate::kernel::{link, nft, sysctl};
use crate::report::bundle::*;
use crate::ruleset::{Backend, Family, Ruleset, xlate};

/// Where Docker's state and the CLI's claims come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Docker Engine socket (`unix:///path`); None: `$DOCKER_HOST`, else /var/run/docker.sock.
    pub docker_host: Option<String>,
    /// Do not ask the Engine API: bridges and addresses from the kernel only.
    pub no_docker_api: bool,
    /// Read Docker's state (and any kernel, claims and sysctl sections) from a bundle.
    pub docker_state: Option<PathBuf>,
    /// Rule layout to expect instead of the one the engine version implies.
    pub layout: Option<String>,
    /// More iptables binaries to ask `-C`.
    pub iptables: Vec<PathBuf>,
    /// Run no iptables binary (no claims).
    pub no_claims: bool,
    /// Give up on an Engine API or iptables call after this long.
    pub timeout: Duration,
    /// Seconds iptables may wait for the xtables lock (`--wait`).
    pub wait: u32,
}

/// What could not be gathered, and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct HostError {
    what: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl HostError {
    fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            source: None,
        }
    }
}

/// `result.context(..)` for this module's errors.
trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T, HostError>;
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, HostError>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T, HostError> {
        self.map_err(|e| HostError {
            what: what.into(),
            source: Some(Box::new(e)),
        })
    }
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, HostError> {
        self.map_err(|e| HostError {
            what: what().into(),
            source: Some(Box::new(e)),
        })
    }
}

/// Audit a complete bundle.
pub fn audit(b: &Bundle, e: &Expectation) -> audit::Audit {
    let empty = BTreeMap::new();
    let (rulesets, nft_view) = match &b.kernel {
        Some(k) => (k.rulesets.as_slice(), k.nft.as_ref()),
        None => (&[][..], None),
    };
    let (binaries, claims, probes): (&[Binary], &[Claim], &[LieProbe]) = match &b.iptables {
        Some(i) => (&i.binaries, &i.claims, &i.probes),
        None => (&[], &[], &[]),
    };
    audit::run(&audit::Input {
        state: &b.docker,
        expectation: e,
        rulesets,
        nft: nft_view,
        binaries,
        claims,
        probes,
        sysctls: b.sysctls.as_ref().unwrap_or(&empty),
    })
}

/// Everything `check` needs, from the bundle where it has a section, live otherwise.
/// `docker_only`: read only built-in and Docker chains from nf_tables (what `check` needs;
/// `collect` reads everything).
pub fn gather(
    ns: Option<&NetnsSpec>,
    src: &Sources,
    docker_only: bool,
) -> Result<(Bundle, Expectation), HostError> {
    let mut b = match &src.docker_state {
        Some(path) => Bundle::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => Bundle::new(docker_state(ns, src)?),
    };
    let names = audit::sysctl_names(&b.docker);
    if b.kernel.is_none() || b.sysctls.is_none() {
        // One thread in the target namespace for every kernel read.
        let need_kernel = b.kernel.is_none();
        let (kernel, sysctls) = netns::run_in(ns, || {
            let k = if need_kernel {
                Some(read_kernel(None, docker_only))
            } else {
                None
            };
            let s = sysctl::read(None, &names);
            (k, s)
        })
        .context("entering the target network namespace")?;
        if let Some(k) = kernel {
            b.kernel = Some(k?);
        }
        if b.sysctls.is_none() {
            b.sysctls = Some(sysctls.context("reading sysctls in the target namespace")?);
        }
    }
    // No Engine API: what Docker's rules in the kernel show (ports, the userland proxy).
    let mut notes = Vec::new();
    if b.docker.source == StateSource::Netlink && b.docker.containers.is_empty() {
        let rulesets = b.kernel.as_ref().map_or(&[][..], |k| k.rulesets.as_slice());
        notes = infer::from_kernel(&mut b.docker, rulesets);
    }
    let (layout, why) = choose_layout(src.layout.as_deref(), &b)?;
    let mut e = expect::expect(&b.docker, layout);
    if let Some(why) = why {
        e.notes.push(format!(
            "rule layout read off the kernel ({}): {why}",
            layout.describe()
        ));
    }
    e.notes.extend(notes);
    if b.iptables.is_none() && !src.no_claims {
        b.iptables = Some(ask_claims(ns, src, &b, &e));
    }
    Ok((b, e))
}

fn docker_state(ns: Option<&NetnsSpec>, src: &Sources) -> Result<DockerState, HostError> {
    if src.no_docker_api {
        return degraded(ns, "--no-docker-api given");
    }
    let socket = discover::socket_path(src.docker_host.as_deref())
        .context("finding the Docker Engine socket")?;
    if !socket.exists() {
        return degraded(ns, &format!("no Docker socket at {}", socket.display()));
    }
    discover::from_api(&socket, src.timeout.max(Duration::from_secs(1)))
        .with_context(|| format!("asking the Docker Engine at {}", socket.display()))
}

fn degraded(ns: Option<&NetnsSpec>, why: &str) -> Result<DockerState, HostError> {
    let bridges =
        kernel_bridges(ns).with_context(|| format!("{why}; reading bridges from the kernel"))?;
    Ok(discover::degraded(&bridges, why))
}

/// Docker-looking bridges and their addresses from rtnetlink.
fn kernel_bridges(ns: Option<&NetnsSpec>) -> Result<Vec<KernelBridge>, HostError> {
    let snap = link::snapshot(ns).context("reading links and addresses (rtnetlink)")?;
    Ok(snap
        .docker_bridges()
        .into_iter()
        .map(|b| KernelBridge {
            name: b.link.name.clone(),
            addrs: b
                .addresses
                .iter()
                .map(|a| Cidr {
                    addr: a.addr,
                    prefix: a.prefix_len,
                })
                .collect(),
        })
        .collect())
}

/// Chains whose rules `check` needs besides the built-in ones.
fn docker_chain(table: &str, chain: &str) -> bool {
    table == expect::nft29::TABLE || chain.starts_with("DOCKER")
}

/// The nf_tables tables read here: the iptables-nft ones and Docker 29's.
fn read_table(family: nft::NftFamily, table: &str) -> bool {
    table == expect::nft29::TABLE
        || (matches!(family, nft::NftFamily::Ip | nft::NftFamily::Ip6)
            && xlate::IPTABLES_TABLES.contains(&table))
}

/// Both backends, both families, plus the docker-bridges nftables tables. With
/// `docker_only`, only built-in and Docker chains are kept (nf_tables: their rules are not
/// even dumped; legacy: the other chains are not decoded): a host's unrelated 50,000 rules
/// cost nothing but the kernel's table blob.
pub fn read_kernel(ns: Option<&NetnsSpec>, docker_only: bool) -> Result<KernelSection, HostError> {
    let opts = nft::ReadOptions {
        rules_of: docker_only.then_some(docker_chain as fn(&str, &str) -> bool),
        // Only iptables-nft tables and Docker's own are read from here on: another tool's
        // big sets (100,000 elements are common) would only be held and dropped.
        elements_of: Some(read_table as fn(nft::NftFamily, &str) -> bool),
        ..Default::default()
    };
    // The iptables tables translated chain by chain as they are read (their nf_tables rules
    // are dropped at once); only Docker's own table keeps its rules for the view.
    let (snap, by_family) =
        xlate::read_iptables_rulesets(ns, &opts, |_, table| table == expect::nft29::TABLE)
            .context("reading nf_tables (needs root / CAP_NET_ADMIN)")?;
    let mut rulesets = Vec::new();
    for mut rs in by_family {
        if docker_only {
            for t in &mut rs.tables {
                t.chains
                    .retain(|c| c.builtin || docker_chain(&t.name, &c.name));
            }
        }
        if !rs.tables.is_empty() {
            rulesets.push(rs);
        }
    }
    for family in [Family::Ipv4, Family::Ipv6] {
        let keep = |t: &str, c: &crate::ruleset::Chain| {
            !docker_only || c.builtin || docker_chain(t, &c.name)
        };
        let rs = crate::ruleset::xlate::legacy::read_ruleset_where(ns, family, &keep)
            .with_context(|| format!("reading the legacy {family} xtables"))?;
        if !rs.tables.is_empty() {
            rulesets.push(rs);
        }
    }
    Ok(KernelSection {
        rulesets,
        nft: audit::nft::view_of(&snap),
    })
}

/// The layout to expect, and why when it was read off the kernel.
fn choose_layout(flag: Option<&str>, b: &Bundle) -> Result<(Layout, Option<String>), HostError> {
    if let Some(l) = flag {
        return Layout::parse(l).map(|l| (l, None)).ok_or_else(|| {
            HostError::new(format!(
                "unknown layout `{l}` (20, 28.0, 28.2, 28.3, 29, 29-nft)"
            ))
        });
    }
    if let Some(l) = Layout::for_version(b.docker.version(), b.docker.daemon.nftables()) {
        return Ok((l, None));
    }
    // Version unknown (degraded view): read the layout off the kernel's chains and rules.
    let rulesets = b.kernel.as_ref().map_or(&[][..], |k| k.rulesets.as_slice());
    let nft_tables = b.kernel.as_ref().is_some_and(|k| k.nft.is_some());
    let (layout, why) = infer::layout(rulesets, nft_tables);
    Ok((layout, Some(why)))
}

fn ask_claims(
    ns: Option<&NetnsSpec>,
    src: &Sources,
    b: &Bundle,
    e: &Expectation,
) -> IptablesSection {
    let opts = claims::Options {
        netns: ns.cloned(),
        timeout: src.timeout.max(Duration::from_secs(1)),
        wait: src.wait,
    };
    let binaries = claims::find_binaries(&src.iptables, &opts);
    let tables: HashSet<(Backend, Family, String)> = b
        .kernel
        .iter()
        .flat_map(|k| &k.rulesets)
        .flat_map(|rs: &Ruleset| {
            rs.tables
                .iter()
                .map(move |t| (rs.backend, rs.family, t.name.clone()))
        })
        .collect();
    // A legacy binary asked about an absent table creates it; a binary whose backend is
    // unknown is treated as legacy.
    let has_table = |backend: Option<Backend>, family: Family, table: &str| {
        let b = backend.unwrap_or(Backend::Legacy);
        tables.contains(&(b, family, table.to_owned()))
    };
    let questions: Vec<claims::Question<'_>> = e
        .rules
        .iter()
        .map(|r| {
            (
                r.family,
                r.table.as_str(),
                r.chain.as_str(),
                r.args.as_slice(),
            )
        })
        .collect();
    let claims = claims::ask_all(&binaries, &questions, &opts, &has_table);
    // Borrowed: a copy of 100,000 rules' models was the biggest allocation of `collect`.
    let rulesets = b.kernel.as_ref().map_or(&[][..], |k| k.rulesets.as_slice());
    let backend = audit::docker_backend_of(rulesets, &binaries);
    let probes = audit::probe::questions(rulesets, backend)
        .iter()
        .flat_map(|(family, kind, q)| {
            claims::probe_lies(&binaries, *family, *kind, q, &opts, &has_table)
        })
        .collect();
    IptablesSection {
        binaries,
        claims,
        probes,
    }
}
