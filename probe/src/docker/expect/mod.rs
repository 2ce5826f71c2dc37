//! The rules each Docker version installs, one module per rule layout:
//! `v20` (20.10–27.x: per-network rules in FORWARD), `v28` (28.0.x, 28.2+ and 29 with the
//! iptables backend: DOCKER-FORWARD/CT/BRIDGE), `nft29` (29 with `firewall-backend: nftables`).
//! `common` holds the per-network and per-port rule builders the iptables layouts share (and
//! legacy links), `swarm` the routing mesh's DOCKER-INGRESS rules.
//!
//! Each expected rule is kept as Docker's own argument list (what it passes to `iptables -C`,
//! so `claims` can ask exactly Docker's question) and turned into a canonical `Rule` through
//! `ruleset::parse` for the comparison with the kernel. Rules are listed in the order Docker
//! programs them; `order` holds the pairs whose relative order decides behaviour.

mod common;
pub mod nft29;
pub mod swarm;
pub mod v20;
pub mod v28;

use serde::{Deserialize, Serialize};

use super::state::{Cidr, DockerState};
use crate::ruleset::{Family, Rule};

pub use common::to_rule;

/// A rule layout: which generation of Docker's firewall code produced the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// 20.10 – 27.x: per-network rules directly in filter FORWARD.
    V20,
    /// 28.0.x: DOCKER-FORWARD, DOCKER-CT, DOCKER-BRIDGE; raw drops per published port.
    V28_0,
    /// 28.2.x: raw direct-access drop per endpoint instead of per port.
    V28_2,
    /// 28.3 – 28.x: as 28.2 without the DOCKER-USER RETURN rule.
    V28_3,
    /// 29.x iptables backend: DOCKER-INTERNAL replaces the isolation chains.
    V29,
    /// 29.x `firewall-backend: nftables`: the `docker-bridges` tables.
    V29Nft,
}

impl Layout {
    /// The layout of an engine version; unknown versions get the newest iptables layout
    /// below 29 the kernel evidence supports (the caller may override with `--layout`).
    pub fn for_version(version: Option<(u32, u32)>, nftables: bool) -> Option<Layout> {
        let (major, minor) = version?;
        Some(match (major, minor) {
            (m, _) if m >= 29 && nftables => Layout::V29Nft,
            (m, _) if m >= 29 => Layout::V29,
            (28, 0..=1) => Layout::V28_0,
            (28, 2) => Layout::V28_2,
            (28, _) => Layout::V28_3,
            _ => Layout::V20,
        })
    }

    pub fn parse(s: &str) -> Option<Layout> {
        Some(match s {
            "20" | "v20" | "27" => Layout::V20,
            "28.0" | "v28_0" => Layout::V28_0,
            "28.2" | "v28_2" => Layout::V28_2,
            "28.3" | "v28_3" | "28" => Layout::V28_3,
            "29" | "v29" => Layout::V29,
            "29-nft" | "v29_nft" => Layout::V29Nft,
            _ => return None,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            Layout::V20 => "Docker 20.10–27.x (rules in FORWARD)",
            Layout::V28_0 => "Docker 28.0.x (DOCKER-FORWARD/CT/BRIDGE)",
            Layout::V28_2 => "Docker 28.2.x",
            Layout::V28_3 => "Docker 28.3+",
            Layout::V29 => "Docker 29 (iptables backend)",
            Layout::V29Nft => "Docker 29 (nftables backend)",
        }
    }
}

/// How Docker adds the rule; decides where it lands and how to restore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Insert,
    Append,
}

/// One rule Docker should have installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    pub family: Family,
    pub table: String,
    pub chain: String,
    /// Docker's argument list after the chain name.
    pub args: Vec<String>,
    pub op: Op,
    /// Network the rule belongs to (None: daemon-wide).
    pub network: Option<String>,
    /// Bridge of that network (for the report).
    pub bridge: Option<String>,
    /// What the rule is for, e.g. `published port 8080/tcp -> c1:80`.
    pub what: String,
    /// What the user sees when it is missing.
    pub effect: String,
}

