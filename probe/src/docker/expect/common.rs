//! Shared pieces of the iptables layouts: the builder that records rules in Docker's order, the
//! per-network (`NetFam`) and per-port (`PortFam`) rule builders, legacy links, and the
//! address spellings Docker uses.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Blame, ChainSpec, Expectation, Expected, Layout, Op, Order, Unmodelled};
use crate::docker::state::{
    Container, DockerState, Endpoint, GatewayMode, Network, PortBinding, Proto,
};
use crate::ruleset::parse::{ParseError, parse_args};
use crate::ruleset::{Family, Rule};

/// Docker argument list → canonical rule. The one place that chooses the parser.
pub fn to_rule(family: Family, args: &[String]) -> Result<Rule, ParseError> {
    // The chain name is irrelevant to the rule itself; `ruleset::parse` wants a command.
    let mut words = Vec::with_capacity(args.len() + 2);
    words.extend(["-A".to_owned(), "DOCKER-EXPECT".to_owned()]);
    words.extend_from_slice(args);
    parse_args(family, &words).map(|p| p.rule)
}

pub(super) struct Builder {
    pub e: Expectation,
    /// (family, table, chain, args) → index, so a rule programmed twice is kept once.
    seen: HashMap<(Family, String, String, Vec<String>), usize>,
    /// Every programming call in Docker's order, replayed by [`Builder::finish`] to learn
    /// where each rule ends up in its chain.
    program: Vec<Program>,
}

/// One programming call.
#[derive(Clone, Copy)]
enum Program {
    /// First time: Insert (top of the chain) or Append.
    Add(usize, Op),
    /// `EnsureJumpRule` again for a jump already there: deleted and re-inserted at the top.
    Ensure(usize),
}

/// Who a rule belongs to.
#[derive(Clone, Copy)]
pub(super) struct Owner<'a> {
    pub net: Option<&'a Network>,
}

impl Builder {
    pub fn new(layout: Layout) -> Self {
        Self {
            e: Expectation {
                layout,
                chains: Vec::new(),
                rules: Vec::new(),
                order: Vec::new(),
                nft: Vec::new(),
                notes: Vec::new(),
                unmodelled: Vec::new(),
                rank: Vec::new(),
            },
            seen: HashMap::new(),
            program: Vec::new(),
        }
    }

    /// The expectation, with each rule's rank in its chain from replaying the program.
    pub fn finish(mut self) -> Expectation {
        let mut chains: HashMap<(Family, &str, &str), Vec<usize>> = HashMap::new();
        for p in &self.program {
            let i = match *p {
                Program::Add(i, _) | Program::Ensure(i) => i,
            };
            let r = &self.e.rules[i];
            let c = chains
                .entry((r.family, r.table.as_str(), r.chain.as_str()))
                .or_default();
            match *p {
                Program::Add(_, Op::Append) => c.push(i),
                Program::Add(_, Op::Insert) => c.insert(0, i),
                Program::Ensure(_) => {
                    c.retain(|&x| x != i);
                    c.insert(0, i);
                }
            }
        }
        let mut rank = vec![0; self.e.rules.len()];
        for c in chains.values() {
            for (pos, &i) in c.iter().enumerate() {
                rank[i] = pos;
            }
        }
        self.e.rank = rank;
        self.e
    }

    pub fn chain(&mut self, family: Family, table: &str, chain: &str) {
        let c = ChainSpec {
            family,
            table: table.into(),
            chain: chain.into(),
        };
        if !self.e.chains.contains(&c) {
            self.e.chains.push(c);
        }
    }

