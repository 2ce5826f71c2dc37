//! Docker 29 with `firewall-backend: nftables`: every chain, verdict-map element and rule
//! Docker 29.0 writes in the `ip docker-bridges` and `ip6 docker-bridges` tables, in the
//! order Docker keeps them (moby docker-v29.0.0, `daemon/libnetwork/drivers/bridge/internal/
//! nftabler` and `integration/network/bridge/nftablesdoc/generated`), including
//! `--allow-direct-routing` (no DROP DIRECT ACCESS), `--bridge-accept-fwmark` (ALLOW FW MARK)
//! and legacy `--link` with icc=false. Swarm is refused by Docker 29.0 with this backend and
//! `DOCKER_INSECURE_NO_IPTABLES_RAW` is ignored by it; both are said in notes when seen.
//!
//! Rules are written in the spelling `nft list ruleset` prints (what the kernel holds, not
//! the words Docker feeds to `nft -f`), and compared through [`canonical`], which drops what
//! does not change a packet's fate (counters, comments, spacing, the order of anonymous set
//! elements). Docker does not run `iptables -C` with this backend: there are no CLI claims.

use std::collections::HashSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::common::*;
use super::{Expectation, Layout};
use crate::docker::state::{Container, DockerState, Endpoint, GatewayMode, Network, Proto};
use crate::ruleset::Family;

pub const TABLE: &str = "docker-bridges";

pub const FORWARD: &str = "filter-FORWARD";
pub const PREROUTING: &str = "nat-PREROUTING";
pub const OUTPUT: &str = "nat-OUTPUT";
pub const POSTROUTING: &str = "nat-POSTROUTING";
pub const RAW_PREROUTING: &str = "raw-PREROUTING";
pub const NAT_CHAIN: &str = "nat-prerouting-and-output";

/// The four verdict maps keyed by bridge name, and the per-bridge chain prefix each one
/// jumps to.
pub const MAPS: [(&str, &str); 4] = [
    ("filter-forward-in-jumps", "filter-forward-in__"),
    ("filter-forward-out-jumps", "filter-forward-out__"),
    ("nat-postrouting-in-jumps", "nat-postrouting-in__"),
    ("nat-postrouting-out-jumps", "nat-postrouting-out__"),
];

/// A priority in nft's words (`dstnat`, `filter + 5`, `-100`) as a number, so `dstnat` on the
/// output hook (newer nft) and `-100` (nft 1.0.x prints no name there) compare equal.
pub fn priority_value(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return Some(n);
    }
    let (name, off) = match s.split_once(['+', '-']) {
        Some((n, o)) => {
            let o: i32 = o.trim().parse().ok()?;
            (n.trim(), if s.contains('-') { -o } else { o })
        }
        None => (s, 0),
    };
    let base = match name {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "filter" => 0,
        "security" => 50,
        "srcnat" => 100,
        _ => return None,
    };
    Some(base + off)
}

impl BaseChain {
    /// Same type, hook and priority value.
    pub fn same(&self, other: &BaseChain) -> bool {
        self.chain_type == other.chain_type
            && self.hook == other.hook
            && priority_value(&self.priority).is_some()
            && priority_value(&self.priority) == priority_value(&other.priority)
    }
}

/// `nft` family keyword of a table.
pub fn nft_family(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "ip",
        Family::Ipv6 => "ip6",
    }
}

/// A base chain's hook, in `nft list` words (`priority` as nft names it: `filter`, `dstnat`,
/// `srcnat`, `raw`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseChain {
    #[serde(rename = "type")]
    pub chain_type: String,
    pub hook: String,
    pub priority: String,
}

/// One object Docker creates in a `docker-bridges` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NftItem {
    /// A chain; base chains carry their hook.
    Chain {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<BaseChain>,
    },
    /// A verdict map `type ifname : verdict` (its name is the item's `chain`).
    Map,
    /// An element of the verdict map named by the item's `chain`.
    Element { key: String, verdict: String },
    /// A rule of the item's `chain`, as `nft list` prints it.
    Rule { rule: String },
}

/// One expected object, with who it belongs to and what breaks without it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NftExpected {
    pub family: Family,
    /// Chain name (map name for `Map` and `Element`).
    pub chain: String,
    #[serde(flatten)]
    pub item: NftItem,
    pub network: Option<String>,
    pub bridge: Option<String>,
    pub what: String,
    pub effect: String,
}

