//! The canonical firewall model shared by every witness: the kernel (nf_tables via `xlate`,
//! legacy xtables via `xlate::legacy`), Docker's intent (`docker::expect` via `parse`) and the CLI.
//!
//! A rule is modelled the way iptables-save thinks of it: an IP header part (`-s -d -i -o -p -f`),
//! an ordered list of matches, and one target. Match and target bodies are kept as the exact
//! words iptables-save 1.8.9 prints after `-m NAME` / `-j NAME`; every extension decoder and
//! parser in `ext/` produces those words through a typed struct, so two rules compare equal
//! exactly when iptables-save would print them identically (semantic, not textual: option
//! order, implicit `-m tcp`, masks and value spellings are normalised on the way in).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Address family of an iptables table (`iptables` vs `ip6tables`); the kernel layer's type.
pub use crate::kernel::family::Family;

/// Which kernel subsystem holds a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// nf_tables (what `iptables-nft` writes).
    Nft,
    /// legacy ip_tables / ip6_tables (what `iptables-legacy` writes).
    Legacy,
}

/// People's words: "nf_tables", "legacy xtables".
impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Nft => "nf_tables",
            Backend::Legacy => "legacy xtables",
        })
    }
}

/// One family of one backend: what `iptables-save` (or `ip6tables-save`) prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ruleset {
    pub backend: Backend,
    pub family: Family,
    /// nf_tables generation id the snapshot was taken at (None for legacy).
    pub genid: Option<u32>,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// Chains in the order iptables-save prints them (built-ins first in hook order, then user
    /// chains as the kernel lists them).
    pub chains: Vec<Chain>,
}

impl Table {
    /// How many of its rules could not be fully decoded.
    pub fn undecoded_rules(&self) -> usize {
        self.chains
            .iter()
            .flat_map(|c| &c.rules)
            .filter(|r| !r.is_decoded())
            .count()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    pub name: String,
    /// Built-in (base) chain: has a policy and counters in `:NAME POLICY [p:b]`.
    pub builtin: bool,
    pub policy: Option<Policy>,
    pub counters: Option<Counters>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Policy {
    Accept,
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// `-s`/`-d`: address and mask (the mask may be non-CIDR, e.g. 255.0.255.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrMatch {
    pub addr: IpAddr,
    pub mask: IpAddr,
    pub invert: bool,
}

/// `-i`/`-o`: interface name; `wildcard` is the trailing `+` (prefix match).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IfaceMatch {
    pub name: String,
    pub wildcard: bool,
    pub invert: bool,
}

/// `-p`: protocol number (0 never appears: no `-p` means any protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProtoMatch {
    pub proto: u8,
    pub invert: bool,
}

/// The fixed IP-header part of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct IpHeader {
    pub src: Option<AddrMatch>,
    pub dst: Option<AddrMatch>,
    pub in_iface: Option<IfaceMatch>,
    pub out_iface: Option<IfaceMatch>,
    pub proto: Option<ProtoMatch>,
    /// IPv4 `-f` (Some(invert)).
    pub fragment: Option<bool>,
}

/// Body of a match or target extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtBody {
    /// Exactly the words iptables-save 1.8.9 prints after `-m NAME` / `-j NAME`, already quoted
    /// where iptables-save quotes (e.g. `--comment "a b"`).
    Decoded(Vec<String>),
    /// A blob no decoder understood (unknown extension, revision or malformed size): kept
    /// byte for byte so nothing is silently dropped. A rule holding one is undecodable.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Match {
    pub name: String,
    /// Revision of the kernel blob (0 when parsed from CLI text; not part of equality).
    pub revision: u8,
    pub body: ExtBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Queue,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// No `-j` (the rule only counts).
    #[default]
    None,
    Verdict(Verdict),
    /// `-j CHAIN`
    Jump(String),
    /// `-g CHAIN`
    Goto(String),
    /// `-j NAME [options]` for an extension target (MASQUERADE, DNAT, REJECT, ...).
    Ext {
        name: String,
        revision: u8,
        body: ExtBody,
    },
}

/// A part of a kernel rule that could not be turned into iptables terms (an nf_tables
/// expression sequence iptables-nft never emits, a truncated xtables entry, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Undecoded {
    /// What it was, e.g. `expr "fib"` or `xt entry at offset 312`.
    pub what: String,
    /// Why it could not be decoded.
    pub reason: String,
    /// The raw bytes, for the JSON report.
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Rule {
    pub ip: IpHeader,
    pub matches: Vec<Match>,
    pub target: Target,
    /// Per-rule packet/byte counters (not part of equality).
    pub counters: Option<Counters>,
    /// nf_tables rule handle (not part of equality).
    pub handle: Option<u64>,
    /// Anything that could not be decoded. Non-empty means the rule is undecodable and must
    /// never be reported as "missing" nor as equal to anything.
    pub undecoded: Vec<Undecoded>,
}

impl Rule {
    /// True when every part of the rule was decoded.
    pub fn is_decoded(&self) -> bool {
        self.undecoded.is_empty()
            && self
                .matches
                .iter()
                .all(|m| matches!(m.body, ExtBody::Decoded(_)))
            && !matches!(
                self.target,
                Target::Ext {
                    body: ExtBody::Raw(_),
                    ..
                }
            )
    }

    /// The 1.8.11 `iptables -C` comparison key: the rule with interface *names* blanked but
    /// the `!` flags kept (and `-i` vs `-o` vs absent folded together, as the bug does).
    pub fn key_ignoring_iface_names(&self) -> Rule {
        let mut r = self.clone();
        let blank = |i: &Option<IfaceMatch>| IfaceMatch {
            name: String::new(),
            wildcard: false,
            invert: i.as_ref().is_some_and(|i| i.invert),
        };
        r.ip.in_iface = Some(blank(&self.ip.in_iface));
        r.ip.out_iface = Some(blank(&self.ip.out_iface));
        r
    }
}

/// Semantic equality: header, matches (name + body, not revision), target. Counters, handles
/// and revisions are ignored; undecodable rules equal nothing, not even themselves.
impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        if !self.is_decoded() || !other.is_decoded() {
            return false;
        }
        self.ip == other.ip
            && self.matches.len() == other.matches.len()
            && self
                .matches
                .iter()
                .zip(&other.matches)
                .all(|(a, b)| a.name == b.name && a.body == b.body)
            && target_eq(&self.target, &other.target)
    }
}

fn target_eq(a: &Target, b: &Target) -> bool {
    match (a, b) {
        (
            Target::Ext {
                name: n1, body: b1, ..
            },
            Target::Ext {
                name: n2, body: b2, ..
            },
        ) => n1 == n2 && b1 == b2,
        _ => a == b,
    }
}
