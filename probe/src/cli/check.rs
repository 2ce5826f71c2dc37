//! `nfprobe check`: for every rule Docker should have, is it in the kernel, in a working
//! order, and what does the iptables CLI claim? Exit 0 all ok, 1 findings, 2 could not run.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use nfprobe::audit;
use nfprobe::claims::{self, Binary, Claim, LieProbe};
use nfprobe::docker::discover::{self, KernelBridge};
use nfprobe::docker::expect::{self, Expectation, Layout};
use nfprobe::docker::state::{Cidr, DockerState, StateSource};
use nfprobe::kernel::netns::{self, NetnsSpec};
use nfprobe::kernel::{link, nft, sysctl, xt};
use nfprobe::report::{self, bundle::*};
use nfprobe::ruleset::{Backend, Family, Ruleset, xlate};

use super::{Global, Outcome};

/// Where Docker's state comes from (shared by `check` and `collect`).
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Docker Engine socket: unix:///path (default: $DOCKER_HOST, else /var/run/docker.sock).
    #[arg(long, value_name = "unix:///PATH")]
    pub docker_host: Option<String>,
    /// Do not ask the Engine API: bridges and addresses from the kernel only (degraded view).
    #[arg(long)]
    pub no_docker_api: bool,
    /// Read Docker's state (and any kernel, claims and sysctl sections) from a bundle written
    /// by `nfprobe collect` or by hand (docs/bundle.md).
    #[arg(long, value_name = "FILE")]
    pub docker_state: Option<PathBuf>,
    /// Rule layout to expect instead of the one the engine version implies:
    /// 20, 28.0, 28.2, 28.3, 29, 29-nft.
    #[arg(long)]
    pub layout: Option<String>,
    /// Also ask this iptables binary `-C` (repeatable).
    #[arg(long = "iptables", value_name = "PATH")]
    pub iptables: Vec<PathBuf>,
    /// Do not run any iptables binary (no claims).
    #[arg(long)]
    pub no_claims: bool,
    /// Seconds before an iptables call is given up.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Seconds iptables may wait for the xtables lock (`--wait`).
    #[arg(long, default_value_t = 5)]
    pub wait: u32,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub src: SourceArgs,
    /// Print the commands that would restore every missing rule (applies nothing).
    #[arg(long)]
    pub fix_script: bool,
    /// Also list the rules that are fine.
    #[arg(long)]
    pub all: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (b, e) = gather(global, &args.src, true)?;
    if args.src.docker_state.is_none()
        && b.docker.source == StateSource::Netlink
        && b.docker.networks.is_empty()
    {
        // No Engine API and no Docker bridge in the kernel: there is no Docker here, so no
        // rule is expected. Saying "everything is missing" would be a false alarm.
        let why = b.docker.degraded.as_deref().unwrap_or("no Docker found");
        if global.json {
            let doc = serde_json::json!({
                "kind": "nfprobe-check",
                "schema": 1,
                "docker": "absent",
                "problems": 0,
                "reason": why,
            });
            println!("{doc:#}");
        } else {
            println!(
                "nfprobe check — no Docker on this host: no Engine API answered and the kernel has \
                 no Docker bridge (docker0, br-<id>), so Docker expects no rule here. Nothing to \
                 check.\n({why})"
            );
        }
        return Ok(Outcome::Clean);
    }
    let a = audit_bundle(&b, &e);
    if args.fix_script {
        print!("{}", report::fix_script(&a));
    } else if global.json {
        println!("{}", report::json(&a));
    } else {
        print!("{}", report::text(&a, args.all));
    }
    Ok(if a.problems() == 0 {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// Audit a complete bundle.
pub fn audit_bundle(b: &Bundle, e: &Expectation) -> audit::Audit {
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
    global: &Global,
    src: &SourceArgs,
    docker_only: bool,
) -> anyhow::Result<(Bundle, Expectation)> {
    let ns = global.netns.as_ref();
    let mut b = match &src.docker_state {
        Some(path) => Bundle::read(path)?,
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
    let layout = choose_layout(src.layout.as_deref(), &b)?;
    let e = expect::expect(&b.docker, layout);
    if b.iptables.is_none() && !src.no_claims {
        b.iptables = Some(ask_claims(ns, src, &b, &e));
    }
    Ok((b, e))
}

fn docker_state(ns: Option<&NetnsSpec>, src: &SourceArgs) -> anyhow::Result<DockerState> {
    if src.no_docker_api {
        return degraded(ns, "--no-docker-api given");
    }
    let socket = discover::socket_path(src.docker_host.as_deref())?;
    if !socket.exists() {
        return degraded(ns, &format!("no Docker socket at {}", socket.display()));
    }
    discover::from_api(&socket, Duration::from_secs(src.timeout.max(1)))
        .with_context(|| format!("asking the Docker Engine at {}", socket.display()))
}

fn degraded(ns: Option<&NetnsSpec>, why: &str) -> anyhow::Result<DockerState> {
    let bridges =
        kernel_bridges(ns).with_context(|| format!("{why}; reading bridges from the kernel"))?;
    Ok(discover::degraded(&bridges, why))
}

/// Docker-looking bridges and their addresses from rtnetlink.
fn kernel_bridges(ns: Option<&NetnsSpec>) -> anyhow::Result<Vec<KernelBridge>> {
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

/// Both backends, both families, plus the docker-bridges nftables tables. With
/// `docker_only`, nf_tables rules are read only for built-in and Docker chains (other chains
/// are left out entirely): a host's unrelated 50,000 rules cost nothing.
pub fn read_kernel(ns: Option<&NetnsSpec>, docker_only: bool) -> anyhow::Result<KernelSection> {
    let opts = nft::ReadOptions {
        rules_of: docker_only.then_some(docker_chain as fn(&str, &str) -> bool),
        ..Default::default()
    };
    let snap = nft::read_ruleset_with(ns, &opts)
        .context("reading nf_tables (needs root / CAP_NET_ADMIN)")?;
    let mut rulesets = Vec::new();
    for family in [Family::Ipv4, Family::Ipv6] {
        let mut rs = xlate::iptables_ruleset(&snap, family);
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
        let rs = xt::read_ruleset(ns, family)
            .with_context(|| format!("reading legacy {family:?} xtables"))?;
        if !rs.tables.is_empty() {
            rulesets.push(rs);
        }
    }
    Ok(KernelSection {
        rulesets,
        nft: audit::nft::view_of(&snap),
    })
}

fn choose_layout(flag: Option<&str>, b: &Bundle) -> anyhow::Result<Layout> {
    if let Some(l) = flag {
        return Layout::parse(l)
            .with_context(|| format!("unknown layout `{l}` (20, 28.0, 28.2, 28.3, 29, 29-nft)"));
    }
    if let Some(l) = Layout::for_version(b.docker.version(), b.docker.daemon.nftables()) {
        return Ok(l);
    }
    // Version unknown (degraded view): read the layout off the kernel's chains.
    let has = |chain: &str| {
        b.kernel.iter().flat_map(|k| &k.rulesets).any(|rs| {
            rs.tables
                .iter()
                .any(|t| t.name == "filter" && t.chains.iter().any(|c| c.name == chain))
        })
    };
    Ok(if b.kernel.as_ref().is_some_and(|k| k.nft.is_some()) {
        Layout::V29Nft
    } else if has("DOCKER-INTERNAL") {
        Layout::V29
    } else if has("DOCKER-FORWARD") {
        Layout::V28_3
    } else {
        Layout::V20
    })
}

fn ask_claims(
    ns: Option<&NetnsSpec>,
    src: &SourceArgs,
    b: &Bundle,
    e: &Expectation,
) -> IptablesSection {
    let opts = claims::Options {
        netns: ns.cloned(),
        timeout: Duration::from_secs(src.timeout.max(1)),
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
    let rulesets: Vec<Ruleset> = b.kernel.iter().flat_map(|k| k.rulesets.clone()).collect();
    let backend = audit::docker_backend_of(&rulesets, &binaries);
    let probes = audit::probe::questions(&rulesets, backend)
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