    /// Record a rule; a rule Docker programs twice (same family/table/chain/args) is kept once.
    #[allow(clippy::too_many_arguments)]
    pub fn rule<S: AsRef<str>>(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        op: Op,
        args: &[S],
        owner: Owner<'_>,
        what: impl Into<String>,
        effect: impl Into<String>,
    ) -> usize {
        let args: Vec<String> = args.iter().map(|s| s.as_ref().to_owned()).collect();
        let key = (family, table.to_owned(), chain.to_owned(), args.clone());
        if let Some(&i) = self.seen.get(&key) {
            // Docker re-inserts its unconditional jumps (EnsureJumpRule: delete, insert at
            // the top); any other rule already there is left where it is (`-C` says present).
            if op == Op::Insert && args.len() == 2 && args[0] == "-j" {
                self.program.push(Program::Ensure(i));
            }
            return i;
        }
        self.seen.insert(key, self.e.rules.len());
        self.program.push(Program::Add(self.e.rules.len(), op));
        self.e.rules.push(Expected {
            family,
            table: table.into(),
            chain: chain.into(),
            args,
            op,
            network: owner.net.map(|n| n.name.clone()),
            bridge: owner.net.map(Network::bridge),
            what: what.into(),
            effect: effect.into(),
        });
        self.e.rules.len() - 1
    }

    /// `first` must stay above `then`; when it does not, `first` is the rule out of place.
    pub fn order(&mut self, first: usize, then: usize, why: impl Into<String>) {
        self.order_blaming(first, then, Blame::First, why);
    }

    /// `first` must stay above `then`; when it does not, `blame` says which one the finding
    /// (and the repair) is about.
    pub fn order_blaming(
        &mut self,
        first: usize,
        then: usize,
        blame: Blame,
        why: impl Into<String>,
    ) {
        if first != then
            && !self
                .e
                .order
                .iter()
                .any(|o| o.first == first && o.then == then)
        {
            self.e.order.push(Order {
                first,
                then,
                why: why.into(),
                blame,
            });
        }
    }

    /// Network `n` uses `option`, which this layout does not model for `family` (None: both):
    /// no rule of the network is expected there, and kernel rules naming its bridge or
    /// addresses are reported as unknown, by the option's name.
    pub fn unmodelled(&mut self, n: &Network, family: Option<Family>, option: String, why: String) {
        self.e.unmodelled.push(Unmodelled {
            option,
            network: Some(n.name.clone()),
            family,
            interfaces: vec![n.bridge()],
            subnets: n
                .subnets
                .iter()
                .filter(|s| family.is_none_or(|f| s.subnet.is_v4() == (f == Family::Ipv4)))
                .map(|s| s.subnet.network())
                .collect(),
            chains: Vec::new(),
            why,
            only_if_seen: false,
        });
    }

    /// `n` in `family` is not modelled (see [`Builder::unmodelled`]).
    pub fn is_unmodelled(&self, n: &Network, family: Family) -> bool {
        self.e.unmodelled.iter().any(|u| {
            u.network.as_deref() == Some(n.name.as_str()) && u.family.is_none_or(|f| f == family)
        })
    }

    pub fn note(&mut self, n: impl Into<String>) {
        let n = n.into();
        if !self.e.notes.contains(&n) {
            self.e.notes.push(n);
        }
    }
}

/// Families Docker programs for the daemon: IPv4 with `iptables`, IPv6 with `ip6tables`
/// (default on from 27.0).
pub(super) fn families(state: &DockerState) -> Vec<Family> {
    let mut f = Vec::new();
    if state.daemon.iptables {
        f.push(Family::Ipv4);
    }
    let v6_default = state.version().is_some_and(|(m, _)| m >= 27);
    if state.daemon.ip6tables.unwrap_or(v6_default) {
        f.push(Family::Ipv6);
    }
    f
}

/// A network takes part in a family when it has a subnet of that family (IPv6 also needs
/// EnableIPv6).
pub(super) fn net_subnet(n: &Network, family: Family) -> Option<String> {
    let v4 = family == Family::Ipv4;
    if !v4 && !n.enable_ipv6 {
        return None;
    }
    n.subnets_of(v4)
        .next()
        .map(|s| s.subnet.network().to_string())
}

pub(super) fn loopback(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "127.0.0.0/8",
        Family::Ipv6 => "::1/128",
    }
}

pub(super) fn ip_of(ep: &Endpoint, family: Family) -> Option<IpAddr> {
    match family {
        Family::Ipv4 => ep.ipv4,
        Family::Ipv6 => ep.ipv6,
    }
}

