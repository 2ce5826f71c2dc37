//! Docker 28.x and 29 (iptables backend): DOCKER-FORWARD with DOCKER-CT / DOCKER-BRIDGE /
//! isolation (29: DOCKER-INTERNAL), per-network default DROP in filter DOCKER, raw-table
//! direct-access drops (moby v28.0.1 libnetwork/drivers/bridge/setup_ip_tables_linux.go,
//! port_mapping_linux.go; v28.2.0+ internal/iptabler; docker-v29.0.0 iptablesdoc; reference
//! sections a.6, b, c, d).

use super::common::*;
use super::{Expectation, Layout, Op};
use crate::docker::state::{DockerState, GatewayMode, Proto};
use crate::ruleset::Family;

const ISO1: &str = "DOCKER-ISOLATION-STAGE-1";
const ISO2: &str = "DOCKER-ISOLATION-STAGE-2";
const FWD: &str = "DOCKER-FORWARD";

pub fn expect(state: &DockerState, layout: Layout) -> Expectation {
    let mut b = Builder::new(layout);
    let v29 = layout == Layout::V29;
    let daemon = Owner { net: None };
    let hairpin = !state.daemon.userland_proxy;
    for family in families(state) {
        // setupIPChains.
        b.chain(family, "nat", "DOCKER");
        for c in ["DOCKER", FWD, "DOCKER-BRIDGE", "DOCKER-CT", "DOCKER-USER"] {
            b.chain(family, "filter", c);
        }
        let stage1 = if v29 { "DOCKER-INTERNAL" } else { ISO1 };
        b.chain(family, "filter", stage1);
        if !v29 {
            b.chain(family, "filter", ISO2);
        }
        b.rule(
            family,
            "nat",
            "PREROUTING",
            Op::Append,
            &["-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"],
            daemon,
            "published ports: incoming traffic to nat DOCKER",
            "no published port is reachable from outside",
        );
        let mut out = vec!["-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"];
        if !hairpin {
            out.extend(["!", "--dst", loopback(family)]);
        }
        b.rule(
            family,
            "nat",
            "OUTPUT",
            Op::Append,
            &out,
            daemon,
            "published ports: host-local traffic to nat DOCKER",
            "published ports unreachable from this host itself",
        );
        let to_fwd = b.rule(family, "filter", "FORWARD", Op::Insert, &["-j", FWD], daemon,
            "FORWARD into Docker's rules",
            "no forwarded traffic reaches Docker's rules: every container network is cut off when FORWARD's policy is DROP");
        let j_bridge = b.rule(
            family,
            "filter",
            FWD,
            Op::Insert,
            &["-j", "DOCKER-BRIDGE"],
            daemon,
            "DOCKER-FORWARD into DOCKER-BRIDGE",
            "no published port is reachable from outside",
        );
        let j_iso = b.rule(
            family,
            "filter",
            FWD,
            Op::Insert,
            &["-j", stage1],
            daemon,
            "DOCKER-FORWARD into the isolation rules",
            "Docker networks are not isolated (internal networks leak)",
        );
        let j_ct = b.rule(
            family,
            "filter",
            FWD,
            Op::Insert,
            &["-j", "DOCKER-CT"],
            daemon,
            "DOCKER-FORWARD into DOCKER-CT",
            "replies to connections made by containers are dropped when FORWARD's policy is DROP",
        );
        // setupUserChain.
        if matches!(layout, Layout::V28_0 | Layout::V28_2) {
            b.rule(
                family,
                "filter",
                "DOCKER-USER",
                Op::Append,
                &["-j", "RETURN"],
                daemon,
                "end of DOCKER-USER",
                "none by itself",
            );
        }
        let user = b.rule(
            family,
            "filter",
            "FORWARD",
            Op::Insert,
            &["-j", "DOCKER-USER"],
            daemon,
            "FORWARD into DOCKER-USER",
            "rules in DOCKER-USER are never applied",
        );
        b.order(
            user,
            to_fwd,
            "DOCKER-USER must see forwarded traffic before Docker's rules",
        );

        let mut accepts = Vec::new();
        let mut default_drop = std::collections::BTreeMap::new();
        for n in &state.networks {
            let Some(sub) = net_subnet(n, family) else {
                continue;
            };
            let sub = sub.as_str();
            let br = n.bridge();
            let br = br.as_str();
            let o = Owner { net: Some(n) };
            if n.internal || n.gateway_mode(family == Family::Ipv4) == GatewayMode::Isolated {
                let (a_in, a_out): (Vec<&str>, Vec<&str>) = if family == Family::Ipv4 || v29 {
                    (
                        vec!["-i", br, "!", "-d", sub, "-j", "DROP"],
                        vec!["-o", br, "!", "-s", sub, "-j", "DROP"],
                    )
                } else {
                    (
                        vec!["-i", br, "!", "-o", br, "!", "-d", sub, "-j", "DROP"],
                        vec!["!", "-i", br, "-o", br, "!", "-s", sub, "-j", "DROP"],
                    )
                };
                b.rule(
                    family,
                    "filter",
                    stage1,
                    Op::Insert,
                    &a_in,
                    o,
                    format!("internal network {}: no traffic out", n.name),
                    format!(
                        "containers on internal network {} can reach outside their subnet",
                        n.name
                    ),
                );
                b.rule(
                    family,
                    "filter",
                    stage1,
                    Op::Insert,
                    &a_out,
                    o,
                    format!("internal network {}: no traffic in", n.name),
                    format!(
                        "internal network {} reachable from outside its subnet",
                        n.name
                    ),
                );
                let r = if n.icc {
                    b.rule(
                        family,
                        "filter",
                        FWD,
                        Op::Append,
                        &["-i", br, "-o", br, "-j", "ACCEPT"],
                        o,
                        format!("inter-container traffic on {}", n.name),
                        format!("containers on {br} cannot talk to each other"),
                    )
                } else {
                    b.rule(
                        family,
                        "filter",
                        FWD,
                        Op::Append,
                        &["-i", br, "-o", br, "-j", "DROP"],
                        o,
                        format!("icc=false on {}", n.name),
                        format!("containers on {br} can talk to each other although icc=false"),
                    )
                };
                accepts.push(r);
                continue;
            }
            let gm = n.gateway_mode(family == Family::Ipv4);
            let nat = gm != GatewayMode::Routed;
            let snat = match family {
                Family::Ipv4 => n.host_ipv4,
                Family::Ipv6 => n.host_ipv6,
            }
            .map(|ip| ip.to_string());
            let nat_target: Vec<&str> = match &snat {
                Some(ip) => vec!["-j", "SNAT", "--to-source", ip.as_str()],
                None => vec!["-j", "MASQUERADE"],
            };
            if nat && n.masquerade {
                let mut a = vec!["-s", sub, "!", "-o", br];
                a.extend(&nat_target);
                b.rule(
                    family,
                    "nat",
                    "POSTROUTING",
                    Op::Insert,
                    &a,
                    o,
                    format!("source NAT for {}", n.name),
                    format!("containers on {br} cannot reach outside the host (no source NAT)"),
                );
            }
            if !v29 && (!nat || (n.masquerade && !hairpin)) {
                b.rule(
                    family,
                    "nat",
                    "DOCKER",
                    Op::Insert,
                    &["-i", br, "-j", "RETURN"],
                    o,
                    format!("no DNAT for traffic from {br}"),
                    format!("traffic from {br} may be DNATed by published ports"),
                );
            }
            if hairpin {
                let mut a = vec!["-m", "addrtype", "--src-type", "LOCAL", "-o", br];
                a.extend(&nat_target);
                b.rule(
                    family,
                    "nat",
                    "POSTROUTING",
                    Op::Insert,
                    &a,
                    o,
                    format!("masquerade host-local traffic into {br}"),
                    format!("ports published on {br} time out from this host (localhost:PORT)"),
                );
            }
            if !n.icc {
                accepts.push(b.rule(
                    family,
                    "filter",
                    FWD,
                    Op::Append,
                    &["-i", br, "-o", br, "-j", "DROP"],
                    o,
                    format!("icc=false on {}", n.name),
                    format!("containers on {br} can talk to each other although icc=false"),
                ));
            }
            if !nat {
                let icmp = if family == Family::Ipv4 {
                    "icmp"
                } else {
                    "icmpv6"
                };
                b.rule(
                    family,
                    "filter",
                    "DOCKER",
                    Op::Append,
                    &["-o", br, "-p", icmp, "-j", "ACCEPT"],
                    o,
                    format!("ICMP into routed network {}", n.name),
                    format!("ping and path-MTU messages to containers on {br} are dropped"),
                );
            }
            let out_rule = if n.icc {
                b.rule(
                    family,
                    "filter",
                    FWD,
                    Op::Append,
                    &["-i", br, "-j", "ACCEPT"],
                    o,
                    format!("outgoing traffic from {br}"),
                    format!("containers on {br} cannot reach outside the host or each other"),
                )
            } else {
                b.rule(
                    family,
                    "filter",
                    FWD,
                    Op::Append,
                    &["-i", br, "!", "-o", br, "-j", "ACCEPT"],
                    o,
                    format!("outgoing traffic from {br}"),
                    format!("containers on {br} cannot reach outside the host"),
                )
            };
            accepts.push(out_rule);
            let unprotected = gm == GatewayMode::NatUnprotected;
            let dd = b.rule(family, "filter", "DOCKER", Op::Append,
                &["!", "-i", br, "-o", br, "-j", if unprotected { "ACCEPT" } else { "DROP" }], o,
                if unprotected { format!("nat-unprotected {}: accept all", n.name) } else { format!("default drop into {br}") },
                if unprotected { format!("traffic into nat-unprotected {br} dropped by FORWARD's policy") }
                else { format!("unpublished ports of containers on {br} reachable from other networks and hosts") });
            default_drop.insert(n.name.clone(), dd);
            b.rule(family, "filter", "DOCKER-CT", Op::Append,
                &["-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"], o,
                format!("replies to containers on {br}"),
                format!("replies to connections made by containers on {br} are dropped when FORWARD's policy is DROP"));
            b.rule(
                family,
                "filter",
                "DOCKER-BRIDGE",
                Op::Append,
                &["-o", br, "-j", "DOCKER"],
                o,
                format!("forwarded traffic to {br} through DOCKER"),
                format!(
                    "published ports on {br} unreachable from outside (never reach their ACCEPT)"
                ),
            );
            if !v29 {
                if !nat {
                    b.rule(
                        family,
                        "filter",
                        ISO1,
                        Op::Insert,
                        &["-o", br, "-j", "RETURN"],
                        o,
                        format!("routed {}: no isolation for incoming", n.name),
                        format!("routed network {br} unreachable from other networks"),
                    );
                    b.rule(
                        family,
                        "filter",
                        ISO1,
                        Op::Insert,
                        &[
                            "-i",
                            br,
                            "-m",
                            "conntrack",
                            "--ctstate",
                            "RELATED,ESTABLISHED",
                            "-j",
                            "ACCEPT",
                        ],
                        o,
                        format!("routed {}: replies", n.name),
                        format!("replies from routed network {br} to other networks dropped"),
                    );
                }
                b.rule(
                    family,
                    "filter",
                    ISO1,
                    Op::Append,
                    &["-i", br, "!", "-o", br, "-j", ISO2],
                    o,
                    format!("isolation of {br} (stage 1)"),
                    format!("{br} is not isolated from other Docker networks"),
                );
                b.rule(
                    family,
                    "filter",
                    ISO2,
                    Op::Insert,
                    &["-o", br, "-j", "DROP"],
                    o,
                    format!("isolation of {br} (stage 2)"),
                    format!("other Docker networks can reach containers on {br}"),
                );
            }
        }
        for j in [j_ct, j_iso, j_bridge] {
            for &a in &accepts {
                b.order(j, a, "an ACCEPT above Docker's jumps bypasses isolation and published-port filtering");
            }
        }
        // Per endpoint (28.2+): raw direct-access drop.
        if matches!(layout, Layout::V28_2 | Layout::V28_3 | Layout::V29) {
            for c in &state.containers {
                for ep in &c.endpoints {
                    let Some(n) = state.network(&ep.network) else {
                        continue;
                    };
                    let (Some(cip), Some(_)) = (ip_of(ep, family), net_subnet(n, family)) else {
                        continue;
                    };
                    if n.internal || n.gateway_mode(family == Family::Ipv4) != GatewayMode::Nat {
                        continue;
                    }
                    let br = n.bridge();
                    let cip = cip.to_string();
                    b.rule(
                        family,
                        "raw",
                        "PREROUTING",
                        Op::Append,
                        &["-d", cip.as_str(), "!", "-i", br.as_str(), "-j", "DROP"],
                        Owner { net: Some(n) },
                        format!("{} on {}: no direct access from outside", c.name, n.name),
                        format!(
                            "{} reachable directly by its address from the host's neighbours",
                            c.name
                        ),
                    );
                }
            }
        }
        for (c, ep, n, p) in port_mappings(state) {
            let Some(cip) = ip_of(ep, family) else {
                continue;
            };
            if n.internal || net_subnet(n, family).is_none() {
                continue;
            }
            let Some(hip) = binding_host(state, n, p, family) else {
                continue;
            };
            let gm = n.gateway_mode(family == Family::Ipv4);
            let br = n.bridge();
            let br = br.as_str();
            let o = Owner { net: Some(n) };
            let proto = p.proto.as_str();
            let (hport, cport) = (p.host_port.to_string(), p.container_port.to_string());
            let cip_s = cip.to_string();
            let label = port_label(c, p);
            if family == Family::Ipv4 && hip.starts_with("127.") {
                b.rule(
                    family,
                    "raw",
                    "PREROUTING",
                    Op::Append,
                    &[
                        "-p",
                        proto,
                        "-d",
                        hip.as_str(),
                        "--dport",
                        hport.as_str(),
                        "!",
                        "-i",
                        "lo",
                        "-j",
                        "DROP",
                    ],
                    o,
                    format!("{label}: loopback binding only from lo"),
                    format!(
                        "port {} bound to {hip} reachable from other hosts",
                        p.host_port
                    ),
                );
            }
            if layout == Layout::V28_0 && gm == GatewayMode::Nat {
                b.rule(
                    family,
                    "raw",
                    "PREROUTING",
                    Op::Append,
                    &[
                        "-p",
                        proto,
                        "-d",
                        cip_s.as_str(),
                        "--dport",
                        cport.as_str(),
                        "!",
                        "-i",
                        br,
                        "-j",
                        "DROP",
                    ],
                    o,
                    format!("{label}: no direct access"),
                    format!(
                        "{}:{} reachable directly from the host's neighbours",
                        c.name, p.container_port
                    ),
                );
            }
            if gm.is_nat() && p.host_port != 0 {
                let dest = join_host_port(cip, p.container_port);
                let mut dnat = vec![
                    "-p",
                    proto,
                    "-d",
                    hip.as_str(),
                    "--dport",
                    hport.as_str(),
                    "-j",
                    "DNAT",
                    "--to-destination",
                    dest.as_str(),
                ];
                if !hairpin {
                    dnat.extend(["!", "-i", br]);
                }
                if family == Family::Ipv6 {
                    dnat.extend(["!", "-s", "fe80::/10"]);
                }
                b.rule(
                    family,
                    "nat",
                    "DOCKER",
                    Op::Append,
                    &dnat,
                    o,
                    format!("{label}: DNAT"),
                    format!(
                        "port {} on the host is not forwarded to {}:{} ({br})",
                        p.host_port, c.name, p.container_port
                    ),
                );
                if hairpin {
                    b.rule(
                        family,
                        "nat",
                        "POSTROUTING",
                        Op::Append,
                        &[
                            "-p",
                            proto,
                            "-s",
                            cip_s.as_str(),
                            "-d",
                            cip_s.as_str(),
                            "--dport",
                            cport.as_str(),
                            "-j",
                            "MASQUERADE",
                        ],
                        o,
                        format!("{label}: hairpin"),
                        format!(
                            "{} cannot reach its own published port {} via the host",
                            c.name, p.host_port
                        ),
                    );
                }
            }
            if gm != GatewayMode::NatUnprotected {
                let acc = b.rule(
                    family,
                    "filter",
                    "DOCKER",
                    Op::Insert,
                    &[
                        "!",
                        "-i",
                        br,
                        "-o",
                        br,
                        "-p",
                        proto,
                        "-d",
                        cip_s.as_str(),
                        "--dport",
                        cport.as_str(),
                        "-j",
                        "ACCEPT",
                    ],
                    o,
                    format!("{label}: ACCEPT"),
                    format!(
                        "published port {} on {br} unreachable from outside",
                        p.host_port
                    ),
                );
                if let Some(&dd) = default_drop.get(&n.name) {
                    b.order(
                        acc,
                        dd,
                        "the network's DROP above the port's ACCEPT blocks the published port",
                    );
                }
            }
            if p.proto == Proto::Sctp {
                b.note("SCTP checksum rules (DOCKER_IPTABLES_SCTP_CHECKSUM=1) are not checked: the daemon's environment is not known");
            }
        }
    }
    b.note("28.2+ trusted_host_interfaces / allow-direct-routing, swarm and legacy --link rules are not modelled; extra rules they add are reported as `extra`");
    b.e
}
