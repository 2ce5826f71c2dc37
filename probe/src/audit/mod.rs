//! Joins Docker's intent (expected rules), the kernel's truth (rulesets) and the CLI's
//! claims into one finding per expected rule, plus `extra` rules and host findings.

pub mod degraded;
pub mod host;
pub mod index;
pub mod nft;
pub mod options;
pub mod probe;
pub mod repair;
pub mod text;

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::claims::{Answer, Binary, Claim, LieProbe};
use crate::docker::expect::{Blame, Expectation, Expected, Layout, Op};
use crate::docker::state::DockerState;
use crate::ruleset::{Backend, Family, Ruleset, Target};
use index::KernelIndex;
pub use nft::{NftChainView, NftMapView, NftRuleView, NftTableView, NftView};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Missing,
    MissingCliClaimsPresent,
    PresentCliClaimsMissing,
    WrongOrder,
    Undecodable,
    Extra,
    /// Not judged: no Engine API and nothing in the kernel implies the rule either way, or
    /// an option nfprobe does not model explains it (the detail says which).
    Unknown,
}

impl Status {
    pub fn is_problem(self) -> bool {
        !matches!(self, Status::Ok | Status::Unknown)
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "MISSING",
            Status::MissingCliClaimsPresent => "MISSING (CLI lies: says present)",
            Status::PresentCliClaimsMissing => "present (CLI says missing)",
            Status::WrongOrder => "WRONG ORDER",
            Status::Undecodable => "undecodable",
            Status::Extra => "extra",
            Status::Unknown => "unknown (not judged)",
        }
    }
}

/// What one binary answered about a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimView {
    pub binary: String,
    pub version: Option<String>,
    #[serde(flatten)]
    pub answer: Answer,
    /// The answer contradicts the kernel (for the binary's own backend).
    pub lie: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub status: Status,
    pub network: Option<String>,
    pub bridge: Option<String>,
    pub family: Family,
    pub table: String,
    pub chain: String,
    /// `-A CHAIN ...` (Docker's arguments for expected rules, iptables-save words for extras);
    /// in table `docker-bridges` (Docker 29 nftables) the rule as `nft list` prints it, or
    /// `element MAP "BRIDGE" : VERDICT` for a verdict-map element.
    pub rule: String,
    pub what: String,
    /// User-visible effect (non-ok findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// Command that restores the rule (applies nothing by itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    pub claims: Vec<ClaimView>,
    /// A rule differing only in interface names is in the chain: iptables-nft 1.8.11 `-C`
    /// answers "present" for this rule, which is why Docker skipped it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookalike: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Finding {
    /// `ok` for the rule Docker should have (`table`/`chain`/`rule`), until the audit says
    /// otherwise.
    pub(crate) fn expected(
        network: Option<String>,
        bridge: Option<String>,
        family: Family,
        table: String,
        chain: String,
        rule: String,
        what: String,
    ) -> Self {
        Finding {
            status: Status::Ok,
            network,
            bridge,
            family,
            table,
            chain,
            rule,
            what,
            effect: None,
            fix: None,
            claims: Vec::new(),
            lookalike: None,
            detail: None,
        }
    }

    /// A rule in Docker's chains that nothing Docker should have explains: `extra` with
    /// `why` as its effect, or `undecodable` when nfprobe could not decode it.
    pub(crate) fn unexplained(
        family: Family,
        table: String,
        chain: String,
        rule: String,
        what: String,
        decoded: bool,
        why: &str,
    ) -> Self {
        let (status, effect) = if decoded {
            (Status::Extra, why)
        } else {
            (Status::Undecodable, "nfprobe could not decode this rule")
        };
        Finding {
            status,
            effect: Some(effect.into()),
            ..Finding::expected(None, None, family, table, chain, rule, what)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Problem,
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFinding {
    pub kind: String,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub schema: u32,
    pub layout: Layout,
    pub engine_version: Option<String>,
    pub docker_source: crate::docker::state::StateSource,
    pub degraded: Option<String>,
    /// Backend whose tables hold Docker's rules.
    pub docker_backend: Backend,
    pub networks: Vec<NetworkSummary>,
    pub findings: Vec<Finding>,
    pub host: Vec<HostFinding>,
    pub binaries: Vec<Binary>,
    pub notes: Vec<String>,
    /// Where each missing or out-of-place rule goes, chain by chain (what `--fix-script`
    /// prints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repair: Vec<repair::ChainPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub name: String,
    pub bridge: String,
    pub subnets: Vec<String>,
    pub internal: bool,
    pub containers: usize,
    /// Options of the network nfprobe does not model (its rules there are not judged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_modelled: Vec<String>,
}

impl Audit {
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.status.is_problem())
            .count()
            + self
                .host
                .iter()
                .filter(|h| h.severity == Severity::Problem)
                .count()
    }
}