/// `host:port` as Go's net.JoinHostPort writes it (IPv6 in brackets).
pub(super) fn join_host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// The host address a binding of this family listens on, or None when the binding belongs
/// to the other family. Unspecified/absent → `0/0` (any).
///
/// `implicit_v6` (moby 27+ `addPortMappings`, checked against moby v28.0.1
/// `TestAddPortMappings`): a port published with no host address binds both `0.0.0.0` and
/// `::` when the default binding address (`host_binding_ipv4`, else `--ip`) is `0.0.0.0`;
/// an IPv6 default binds IPv6 only, a non-zero IPv4 default IPv4 only. Without it (20.10
/// layout) an absent host address is IPv4 only.
pub(super) fn binding_host(
    state: &DockerState,
    net: &Network,
    p: &PortBinding,
    family: Family,
    implicit_v6: bool,
) -> Option<String> {
    let default = if implicit_v6 {
        let d = net.host_binding_ipv4.or(state.daemon.ip).map(unmap_v4);
        match family {
            Family::Ipv4 => Some(d.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))),
            Family::Ipv6 => match d {
                None => Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
                Some(IpAddr::V4(a)) if a.is_unspecified() => {
                    Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
                }
                other => other,
            },
        }
    } else {
        match family {
            Family::Ipv4 => net
                .host_binding_ipv4
                .or(state.daemon.ip.filter(IpAddr::is_ipv4)),
            Family::Ipv6 => state.daemon.ip.filter(IpAddr::is_ipv6),
        }
    };
    let ip = p.host_ip.map(unmap_v4).or(default);
    match (family, ip) {
        (Family::Ipv4, None) if !implicit_v6 => Some("0/0".into()),
        (Family::Ipv4, Some(IpAddr::V4(a))) if a.is_unspecified() => Some("0/0".into()),
        (Family::Ipv4, Some(IpAddr::V4(a))) => Some(a.to_string()),
        (Family::Ipv6, Some(IpAddr::V6(a))) if a.is_unspecified() => Some("::/0".into()),
        (Family::Ipv6, Some(IpAddr::V6(a))) => Some(a.to_string()),
        _ => None,
    }
}

/// `::ffff:a.b.c.d` → `a.b.c.d` (Docker unmaps host addresses).
/// `::ffff:a.b.c.d` as `a.b.c.d` (the Engine API may report IPv4 in mapped form).
pub(super) fn unmap_v4(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Every (container, endpoint, network, binding) whose ports are mapped on that network.
pub(super) fn port_mappings(
    state: &DockerState,
) -> Vec<(&Container, &Endpoint, &Network, &PortBinding)> {
    let mut out = Vec::new();
    for c in &state.containers {
        let Some((net, ep)) = state.port_endpoint(c) else {
            continue;
        };
        for p in &c.ports {
            out.push((c, ep, net, p));
        }
    }
    out
}

pub(super) fn port_label(c: &Container, p: &PortBinding) -> String {
    format!(
        "published port {}/{} -> {}:{}",
        p.host_port,
        p.proto.as_str(),
        c.name,
        p.container_port
    )
}

pub(super) const ISO1: &str = "DOCKER-ISOLATION-STAGE-1";
pub(super) const ISO2: &str = "DOCKER-ISOLATION-STAGE-2";

/// One network in one family: what every per-network rule builder needs.
pub(super) struct NetFam<'a> {
    pub family: Family,
    pub n: &'a Network,
    pub br: String,
    pub sub: String,
}

impl<'a> NetFam<'a> {
    /// None when the network has no subnet of this family.
    pub fn new(n: &'a Network, family: Family) -> Option<Self> {
        Some(Self {
            family,
            n,
            br: n.bridge(),
            sub: net_subnet(n, family)?,
        })
    }

