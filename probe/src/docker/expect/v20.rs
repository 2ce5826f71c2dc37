//! Docker 20.10 – 27.x: per-network rules Inserted straight into filter FORWARD, isolation
//! chains ending in RETURN (moby v20.10.24 vendor/github.com/docker/libnetwork/drivers/bridge/
//! setup_ip_tables.go, link.go, iptables/iptables.go `ProgramChain`/`Forward`/`Link`,
//! firewall_linux.go; the same shapes at v27.5.1, reference section d).

use super::common::*;
use super::swarm::{self, Style};
use super::{Blame, Expectation, Layout, Op};
use crate::docker::state::{DockerState, GatewayMode};
use crate::ruleset::Family;

pub fn expect(state: &DockerState) -> Expectation {
    let mut b = Builder::new(Layout::V20);
    let daemon = Owner { net: None };
    let proxy = state.daemon.userland_proxy;
    let major = state.version().map(|v| v.0).unwrap_or(20);
    wsl2_mirrored(&mut b);
    // Gateway modes arrived in 27.0 with `nat` and `routed`; `nat-unprotected` and
    // `isolated` in 28.0 (moby v27.5.1 / v28.0.1 bridge_linux.go `newGwMode`).
    gateway_modes(&mut b, state, |m| match m {
        GatewayMode::Nat => None,
        GatewayMode::Routed if major >= 27 => None,
        GatewayMode::Routed => Some("Docker before 27.0 has no gateway modes"),
        GatewayMode::NatUnprotected | GatewayMode::Isolated => {
            Some("Docker before 28.0 has no such gateway mode")
        }
    });
    for family in families(state) {
        b.chain(family, "nat", "DOCKER");
        for c in ["DOCKER", ISO1, ISO2] {
            b.chain(family, "filter", c);
        }
        // setupIPChains: RETURN at the end of both isolation chains.
        let ret1 = b.rule(
            family,
            "filter",
            ISO1,
            Op::Append,
            &["-j", "RETURN"],
            daemon,
            "end of isolation stage 1",
            "none by itself (traffic returns to FORWARD)",
        );
        let ret2 = b.rule(
            family,
            "filter",
            ISO2,
            Op::Append,
            &["-j", "RETURN"],
            daemon,
            "end of isolation stage 2",
            "none by itself (traffic returns to FORWARD)",
        );
        let mut iso_jump = None;
        let mut forward_rules = Vec::new();
        for nf in state.networks.iter().filter_map(|n| NetFam::new(n, family)) {
            if b.is_unmodelled(nf.n, family) {
                continue;
            }
            if nf.n.internal {
                // setupInternalNetworkRules: from 24.0 IPv6 also names the other direction.
                if family == Family::Ipv6 && major >= 24 {
                    nf.internal_drops(
                        &mut b,
                        ISO1,
                        &["-i", "BR", "!", "-o", "BR", "!", "-d", "SUB", "-j", "DROP"],
                        &["!", "-i", "BR", "-o", "BR", "!", "-s", "SUB", "-j", "DROP"],
                    );
                } else {
                    nf.internal_drops(
                        &mut b,
                        ISO1,
                        &["-i", "BR", "!", "-d", "SUB", "-j", "DROP"],
                        &["-o", "BR", "!", "-s", "SUB", "-j", "DROP"],
                    );
                }
                forward_rules.push(nf.icc(&mut b, "FORWARD", Op::Insert));
            } else {
                // 27.x gateway_mode routed (`natDisabled`): no source NAT, no skip-DNAT.
                let nat = nf.n.gateway_mode(family == Family::Ipv4) != GatewayMode::Routed;
                if nat && nf.n.masquerade {
                    nf.source_nat(&mut b);
                }
                if nat && nf.n.masquerade && proxy {
                    nf.skip_dnat(&mut b);
                }
                if !proxy {
                    nf.local_masquerade(&mut b);
                }
                forward_rules.push(nf.icc(&mut b, "FORWARD", Op::Insert));
                forward_rules.push(nf.outgoing(&mut b, "FORWARD", Op::Insert));
                // ProgramChain(nat): the jumps into nat DOCKER, Appended once.
                nat_jumps(&mut b, family, proxy);
                // ProgramChain(filter).
                forward_rules.push(nf.to_docker(&mut b, "FORWARD", Op::Insert));
                forward_rules.push(nf.replies(&mut b, "FORWARD", Op::Insert));
                // setINC.
                let i1 = nf.isolation1(&mut b, Op::Insert);
                let i2 = nf.isolation2(&mut b);
                b.order(
                    i1,
                    ret1,
                    "the RETURN above it skips this network's isolation",
                );
                b.order(
                    i2,
                    ret2,
                    "the RETURN above it skips this network's isolation",
                );
            }
            // EnsureJumpRule(FORWARD, ISOLATION-1) after each network: stays on top.
            iso_jump = Some(b.rule(
                family,
                "filter",
                "FORWARD",
                Op::Insert,
                &["-j", ISO1],
                daemon,
                "FORWARD into the isolation chains",
                "Docker networks are not isolated from each other",
            ));
        }
        for pf in PortFam::all(state, family, false) {
            if b.is_unmodelled(pf.n, family) {
                continue;
            }
            // setPerPortNAT returns early without a host port (27.x routed mode maps none).
            if pf.p.host_port != 0 {
                pf.dnat(&mut b, proxy, false);
            }
            pf.accept(&mut b, Op::Append);
            if pf.p.host_port != 0 {
                pf.hairpin(&mut b);
            }
            // Before 28.0 the SCTP checksum rule is unconditional.
            pf.sctp_checksum(&mut b);
        }
        links(&mut b, state, family);
        let ingress = swarm::ingress(
            &mut b,
            state,
            family,
            Style {
                jump_chain: "FORWARD",
                state_match: major < 25,
            },
        );
        // DOCKER-USER: IPv4 only before 25.0 (arrangeUserFilterRule), then every family.
        // EnsureJumpRule keeps it first in FORWARD: every Docker rule there comes after it.
        if family == Family::Ipv4 || major >= 25 {
            let user = docker_user(&mut b, family, true);
            for &r in iso_jump.iter().chain(&ingress).chain(&forward_rules) {
                let why = user_bypassed(&b.e.rules[r]);
                b.order_blaming(user, r, Blame::Then, why);
            }
        }
        if let Some(j) = iso_jump {
            for r in forward_rules {
                let why = not_isolated(state, family, &b.e.rules[r], ISO1);
                b.order_blaming(j, r, Blame::Then, why);
            }
        }
    }
    b.finish()
}
