//! Docker 28.0.1's iptables rules for the lab's layout (nat gateway mode, icc on, masquerade on,
//! userland-proxy off, IPv4), produced by REPLAYING Docker's check-then-act call sequence
//! (shared/reference/docker-firewall.md a.6) against an in-memory ruleset. With
//! [`Compare::Exact`] that yields the healthy ruleset (the worked examples b.1/b.2/b.4);
//! with [`Compare::Iptables1811`] every `-C`/`-D` uses the 1.8.11 comparison (interface names
//! blanked, section f), which yields exactly what Docker ends up with on the buggy iptables.
//!
//! Rule text is canonical `iptables-save` form (what iptables 1.8.9 prints), so the lab's
//! expectations can be compared line by line with `iptables-save` of the lab.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Raw,
    Nat,
    Filter,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Raw => "raw",
            Table::Nat => "nat",
            Table::Filter => "filter",
        }
    }
    /// Built-in chains, in iptables-save order.
    fn builtin(self) -> &'static [&'static str] {
        match self {
            Table::Raw => &["PREROUTING", "OUTPUT"],
            Table::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            Table::Filter => &["INPUT", "FORWARD", "OUTPUT"],
        }
    }
}

/// Which Docker rule family a rule belongs to (names follow the reference's a.5 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// filter FORWARD `-j DOCKER-USER`
    ForwardToUser,
    /// filter FORWARD `-j DOCKER-FORWARD`
    ForwardToDockerForward,
    /// filter DOCKER-FORWARD `-j DOCKER-CT` / `-j DOCKER-ISOLATION-STAGE-1` / `-j DOCKER-BRIDGE`
    DockerForwardJump,
    /// filter DOCKER-USER `-j RETURN`
    UserReturn,
    /// nat PREROUTING / OUTPUT `-m addrtype --dst-type LOCAL -j DOCKER`
    NatJump,
    /// nat POSTROUTING `-s SUBNET ! -o BR -j MASQUERADE`
    SubnetMasquerade,
    /// nat POSTROUTING `-o BR -m addrtype --src-type LOCAL -j MASQUERADE` (proxy off)
    HairpinMasquerade,
    /// filter DOCKER-FORWARD `-i BR -j ACCEPT` (icc on)
    OutgoingAccept,
    /// filter DOCKER `! -i BR -o BR -j DROP`
    DefaultDrop,
    /// filter DOCKER-CT `-o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`
    CtAccept,
    /// filter DOCKER-BRIDGE `-o BR -j DOCKER`
    BridgeJump,
    /// filter DOCKER-ISOLATION-STAGE-1 `-i BR ! -o BR -j DOCKER-ISOLATION-STAGE-2`
    Isolation1,
    /// filter DOCKER-ISOLATION-STAGE-2 `-o BR -j DROP`
    Isolation2Drop,
    /// raw PREROUTING `-d CIP/32 ! -i BR -p P -m P --dport CPORT -j DROP`
    DirectAccessDrop,
    /// nat DOCKER `-p P -m P --dport HPORT -j DNAT --to-destination CIP:CPORT`
    Dnat,
    /// nat POSTROUTING `-s CIP/32 -d CIP/32 -p P -m P --dport CPORT -j MASQUERADE`
    PortHairpinMasquerade,
    /// filter DOCKER `-d CIP/32 ! -i BR -o BR -p P -m P --dport CPORT -j ACCEPT`
    PortAccept,
}

impl RuleKind {
    pub const ALL: [RuleKind; 17] = [
        RuleKind::ForwardToUser,
        RuleKind::ForwardToDockerForward,
        RuleKind::DockerForwardJump,
        RuleKind::UserReturn,
        RuleKind::NatJump,
        RuleKind::SubnetMasquerade,
        RuleKind::HairpinMasquerade,
        RuleKind::OutgoingAccept,
        RuleKind::DefaultDrop,
        RuleKind::CtAccept,
        RuleKind::BridgeJump,
        RuleKind::Isolation1,
        RuleKind::Isolation2Drop,
        RuleKind::DirectAccessDrop,
        RuleKind::Dnat,
        RuleKind::PortHairpinMasquerade,
        RuleKind::PortAccept,
    ];