    pub fn owner(&self) -> Owner<'a> {
        Owner { net: Some(self.n) }
    }

    /// `-j SNAT --to-source HOST_IP` with `com.docker.network.host_ipv4|6`, else MASQUERADE.
    fn nat_target(&self) -> Vec<String> {
        let host = match self.family {
            Family::Ipv4 => self.n.host_ipv4,
            Family::Ipv6 => self.n.host_ipv6,
        };
        match host {
            Some(ip) => vec![
                "-j".into(),
                "SNAT".into(),
                "--to-source".into(),
                ip.to_string(),
            ],
            None => vec!["-j".into(), "MASQUERADE".into()],
        }
    }

    /// A rule of this network; `args` may name the bridge as `BR` and the subnet as `SUB`.
    fn rule(
        &self,
        b: &mut Builder,
        at: At<'_>,
        args: &[&str],
        what: String,
        effect: String,
    ) -> usize {
        let args: Vec<&str> = args
            .iter()
            .map(|a| match *a {
                "BR" => self.br.as_str(),
                "SUB" => self.sub.as_str(),
                a => a,
            })
            .collect();
        owned_rule(b, self.family, self.n, at, &args, what, effect)
    }

    /// nat POSTROUTING `-s SUBNET ! -o BR -j MASQUERADE|SNAT` (enable_ip_masquerade).
    pub fn source_nat(&self, b: &mut Builder) -> usize {
        let mut a = vec!["-s", "SUB", "!", "-o", "BR"];
        let t = self.nat_target();
        a.extend(t.iter().map(String::as_str));
        self.rule(
            b,
            At("nat", "POSTROUTING", Op::Insert),
            &a,
            format!("source NAT for {}", self.n.name),
            format!(
                "containers on {} cannot reach outside the host (no source NAT)",
                self.br
            ),
        )
    }

    /// nat DOCKER `-i BR -j RETURN`: traffic from the bridge is never DNATed.
    pub fn skip_dnat(&self, b: &mut Builder) -> usize {
        self.rule(
            b,
            At("nat", "DOCKER", Op::Insert),
            &["-i", "BR", "-j", "RETURN"],
            format!("no DNAT for traffic from {}", self.br),
            format!(
                "containers on {} may be DNATed back by published ports",
                self.br
            ),
        )
    }

    /// nat POSTROUTING `-m addrtype --src-type LOCAL -o BR -j MASQUERADE|SNAT`
    /// (userland-proxy off).
    pub fn local_masquerade(&self, b: &mut Builder) -> usize {
        let mut a = vec!["-m", "addrtype", "--src-type", "LOCAL", "-o", "BR"];
        let t = self.nat_target();
        a.extend(t.iter().map(String::as_str));
        self.rule(
            b,
            At("nat", "POSTROUTING", Op::Insert),
            &a,
            format!("masquerade host-local traffic into {}", self.br),
            format!(
                "ports published on {} time out from this host (localhost:PORT)",
                self.br
            ),
        )
    }

    /// `-i BR -o BR -j ACCEPT` (icc=true, added with `accept_op`) or `... -j DROP` (icc=false,
    /// Appended).
    pub fn icc(&self, b: &mut Builder, chain: &str, accept_op: Op) -> usize {
        if self.n.icc {
            self.rule(
                b,
                At("filter", chain, accept_op),
                &["-i", "BR", "-o", "BR", "-j", "ACCEPT"],
                format!("inter-container traffic on {}", self.n.name),
                format!("containers on {} cannot talk to each other", self.br),
            )
        } else {
            self.icc_drop(b, chain)
        }
    }

    /// `-i BR -o BR -j DROP`, Appended (icc=false).
    pub fn icc_drop(&self, b: &mut Builder, chain: &str) -> usize {
        self.rule(
            b,
            At("filter", chain, Op::Append),
            &["-i", "BR", "-o", "BR", "-j", "DROP"],
            format!("icc=false on {}", self.n.name),
            format!(
                "containers on {} can talk to each other although icc=false",
                self.br
            ),
        )
    }

    /// `-i BR ! -o BR -j ACCEPT`: containers reach out.
    pub fn outgoing(&self, b: &mut Builder, chain: &str, op: Op) -> usize {
        self.rule(
            b,
            At("filter", chain, op),
            &["-i", "BR", "!", "-o", "BR", "-j", "ACCEPT"],
            format!("outgoing traffic from {}", self.br),
            format!("containers on {} cannot reach outside the host", self.br),
        )
    }

    /// `-o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`.
    pub fn replies(&self, b: &mut Builder, chain: &str, op: Op) -> usize {
        let args = [
            "-o",
            "BR",
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        ];
        let br = &self.br;
        let effect = format!(
            "replies to connections made by containers on {br} are dropped when FORWARD's policy is DROP"
        );
        let what = format!("replies to containers on {br}");
        self.rule(b, At("filter", chain, op), &args, what, effect)
    }

    /// `-o BR -j DOCKER`: forwarded traffic to the bridge passes the per-port ACCEPTs.
    pub fn to_docker(&self, b: &mut Builder, chain: &str, op: Op) -> usize {
        let br = &self.br;
        let effect = format!(
            "published ports on {br} unreachable from outside (forwarded traffic never reaches their ACCEPT)"
        );
        let what = format!("forwarded traffic to {br} through DOCKER");
        let args = ["-o", "BR", "-j", "DOCKER"];
        self.rule(b, At("filter", chain, op), &args, what, effect)
    }

    /// ISOLATION-STAGE-1 `-i BR ! -o BR -j DOCKER-ISOLATION-STAGE-2`.
    pub fn isolation1(&self, b: &mut Builder, op: Op) -> usize {
        self.rule(
            b,
            At("filter", ISO1, op),
            &["-i", "BR", "!", "-o", "BR", "-j", ISO2],
            format!("isolation of {} (stage 1)", self.br),
            format!("{} is not isolated from other Docker networks", self.br),
        )
    }

    /// ISOLATION-STAGE-2 `-o BR -j DROP`, Inserted.
    pub fn isolation2(&self, b: &mut Builder) -> usize {
        self.rule(
            b,
            At("filter", ISO2, Op::Insert),
            &["-o", "BR", "-j", "DROP"],
            format!("isolation of {} (stage 2)", self.br),
            format!("other Docker networks can reach containers on {}", self.br),
        )
    }

    /// Internal network: the two subnet drops (Inserted) in `chain`, with Docker's argument
    /// lists for leaving and entering.
    pub fn internal_drops(&self, b: &mut Builder, chain: &str, out: &[&str], into: &[&str]) {
        let name = &self.n.name;
        self.rule(
            b,
            At("filter", chain, Op::Insert),
            out,
            format!("internal network {name}: no traffic out"),
            format!("containers on internal network {name} can reach outside their subnet"),
        );
        self.rule(
            b,
            At("filter", chain, Op::Insert),
            into,
            format!("internal network {name}: no traffic in"),
            format!("internal network {name} reachable from outside its subnet"),
        );
    }
}

