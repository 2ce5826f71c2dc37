//! Docker 28.x and 29 (iptables backend): DOCKER-FORWARD with DOCKER-CT / DOCKER-BRIDGE /
//! isolation (29: DOCKER-INTERNAL), per-network default DROP in filter DOCKER, raw-table
//! direct-access drops (moby v28.0.1 libnetwork/drivers/bridge/setup_ip_tables_linux.go,
//! port_mapping_linux.go; v28.2.0+ internal/iptabler network.go, endpoint.go, port.go,
//! link.go; docker-v29.0.0 iptablesdoc; reference sections a.6, b, c, d).

use super::common::*;
use super::swarm::{self, Style};
use super::{Blame, Expectation, Layout, Op};
use crate::docker::state::{DockerState, GatewayMode};
use crate::ruleset::Family;

const FWD: &str = "DOCKER-FORWARD";

pub fn expect(state: &DockerState, layout: Layout) -> Expectation {
    let mut b = Builder::new(layout);
    let v29 = layout == Layout::V29;
    let daemon = Owner { net: None };
    let proxy = state.daemon.userland_proxy;
    // 28.0.0 and 28.0.1 (the version unknown: the layout's namesake 28.0.1) also skipped DNAT
    // for traffic from routed networks, and did not know DOCKER_INSECURE_NO_IPTABLES_RAW.
    let before_28_0_2 = layout == Layout::V28_0 && state.before(28, 0, 2).unwrap_or(true);
    let raw_rules = before_28_0_2 || !state.daemon.no_iptables_raw;
    if let Some(m) = &state.daemon.bridge_accept_fwmark {
        if !v29 {
            b.note(format!(
                "bridge-accept-fwmark {m:?} is set but only Docker 29+ knows it: no rule is expected for it"
            ));
        } else if fwmark(m).is_none() {
            b.note(format!(
                "bridge-accept-fwmark {m:?} is not a valid MARK[/MASK] (dockerd 29 refuses to start with it): no rule is expected for it"
            ));
        }
    }
    // Every gateway mode moby 28 and 29 accept is modelled; only a value nfprobe cannot read
    // is not.
    gateway_modes(&mut b, state, |_| None);
    wsl2_mirrored(&mut b);
    for family in families(state) {
        // setupIPChains.
        b.chain(family, "nat", "DOCKER");
        for c in ["DOCKER", FWD, "DOCKER-BRIDGE", "DOCKER-CT"] {
            b.chain(family, "filter", c);
        }
        let stage1 = if v29 { "DOCKER-INTERNAL" } else { ISO1 };
        b.chain(family, "filter", stage1);
        if !v29 {
            b.chain(family, "filter", ISO2);
        }
        nat_jumps(&mut b, family, proxy);
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
        b.rule(
            family,
            "filter",
            FWD,
            Op::Insert,
            &["-j", "DOCKER-CT"],
            daemon,
            "DOCKER-FORWARD into DOCKER-CT",
            "replies to connections made by containers are dropped when FORWARD's policy is DROP",
        );
        // setupUserChain: the RETURN is gone from 28.3.
        let user = docker_user(
            &mut b,
            family,
            matches!(layout, Layout::V28_0 | Layout::V28_2),
        );
        b.order_blaming(
            user,
            to_fwd,
            Blame::Then,
            "DOCKER-USER is bypassed for all forwarded container traffic: Docker's jump into DOCKER-FORWARD sits above the jump into DOCKER-USER",
        );

        let mut accepts = Vec::new();
        let mut default_drop = std::collections::BTreeMap::new();
        // Routed networks' stage-1 RETURN and replies ACCEPT (Inserted), and every network's
        // jump to stage 2 (Appended).
        let mut routed_iso = Vec::new();
        let mut isolation_jumps = Vec::new();
        for nf in state.networks.iter().filter_map(|n| NetFam::new(n, family)) {
            if b.is_unmodelled(nf.n, family) {
                continue;
            }
            let n = nf.n;
            let gm = n.gateway_mode(family == Family::Ipv4);
            if n.internal || gm == GatewayMode::Isolated {
                // setupInternalNetworkRules (28.x and 29 alike): IPv6 also names the other
                // direction of the bridge.
                if family == Family::Ipv4 {
                    nf.internal_drops(
                        &mut b,
                        stage1,
                        &["-i", "BR", "!", "-d", "SUB", "-j", "DROP"],
                        &["-o", "BR", "!", "-s", "SUB", "-j", "DROP"],
                    );
                } else {
                    nf.internal_drops(
                        &mut b,
                        stage1,
                        &["-i", "BR", "!", "-o", "BR", "!", "-d", "SUB", "-j", "DROP"],
                        &["!", "-i", "BR", "-o", "BR", "!", "-s", "SUB", "-j", "DROP"],
                    );
                }
                accepts.push(nf.icc(&mut b, FWD, Op::Append));
                continue;
            }
            // 29: `--bridge-accept-fwmark`, Inserted into DOCKER-FORWARD by each non-internal
            // network (one copy: no bridge in it), so it sits above Docker's jumps.
            if v29
                && let Some((mark, mask)) = state
                    .daemon
                    .bridge_accept_fwmark
                    .as_deref()
                    .and_then(fwmark)
            {
                let m = match mask {
                    Some(k) => format!("{mark}/{k}"),
                    None => mark.to_string(),
                };
                let r = b.rule(
                    family,
                    "filter",
                    FWD,
                    Op::Insert,
                    &["-m", "mark", "--mark", m.as_str(), "-j", "ACCEPT"],
                    daemon,
                    "bridge-accept-fwmark: accept marked packets",
                    format!(
                        "packets marked {} are dropped on their way into Docker networks (unpublished ports, other networks)",
                        state.daemon.bridge_accept_fwmark.as_deref().unwrap_or_default()
                    ),
                );
                if !b.e.order.iter().any(|o| o.first == r && o.then == j_bridge) {
                    b.order(
                        r,
                        j_bridge,
                        "marked packets must be accepted before DOCKER-BRIDGE drops them",
                    );
                }
            }
            let nat = gm != GatewayMode::Routed;
            if nat && n.masquerade {
                nf.source_nat(&mut b);
            }
            if !v29 && ((!nat && before_28_0_2) || (n.masquerade && proxy)) {
                nf.skip_dnat(&mut b);
            }
            if !proxy {
                nf.local_masquerade(&mut b);
            }
            if !n.icc {
                accepts.push(nf.icc_drop(&mut b, FWD));
            }
            let br = nf.br.as_str();
            let o = nf.owner();
            let mut icmp_accept = None;
            if !nat {
                let icmp = if family == Family::Ipv4 {
                    "icmp"
                } else {
                    "icmpv6"
                };
                icmp_accept = Some(b.rule(
                    family,
                    "filter",
                    "DOCKER",
                    Op::Append,
                    &["-o", br, "-p", icmp, "-j", "ACCEPT"],
                    o,
                    format!("ICMP into routed network {}", n.name),
                    format!("ping and path-MTU messages to containers on {br} are dropped"),
                ));
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
                nf.outgoing(&mut b, FWD, Op::Append)
            };
            accepts.push(out_rule);
            let unprotected = gm == GatewayMode::NatUnprotected;
            let dd = b.rule(family, "filter", "DOCKER", Op::Append,
                &["!", "-i", br, "-o", br, "-j", if unprotected { "ACCEPT" } else { "DROP" }], o,
                if unprotected { format!("nat-unprotected {}: accept all", n.name) } else { format!("default drop into {br}") },
                if unprotected { format!("traffic into nat-unprotected {br} dropped by FORWARD's policy") }
                else { format!("unpublished ports of containers on {br} reachable from other networks and hosts") });
            default_drop.insert(n.name.clone(), dd);
            if let Some(i) = icmp_accept {
                b.order(
                    i,
                    dd,
                    "the network's DROP above it drops ICMP into the routed network",
                );
            }
            nf.replies(&mut b, "DOCKER-CT", Op::Append);
            nf.to_docker(&mut b, "DOCKER-BRIDGE", Op::Append);
            if !v29 {
                if !nat {
                    let ret = b.rule(
                        family,
                        "filter",
                        ISO1,
                        Op::Insert,
                        &["-o", br, "-j", "RETURN"],
                        o,
                        format!("routed {}: no isolation for incoming", n.name),
                        format!("routed network {br} unreachable from other networks"),
                    );
                    let replies = b.rule(
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
                    routed_iso.push((ret, replies, n.name.clone()));
                }
                let i1 = nf.isolation1(&mut b, Op::Append);
                isolation_jumps.push((i1, n.name.clone()));
                nf.isolation2(&mut b);
            }
        }
        // setINC: traffic into a routed network RETURNs before another network's jump to
        // stage 2 drops it there; replies from it are accepted before its own jump.
        for (ret, replies, routed) in &routed_iso {
            for (jump, net) in &isolation_jumps {
                if net != routed {
                    b.order(
                        *ret,
                        *jump,
                        format!("the isolation jump above it drops traffic from other networks into routed network {routed}"),
                    );
                } else {
                    b.order(
                        *replies,
                        *jump,
                        format!("the isolation jump above it drops replies from routed network {routed} to other networks"),
                    );
                }
            }
        }
        // An ACCEPT above the isolation or bridge jump lets the network's traffic skip them.
        // (Above DOCKER-CT only it changes nothing: it is then above the others too.)
        for j in [j_iso, j_bridge] {
            for &a in &accepts {
                let why = if v29 && j == j_iso {
                    // 29: DOCKER-INTERNAL holds only the internal networks' drops.
                    format!(
                        "{} is accepted before the internal networks' drops in DOCKER-INTERNAL",
                        b.e.rules[a].what
                    )
                } else {
                    let what = if j == j_iso { stage1 } else { "DOCKER-BRIDGE" };
                    not_isolated(state, family, &b.e.rules[a], what)
                };
                b.order_blaming(j, a, Blame::Then, why);
            }
        }
        if layout != Layout::V28_0 && raw_rules {
            direct_access(&mut b, state, family);
        }
        for pf in PortFam::all(state, family, true) {
            if b.is_unmodelled(pf.n, family) {
                continue;
            }
            let gm = pf.n.gateway_mode(family == Family::Ipv4);
            let br = pf.br.as_str();
            let p = pf.p;
            let (hport, cport) = (p.host_port.to_string(), p.container_port.to_string());
            let cip_s = pf.cip.to_string();
            let label = pf.label.as_str();
            let hip = pf.hip.as_str();
            // filterPortMappedOnLoopback: not without a host port (routed mode maps none).
            if family == Family::Ipv4 && hip.starts_with("127.") && p.host_port != 0 && raw_rules {
                raw_port_drop(
                    &mut b,
                    &pf,
                    hip,
                    &hport,
                    "lo",
                    format!("{label}: loopback binding only from lo"),
                    format!(
                        "port {} bound to {hip} reachable from other hosts",
                        p.host_port
                    ),
                );
            }
            // 28.0.x: the direct-access drop is per published port.
            if layout == Layout::V28_0 && gm == GatewayMode::Nat && raw_rules {
                raw_port_drop(
                    &mut b,
                    &pf,
                    &cip_s,
                    &cport,
                    br,
                    format!("{label}: no direct access"),
                    format!(
                        "{}:{} reachable directly from the host's neighbours",
                        pf.c.name, p.container_port
                    ),
                );
            }
            if gm.is_nat() && p.host_port != 0 {
                pf.dnat(&mut b, proxy, true);
                if !proxy {
                    pf.hairpin(&mut b);
                }
            }
            if gm != GatewayMode::NatUnprotected {
                let acc = pf.accept(&mut b, Op::Insert);
                if let Some(&dd) = default_drop.get(&pf.n.name) {
                    b.order(
                        acc,
                        dd,
                        "the network's DROP above the port's ACCEPT blocks the published port",
                    );
                }
                // setPerPortForwarding: only with DOCKER_IPTABLES_SCTP_CHECKSUM=1, gone in 29.
                if state.daemon.sctp_checksum && !v29 {
                    pf.sctp_checksum(&mut b);
                }
            }
        }
        links(&mut b, state, family);
        // 28.0.0 still jumped from FORWARD; 28.0.1 moved it into DOCKER-FORWARD.
        let jump_chain = if state.engine_version.as_deref().map(str::trim) == Some("28.0.0") {
            "FORWARD"
        } else {
            FWD
        };
        let style = Style {
            jump_chain,
            state_match: false,
        };
        if let Some(j) = swarm::ingress(&mut b, state, family, style) {
            if jump_chain == FWD {
                b.order(
                    j,
                    j_bridge,
                    "swarm published ports hit the docker_gwbridge DROP in DOCKER before DOCKER-INGRESS accepts them",
                );
            } else {
                // 28.0.0: from FORWARD, below DOCKER-USER (EnsureJumpRule keeps that first).
                let why = user_bypassed(&b.e.rules[j]);
                b.order_blaming(user, j, Blame::Then, why);
            }
        }
    }
    b.finish()
}

/// 28.2+ `filterDirectAccess`, per endpoint of a nat-mode network: raw PREROUTING
/// `-d CIP -i IF -j ACCEPT` per trusted host interface, then `-d CIP ! -i BR -j DROP`;
/// nothing with `--allow-direct-routing`.
fn direct_access(b: &mut Builder, state: &DockerState, family: Family) {
    if state.daemon.allow_direct_routing {
        return;
    }
    for c in &state.containers {
        for ep in &c.endpoints {
            let Some(n) = state.network(&ep.network) else {
                continue;
            };
            let (Some(cip), Some(_)) = (ip_of(ep, family), net_subnet(n, family)) else {
                continue;
            };
            if n.internal
                || n.gateway_mode(family == Family::Ipv4) != GatewayMode::Nat
                || b.is_unmodelled(n, family)
            {
                continue;
            }
            let br = n.bridge();
            let cip = cip.to_string();
            let o = Owner { net: Some(n) };
            let mut trusted = Vec::new();
            for ifname in n.trusted_interfaces() {
                trusted.push(b.rule(
                    family,
                    "raw",
                    "PREROUTING",
                    Op::Append,
                    &["-d", cip.as_str(), "-i", ifname.as_str(), "-j", "ACCEPT"],
                    o,
                    format!(
                        "{} on {}: direct access from trusted interface {ifname}",
                        c.name, n.name
                    ),
                    format!(
                        "{} unreachable by its address from trusted host interface {ifname}",
                        c.name
                    ),
                ));
            }
            let drop = b.rule(
                family,
                "raw",
                "PREROUTING",
                Op::Append,
                &["-d", cip.as_str(), "!", "-i", br.as_str(), "-j", "DROP"],
                o,
                format!("{} on {}: no direct access from outside", c.name, n.name),
                format!(
                    "{} reachable directly by its address from the host's neighbours",
                    c.name
                ),
            );
            for t in trusted {
                b.order(
                    t,
                    drop,
                    "the direct-access DROP above it cuts off the trusted interface",
                );
            }
        }
    }
}

/// raw PREROUTING `-p P -d DST --dport PORT ! -i IFACE -j DROP`.
fn raw_port_drop(
    b: &mut Builder,
    pf: &PortFam<'_>,
    dst: &str,
    port: &str,
    iface: &str,
    what: String,
    effect: String,
) -> usize {
    owned_rule(
        b,
        pf.family,
        pf.n,
        At("raw", "PREROUTING", Op::Append),
        &[
            "-p",
            pf.p.proto.as_str(),
            "-d",
            dst,
            "--dport",
            port,
            "!",
            "-i",
            iface,
            "-j",
            "DROP",
        ],
        what,
        effect,
    )
}