    /// Kebab-case name, as used on the command line (`--faults delete:ct-accept@1`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One rule, with where it lives and what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub table: Table,
    pub chain: String,
    /// Canonical iptables-save words after `-A CHAIN `.
    pub spec: String,
    pub kind: RuleKind,
    /// Index of the network (creation order) the rule belongs to, if any.
    pub network: Option<usize>,
}

impl Rule {
    /// `-A CHAIN SPEC`, as in iptables-save.
    pub fn save_line(&self) -> String {
        format!("-A {} {}", self.chain, self.spec)
    }
    fn same_place(&self, other: &Rule) -> bool {
        self.table == other.table && self.chain == other.chain
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "-t {} -A {} {}",
            self.table.name(),
            self.chain,
            self.spec
        )
    }
}

/// A chain and its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    pub table: Table,
    pub name: String,
    /// Built-in chains: "ACCEPT"/"DROP"; user chains: None.
    pub policy: Option<String>,
    pub rules: Vec<Rule>,
}

/// A whole IPv4 ruleset (raw, nat, filter).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ruleset {
    pub chains: Vec<Chain>,
}

impl Ruleset {
    fn new(forward_policy: &str) -> Self {
        let mut rs = Ruleset::default();
        for t in [Table::Raw, Table::Nat, Table::Filter] {
            for c in t.builtin() {
                let policy = if t == Table::Filter && *c == "FORWARD" {
                    forward_policy
                } else {
                    "ACCEPT"
                };
                rs.chains.push(Chain {
                    table: t,
                    name: (*c).to_owned(),
                    policy: Some(policy.to_owned()),
                    rules: Vec::new(),
                });
            }
        }
        rs
    }

    fn chain_mut(&mut self, t: Table, name: &str) -> &mut Chain {
        let pos = match self
            .chains
            .iter()
            .position(|c| c.table == t && c.name == name)
        {
            Some(p) => p,
            None => {
                self.chains.push(Chain {
                    table: t,
                    name: name.to_owned(),
                    policy: None,
                    rules: Vec::new(),
                });
                self.chains.len() - 1
            }
        };
        &mut self.chains[pos]
    }

    /// Every rule, chain by chain.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.chains.iter().flat_map(|c| c.rules.iter())
    }

    /// Remove the rules for which `pred` is true; returns them.
    pub fn remove_where(&mut self, pred: impl Fn(&Rule) -> bool) -> Vec<Rule> {
        let mut out = Vec::new();
        for c in &mut self.chains {
            let (gone, keep): (Vec<Rule>, Vec<Rule>) = c.rules.drain(..).partition(|r| pred(r));
            c.rules = keep;
            out.extend(gone);
        }
        out
    }

    pub fn set_policy(&mut self, t: Table, chain: &str, policy: &str) {
        self.chain_mut(t, chain).policy = Some(policy.to_owned());
    }

    /// iptables-restore input for every table that has a chain. Built-in chains first (in
    /// iptables-save order), then user chains in name order, as iptables-save prints them.
    pub fn restore_text(&self) -> String {
        let mut s = String::new();
        for t in [Table::Raw, Table::Nat, Table::Filter] {
            let mut chains: Vec<&Chain> = self.chains.iter().filter(|c| c.table == t).collect();
            if t == Table::Raw && chains.iter().all(|c| c.rules.is_empty()) {
                continue;
            }
            chains.sort_by_key(|c| {
                (
                    c.policy.is_none(),
                    t.builtin().iter().position(|b| *b == c.name),
                    c.name.clone(),
                )
            });
            s += &format!("*{}\n", t.name());
            for c in &chains {
                s += &format!(":{} {} [0:0]\n", c.name, c.policy.as_deref().unwrap_or("-"));
            }
            for c in &chains {
                for r in &c.rules {
                    s += &r.save_line();
                    s.push('\n');
                }
            }
            s += "COMMIT\n";
        }
        s
    }

    /// Rules of `self` that are not in `other` (same table, chain and text).
    pub fn missing_from(&self, other: &Ruleset) -> Vec<Rule> {
        self.rules()
            .filter(|r| !other.rules().any(|o| o.same_place(r) && o.spec == r.spec))
            .cloned()
            .collect()
    }
}