/// nat PREROUTING / OUTPUT jumps into nat DOCKER (OUTPUT skips loopback with the proxy on).
pub(super) fn nat_jumps(b: &mut Builder, family: Family, proxy: bool) {
    let daemon = Owner { net: None };
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
    if proxy {
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
}

/// DOCKER-USER: its RETURN (when the version adds one) and the FORWARD jump; returns the
/// jump's index.
pub(super) fn docker_user(b: &mut Builder, family: Family, with_return: bool) -> usize {
    let daemon = Owner { net: None };
    b.chain(family, "filter", "DOCKER-USER");
    if with_return {
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
    b.rule(
        family,
        "filter",
        "FORWARD",
        Op::Insert,
        &["-j", "DOCKER-USER"],
        daemon,
        "FORWARD into DOCKER-USER",
        "DOCKER-USER is bypassed for all forwarded traffic: the admin's rules there are never applied",
    )
}

/// What an ACCEPT or jump of Docker's above the jump into DOCKER-USER does.
pub(super) fn user_bypassed(r: &Expected) -> String {
    match r.args.as_slice() {
        [j, target] if j == "-j" => format!(
            "DOCKER-USER no longer sees forwarded traffic first: Docker's jump into {target} sits above the jump into DOCKER-USER"
        ),
        _ => format!("DOCKER-USER is bypassed for {}", r.what),
    }
}

/// What a network's ACCEPT (or jump) above the isolation jump `iso` does: the networks it
/// names can reach each other.
pub(super) fn not_isolated(state: &DockerState, family: Family, r: &Expected, iso: &str) -> String {
    let Some(net) = r.network.as_deref() else {
        return format!("traffic is accepted before the jump into {iso} can drop it");
    };
    let others: Vec<&str> = state
        .networks
        .iter()
        .filter(|n| n.name != net && net_subnet(n, family).is_some())
        .map(|n| n.name.as_str())
        .collect();
    if others.is_empty() {
        format!("traffic of network {net} is accepted before the jump into {iso} sees it")
    } else {
        format!(
            "networks {net} and {} are not isolated ({family})",
            others.join(", ")
        )
    }
}

/// One published port of one container in one family, with its addresses resolved.
pub(super) struct PortFam<'a> {
    pub family: Family,
    pub c: &'a Container,
    pub n: &'a Network,
    pub p: &'a PortBinding,
    pub br: String,
    pub cip: IpAddr,
    /// Host address as Docker passes it (`0/0` for any).
    pub hip: String,
    pub label: String,
}

impl<'a> PortFam<'a> {
    /// Every published port of a non-internal network with a subnet of this family.
    /// `implicit_v6`: see [`binding_host`].
    pub fn all(state: &'a DockerState, family: Family, implicit_v6: bool) -> Vec<PortFam<'a>> {
        port_mappings(state)
            .into_iter()
            .filter_map(|(c, ep, n, p)| {
                if n.internal || net_subnet(n, family).is_none() {
                    return None;
                }
                Some(PortFam {
                    family,
                    c,
                    n,
                    p,
                    br: n.bridge(),
                    cip: ip_of(ep, family)?,
                    hip: binding_host(state, n, p, family, implicit_v6)?,
                    label: port_label(c, p),
                })
            })
            .collect()
    }

    /// nat DOCKER DNAT to the container (Appended); `! -i BR` with the proxy on, and
    /// `! -s fe80::/10` for IPv6 when `v6_no_link_local`.
    pub fn dnat(&self, b: &mut Builder, proxy: bool, v6_no_link_local: bool) -> usize {
        let (proto, hport) = (self.p.proto.as_str(), self.p.host_port.to_string());
        let dest = join_host_port(self.cip, self.p.container_port);
        let mut a = vec![
            "-p",
            proto,
            "-d",
            self.hip.as_str(),
            "--dport",
            hport.as_str(),
            "-j",
            "DNAT",
            "--to-destination",
            dest.as_str(),
        ];
        if proxy {
            a.extend(["!", "-i", self.br.as_str()]);
        }
        if v6_no_link_local && self.family == Family::Ipv6 {
            a.extend(["!", "-s", "fe80::/10"]);
        }
        owned_rule(
            b,
            self.family,
            self.n,
            At("nat", "DOCKER", Op::Append),
            &a,
            format!("{}: DNAT", self.label),
            format!(
                "port {} on the host is not forwarded to {}:{} ({})",
                self.p.host_port, self.c.name, self.p.container_port, self.br
            ),
        )
    }

    /// filter DOCKER `! -i BR -o BR -p P -d CIP --dport CPORT -j ACCEPT`.
    pub fn accept(&self, b: &mut Builder, op: Op) -> usize {
        let (cip, cport) = (self.cip.to_string(), self.p.container_port.to_string());
        let br = self.br.as_str();
        owned_rule(
            b,
            self.family,
            self.n,
            At("filter", "DOCKER", op),
            &[
                "!",
                "-i",
                br,
                "-o",
                br,
                "-p",
                self.p.proto.as_str(),
                "-d",
                cip.as_str(),
                "--dport",
                cport.as_str(),
                "-j",
                "ACCEPT",
            ],
            format!("{}: ACCEPT", self.label),
            format!(
                "published port {} on {br} unreachable from outside",
                self.p.host_port
            ),
        )
    }

    /// nat POSTROUTING `-p P -s CIP -d CIP --dport CPORT -j MASQUERADE` (Appended).
    pub fn hairpin(&self, b: &mut Builder) -> usize {
        let (cip, cport) = (self.cip.to_string(), self.p.container_port.to_string());
        owned_rule(
            b,
            self.family,
            self.n,
            At("nat", "POSTROUTING", Op::Append),
            &[
                "-p",
                self.p.proto.as_str(),
                "-s",
                cip.as_str(),
                "-d",
                cip.as_str(),
                "--dport",
                cport.as_str(),
                "-j",
                "MASQUERADE",
            ],
            format!("{}: hairpin", self.label),
            format!(
                "{} cannot reach its own published port {} via the host",
                self.c.name, self.p.host_port
            ),
        )
    }

    /// mangle POSTROUTING `-p sctp --sport CPORT -j CHECKSUM --checksum-fill` (SCTP only).
    pub fn sctp_checksum(&self, b: &mut Builder) -> Option<usize> {
        if self.p.proto != Proto::Sctp {
            return None;
        }
        let cport = self.p.container_port.to_string();
        Some(owned_rule(
            b,
            self.family,
            self.n,
            At("mangle", "POSTROUTING", Op::Append),
            &[
                "-p",
                "sctp",
                "--sport",
                cport.as_str(),
                "-j",
                "CHECKSUM",
                "--checksum-fill",
            ],
            format!("{}: SCTP checksum", self.label),
            format!(
                "SCTP replies from {} leave with no checksum filled in (dropped by peers behind NICs without SCTP offload)",
                self.c.name
            ),
        ))
    }
}

/// A legacy `--link` on network `n`: the linking (parent) and linked (child) container with
/// their IPv4 addresses there.
pub(super) struct Link<'a> {
    pub parent: &'a Container,
    pub child: &'a Container,
    pub pip: IpAddr,
    pub cip: IpAddr,
}

/// Every legacy link between two containers that both have an IPv4 address on `n`.
pub(super) fn link_pairs<'a>(state: &'a DockerState, n: &Network) -> Vec<Link<'a>> {
    let on_bridge = |c: &Container| {
        c.endpoints
            .iter()
            .find(|e| e.network == n.name)
            .and_then(|e| e.ipv4)
            .map(unmap_v4)
    };
    let mut out = Vec::new();
    for parent in &state.containers {
        let Some(pip) = on_bridge(parent) else {
            continue;
        };
        for child_name in &parent.links {
            let Some(child) = state.containers.iter().find(|c| &c.name == child_name) else {
                continue;
            };
            if let Some(cip) = on_bridge(child) {
                out.push(Link {
                    parent,
                    child,
                    pip,
                    cip,
                });
            }
        }
    }
    out
}