/// Everything the audit looks at.
pub struct Input<'a> {
    pub state: &'a DockerState,
    pub expectation: &'a Expectation,
    pub rulesets: &'a [Ruleset],
    /// Native nftables view (29 nftables backend); None when not read.
    pub nft: Option<&'a NftView>,
    pub binaries: &'a [Binary],
    pub claims: &'a [Claim],
    /// Bug probes (`probe::questions` asked through `claims::probe_lies`).
    pub probes: &'a [LieProbe],
    pub sysctls: &'a BTreeMap<String, Option<String>>,
}

pub fn docker_backend_of(rulesets: &[Ruleset], binaries: &[Binary]) -> Backend {
    docker_backend(&KernelIndex::new(rulesets), binaries)
}

fn docker_backend(idx: &KernelIndex<'_>, binaries: &[Binary]) -> Backend {
    let have = idx.docker_backends();
    if have.len() == 1 {
        return have[0];
    }
    // Both or neither: the backend of the plain `iptables` Docker runs.
    binaries
        .iter()
        .find(|b| b.path.file_name().is_some_and(|f| f == "iptables"))
        .and_then(|b| b.backend)
        .unwrap_or(Backend::Nft)
}

pub fn run(input: &Input<'_>) -> Audit {
    let e = input.expectation;
    let canon = crate::docker::expect::canonical(e);
    let mut idx = KernelIndex::new(input.rulesets);
    let backend = docker_backend(&idx, input.binaries);
    let mut findings = Vec::with_capacity(e.rules.len());
    // (family, table, chain, position) of kernel rules some expected rule explains.
    let mut explained: HashSet<(Family, String, String, usize)> = HashSet::new();
    let mut positions: Vec<Option<usize>> = vec![None; e.rules.len()];
    let mut found_all: Vec<Vec<usize>> = vec![Vec::new(); e.rules.len()];
    let bin_of = |p: &std::path::Path| input.binaries.iter().find(|b| b.path == p);
    let mut claims_of: std::collections::HashMap<(Family, &str, &str, &[String]), Vec<&Claim>> =
        std::collections::HashMap::new();
    for c in input.claims {
        claims_of
            .entry((
                c.family,
                c.table.as_str(),
                c.chain.as_str(),
                c.args.as_slice(),
            ))
            .or_default()
            .push(c);
    }
    for (i, (x, parsed)) in e.rules.iter().zip(&canon).enumerate() {
        let mut f = Finding::expected(
            x.network.clone(),
            x.bridge.clone(),
            x.family,
            x.table.clone(),
            x.chain.clone(),
            x.spec(),
            x.what.clone(),
        );
        let rule = match parsed {
            Ok(r) => r,
            Err(err) => {
                f.status = Status::Undecodable;
                f.detail = Some(format!("nfprobe cannot parse Docker's rule: {err}"));
                findings.push(f);
                continue;
            }
        };
        let present_in = |idx: &KernelIndex<'_>, b: Backend| {
            idx.chain(b, x.family, &x.table, &x.chain)
                .map(|c| c.find_all(rule))
                .unwrap_or_default()
        };
        let found = present_in(&idx, backend);
        for &p in &found {
            explained.insert((x.family, x.table.clone(), x.chain.clone(), p));
        }
        positions[i] = found.first().copied();
        let present = !found.is_empty();
        found_all[i] = found.clone();
        let key = (
            x.family,
            x.table.as_str(),
            x.chain.as_str(),
            x.args.as_slice(),
        );
        for c in claims_of.get(&key).into_iter().flatten() {
            let b = bin_of(&c.binary);
            let b_backend = b.and_then(|b| b.backend).unwrap_or(backend);
            let truth = !present_in(&idx, b_backend).is_empty();
            let lie = match &c.answer {
                Answer::Present => !truth,
                Answer::Absent => truth,
                _ => false,
            };
            f.claims.push(ClaimView {
                binary: c.binary.display().to_string(),
                version: b.and_then(|b| b.version.clone()),
                answer: c.answer.clone(),
                lie,
            });
        }
        let any_lie_present = f.claims.iter().any(|c| c.lie && c.answer.says_present());
        let any_lie_absent = f.claims.iter().any(|c| c.lie && c.answer.says_absent());
        if present {
            if any_lie_absent {
                f.status = Status::PresentCliClaimsMissing;
                f.detail = Some(
                    "the rule is in the kernel; a CLI says it is not (Docker may add it again)"
                        .into(),
                );
            }
        } else {
            let chain = idx.chain_mut(backend, x.family, &x.table, &x.chain);
            let undecoded = chain.as_ref().map_or(0, |c| c.undecoded.len());
            if let Some(c) = chain {
                if let Some(p) = c.lookalike(rule) {
                    f.lookalike = Some(text::spec(&x.chain, &c.rules[p]));
                } else if x.family == Family::Ipv6
                    && let Some(p) = c.mask_lookalike(rule)
                {
                    f.lookalike = Some(text::spec(&x.chain, &c.rules[p]));
                    f.detail = Some("differs only in prefix length from a rule in the chain: ip6tables-nft -C ignores prefix lengths".into());
                }
            }
            f.effect = Some(match x.family {
                Family::Ipv4 => x.effect.clone(),
                Family::Ipv6 => format!("{} (IPv6)", x.effect),
            });
            f.fix = Some(fix_command(x, backend));
            f.status = if undecoded > 0 {
                f.detail = Some(format!(
                    "not among the decoded rules, but {undecoded} rule(s) of this chain could not be decoded"
                ));
                Status::Undecodable
            } else if any_lie_present {
                Status::MissingCliClaimsPresent
            } else {
                Status::Missing
            };
            if backend_other(backend).is_some_and(|o| !present_in(&idx, o).is_empty()) {
                let d = f
                    .detail
                    .take()
                    .map(|d| format!("{d}; "))
                    .unwrap_or_default();
                f.detail = Some(format!(
                    "{d}present only in the {} backend",
                    backend_other(backend).unwrap_or(backend)
                ));
            }
        }
        findings.push(f);
    }
    // Order constraints between rules that are both present: the finding goes on the rule
    // out of place (the one too low, or the ACCEPT/jump too high that bypasses the other).
    for o in &e.order {
        let (Some(a), Some(b)) = (positions[o.first], positions[o.then]) else {
            continue;
        };
        if a < b {
            continue;
        }
        let (bad, other, where_) = match o.blame {
            Blame::First => (o.first, o.then, "below"),
            Blame::Then => (o.then, o.first, "above"),
        };
        let (pb, po) = (positions[bad].unwrap_or(0), positions[other].unwrap_or(0));
        let f = &mut findings[bad];
        match f.status {
            Status::Ok => {
                f.status = Status::WrongOrder;
                f.effect = Some(o.why.clone());
                f.detail = Some(format!(
                    "rule {} of the chain, {where_} `{}` (rule {})",
                    pb + 1,
                    e.rules[other].spec(),
                    po + 1
                ));
            }
            Status::WrongOrder => {
                if let Some(eff) = f.effect.as_mut()
                    && !eff.contains(o.why.as_str())
                {
                    eff.push_str("; ");
                    eff.push_str(&o.why);
                }
            }
            _ => {}
        }
    }
    let repair = repair::plan(&repair::Input {
        e,
        canon: &canon,
        idx: &idx,
        backend,
        findings: &findings,
        found: &found_all,
    });
    for p in &repair {
        for s in &p.steps {
            match s {
                repair::Step::Insert { rule, .. } => {
                    if let Some(f) = findings.get_mut(*rule) {
                        f.fix = Some(if f.status == Status::WrongOrder {
                            format!(
                                "{}   (then the old copy is deleted by number after checking its text: `nfprobe check --fix-script` does both)",
                                repair::command(p, s)
                            )
                        } else {
                            repair::command(p, s)
                        });
                    }
                }
                repair::Step::Delete { at, rule } => {
                    if let Some(f) = findings.get_mut(*rule)
                        && f.fix.is_none()
                    {
                        f.fix = Some(format!(
                            "delete the copy at rule {} by number after checking its text (`nfprobe check --fix-script` does it); a copy stays in place",
                            at.number
                        ));
                    }
                }
            }
        }
        if let Some(why) = &p.refused {
            for f in findings.iter_mut().filter(|f| {
                f.family == p.family
                    && f.table == p.table
                    && f.chain == p.chain
                    && matches!(
                        f.status,
                        Status::Missing | Status::MissingCliClaimsPresent | Status::WrongOrder
                    )
            }) {
                f.fix = Some(format!("not repaired automatically: {why}"));
            }
        }
    }
    findings.extend(extras(input, &idx, backend, &explained));
    degraded::refine(&mut findings, input.state);
    let option_notes = options::refine(&mut findings, e);
    let (nft_findings, nft_host) = nft::audit(e, input.nft);
    findings.extend(nft_findings);
    let mut host = host::findings(input, &idx, backend, &findings);
    host.extend(nft_host);
    host.extend(option_notes);
    for c in &e.chains {
        if idx.chain(backend, c.family, &c.table, &c.chain).is_none() {
            host.push(HostFinding {
                kind: "chain_missing".into(),
                severity: Severity::Problem,
                message: format!(
                    "{} chain {}/{} does not exist in the {backend} backend: every rule Docker puts there is missing",
                    c.family, c.table, c.chain
                ),
                fix: Some(format!(
                    "{} -w -t {} -N {}",
                    binary_name(c.family, backend),
                    c.table,
                    c.chain
                )),
            });
        }
    }
    let networks = input
        .state
        .networks
        .iter()
        .map(|n| NetworkSummary {
            name: n.name.clone(),
            bridge: n.bridge(),
            subnets: n.subnets.iter().map(|s| s.subnet.to_string()).collect(),
            internal: n.internal,
            containers: input
                .state
                .containers
                .iter()
                .filter(|c| c.endpoints.iter().any(|ep| ep.network == n.name))
                .count(),
            not_modelled: e
                .unmodelled
                .iter()
                .filter(|u| u.network.as_deref() == Some(n.name.as_str()))
                .map(|u| u.option.clone())
                .collect(),
        })
        .collect();
    Audit {
        schema: SCHEMA_VERSION,
        layout: e.layout,
        engine_version: input.state.engine_version.clone(),
        docker_source: input.state.source,
        degraded: input.state.degraded.clone(),
        docker_backend: backend,
        networks,
        findings,
        host,
        binaries: input.binaries.to_vec(),
        notes: e.notes.clone(),
        repair,
    }
}