impl NftExpected {
    /// The `nft` command that creates the object (rules: appended; the audit picks a
    /// position next to the rules around it).
    pub fn create_command(&self) -> String {
        nft_command(&self.create())
    }

    /// The same as one line of an `nft -f` script.
    pub fn create(&self) -> String {
        let fam = nft_family(self.family);
        match &self.item {
            NftItem::Chain { base: None } => format!("add chain {fam} {TABLE} {}", self.chain),
            // Numeric priority, as Docker writes it: nft 1.0.x refuses `dstnat` on output.
            NftItem::Chain { base: Some(b) } => format!(
                "add chain {fam} {TABLE} {} {{ type {} hook {} priority {}; policy accept; }}",
                self.chain,
                b.chain_type,
                b.hook,
                priority_value(&b.priority).map_or_else(|| b.priority.clone(), |p| p.to_string())
            ),
            NftItem::Map => format!(
                "add map {fam} {TABLE} {} {{ type ifname : verdict; }}",
                self.chain
            ),
            NftItem::Element { key, verdict } => format!(
                "add element {fam} {TABLE} {} {{ \"{key}\" : {verdict} }}",
                self.chain
            ),
            NftItem::Rule { rule } => format!("add rule {fam} {TABLE} {} {rule}", self.chain),
        }
    }
}

/// `nft '...'`: one shell word, so nft sees the quotes and braces.
pub fn nft_command(body: &str) -> String {
    format!("nft '{}'", body.replace('\'', r"'\''"))
}

/// The comparison form of a rule: counters and the comment dropped (they do not change what
/// happens to a packet), whitespace collapsed, anonymous set elements sorted.
pub fn canonical(rule: &str) -> String {
    let toks = tokens(rule);
    let mut out: Vec<String> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].as_str();
        match t {
            "counter" => {
                i += 1;
                // `counter packets N bytes M`
                if toks.get(i).map(String::as_str) == Some("packets") {
                    i += 4;
                }
                continue;
            }
            "comment" => {
                i += 2;
                continue;
            }
            "{" => {
                let mut elems = Vec::new();
                let mut cur = String::new();
                i += 1;
                while i < toks.len() && toks[i] != "}" {
                    if toks[i] == "," {
                        if !cur.is_empty() {
                            elems.push(std::mem::take(&mut cur));
                        }
                    } else {
                        if !cur.is_empty() {
                            cur.push(' ');
                        }
                        cur.push_str(toks[i].trim_end_matches(','));
                        if toks[i].ends_with(',') {
                            elems.push(std::mem::take(&mut cur));
                        }
                    }
                    i += 1;
                }
                if !cur.is_empty() {
                    elems.push(cur);
                }
                elems.sort();
                elems.dedup();
                out.push(format!("{{ {} }}", elems.join(", ")));
                i += 1;
                continue;
            }
            _ => out.push(t.to_owned()),
        }
        i += 1;
    }
    out.join(" ")
}