/// Legacy `--link` on a network with icc=false: per exposed port of the linked (child)
/// container, filter DOCKER `-i BR -o BR -p P -s PARENT -d CHILD --dport N -j ACCEPT` and the
/// reply `-s CHILD -d PARENT --sport N` (moby iptables.go `ChainInfo.Link`, Appended; IPv4
/// only: links carry the endpoints' IPv4 addresses; only on the default bridge network).
pub(super) fn links(b: &mut Builder, state: &DockerState, family: Family) {
    if family != Family::Ipv4 {
        return;
    }
    let Some(n) = state.network("bridge") else {
        return;
    };
    if n.icc || n.internal {
        return;
    }
    let br = n.bridge();
    for Link {
        parent,
        child,
        pip,
        cip,
    } in link_pairs(state, n)
    {
        let (pip, cip) = (pip.to_string(), cip.to_string());
        for ep in child.link_ports() {
            let (proto, port) = (ep.proto.as_str(), ep.port.to_string());
            let spec = format!("{}/{proto}", ep.port);
            for (src, dst, dir, what, effect) in [
                (
                    &pip,
                    &cip,
                    "--dport",
                    format!("link {} -> {} {spec}", parent.name, child.name),
                    format!(
                        "{} cannot reach linked container {} on {spec} (icc=false on {br})",
                        parent.name, child.name
                    ),
                ),
                (
                    &cip,
                    &pip,
                    "--sport",
                    format!("link {} -> {} {spec}: replies", parent.name, child.name),
                    format!(
                        "replies from {} {spec} to {} are dropped (icc=false on {br})",
                        child.name, parent.name
                    ),
                ),
            ] {
                b.rule(
                    family,
                    "filter",
                    "DOCKER",
                    Op::Append,
                    &[
                        "-i",
                        br.as_str(),
                        "-o",
                        br.as_str(),
                        "-p",
                        proto,
                        "-s",
                        src.as_str(),
                        "-d",
                        dst.as_str(),
                        dir,
                        port.as_str(),
                        "-j",
                        "ACCEPT",
                    ],
                    Owner { net: Some(n) },
                    what,
                    effect,
                );
            }
        }
    }
}