/// How `iptables -C` / `-D RULE` compare rules during the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// A correct iptables.
    Exact,
    /// iptables-nft 1.8.11: interface names ignored by `-C` and by `-D RULE`.
    Iptables1811,
    /// As `Iptables1811` for `-C` before `-A`/`-I` (skipped rules), but `-D` deletes only the
    /// exact rule: isolates the "skipped" half of the bug from the "wrong rule deleted" half.
    Iptables1811SkipsOnly,
}

/// The rule with `-i NAME`/`-o NAME` blanked, `!` kept: the 1.8.11 comparison key.
pub fn blank_interfaces(spec: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut words = spec.split_whitespace();
    while let Some(w) = words.next() {
        if w == "-i" || w == "-o" {
            let _name = words.next();
            if out.last().is_some_and(|l| l == "!") {
                out.pop();
                out.push(format!("!{w}"));
            }
            continue;
        }
        out.push(w.to_owned());
    }
    out.join(" ")
}

/// One check-then-act call of Docker's (reference a.6), independent of what `-C` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `-n -L CHAIN`, then `-N CHAIN` if absent.
    NewChain { table: Table, chain: String },
    /// `Rule.Append()`: `-C RULE`; `-A RULE` unless it "exists".
    Append(Rule),
    /// `Rule.Insert()`: `-C RULE`; `-I CHAIN RULE` (at the top) unless it "exists".
    Insert(Rule),
    /// `Rule.Delete()`: `-C RULE`; `-D RULE` if it "exists".
    Delete(Rule),
    /// `EnsureJumpRule`: `-C`, `-D` if it "exists", then always `-I`.
    EnsureJump(Rule),
}

impl Op {
    /// iptables arguments `-t TABLE <cmd> CHAIN SPEC...` for `cmd` on this op's rule.
    pub fn args(rule: &Rule, cmd: &str) -> Vec<String> {
        let mut v = vec![
            "-t".to_owned(),
            rule.table.name().to_owned(),
            cmd.to_owned(),
            rule.chain.clone(),
        ];
        v.extend(rule.spec.split_whitespace().map(str::to_owned));
        v
    }
}

/// The replay: Docker's calls against the in-memory ruleset (and the list of calls made).
struct Replay {
    rs: Ruleset,
    compare: Compare,
    ops: Vec<Op>,
}

impl Replay {
    fn find(&self, r: &Rule, for_delete: bool) -> Option<usize> {
        let loose = match self.compare {
            Compare::Exact => false,
            Compare::Iptables1811 => true,
            Compare::Iptables1811SkipsOnly => !for_delete,
        };
        let c = self
            .rs
            .chains
            .iter()
            .find(|c| c.table == r.table && c.name == r.chain)?;
        let key = blank_interfaces(&r.spec);
        c.rules.iter().position(|x| {
            if loose {
                blank_interfaces(&x.spec) == key
            } else {
                x.spec == r.spec
            }
        })
    }
    /// `Rule.Append()`: `-C`, then `-A` unless it "exists".
    fn append(&mut self, r: Rule) {
        self.ops.push(Op::Append(r.clone()));
        if self.find(&r, false).is_none() {
            self.rs.chain_mut(r.table, &r.chain.clone()).rules.push(r);
        }
    }
    /// `Rule.Insert()`: `-C`, then `-I` (at the top) unless it "exists".
    fn insert(&mut self, r: Rule) {
        self.ops.push(Op::Insert(r.clone()));
        if self.find(&r, false).is_none() {
            self.rs
                .chain_mut(r.table, &r.chain.clone())
                .rules
                .insert(0, r);
        }
    }
    /// `Rule.Delete()`: `-C`, then `-D RULE`, which removes the first rule that compares equal.
    fn delete(&mut self, r: Rule) {
        self.ops.push(Op::Delete(r.clone()));
        self.do_delete(&r);
    }
    fn do_delete(&mut self, r: &Rule) {
        if self.find(r, false).is_some()
            && let Some(i) = self.find(r, true)
        {
            self.rs.chain_mut(r.table, &r.chain.clone()).rules.remove(i);
        }
    }
    /// `EnsureJumpRule(from, to)`: delete the jump if present, then always `-I`.
    fn ensure_jump(&mut self, r: Rule) {
        self.ops.push(Op::EnsureJump(r.clone()));
        self.do_delete(&r);
        self.rs
            .chain_mut(r.table, &r.chain.clone())
            .rules
            .insert(0, r);
    }
    fn new_chain(&mut self, t: Table, name: &str) {
        self.ops.push(Op::NewChain {
            table: t,
            chain: name.to_owned(),
        });
        self.rs.chain_mut(t, name);
    }
}