/// Words of an nft statement list; a quoted string is one word; braces and commas split.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        if quoted {
            cur.push(ch);
            if ch == '"' {
                quoted = false;
            }
            continue;
        }
        match ch {
            '"' => {
                cur.push(ch);
                quoted = true;
            }
            '{' | '}' | ',' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(ch.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// What the rule does with a packet it matches (the last verdict-like word).
pub fn verdict_class(rule: &str) -> String {
    let toks = tokens(&canonical(rule));
    for (i, t) in toks.iter().enumerate().rev() {
        match t.as_str() {
            "accept" | "drop" | "return" | "masquerade" | "reject" => return t.clone(),
            "dnat" | "snat" => return t.clone(),
            "jump" | "goto" => {
                return format!("{t} {}", toks.get(i + 1).map_or("", String::as_str));
            }
            "vmap" => return "vmap".into(),
            _ => {}
        }
    }
    "continue".into()
}

/// Two rules of one chain (`first` before `then` in Docker's order) whose order decides
/// behaviour: they end a packet's walk differently, so a packet both match meets a different
/// fate when they are swapped (an ACCEPT under the chain's final DROP, ICC DROP under a
/// published port's ACCEPT, a RETURN under the DNATs).
pub fn order_matters(first: &str, then: &str) -> bool {
    verdict_class(first) != verdict_class(then)
}

/// Expected objects for `state` (all in `Expectation::nft`; `rules` stays empty: no
/// iptables rule and no CLI claim with this backend).
pub fn expect(state: &DockerState) -> Expectation {
    let mut b = Builder::new(Layout::V29Nft);
    b.note(
        "Docker 29 with firewall-backend nftables programs nf_tables directly and never runs `iptables -C`: there are no CLI claims to check",
    );
    b.note(
        "WSL2 mirrored networking is not detected (neither the Engine API nor the daemon's settings report it, and it only exists inside WSL2): the `iifname \"loopback0\"` rules Docker adds there are reported as `extra`",
    );
    if state.swarm.as_ref().is_some_and(|s| s.is_active()) {
        b.note(
            "swarm mode is reported active, but Docker 29.0 refuses swarm with firewall-backend nftables (\"--firewall-backend=nftables is incompatible with swarm mode\") unless iptables is disabled: no routing-mesh rules are expected; check the daemon's configuration",
        );
    }
    if state.daemon.no_iptables_raw {
        b.note(
            "DOCKER_INSECURE_NO_IPTABLES_RAW=1 is set, but Docker 29.0's nftables backend ignores it: the raw-PREROUTING drops (DROP DIRECT ACCESS, DROP REMOTE LOOPBACK) are still expected",
        );
    }
    if let Some(m) = &state.daemon.bridge_accept_fwmark
        && fwmark_match(m).is_none()
    {
        b.note(format!(
            "bridge-accept-fwmark {m:?} is not a valid MARK[/MASK] (dockerd 29 refuses to start with it): no ALLOW FW MARK rule is expected"
        ));
    }
    let mut x = Nft {
        out: Vec::new(),
        seen: HashSet::new(),
    };
    for family in families(state) {
        x.table(state, family);
    }
    b.e.nft = x.out;
    b.finish()
}

struct Nft {
    out: Vec<NftExpected>,
    /// (family, chain, canonical rule): Docker keeps one copy of a rule per chain.
    seen: HashSet<(Family, String, String)>,
}

/// Who owns an object, for the report.
#[derive(Clone, Copy)]
struct Own<'a> {
    net: Option<&'a Network>,
}

impl Nft {
    fn push(
        &mut self,
        family: Family,
        chain: &str,
        item: NftItem,
        own: Own<'_>,
        what: String,
        effect: String,
    ) {
        if let NftItem::Rule { rule } = &item
            && !self
                .seen
                .insert((family, chain.to_owned(), canonical(rule)))
        {
            return;
        }
        self.out.push(entry(family, chain, item, own, what, effect));
    }

    fn rule(
        &mut self,
        family: Family,
        chain: &str,
        rule: String,
        own: Own<'_>,
        what: String,
        effect: String,
    ) {
        self.push(family, chain, NftItem::Rule { rule }, own, what, effect);
    }

    fn table(&mut self, state: &DockerState, family: Family) {
        let daemon = Own { net: None };
        let proxy = state.daemon.userland_proxy;
        let broken = "Docker's nftables rules are not hooked in: container networking is broken";
        for (map, _) in MAPS {
            self.push(
                family,
                map,
                NftItem::Map,
                daemon,
                format!("verdict map {map}"),
                broken.into(),
            );
        }
        let base = |t: &str, h: &str, p: &str| {
            Some(BaseChain {
                chain_type: t.into(),
                hook: h.into(),
                priority: p.into(),
            })
        };
        for (chain, b) in [
            (FORWARD, base("filter", "forward", "filter")),
            (OUTPUT, base("nat", "output", "dstnat")),
            (POSTROUTING, base("nat", "postrouting", "srcnat")),
            (PREROUTING, base("nat", "prerouting", "dstnat")),
            (NAT_CHAIN, None),
            (RAW_PREROUTING, base("filter", "prerouting", "raw")),
        ] {
            self.push(
                family,
                chain,
                NftItem::Chain { base: b },
                daemon,
                format!("chain {chain}"),
                broken.into(),
            );
        }
        self.rule(
            family,
            FORWARD,
            "oifname vmap @filter-forward-in-jumps".into(),
            daemon,
            "dispatch forwarded traffic into each bridge's filter-forward-in chain".into(),
            "traffic into Docker networks skips their rules: published ports open to everything, unpublished ones not dropped".into(),
        );
        self.rule(
            family,
            FORWARD,
            "iifname vmap @filter-forward-out-jumps".into(),
            daemon,
            "dispatch forwarded traffic from each bridge into its filter-forward-out chain".into(),
            "traffic from Docker networks skips their rules (internal networks can reach outside)"
                .into(),
        );
        self.rule(
            family,
            POSTROUTING,
            "iifname vmap @nat-postrouting-out-jumps".into(),
            daemon,
            "dispatch traffic leaving each bridge into its nat-postrouting-out chain".into(),
            "containers are not masqueraded: they cannot reach outside the host".into(),
        );
        self.rule(
            family,
            POSTROUTING,
            "oifname vmap @nat-postrouting-in-jumps".into(),
            daemon,
            "dispatch traffic entering each bridge into its nat-postrouting-in chain".into(),
            "host-local and hairpin traffic to published ports is not masqueraded".into(),
        );
        self.rule(
            family,
            PREROUTING,
            format!("fib daddr type local counter jump {NAT_CHAIN}"),
            daemon,
            "send traffic for host addresses to the DNAT chain".into(),
            "published ports unreachable from outside the host".into(),
        );
        let skip_lo = match (proxy, family) {
            (false, _) => String::new(),
            (true, Family::Ipv4) => "ip daddr != 127.0.0.0/8 ".into(),
            (true, Family::Ipv6) => "ip6 daddr != ::1 ".into(),
        };
        self.rule(
            family,
            OUTPUT,
            format!("{skip_lo}fib daddr type local counter jump {NAT_CHAIN}"),
            daemon,
            "send the host's own traffic for host addresses to the DNAT chain".into(),
            if proxy {
                "published ports reached from this host go through docker-proxy only".into()
            } else {
                "published ports time out from this host (localhost:PORT), no userland proxy to fall back on".into()
            },
        );
        for n in &state.networks {
            self.network(state, n, family);
        }
        for c in &state.containers {
            for ep in &c.endpoints {
                if let Some(n) = state.network(&ep.network) {
                    self.endpoint(state, c, ep, n, family);
                }
            }
        }
        if family == Family::Ipv4 {
            self.links(state);
        }
        for c in &state.containers {
            let Some((n, ep)) = state.port_endpoint(c) else {
                continue;
            };
            for pb in bindings(state, c, n, ep) {
                if pb.family() == family {
                    self.port(state, c, n, &pb, family);
                }
            }
        }
    }

    fn network(&mut self, state: &DockerState, n: &Network, family: Family) {
        let Some(subnet) = net_subnet(n, family) else {
            return;
        };
        let own = Own { net: Some(n) };
        let br = n.bridge();
        let fam = nft_family(family);
        let fin = format!("filter-forward-in__{br}");
        let fout = format!("filter-forward-out__{br}");
        let pin = format!("nat-postrouting-in__{br}");
        let pout = format!("nat-postrouting-out__{br}");
        for (map, prefix) in MAPS {
            let chain = format!("{prefix}{br}");
            self.push(
                family,
                &chain,
                NftItem::Chain { base: None },
                own,
                format!("chain {chain}"),
                format!("every rule of {br} in {chain} is gone"),
            );
            self.push(
                family,
                map,
                NftItem::Element {
                    key: br.clone(),
                    verdict: format!("jump {chain}"),
                },
                own,
                format!("{map} entry for {br}"),
                match prefix {
                    "filter-forward-in__" => format!(
                        "traffic into {br} skips its rules: every container port on {br} is open to routed traffic, or dropped by the host's FORWARD policy"
                    ),
                    "filter-forward-out__" => format!(
                        "traffic from {br} skips its rules{}",
                        if n.internal {
                            ": the internal network can reach outside"
                        } else {
                            ""
                        }
                    ),
                    "nat-postrouting-in__" => format!(
                        "host-local and hairpin connections to ports published on {br} are not masqueraded"
                    ),
                    _ => format!("containers on {br} are not masqueraded: they cannot reach outside the host"),
                },
            );
        }
        let ct = "ct state established,related counter accept".to_owned();
        self.rule(
            family,
            &fin,
            ct.clone(),
            own,
            format!("replies into {br}"),
            format!("replies to connections made by containers on {br} are dropped"),
        );
        self.rule(
            family,
            &fout,
            ct,
            own,
            format!("replies from {br}"),
            format!("replies from containers on {br} (to published ports) are dropped"),
        );
        let icc = if n.icc { "accept" } else { "drop" };
        if n.internal || n.gateway_mode(family == Family::Ipv4) == GatewayMode::Isolated {
            self.rule(
                family,
                &fin,
                format!("iifname != \"{br}\" counter drop comment \"INTERNAL NETWORK INGRESS\""),
                own,
                format!("internal network {br}: nothing from outside"),
                format!("internal network {br} reachable from other networks and the outside"),
            );
            self.rule(
                family,
                &fout,
                format!("oifname != \"{br}\" counter drop comment \"INTERNAL NETWORK EGRESS\""),
                own,
                format!("internal network {br}: nothing to outside"),
                format!(
                    "containers on internal network {br} can reach other networks and the outside"
                ),
            );
            self.rule(
                family,
                &fin,
                format!("counter {icc} comment \"ICC\""),
                own,
                format!("inter-container traffic on {br} (icc={})", n.icc),
                icc_effect(n, &br),
            );
            return;
        }
        let gm = n.gateway_mode(family == Family::Ipv4);
        if gm == GatewayMode::Routed {
            let icmp = match family {
                Family::Ipv4 => "ip protocol icmp",
                Family::Ipv6 => "meta l4proto ipv6-icmp",
            };
            self.rule(
                family,
                &fin,
                format!("{icmp} counter accept comment \"ICMP\""),
                own,
                format!("ICMP into routed network {br}"),
                format!("ping and ICMP errors to containers on routed network {br} are dropped"),
            );
        }
        if let Some(m) = state
            .daemon
            .bridge_accept_fwmark
            .as_deref()
            .and_then(fwmark_match)
        {
            self.rule(
                family,
                &fin,
                format!("{m} counter accept comment \"ALLOW FW MARK\""),
                own,
                format!("bridge-accept-fwmark: accept marked packets into {br}"),
                format!(
                    "packets marked {} are dropped on their way into {br} (unpublished ports, other networks)",
                    state.daemon.bridge_accept_fwmark.as_deref().unwrap_or_default()
                ),
            );
        }
        self.rule(
            family,
            &fin,
            format!("iifname \"{br}\" counter {icc} comment \"ICC\""),
            own,
            format!("inter-container traffic on {br} (icc={})", n.icc),
            icc_effect(n, &br),
        );
        // Per-port ACCEPTs land here (group "ports"), before the final rule: see `port`.
        self.rule(
            family,
            &fout,
            "counter accept comment \"OUTGOING\"".into(),
            own,
            format!("outgoing traffic from {br}"),
            format!("containers on {br} cannot reach other networks or outside the host"),
        );
        let host_ip = match family {
            Family::Ipv4 => n.host_ipv4,
            Family::Ipv6 => n.host_ipv6,
        };
        let (verdict, comment) = match host_ip {
            Some(ip) => (format!("snat to {}", unmap_v4(ip)), "SNAT"),
            None => ("masquerade".to_owned(), "MASQUERADE"),
        };
        if n.masquerade && gm != GatewayMode::Routed {
            self.rule(
                family,
                &pout,
                format!("oifname != \"{br}\" {fam} saddr {subnet} counter {verdict} comment \"{comment}\""),
                own,
                format!("source NAT for {br} ({subnet})"),
                format!("containers on {br} cannot reach outside the host (their source address is not translated)"),
            );
        }
        if !state.daemon.userland_proxy {
            self.rule(
                family,
                &pin,
                format!("fib saddr type local counter {verdict} comment \"{comment} FROM HOST\""),
                own,
                format!("masquerade host-local traffic into {br}"),
                format!("ports published on {br} time out from this host (localhost:PORT)"),
            );
        }
        // The final rule comes last in its chain; per-port ACCEPTs are inserted before it.
        let (final_rule, what, effect) = if gm == GatewayMode::NatUnprotected {
            (
                "counter accept comment \"UNPROTECTED\"",
                format!("nat-unprotected {br}: every port open"),
                format!("ports of containers on {br} are closed to routed traffic"),
            )
        } else {
            (
                "counter drop comment \"UNPUBLISHED PORT DROP\"",
                format!("default drop into {br}"),
                format!(
                    "unpublished ports of containers on {br} are reachable from outside (if the host's FORWARD policy accepts)"
                ),
            )
        };
        self.rule(family, &fin, final_rule.into(), own, what, effect);
    }

    fn endpoint(
        &mut self,
        state: &DockerState,
        c: &Container,
        ep: &Endpoint,
        n: &Network,
        family: Family,
    ) {
        let Some(ip) = ip_of(ep, family) else {
            return;
        };
        if net_subnet(n, family).is_none() || n.internal {
            return;
        }
        if n.gateway_mode(family == Family::Ipv4) != GatewayMode::Nat {
            return;
        }
        // `--allow-direct-routing`: the daemon lets routed traffic reach container addresses.
        if state.daemon.allow_direct_routing {
            return;
        }
        let br = n.bridge();
        // Trusted host interfaces count as the bridge itself (a set when there are any).
        let trusted = n.trusted_interfaces();
        let from = if trusted.is_empty() {
            format!("\"{br}\"")
        } else {
            let mut all = vec![format!("\"{br}\"")];
            all.extend(trusted.iter().map(|i| format!("\"{i}\"")));
            format!("{{ {} }}", all.join(", "))
        };
        self.rule(
            family,
            RAW_PREROUTING,
            format!(
                "{} daddr {} iifname != {from} counter drop comment \"DROP DIRECT ACCESS\"",
                nft_family(family),
                unmap_v4(ip)
            ),
            Own { net: Some(n) },
            format!("{} on {}: no direct access from outside {br}", c.name, n.name),
            format!(
                "{} ({}) reachable directly by its address from the host's neighbours, published or not",
                c.name,
                unmap_v4(ip)
            ),
        );
    }

    fn port(
        &mut self,
        state: &DockerState,
        c: &Container,
        n: &Network,
        pb: &Binding,
        family: Family,
    ) {
        if n.internal || net_subnet(n, family).is_none() {
            return;
        }
        let own = Own { net: Some(n) };
        let br = n.bridge();
        let fam = nft_family(family);
        let proto = pb.proto.as_str();
        let cip = unmap_v4(pb.container_ip);
        let gm = n.gateway_mode(family == Family::Ipv4);
        let label = format!(
            "published port {}{}/{proto} -> {}:{}",
            match pb.host_ip {
                Some(h) if !h.is_unspecified() => format!("{}:", host_text(h)),
                _ => String::new(),
            },
            pb.host_port,
            c.name,
            pb.container_port
        );
        if gm != GatewayMode::NatUnprotected {
            self.insert_port_accept(
                family,
                &format!("filter-forward-in__{br}"),
                format!(
                    "{fam} daddr {cip} {proto} dport {} counter accept",
                    pb.container_port
                ),
                own,
                format!("{label}: accept into {br}"),
                format!(
                    "port {} of {} closed: published port {} times out from outside",
                    pb.container_port, c.name, pb.host_port
                ),
            );
        }
        let host_ip = pb.host_ip.map(unmap_v4);
        let same_family = host_ip.is_none_or(|h| h.is_ipv4() == pb.container_ip.is_ipv4());
        if pb.host_port == 0 || !same_family {
            return;
        }
        let mut dnat = String::new();
        if state.daemon.userland_proxy {
            dnat.push_str(&format!("iifname != \"{br}\" "));
        }
        if family == Family::Ipv6 {
            dnat.push_str("ip6 saddr != fe80::/10 ");
        }
        if let Some(h) = host_ip.filter(|h| !h.is_unspecified()) {
            dnat.push_str(&format!("{fam} daddr {h} "));
        }
        let dest = match pb.container_ip {
            IpAddr::V4(a) => format!("{a}:{}", pb.container_port),
            IpAddr::V6(a) => format!("[{a}]:{}", pb.container_port),
        };
        dnat.push_str(&format!(
            "{proto} dport {} counter dnat to {dest} comment \"DNAT\"",
            pb.host_port
        ));
        self.rule(
            family,
            NAT_CHAIN,
            dnat,
            own,
            format!("{label}: DNAT"),
            format!(
                "port {} on the host is not forwarded to {}:{} ({br}){}",
                pb.host_port,
                c.name,
                pb.container_port,
                if state.daemon.userland_proxy {
                    "; only docker-proxy answers, from the host's own addresses"
                } else {
                    ""
                }
            ),
        );
        if !state.daemon.userland_proxy {
            self.rule(
                family,
                &format!("nat-postrouting-in__{br}"),
                format!(
                    "{fam} saddr {cip} {fam} daddr {cip} {proto} dport {} counter masquerade comment \"MASQ TO OWN PORT\"",
                    pb.container_port
                ),
                own,
                format!("{label}: hairpin masquerade"),
                format!(
                    "{} cannot reach its own published port {} through the host",
                    c.name, pb.host_port
                ),
            );
        }
        if let Some(IpAddr::V4(h)) = host_ip
            && h.is_loopback()
        {
            self.rule(
                family,
                RAW_PREROUTING,
                format!(
                    "iifname != \"lo\" ip daddr {h} {proto} dport {} counter drop comment \"DROP REMOTE LOOPBACK\"",
                    pb.host_port
                ),
                own,
                format!("{label}: loopback binding only from lo"),
                format!(
                    "port {} bound to {h} reachable from other hosts",
                    pb.host_port
                ),
            );
        }
    }

    /// Legacy `--link` on the default bridge with icc=false: per exposed port of the linked
    /// (child) container, accept parent -> child to the port and child -> parent from it
    /// (moby nftabler `AddLink`; IPv4 table only, no interface match). They sit after the
    /// fwmark rule and before ICC's drop.
    fn links(&mut self, state: &DockerState) {
        let Some(n) = state.network("bridge") else {
            return;
        };
        if n.icc || n.internal || net_subnet(n, Family::Ipv4).is_none() {
            return;
        }
        let br = n.bridge();
        let fin = format!("filter-forward-in__{br}");
        for Link {
            parent,
            child,
            pip,
            cip,
        } in link_pairs(state, n)
        {
            for ep in child.link_ports() {
                let (proto, port) = (ep.proto.as_str(), ep.port);
                let spec = format!("{port}/{proto}");
                for (rule, what, effect) in [
                    (
                        format!(
                            "ip saddr {pip} ip daddr {cip} {proto} dport {port} counter accept"
                        ),
                        format!("link {} -> {} {spec}", parent.name, child.name),
                        format!(
                            "{} cannot reach linked container {} on {spec} (icc=false on {br})",
                            parent.name, child.name
                        ),
                    ),
                    (
                        format!(
                            "ip saddr {cip} {proto} sport {port} ip daddr {pip} counter accept"
                        ),
                        format!(
                            "link {} -> {} {spec}: from the linked port",
                            parent.name, child.name
                        ),
                        format!(
                            "{} can no longer open connections from {spec} to {} (icc=false on {br}); \
                             replies still pass",
                            child.name, parent.name
                        ),
                    ),
                ] {
                    self.insert_before(
                        Family::Ipv4,
                        &fin,
                        &["comment \"ICC\""],
                        rule,
                        Own { net: Some(n) },
                        what,
                        effect,
                    );
                }
            }
        }
    }

    /// Per-port ACCEPTs sit after ICC and before the chain's final rule (Docker's rule
    /// groups), whatever order networks and containers were created in.
    fn insert_port_accept(
        &mut self,
        family: Family,
        chain: &str,
        rule: String,
        own: Own<'_>,
        what: String,
        effect: String,
    ) {
        self.insert_before(
            family,
            chain,
            &[
                "comment \"UNPUBLISHED PORT DROP\"",
                "comment \"UNPROTECTED\"",
            ],
            rule,
            own,
            what,
            effect,
        );
    }

    /// Insert `rule` just before the first rule of `chain` ending with one of `later` (the
    /// first rule of a later rule group), else at the end; Docker keeps one copy per chain.
    #[allow(clippy::too_many_arguments)]
    fn insert_before(
        &mut self,
        family: Family,
        chain: &str,
        later: &[&str],
        rule: String,
        own: Own<'_>,
        what: String,
        effect: String,
    ) {
        if !self
            .seen
            .insert((family, chain.to_owned(), canonical(&rule)))
        {
            return;
        }
        let is_later = |x: &NftExpected| {
            x.family == family
                && x.chain == chain
                && matches!(&x.item, NftItem::Rule { rule } if later.iter().any(|l| rule.ends_with(l)))
        };
        let at = self.out.iter().position(is_later).unwrap_or(self.out.len());
        self.out.insert(
            at,
            entry(family, chain, NftItem::Rule { rule }, own, what, effect),
        );
    }
}

fn entry(
    family: Family,
    chain: &str,
    item: NftItem,
    own: Own<'_>,
    what: String,
    effect: String,
) -> NftExpected {
    NftExpected {
        family,
        chain: chain.to_owned(),
        item,
        network: own.net.map(|n| n.name.clone()),
        bridge: own.net.map(Network::bridge),
        what,
        effect,
    }
}

/// `--bridge-accept-fwmark MARK[/MASK]` (Go integer syntax, 32 bits) as `nft list` prints
/// the match: `meta mark 0x00000002`, or `meta mark & 0x00000003 == 0x00000002` (an all-ones
/// mask prints as no mask). None: not a valid mark; dockerd refuses it.
pub fn fwmark_match(val: &str) -> Option<String> {
    let (mark, mask) = fwmark(val)?;
    Some(match mask {
        None | Some(u32::MAX) => format!("meta mark 0x{mark:08x}"),
        Some(k) => format!("meta mark & 0x{k:08x} == 0x{mark:08x}"),
    })
}

fn icc_effect(n: &Network, br: &str) -> String {
    if n.icc {
        format!("containers on {br} cannot talk to each other")
    } else {
        format!("containers on {br} can talk to each other although icc=false")
    }
}

fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(a) => format!("[{a}]"),
        v4 => v4.to_string(),
    }
}