/// Where a rule goes: table, chain, and how Docker adds it.
#[derive(Clone, Copy)]
pub(super) struct At<'a>(pub &'a str, pub &'a str, pub Op);

/// A rule owned by network `n`.
pub(super) fn owned_rule(
    b: &mut Builder,
    family: Family,
    n: &Network,
    At(table, chain, op): At<'_>,
    args: &[&str],
    what: String,
    effect: String,
) -> usize {
    b.rule(
        family,
        table,
        chain,
        op,
        args,
        Owner { net: Some(n) },
        what,
        effect,
    )
}

/// `--bridge-accept-fwmark MARK[/MASK]` → (mark, mask) as dockerd 29 parses them; None: not
/// valid (dockerd refuses to start).
pub(super) fn fwmark(val: &str) -> Option<(u32, Option<u32>)> {
    match val.split_once('/') {
        Some((m, k)) => Some((go_u32(m)?, Some(go_u32(k)?))),
        None => Some((go_u32(val)?, None)),
    }
}

/// Go's `strconv.ParseUint(s, 0, 32)`: `0x`/`0o`/`0b` prefixes, a leading `0` for octal,
/// underscores only after a prefix.
pub(super) fn go_u32(s: &str) -> Option<u32> {
    let lower = s.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r, true)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r, true)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.contains('_') && !prefixed {
        return None;
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    u32::from_str_radix(&digits, radix).ok()
}