fn rule(table: Table, chain: &str, spec: String, kind: RuleKind, network: Option<usize>) -> Rule {
    Rule {
        table,
        chain: chain.to_owned(),
        spec,
        kind,
        network,
    }
}

pub use crate::fakehost::{NetSpec, PortSpec};

/// Replay Docker 28.0.1 starting with an empty ruleset: driver init, controller, every network
/// in order, then every published port in order. `forward_policy` is FORWARD's policy (Docker
/// sets DROP when it enabled ip_forward itself).
pub fn docker_28_0_1(
    nets: &[NetSpec],
    ports: &[PortSpec],
    compare: Compare,
    forward_policy: &str,
) -> Ruleset {
    replay_28_0_1(nets, ports, compare, forward_policy).0
}

/// The calls Docker 28.0.1 makes for this layout, in order (to replay them against a real or
/// wrapped iptables).
pub fn docker_28_0_1_calls(nets: &[NetSpec], ports: &[PortSpec]) -> Vec<Op> {
    replay_28_0_1(nets, ports, Compare::Exact, "ACCEPT").1
}

fn replay_28_0_1(
    nets: &[NetSpec],
    ports: &[PortSpec],
    compare: Compare,
    forward_policy: &str,
) -> (Ruleset, Vec<Op>) {
    use RuleKind::*;
    use Table::*;
    let mut r = Replay {
        rs: Ruleset::new(forward_policy),
        compare,
        ops: Vec::new(),
    };
    // 1. Driver init: chains, nat jumps (proxy off: no `! -d 127.0.0.0/8`), the DOCKER-FORWARD
    // jumps via EnsureJumpRule (each inserted at the top).
    r.new_chain(Nat, "DOCKER");
    for c in [
        "DOCKER",
        "DOCKER-FORWARD",
        "DOCKER-BRIDGE",
        "DOCKER-CT",
        "DOCKER-ISOLATION-STAGE-1",
        "DOCKER-ISOLATION-STAGE-2",
    ] {
        r.new_chain(Filter, c);
    }
    let j = "-m addrtype --dst-type LOCAL -j DOCKER".to_owned();
    r.append(rule(Nat, "PREROUTING", j.clone(), NatJump, None));
    r.append(rule(Nat, "OUTPUT", j, NatJump, None));
    r.ensure_jump(rule(
        Filter,
        "FORWARD",
        "-j DOCKER-FORWARD".into(),
        ForwardToDockerForward,
        None,
    ));
    for to in ["DOCKER-BRIDGE", "DOCKER-ISOLATION-STAGE-1", "DOCKER-CT"] {
        r.ensure_jump(rule(
            Filter,
            "DOCKER-FORWARD",
            format!("-j {to}"),
            DockerForwardJump,
            None,
        ));
    }
    // 2. Controller: DOCKER-USER, its RETURN, and the FORWARD jump kept first.
    r.new_chain(Filter, "DOCKER-USER");
    r.append(rule(
        Filter,
        "DOCKER-USER",
        "-j RETURN".into(),
        UserReturn,
        None,
    ));
    r.ensure_jump(rule(
        Filter,
        "FORWARD",
        "-j DOCKER-USER".into(),
        ForwardToUser,
        None,
    ));
    // 3. Per network (setupNonInternalNetworkRules), nat mode, icc on, masquerade on, proxy off.
    for (i, n) in nets.iter().enumerate() {
        let br = &n.bridge;
        let net = Some(i);
        r.insert(rule(
            Nat,
            "POSTROUTING",
            format!("-s {} ! -o {br} -j MASQUERADE", n.subnet),
            SubnetMasquerade,
            net,
        ));
        // skip-DNAT RETURN: only with the proxy on; with it off Docker deletes it (-C + -D).
        r.delete(rule(Nat, "DOCKER", format!("-i {br} -j RETURN"), Dnat, net));
        r.insert(rule(
            Nat,
            "POSTROUTING",
            format!("-o {br} -m addrtype --src-type LOCAL -j MASQUERADE"),
            HairpinMasquerade,
            net,
        ));
        // setIcc(icc=true): delete the ACCEPT and DROP variants, in DOCKER-FORWARD and FORWARD.
        for chain in ["DOCKER-FORWARD", "FORWARD"] {
            for verdict in ["ACCEPT", "DROP"] {
                r.delete(rule(
                    Filter,
                    chain,
                    format!("-i {br} -o {br} -j {verdict}"),
                    OutgoingAccept,
                    net,
                ));
            }
        }
        r.delete(rule(
            Filter,
            "FORWARD",
            format!("-i {br} ! -o {br} -j ACCEPT"),
            OutgoingAccept,
            net,
        ));
        r.append(rule(
            Filter,
            "DOCKER-FORWARD",
            format!("-i {br} -j ACCEPT"),
            OutgoingAccept,
            net,
        ));
        r.delete(rule(
            Filter,
            "FORWARD",
            format!("-i {br} -j ACCEPT"),
            OutgoingAccept,
            net,
        ));
        // deleteLegacyFilterRules (27.x leftovers in FORWARD).
        r.delete(rule(
            Filter,
            "FORWARD",
            format!("-o {br} -j DOCKER"),
            BridgeJump,
            net,
        ));
        r.delete(rule(
            Filter,
            "FORWARD",
            format!("-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            CtAccept,
            net,
        ));
        r.append(rule(
            Filter,
            "DOCKER",
            format!("! -i {br} -o {br} -j DROP"),
            DefaultDrop,
            net,
        ));
        r.append(rule(
            Filter,
            "DOCKER-CT",
            format!("-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            CtAccept,
            net,
        ));
        r.append(rule(
            Filter,
            "DOCKER-BRIDGE",
            format!("-o {br} -j DOCKER"),
            BridgeJump,
            net,
        ));
        r.append(rule(
            Filter,
            "DOCKER-ISOLATION-STAGE-1",
            format!("-i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"),
            Isolation1,
            net,
        ));
        r.insert(rule(
            Filter,
            "DOCKER-ISOLATION-STAGE-2",
            format!("-o {br} -j DROP"),
            Isolation2Drop,
            net,
        ));
    }
    // 5. Per published port (setPerPortIptables), host IP 0.0.0.0, nat mode, proxy off.
    for p in ports {
        let br = &nets[p.network].bridge;
        let net = Some(p.network);
        let (cip, cport, hport, proto) = (p.container_ip, p.container_port, p.host_port, p.proto);
        r.append(rule(
            Raw,
            "PREROUTING",
            format!("-d {cip}/32 ! -i {br} -p {proto} -m {proto} --dport {cport} -j DROP"),
            DirectAccessDrop,
            net,
        ));
        r.append(rule(
            Nat,
            "DOCKER",
            format!("-p {proto} -m {proto} --dport {hport} -j DNAT --to-destination {cip}:{cport}"),
            Dnat,
            net,
        ));
        r.append(rule(
            Nat,
            "POSTROUTING",
            format!("-s {cip}/32 -d {cip}/32 -p {proto} -m {proto} --dport {cport} -j MASQUERADE"),
            PortHairpinMasquerade,
            net,
        ));
        r.insert(rule(
            Filter,
            "DOCKER",
            format!(
                "-d {cip}/32 ! -i {br} -o {br} -p {proto} -m {proto} --dport {cport} -j ACCEPT"
            ),
            PortAccept,
            net,
        ));
    }
    (r.rs, r.ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Proto;

    fn two() -> (Vec<NetSpec>, Vec<PortSpec>) {
        let nets = vec![
            NetSpec {
                bridge: "br-aaaaaaaaaaaa".into(),
                subnet: "172.18.0.0/16".parse().unwrap(),
            },
            NetSpec {
                bridge: "br-bbbbbbbbbbbb".into(),
                subnet: "172.19.0.0/16".parse().unwrap(),
            },
        ];
        let ports = vec![
            PortSpec {
                network: 0,
                container_ip: "172.18.0.2".parse().unwrap(),
                host_port: 8000,
                container_port: 80,
                proto: Proto::Tcp,
            },
            PortSpec {
                network: 1,
                container_ip: "172.19.0.2".parse().unwrap(),
                host_port: 8010,
                container_port: 80,
                proto: Proto::Tcp,
            },
        ];
        (nets, ports)
    }

    #[test]
    fn blanking_keeps_inversions() {
        assert_eq!(blank_interfaces("! -i br-a -o br-a -j DROP"), "!-i -j DROP");
        assert_eq!(blank_interfaces("-i docker0 -j ACCEPT"), "-j ACCEPT");
        assert_eq!(blank_interfaces("-o x -j ACCEPT"), "-j ACCEPT");
    }

    #[test]
    fn healthy_single_network_matches_worked_example_b4() {
        let (nets, ports) = two();
        let rs = docker_28_0_1(&nets[..1], &ports[..1], Compare::Exact, "DROP");
        let text = rs.restore_text();
        let b = "br-aaaaaaaaaaaa";
        for line in [
            "-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-FORWARD\n".to_string(),
            format!("-A DOCKER -d 172.18.0.2/32 ! -i {b} -o {b} -p tcp -m tcp --dport 80 -j ACCEPT\n-A DOCKER ! -i {b} -o {b} -j DROP\n"),
            "-A DOCKER-FORWARD -j DOCKER-CT\n-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1\n-A DOCKER-FORWARD -j DOCKER-BRIDGE\n".to_string(),
            format!("-A DOCKER-FORWARD -i {b} -j ACCEPT\n"),
            format!("-A POSTROUTING -o {b} -m addrtype --src-type LOCAL -j MASQUERADE\n-A POSTROUTING -s 172.18.0.0/16 ! -o {b} -j MASQUERADE\n-A POSTROUTING -s 172.18.0.2/32 -d 172.18.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE\n"),
            "-A DOCKER -p tcp -m tcp --dport 8000 -j DNAT --to-destination 172.18.0.2:80\n".to_string(),
            format!("-A PREROUTING -d 172.18.0.2/32 ! -i {b} -p tcp -m tcp --dport 80 -j DROP\n"),
            "-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER\n".to_string(),
            ":FORWARD DROP [0:0]\n".to_string(),
        ] {
            assert!(text.contains(&line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn the_bug_loses_exactly_the_a5_rules_for_two_networks() {
        let (nets, ports) = two();
        let good = docker_28_0_1(&nets, &ports, Compare::Exact, "DROP");
        let bad = docker_28_0_1(&nets, &ports, Compare::Iptables1811, "DROP");
        let mut lost: Vec<String> = good
            .missing_from(&bad)
            .iter()
            .map(|r| r.to_string())
            .collect();
        lost.sort();
        let a = "br-aaaaaaaaaaaa";
        let b = "br-bbbbbbbbbbbb";
        let mut want = vec![
            format!("-t filter -A DOCKER ! -i {b} -o {b} -j DROP"),
            format!("-t filter -A DOCKER-BRIDGE -o {b} -j DOCKER"),
            format!(
                "-t filter -A DOCKER-CT -o {b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            ),
            format!("-t filter -A DOCKER-FORWARD -i {a} -j ACCEPT"),
            format!(
                "-t filter -A DOCKER-ISOLATION-STAGE-1 -i {b} ! -o {b} -j DOCKER-ISOLATION-STAGE-2"
            ),
            format!("-t filter -A DOCKER-ISOLATION-STAGE-2 -o {b} -j DROP"),
            format!("-t nat -A POSTROUTING -o {b} -m addrtype --src-type LOCAL -j MASQUERADE"),
        ];
        want.sort();
        assert_eq!(lost, want);
        // Nothing appears that a healthy Docker would not have.
        assert!(bad.missing_from(&good).is_empty());
        // Skips-only keeps network 0's outgoing ACCEPT.
        let skips = docker_28_0_1(&nets, &ports, Compare::Iptables1811SkipsOnly, "DROP");
        let lost2 = good.missing_from(&skips);
        assert_eq!(lost2.len(), 7);
        assert!(lost2.iter().all(|r| r.network == Some(1)));
    }
}
