//! Host-level findings: both backends populated, a lying or known-bad iptables, the FORWARD
//! policy, and the sysctls Docker's rules depend on.

use super::index::KernelIndex;
use super::{Finding, HostFinding, Input, Severity, Status};
use crate::claims::ProbeKind;
use crate::docker::expect::Layout;
use crate::ruleset::{Backend, Family, Policy};

const UPGRADE: &str = "upgrade iptables (1.8.12, or a distribution 1.8.11 with the fix, e.g. Debian 1.8.11-2), then restart dockerd";

pub(crate) fn problem(kind: &str, message: String, fix: Option<String>) -> HostFinding {
    HostFinding {
        kind: kind.into(),
        severity: Severity::Problem,
        message,
        fix,
    }
}

fn info(kind: &str, message: String) -> HostFinding {
    HostFinding {
        kind: kind.into(),
        severity: Severity::Info,
        message,
        fix: None,
    }
}

pub fn findings(
    input: &Input<'_>,
    idx: &KernelIndex<'_>,
    backend: Backend,
    rules: &[Finding],
) -> Vec<HostFinding> {
    let mut out = Vec::new();
    let state = input.state;
    if let Some(d) = &state.degraded {
        out.push(info(
            "degraded_view",
            format!("Docker's state is incomplete: {d}"),
        ));
    }
    let both = idx.docker_backends();
    if both.len() == 2 {
        out.push(problem(
            "rules_in_both_backends",
            format!(
                "Docker chains exist in both nf_tables and legacy xtables; packets traverse both, so a DROP in either wins. Docker's current backend looks like {backend}."
            ),
            Some("remove the stale backend's Docker chains after checking which iptables dockerd uses".into()),
        ));
    }
    // Lying binaries, by the lie itself.
    for b in input.binaries {
        let lies: Vec<&Finding> = rules
            .iter()
            .filter(|f| {
                f.claims
                    .iter()
                    .any(|c| c.lie && c.binary == b.path.display().to_string())
            })
            .collect();
        let v = b
            .version
            .clone()
            .unwrap_or_else(|| "unknown version".into());
        let probe = |kind: ProbeKind| {
            input
                .probes
                .iter()
                .find(|p| p.binary == b.path && p.kind == kind && p.answer.says_present())
        };
        let iface_probe = probe(ProbeKind::InterfaceNames);
        let prefix_probe = probe(ProbeKind::Ipv6PrefixLength);
        let proof = iface_probe
            .map(|p| {
                format!(
                    " Proof: `-t {} -C {} {}` answers \"present\" although only `{}` is in the kernel.",
                    p.table,
                    p.chain,
                    p.args.join(" "),
                    p.from_rule
                )
            })
            .unwrap_or_default();
        if !lies.is_empty() {
            let prefix_lie = |f: &&&Finding| {
                f.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("prefix length"))
            };
            let prefix = lies.iter().filter(prefix_lie).count();
            let iface = lies
                .iter()
                .filter(|f| f.lookalike.is_some() && !prefix_lie(f))
                .count();
            out.push(problem(
                "iptables_cli_lies",
                format!(
                    "{} ({v}) answered `-C` wrongly for {} rule(s){}{}. Docker trusts that answer and skips or deletes rules.{proof}",
                    b.path.display(),
                    lies.len(),
                    if iface > 0 { format!("; {iface} differ from a kernel rule only in interface names (the iptables-nft 1.8.11 bug)") } else { String::new() },
                    if prefix > 0 { format!("; {prefix} differ only in IPv6 prefix length (ip6tables-nft prefix-length bug)") } else { String::new() },
                ),
                Some(UPGRADE.into()),
            ));
        } else if iface_probe.is_some() {
            out.push(problem(
                "iptables_cli_lies",
                format!(
                    "{} ({v}) ignores interface names in `-C`/`-D` (the iptables-nft 1.8.11 bug): Docker's rules are intact now, but the next network or restart will lose or delete rules.{proof}",
                    b.path.display()
                ),
                Some(UPGRADE.into()),
            ));
        } else if b.backend == Some(Backend::Nft) && b.version_triple() == Some((1, 8, 11)) {
            out.push(info(
                "iptables_known_bad_version",
                format!(
                    "{} is iptables-nft 1.8.11: upstream 1.8.11 `-C`/`-D` ignore interface names (distribution builds may carry the fix); no wrong answer was observed in this run.",
                    b.path.display()
                ),
            ));
        }
        if let Some(p) = prefix_probe {
            out.push(info(
                "ip6tables_prefix_length_lie",
                format!(
                    "{} ignores IPv6 prefix lengths in `-C`/`-D` (`-t {} -C {} {}` answers \"present\"; only `{}` exists): checking or deleting one IPv6 subnet's rule can hit another subnet's rule.",
                    b.path.display(),
                    p.table,
                    p.chain,
                    p.args.join(" "),
                    p.from_rule
                ),
            ));
        }
    }
    // FORWARD policy.
    for family in [Family::Ipv4, Family::Ipv6] {
        if let Some(c) = idx.chain(backend, family, "filter", "FORWARD")
            && c.policy == Some(Policy::Drop)
        {
            {
                let missing_filter = rules.iter().any(|f| {
                    f.family == family
                        && f.table == "filter"
                        && matches!(f.status, Status::Missing | Status::MissingCliClaimsPresent)
                });
                let msg = format!(
                    "{family} FORWARD policy is DROP: forwarded container traffic depends on Docker's ACCEPT rules{}",
                    if missing_filter {
                        ", and some are missing, so that traffic is dropped"
                    } else {
                        ""
                    }
                );
                out.push(info("forward_policy_drop", msg));
            }
        }
        // ACCEPT where Docker would have set DROP (it does when it turns forwarding on
        // itself): changed by someone else, or forwarding was on before dockerd started.
        let docker_family = input.expectation.rules.iter().any(|r| r.family == family);
        if let Some(c) = idx.chain(backend, family, "filter", "FORWARD")
            && c.policy == Some(Policy::Accept)
            && docker_family
            && state.daemon.iptables
            && state.daemon.ip_forward
            && !state.daemon.ip_forward_no_drop
            && state.networks.iter().any(|n| !n.internal)
        {
            let why = "Docker sets DROP when it turns IP forwarding on itself, so someone changed it (or forwarding was already on when dockerd started)";
            if input.expectation.layout == Layout::V20 {
                out.push(problem(
                    "forward_policy_accept",
                    format!(
                        "{family} FORWARD policy is ACCEPT, not DROP: {why}. With Docker 20.10–27 nothing else stops forwarded traffic into container networks: a host that routes to a container subnet reaches every port of every container, published or not."
                    ),
                    Some(format!(
                        "{} -w -P FORWARD DROP   (after checking nothing else on this host relies on ACCEPT)",
                        super::binary_name(family, backend)
                    )),
                ));
            } else {
                out.push(info(
                    "forward_policy_accept",
                    format!(
                        "{family} FORWARD policy is ACCEPT, not DROP: {why}. Each network's DROP in filter DOCKER still keeps unpublished ports closed."
                    ),
                ));
            }
        }
    }
    let sys = |k: &str| input.sysctls.get(k).cloned().flatten();
    let any_external = state.networks.iter().any(|n| !n.internal);
    if state.daemon.iptables && any_external && sys("net.ipv4.ip_forward").as_deref() == Some("0") {
        out.push(problem(
            "ip_forward_off",
            "net.ipv4.ip_forward=0: containers cannot reach outside and published ports are not forwarded".into(),
            Some("sysctl -w net.ipv4.ip_forward=1".into()),
        ));
    }
    let layout = input.expectation.layout;
    // Bridges that need route_localnet=1, and why: every non-internal bridge with the proxy
    // off; docker_gwbridge when swarm publishes ingress ports (programIngress sets it).
    let mut localnet: Vec<(String, &str)> = Vec::new();
    if !state.daemon.userland_proxy {
        for n in state.networks.iter().filter(|n| !n.internal) {
            localnet.push((
                n.bridge(),
                "with userland-proxy off: localhost:PORT to containers on",
            ));
        }
    }
    let ingress = input
        .expectation
        .rules
        .iter()
        .find(|r| r.chain == "DOCKER-INGRESS");
    if let Some(gw) = ingress.and_then(|r| r.bridge.clone())
        && !localnet.iter().any(|(b, _)| *b == gw)
    {
        localnet.push((
            gw,
            "with swarm ingress ports: localhost:PORT to swarm services via",
        ));
    }
    for (br, why) in localnet {
        let k = format!("net.ipv4.conf.{br}.route_localnet");
        match sys(&k).as_deref() {
            Some("1") => {}
            Some(v) => out.push(problem(
                "route_localnet_off",
                format!("{k}={v} {why} {br} fails"),
                Some(format!("sysctl -w {k}=1")),
            )),
            None if input.sysctls.contains_key(&k) => out.push(info(
                "route_localnet_unknown",
                format!("{k} not readable (bridge {br} absent from this namespace?)"),
            )),
            None => {}
        }
    }
    let needs_brnf = state.networks.iter().any(|n| !n.icc)
        || (!state.daemon.userland_proxy && layout != Layout::V20);
    if needs_brnf
        && state.daemon.iptables
        && input
            .sysctls
            .contains_key("net.bridge.bridge-nf-call-iptables")
    {
        match sys("net.bridge.bridge-nf-call-iptables").as_deref() {
            Some("1") => {}
            other => out.push(problem(
                "br_netfilter_off",
                format!(
                    "net.bridge.bridge-nf-call-iptables={}: traffic between containers on one bridge skips iptables, so icc=false (and hairpin NAT) are not enforced",
                    other.unwrap_or("absent (br_netfilter not loaded)")
                ),
                Some("modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1".into()),
            )),
        }
    }
    for n in &input.expectation.notes {
        out.push(info("not_modelled", n.clone()));
    }
    out
}