fn backend_other(b: Backend) -> Option<Backend> {
    Some(match b {
        Backend::Nft => Backend::Legacy,
        Backend::Legacy => Backend::Nft,
    })
}

pub fn binary_name(family: Family, backend: Backend) -> String {
    let base = match family {
        Family::Ipv4 => "iptables",
        Family::Ipv6 => "ip6tables",
    };
    match backend {
        Backend::Nft => format!("{base}-nft"),
        Backend::Legacy => format!("{base}-legacy"),
    }
}

/// `iptables-nft -w -t TABLE -I|-A CHAIN ARGS` for one expected rule.
pub fn fix_command(x: &Expected, backend: Backend) -> String {
    let op = match x.op {
        Op::Insert => "-I",
        Op::Append => "-A",
    };
    let args: Vec<String> = x.args.iter().map(|a| text::shell_quote(a)).collect();
    format!(
        "{} -w -t {} {op} {} {}",
        binary_name(x.family, backend),
        x.table,
        x.chain,
        args.join(" ")
    )
}

/// Kernel rules that look like Docker's but no expected rule explains.
fn extras(
    input: &Input<'_>,
    idx: &KernelIndex<'_>,
    backend: Backend,
    explained: &HashSet<(Family, String, String, usize)>,
) -> Vec<Finding> {
    let bridges: HashSet<String> = input.state.networks.iter().map(|n| n.bridge()).collect();
    let docker_iface = |n: &str| {
        bridges.contains(n)
            || n == "docker0"
            || n.strip_prefix("br-")
                .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    // DOCKER-INGRESS is looked at only when the swarm's ingress ports are known (without the
    // ingress sandbox's address its DNATs are not modelled: audit/options.rs names them).
    let ingress_known = input
        .state
        .swarm
        .as_ref()
        .is_some_and(|s| s.is_active() && !s.ingress_ports.is_empty());
    let docker_chain = |c: &str| {
        c.starts_with("DOCKER")
            && c != "DOCKER-USER"
            && (ingress_known || !c.starts_with("DOCKER-INGRESS"))
    };
    let mut keys: Vec<_> = idx
        .chains
        .keys()
        .filter(|k| k.0 == backend)
        .cloned()
        .collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let (_, family, table, chain) = &key;
        let Some(c) = idx.chains.get(&key) else {
            continue;
        };
        let in_docker_chain = docker_chain(chain);
        for (p, r) in c.rules.iter().enumerate() {
            if explained.contains(&(*family, table.clone(), chain.clone(), p)) {
                continue;
            }
            let looks = in_docker_chain
                || [&r.ip.in_iface, &r.ip.out_iface]
                    .into_iter()
                    .flatten()
                    .any(|i| docker_iface(&i.name))
                || matches!(&r.target, Target::Jump(j) | Target::Goto(j) if docker_chain(j) || j == "DOCKER-USER");
            if !looks {
                continue;
            }
            out.push(Finding::unexplained(
                *family,
                table.clone(),
                chain.clone(),
                text::spec(chain, r),
                format!("rule {} of {table}/{chain}", p + 1),
                r.is_decoded(),
                "a Docker-looking rule no network, container or setting explains (left over from a removed network, container, link or swarm service, or added by hand)",
            ));
        }
    }
    out
}

/// The sysctls the host findings need, for the given Docker state.
pub fn sysctl_names(state: &DockerState) -> Vec<String> {
    let mut v = vec![
        "net.ipv4.ip_forward".to_owned(),
        "net.ipv6.conf.all.forwarding".to_owned(),
        "net.bridge.bridge-nf-call-iptables".to_owned(),
        "net.bridge.bridge-nf-call-ip6tables".to_owned(),
    ];
    for n in &state.networks {
        v.push(format!("net.ipv4.conf.{}.route_localnet", n.bridge()));
    }
    v
}

#[cfg(test)]
mod tests;
