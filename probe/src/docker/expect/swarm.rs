//! Swarm's routing mesh on the host: the DOCKER-INGRESS chains of nat and filter and the
//! docker_gwbridge localhost masquerade (moby libnetwork/service_linux.go `programIngress` at
//! v20.10.24 … v28.x, `initIngressConfiguration` / `generateIngressRules` at docker-v29.0.0;
//! the generated document iptablesdoc/generated/swarm-portmap.md at v28.3.0). IPv4 only
//! (Docker's "TODO IPv6 support"). docker_gwbridge itself is an ordinary bridge network
//! (icc=false) and gets the usual per-network rules from the layout.

use super::Op;
use super::common::{Builder, Owner};
use crate::docker::state::{DockerState, Proto};
use crate::ruleset::Family;

pub const INGRESS: &str = "DOCKER-INGRESS";
pub const GWBRIDGE: &str = "docker_gwbridge";

/// How a layout programs the ingress rules.
#[derive(Clone, Copy)]
pub(super) struct Style {
    /// Chain holding the filter jump: FORWARD before 28.0.1, DOCKER-FORWARD from 28.0.1.
    pub jump_chain: &'static str,
    /// Before 25.0 the reply rule used `-m state --state`, later `-m conntrack --ctstate`.
    pub state_match: bool,
}

/// The ingress rules of `state`'s swarm, if the node takes part and has ingress ports; returns
/// the index of the filter jump (for ordering against the layout's own rules).
pub(super) fn ingress(
    b: &mut Builder,
    state: &DockerState,
    family: Family,
    style: Style,
) -> Option<usize> {
    let swarm = state.swarm.as_ref().filter(|s| s.is_active())?;
    if family != Family::Ipv4 || swarm.ingress_ports.is_empty() {
        return None;
    }
    let gw_net = state.network(GWBRIDGE);
    let owner = Owner { net: gw_net };
    let gwbridge = gw_net.map_or_else(|| GWBRIDGE.to_owned(), |n| n.bridge());
    if swarm.ingress_ports.iter().any(|p| p.proto.is_none()) {
        b.note("swarm: the protocol of some ingress ports is unknown on a worker node (the Engine API gives only `Target: N, Publish: M`); tcp is assumed for them");
    }
    for t in ["nat", "filter"] {
        b.chain(family, t, INGRESS);
    }
    // Appended once, every port rule is Inserted above it.
    let nat_ret = b.rule(
        family,
        "nat",
        INGRESS,
        Op::Append,
        &["-j", "RETURN"],
        owner,
        "end of nat DOCKER-INGRESS",
        "none by itself",
    );
    let filter_ret = b.rule(
        family,
        "filter",
        INGRESS,
        Op::Append,
        &["-j", "RETURN"],
        owner,
        "end of filter DOCKER-INGRESS",
        "none by itself",
    );
    for chain in ["OUTPUT", "PREROUTING"] {
        b.rule(
            family,
            "nat",
            chain,
            Op::Insert,
            &["-m", "addrtype", "--dst-type", "LOCAL", "-j", INGRESS],
            owner,
            format!("swarm routing mesh: nat {chain} into DOCKER-INGRESS"),
            if chain == "OUTPUT" {
                "swarm published ports unreachable from this host itself"
            } else {
                "swarm published ports unreachable from outside (no DNAT to the ingress network)"
            },
        );
    }
    let jump = b.rule(
        family,
        "filter",
        style.jump_chain,
        Op::Insert,
        &["-j", INGRESS],
        owner,
        format!(
            "swarm routing mesh: {} into DOCKER-INGRESS",
            style.jump_chain
        ),
        format!("swarm published ports are dropped on their way to {gwbridge}"),
    );
    b.rule(
        family,
        "nat",
        "POSTROUTING",
        Op::Insert,
        &[
            "-m",
            "addrtype",
            "--src-type",
            "LOCAL",
            "-o",
            gwbridge.as_str(),
            "-j",
            "MASQUERADE",
        ],
        owner,
        format!("swarm routing mesh: masquerade host-local traffic into {gwbridge}"),
        "swarm published ports time out from this host (localhost:PORT)",
    );
    if swarm.ingress_gateway.is_none() {
        // The DNAT target is the sandbox's address: those rules are named, not judged.
        b.e.unmodelled.push(super::Unmodelled {
            option: "swarm's routing mesh without the ingress sandbox's address".into(),
            network: None,
            family: Some(Family::Ipv4),
            interfaces: Vec::new(),
            subnets: Vec::new(),
            chains: vec![INGRESS.into()],
            why: "the Engine API did not give the address of ingress-sbox on docker_gwbridge, the target of the DOCKER-INGRESS DNAT rules".into(),
            only_if_seen: false,
        });
    }
    for p in &swarm.ingress_ports {
        let proto = p.proto.unwrap_or(Proto::Tcp).as_str();
        let port = p.published_port.to_string();
        let label = match &p.service {
            Some(s) => format!("swarm service {s} port {port}/{proto}"),
            None => format!("swarm port {port}/{proto}"),
        };
        if let Some(gw) = swarm.ingress_gateway {
            let dest = format!("{gw}:{port}");
            let dnat = b.rule(
                family,
                "nat",
                INGRESS,
                Op::Insert,
                &[
                    "-p",
                    proto,
                    "--dport",
                    port.as_str(),
                    "-j",
                    "DNAT",
                    "--to-destination",
                    dest.as_str(),
                ],
                owner,
                format!("{label}: DNAT to the ingress sandbox"),
                format!(
                    "{label} is not forwarded to the ingress network (unreachable on this node)"
                ),
            );
            b.order(
                dnat,
                nat_ret,
                "the RETURN above it skips the swarm port's DNAT",
            );
        }
        let reply: Vec<&str> = if style.state_match {
            vec![
                "-m",
                "state",
                "-p",
                proto,
                "--sport",
                port.as_str(),
                "--state",
                "ESTABLISHED,RELATED",
                "-j",
                "ACCEPT",
            ]
        } else {
            vec![
                "-p",
                proto,
                "--sport",
                port.as_str(),
                "-m",
                "conntrack",
                "--ctstate",
                "ESTABLISHED,RELATED",
                "-j",
                "ACCEPT",
            ]
        };
        let r = b.rule(
            family,
            "filter",
            INGRESS,
            Op::Insert,
            &reply,
            owner,
            format!("{label}: replies"),
            format!("replies from {label} to containers on bridge networks are dropped"),
        );
        b.order(
            r,
            filter_ret,
            "the RETURN above it skips the swarm port's ACCEPT",
        );
        let a = b.rule(
            family,
            "filter",
            INGRESS,
            Op::Insert,
            &["-p", proto, "--dport", port.as_str(), "-j", "ACCEPT"],
            owner,
            format!("{label}: ACCEPT"),
            format!(
                "{label} is dropped on its way to {gwbridge} (Docker's default DROP for the bridge)"
            ),
        );
        b.order(
            a,
            filter_ret,
            "the RETURN above it skips the swarm port's ACCEPT",
        );
    }
    Some(jump)
}
