//! Docker 29 with `firewall-backend: nftables`: tables `ip docker-bridges` and
//! `ip6 docker-bridges` (moby docker-v29.0.0 integration/network/bridge/nftablesdoc).
//!
//! Docker does not use `iptables -C` here, so there is no CLI claim to check. The
//! expectation is the shape: the table, its base chains, one set of chains per bridge, and
//! the commented rules Docker writes in them (by comment and count).

use serde::{Deserialize, Serialize};

use super::common::*;
use super::{Expectation, Layout};
use crate::docker::state::{DockerState, GatewayMode};
use crate::ruleset::Family;

pub const TABLE: &str = "docker-bridges";

/// A chain that must exist in a `docker-bridges` table, and optionally a rule in it with a
/// given comment (at least `count` of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NftExpected {
    pub family: Family,
    pub chain: String,
    pub comment: Option<String>,
    pub count: usize,
    pub network: Option<String>,
    pub what: String,
    pub effect: String,
}

pub fn expect(state: &DockerState) -> Expectation {
    let mut b = Builder::new(Layout::V29Nft);
    let mut push = |family,
                    chain: &str,
                    comment: Option<&str>,
                    count,
                    network: Option<&str>,
                    what: String,
                    effect: String| {
        if let Some(e) = b.e.nft.iter_mut().find(|e: &&mut NftExpected| {
            e.family == family && e.chain == chain && e.comment.as_deref() == comment
        }) {
            e.count += count;
            return;
        }
        b.e.nft.push(NftExpected {
            family,
            chain: chain.into(),
            comment: comment.map(str::to_owned),
            count,
            network: network.map(str::to_owned),
            what,
            effect,
        });
    };
    for family in families(state) {
        for c in [
            "filter-FORWARD",
            "nat-PREROUTING",
            "nat-OUTPUT",
            "nat-POSTROUTING",
            "raw-PREROUTING",
            "nat-prerouting-and-output",
        ] {
            push(
                family,
                c,
                None,
                0,
                None,
                format!("base chain {c}"),
                "Docker's nftables rules are not hooked in: container networking is broken".into(),
            );
        }
        for n in &state.networks {
            if net_subnet(n, family).is_none() {
                continue;
            }
            let br = n.bridge();
            let name = Some(n.name.as_str());
            for dir in [
                "filter-forward-in",
                "filter-forward-out",
                "nat-postrouting-in",
                "nat-postrouting-out",
            ] {
                push(
                    family,
                    &format!("{dir}__{br}"),
                    None,
                    0,
                    name,
                    format!("{dir} chain of {br}"),
                    format!("traffic of {br} bypasses Docker's per-network rules"),
                );
            }
            let gm = n.gateway_mode(family == Family::Ipv4);
            if n.internal {
                continue;
            }
            if n.icc {
                push(
                    family,
                    &format!("filter-forward-in__{br}"),
                    Some("ICC"),
                    1,
                    name,
                    format!("inter-container traffic on {br}"),
                    format!("containers on {br} cannot talk to each other"),
                );
            }
            push(
                family,
                &format!("filter-forward-out__{br}"),
                Some("OUTGOING"),
                1,
                name,
                format!("outgoing traffic from {br}"),
                format!("containers on {br} cannot reach outside the host"),
            );
            if gm == GatewayMode::Nat {
                push(
                    family,
                    &format!("filter-forward-in__{br}"),
                    Some("UNPUBLISHED PORT DROP"),
                    1,
                    name,
                    format!("default drop into {br}"),
                    format!("unpublished ports of containers on {br} reachable from outside"),
                );
            }
            if gm.is_nat() && n.masquerade {
                push(
                    family,
                    &format!("nat-postrouting-out__{br}"),
                    Some("MASQUERADE"),
                    1,
                    name,
                    format!("source NAT for {br}"),
                    format!("containers on {br} cannot reach outside the host"),
                );
            }
            if !state.daemon.userland_proxy {
                push(
                    family,
                    &format!("nat-postrouting-in__{br}"),
                    Some("MASQUERADE FROM HOST"),
                    1,
                    name,
                    format!("masquerade host-local traffic into {br}"),
                    format!("ports published on {br} time out from this host (localhost:PORT)"),
                );
            }
        }
        for (c, ep, n, p) in port_mappings(state) {
            if n.internal || ip_of(ep, family).is_none() || net_subnet(n, family).is_none() {
                continue;
            }
            if binding_host(state, n, p, family).is_none() {
                continue;
            }
            if n.gateway_mode(family == Family::Ipv4).is_nat() && p.host_port != 0 {
                push(
                    family,
                    "nat-prerouting-and-output",
                    Some("DNAT"),
                    1,
                    Some(n.name.as_str()),
                    port_label(c, p),
                    format!(
                        "port {} on the host is not forwarded to {}",
                        p.host_port, c.name
                    ),
                );
            }
        }
    }
    b.e
}