/// Record every network's gateway mode the layout does not model (`unknown` gives the reason,
/// None for a modelled mode), and any mode value nfprobe cannot read at all.
pub(super) fn gateway_modes(
    b: &mut Builder,
    state: &DockerState,
    unknown: impl Fn(GatewayMode) -> Option<&'static str>,
) {
    let fams = families(state);
    for n in &state.networks {
        for (family, key) in [(Family::Ipv4, "ipv4"), (Family::Ipv6, "ipv6")] {
            // No rules of this family for the network anyway.
            if !fams.contains(&family) || net_subnet(n, family).is_none() {
                continue;
            }
            let raw = n
                .options
                .get(&format!("com.docker.network.bridge.gateway_mode_{key}"));
            let why = match raw {
                Some(v) if GatewayMode::parse(v).is_none() => {
                    "a gateway mode nfprobe does not know; moby 28 and 29 know nat, nat-unprotected, routed and isolated"
                }
                _ => match unknown(n.gateway_mode(family == Family::Ipv4)) {
                    Some(why) => why,
                    None => continue,
                },
            };
            let value = raw.cloned().unwrap_or_else(|| {
                let m = n.gateway_mode(family == Family::Ipv4);
                serde_json::to_value(m)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            });
            b.unmodelled(
                n,
                Some(family),
                format!("gateway_mode_{key}={value}"),
                why.to_owned(),
            );
        }
    }
}

/// WSL2 mirrored networking: with the proxy on Docker returns loopback0's 127/8 traffic from
/// nat DOCKER, and accepts loopback-bound ports from loopback0 in raw PREROUTING (moby
/// `mirroredWSL2Workaround` from 27.x, `filterPortMappedOnLoopback`; the `wsl2mirrored=true`
/// goldens).
/// Whether the host is a WSL2 VM with mirrored networking is not in Docker's state, so these
/// rules are recognised by their interface and named, not judged.
pub(super) fn wsl2_mirrored(b: &mut Builder) {
    b.e.unmodelled.push(Unmodelled {
        option: "WSL2 mirrored networking (interface loopback0)".into(),
        network: None,
        family: None,
        interfaces: vec!["loopback0".into()],
        subnets: Vec::new(),
        chains: Vec::new(),
        why: "Docker adds rules for loopback0 only inside a WSL2 VM with mirrored networking, which nfprobe cannot tell from Docker's state".into(),
        only_if_seen: true,
    });
}
