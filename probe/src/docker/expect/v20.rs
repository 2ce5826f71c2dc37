//! Docker 20.10 – 27.x: per-network rules Inserted straight into filter FORWARD, isolation
//! chains ending in RETURN (moby v20.10.24 vendor/github.com/docker/libnetwork/drivers/bridge/
//! setup_ip_tables.go, iptables/iptables.go `ProgramChain`/`Forward`, firewall_linux.go;
//! the same shapes at v27.5.1, reference section d).

use super::common::*;
use super::{Expectation, Layout, Op};
use crate::docker::state::{DockerState, Proto};
use crate::ruleset::Family;

const ISO1: &str = "DOCKER-ISOLATION-STAGE-1";
const ISO2: &str = "DOCKER-ISOLATION-STAGE-2";

pub fn expect(state: &DockerState) -> Expectation {
    let mut b = Builder::new(Layout::V20);
    let daemon = Owner { net: None };
    let proxy = state.daemon.userland_proxy;
    let major = state.version().map(|v| v.0).unwrap_or(20);
    for family in families(state) {
        let nets: Vec<_> = state
            .networks
            .iter()
            .filter_map(|n| Some((n, net_subnet(n, family)?)))
            .collect();
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
        for (n, subnet) in &nets {
            let br = n.bridge();
            let br = br.as_str();
            let o = Owner { net: Some(n) };
            let sub = subnet.as_str();
            if n.internal {
                b.rule(
                    family,
                    "filter",
                    ISO1,
                    Op::Insert,
                    &["-i", br, "!", "-d", sub, "-j", "DROP"],
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
                    ISO1,
                    Op::Insert,
                    &["-o", br, "!", "-s", sub, "-j", "DROP"],
                    o,
                    format!("internal network {}: no traffic in", n.name),
                    format!(
                        "internal network {} reachable from outside its subnet",
                        n.name
                    ),
                );
                forward_rules.push(icc_rule(&mut b, family, br, n.icc, o, &n.name));
            } else {
                let snat = match family {
                    Family::Ipv4 => n.host_ipv4,
                    Family::Ipv6 => n.host_ipv6,
                }
                .map(|ip| ip.to_string());
                let nat_target: Vec<&str> = match &snat {
                    Some(ip) => vec!["-j", "SNAT", "--to-source", ip.as_str()],
                    None => vec!["-j", "MASQUERADE"],
                };
                if n.masquerade {
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
                if n.masquerade && proxy {
                    b.rule(
                        family,
                        "nat",
                        "DOCKER",
                        Op::Insert,
                        &["-i", br, "-j", "RETURN"],
                        o,
                        format!("no DNAT for traffic from {br}"),
                        format!(
                            "containers on {br} may be DNATed back by published ports of others"
                        ),
                    );
                }
                if !proxy {
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
                forward_rules.push(icc_rule(&mut b, family, br, n.icc, o, &n.name));
                forward_rules.push(b.rule(
                    family,
                    "filter",
                    "FORWARD",
                    Op::Insert,
                    &["-i", br, "!", "-o", br, "-j", "ACCEPT"],
                    o,
                    format!("outgoing traffic from {br}"),
                    format!("containers on {br} cannot reach outside the host"),
                ));
                // ProgramChain(nat): the jumps into nat DOCKER, Appended once.
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
                let lo = loopback(family);
                let mut out = vec!["-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"];
                if proxy {
                    out.extend(["!", "--dst", lo]);
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
                // ProgramChain(filter).
                forward_rules.push(b.rule(family, "filter", "FORWARD", Op::Insert,
                    &["-o", br, "-j", "DOCKER"], o,
                    format!("forwarded traffic to {br} through DOCKER"),
                    format!("published ports on {br} unreachable from outside (FORWARD never reaches their ACCEPT)")));
                forward_rules.push(b.rule(family, "filter", "FORWARD", Op::Insert,
                    &["-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"], o,
                    format!("replies to containers on {br}"),
                    format!("replies to connections made by containers on {br} are dropped when FORWARD's policy is DROP")));
                // setINC.
                let i1 = b.rule(
                    family,
                    "filter",
                    ISO1,
                    Op::Insert,
                    &["-i", br, "!", "-o", br, "-j", ISO2],
                    o,
                    format!("isolation of {br} (stage 1)"),
                    format!("{br} is not isolated from other Docker networks"),
                );
                let i2 = b.rule(
                    family,
                    "filter",
                    ISO2,
                    Op::Insert,
                    &["-o", br, "-j", "DROP"],
                    o,
                    format!("isolation of {br} (stage 2)"),
                    format!("other Docker networks can reach containers on {br}"),
                );
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
        for (c, ep, n, p) in port_mappings(state) {
            if n.internal || p.host_port == 0 {
                continue;
            }
            let (Some(cip), Some(hip)) = (ip_of(ep, family), binding_host(state, n, p, family))
            else {
                continue;
            };
            if net_subnet(n, family).is_none() {
                continue;
            }
            let br = n.bridge();
            let br = br.as_str();
            let o = Owner { net: Some(n) };
            let proto = p.proto.as_str();
            let (hport, cport) = (p.host_port.to_string(), p.container_port.to_string());
            let cip_s = cip.to_string();
            let dest = join_host_port(cip, p.container_port);
            let label = port_label(c, p);
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
            if proxy {
                dnat.extend(["!", "-i", br]);
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
            b.rule(
                family,
                "filter",
                "DOCKER",
                Op::Append,
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
            if p.proto == Proto::Sctp {
                b.rule(
                    family,
                    "mangle",
                    "POSTROUTING",
                    Op::Append,
                    &[
                        "-p",
                        "sctp",
                        "--sport",
                        cport.as_str(),
                        "-j",
                        "CHECKSUM",
                        "--checksum-fill",
                    ],
                    o,
                    format!("{label}: SCTP checksum"),
                    format!("SCTP replies from {} may carry bad checksums", c.name),
                );
            }
        }
        // DOCKER-USER: IPv4 only before 25.0 (arrangeUserFilterRule), then every family.
        if family == Family::Ipv4 || major >= 25 {
            b.chain(family, "filter", "DOCKER-USER");
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
            if let Some(j) = iso_jump {
                b.order(
                    user,
                    j,
                    "DOCKER-USER must see forwarded traffic before Docker's rules",
                );
            }
        }
        if let Some(j) = iso_jump {
            for r in forward_rules {
                b.order(
                    j,
                    r,
                    "traffic between Docker networks is accepted before isolation drops it",
                );
            }
        }
    }
    b.e
}

/// setIcc: icc=true Inserts `-i BR -o BR -j ACCEPT`, icc=false Appends `... -j DROP`.
fn icc_rule(
    b: &mut Builder,
    family: Family,
    br: &str,
    icc: bool,
    o: Owner<'_>,
    name: &str,
) -> usize {
    if icc {
        b.rule(
            family,
            "filter",
            "FORWARD",
            Op::Insert,
            &["-i", br, "-o", br, "-j", "ACCEPT"],
            o,
            format!("inter-container traffic on {name}"),
            format!("containers on {br} cannot talk to each other"),
        )
    } else {
        b.rule(
            family,
            "filter",
            "FORWARD",
            Op::Append,
            &["-i", br, "-o", br, "-j", "DROP"],
            o,
            format!("icc=false on {name}"),
            format!("containers on {br} can talk to each other although icc=false"),
        )
    }
}