impl Expected {
    /// The rule as `-A CHAIN args...` (Docker's spelling, not iptables-save's).
    pub fn spec(&self) -> String {
        let mut s = format!("-A {}", self.chain);
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// `first` must come before `then` in the same chain, or behaviour changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub first: usize,
    pub then: usize,
    /// What goes wrong when `then` comes first, said of the rule `blame` names.
    pub why: String,
    /// Which of the two the finding is about (and which a repair moves).
    #[serde(default)]
    pub blame: Blame,
}

/// The rule out of place when an [`Order`] is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Blame {
    /// `first` sits too low (e.g. a port's ACCEPT below the network's DROP).
    #[default]
    First,
    /// `then` sits too high (e.g. an ACCEPT above the DOCKER-USER or isolation jump: it
    /// bypasses them).
    Then,
}

/// A chain Docker creates (its absence explains many missing rules at once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSpec {
    pub family: Family,
    pub table: String,
    pub chain: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    pub layout: Layout,
    pub chains: Vec<ChainSpec>,
    pub rules: Vec<Expected>,
    pub order: Vec<Order>,
    /// nftables backend: tables/chains that must exist.
    pub nft: Vec<nft29::NftExpected>,
    /// What the expectation could not check (reported, never guessed).
    pub notes: Vec<String>,
    /// Options whose rules nfprobe does not model: kernel rules they explain are `unknown`,
    /// named by the option, never `extra`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmodelled: Vec<Unmodelled>,
    /// Index-aligned with `rules`: the rule's place in its chain once Docker has programmed
    /// everything (0 = first), from replaying Docker's Inserts, Appends and jump re-inserts.
    /// Where a repair puts a rule back.
    #[serde(default)]
    pub rank: Vec<usize>,
}

impl Expectation {
    /// The rank of rule `i` in its chain (see [`Expectation::rank`]).
    pub fn rank_of(&self, i: usize) -> usize {
        self.rank.get(i).copied().unwrap_or(i)
    }
}

/// A network or daemon option whose rules nfprobe cannot predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmodelled {
    /// The option as users write it, e.g. `gateway_mode_ipv4=nat-unprotected`.
    pub option: String,
    /// The network using it (None: the daemon).
    pub network: Option<String>,
    /// Family whose rules it changes (None: both).
    pub family: Option<Family>,
    /// Interface names that mark a kernel rule as this option's (the network's bridge, or an
    /// interface only the option uses).
    pub interfaces: Vec<String>,
    /// Addresses that mark a kernel rule as this option's (the network's subnets).
    pub subnets: Vec<Cidr>,
    /// Chains whose unexplained rules are this option's.
    #[serde(default)]
    pub chains: Vec<String>,
    /// Why nfprobe does not model it.
    pub why: String,
    /// Said only when a kernel rule shows it (rule shapes of an environment nfprobe cannot
    /// see otherwise, such as WSL2's loopback0).
    pub only_if_seen: bool,
}

/// Every rule `state` implies under `layout`.
pub fn expect(state: &DockerState, layout: Layout) -> Expectation {
    match layout {
        Layout::V20 => v20::expect(state),
        Layout::V28_0 | Layout::V28_2 | Layout::V28_3 | Layout::V29 => v28::expect(state, layout),
        Layout::V29Nft => nft29::expect(state),
    }
}

/// The parsed form of every expected rule (index-aligned with `rules`).
pub fn canonical(e: &Expectation) -> Vec<Result<Rule, String>> {
    e.rules
        .iter()
        .map(|r| to_rule(r.family, &r.args).map_err(|err| err.to_string()))
        .collect()
}

#[cfg(test)]
mod golden_sweep;
#[cfg(test)]
mod settings_tests;
#[cfg(test)]
pub(crate) mod tests;