/// One port binding as Docker 29 programs it (moby `sortAndNormPBs`): the container address
/// decides the table, the host address (None = unspecified) the DNAT match.
#[derive(Debug, Clone, PartialEq)]
struct Binding {
    container_ip: IpAddr,
    container_port: u16,
    host_ip: Option<IpAddr>,
    host_port: u16,
    proto: Proto,
}

impl Binding {
    fn family(&self) -> Family {
        if self.container_ip.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }
}

/// Docker's bindings for a container's published ports on its gateway network: an IPv4
/// binding for the container's IPv4 address, an IPv6 one for its IPv6 address (or, with the
/// userland proxy, for its IPv4 address when it has none). An unspecified host address
/// (absent in a bundle) stands for both `0.0.0.0` and `::`; routed mode drops the host port.
fn bindings(state: &DockerState, c: &Container, n: &Network, ep: &Endpoint) -> Vec<Binding> {
    let def_host: IpAddr = n
        .host_binding_ipv4
        .or(state.daemon.ip)
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let v4 = ep.ipv4.filter(|_| net_subnet(n, Family::Ipv4).is_some());
    let v6 = ep.ipv6.filter(|_| net_subnet(n, Family::Ipv6).is_some());
    let mut out = Vec::new();
    for p in &c.ports {
        // Routed mode: no host port (moby's routed port mapper clears it), no host address.
        let binding = |cip: IpAddr, host: IpAddr, gm: GatewayMode| {
            let routed = gm == GatewayMode::Routed;
            Binding {
                container_ip: cip,
                container_port: p.container_port,
                host_ip: (!routed).then_some(host),
                host_port: if routed { 0 } else { p.host_port },
                proto: p.proto,
            }
        };
        let explicit = p.host_ip.map(unmap_v4);
        if let Some(cip) = v4
            && explicit.is_none_or(|h| h.is_ipv4())
        {
            let host = explicit.or(Some(def_host).filter(IpAddr::is_ipv4));
            if let Some(host) = host {
                out.push(binding(cip, host, n.gateway_mode_ipv4));
            }
        }
        let cip6 = v6.or(if state.daemon.userland_proxy {
            v4
        } else {
            None
        });
        if let Some(cip) = cip6
            && explicit.is_none_or(|h| h.is_ipv6())
        {
            let host = match explicit {
                Some(h) => Some(h),
                None if def_host.is_unspecified() && def_host.is_ipv4() => {
                    Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
                }
                None if def_host.is_ipv6() => Some(def_host),
                None => None,
            };
            if let Some(host) = host {
                out.push(binding(cip, host, n.gateway_mode_ipv6));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
