//! nf_tables reader: a consistent snapshot of every table, chain, rule (every expression),
//! set (with elements), flowtable and object, in every family, straight from the kernel over
//! nfnetlink. No nft/iptables binary is involved.
//!
//! Entry points: [`read_ruleset`] (everything) and [`read_ruleset_with`] (one family, or the
//! rule-dump strategy for benchmarks). The result is plain typed data ([`NftRuleset`]); turn
//! iptables-nft tables into the canonical model with `crate::ruleset::xlate::iptables_ruleset`,
//! or print nft syntax with `crate::ruleset::nft_text`.

use thiserror::Error;

use crate::kernel::netns::{NetnsError, NetnsSpec, run_in};
use crate::kernel::nfnl::{NfnlError, NlaError};

pub mod chain;
pub mod data;
pub mod expr;
pub mod family;
pub mod flowtable;
pub mod generation;
pub mod object;
pub mod rule;
pub mod set;
mod snapshot;
pub mod table;
pub mod udata;

pub use chain::{Hook, NftChain, NftCounters};
pub use data::{NftData, Verdict};
pub use expr::Expr;
pub use family::NftFamily;
pub use flowtable::NftFlowtable;
pub use object::NftObject;
pub use rule::{NftRule, RuleRef};
pub use set::{NftSet, NftSetElem};
pub use snapshot::{
    BareDumpStats, ChainVisitor, ORDERED_PART, OrderedVisit, RawChainVisitor, RawRules, Turn,
    bare_full_dump, bare_rule_dump, dump_threads,
};
pub use table::NftTable;

pub(crate) use data::{hex, hex_opt};

/// The whole nf_tables ruleset of one network namespace at one generation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NftRuleset {
    /// Generation id (`NFTA_GEN_ID`); unchanged from before to after the snapshot.
    pub genid: u32,
    /// Tables in kernel order (the order `nft list ruleset` prints).
    pub tables: Vec<NftTable>,
}

impl NftRuleset {
    pub fn table(&self, family: NftFamily, name: &str) -> Option<&NftTable> {
        self.tables
            .iter()
            .find(|t| t.family == family && t.name == name)
    }
}

/// How rules are asked for. The kernel resumes a dump by re-walking the rule lists from the
/// start, so one dump per chain (the default) is much cheaper on big rulesets than one per
/// family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleDump {
    #[default]
    PerChain,
    PerFamily,
}

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Only this family (None: all).
    pub family: Option<NftFamily>,
    /// Only tables with this name (None: all).
    pub table: Option<String>,
    pub rule_dump: RuleDump,
    /// Per-chain dumps only: dump the rules of base chains and of the chains this accepts
    /// (`(table, chain)`); the others are listed with no rules. None: every chain. Not used
    /// by [`read_ruleset_ordered`], whose plan says which chains are dumped.
    pub rules_of: Option<fn(&str, &str) -> bool>,
    /// Dump the set elements only of tables this accepts (`(family, table)`); the other
    /// tables' sets are listed with no elements. None: every set's.
    pub elements_of: Option<fn(NftFamily, &str) -> bool>,
}

#[derive(Debug, Error)]
pub enum NftError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error(transparent)]
    Nfnl(#[from] NfnlError),
    #[error("malformed nf_tables {what} message: {source}")]
    Malformed {
        what: &'static str,
        #[source]
        source: NlaError,
    },
    #[error(
        "the nf_tables ruleset kept changing while being read ({attempts} attempts); try again"
    )]
    Unstable { attempts: u32 },
    /// An ordered read ([`read_ruleset_ordered`]) whose caller could not start over.
    #[error("the nf_tables ruleset changed while it was being read; try again")]
    NoRestart,
}

/// Reads the whole ruleset of the namespace (`None`: the current one).
pub fn read_ruleset(ns: Option<&NetnsSpec>) -> Result<NftRuleset, NftError> {
    read_ruleset_with(ns, &ReadOptions::default())
}

/// Reads with options (family/table filter, rule-dump strategy).
pub fn read_ruleset_with(
    ns: Option<&NetnsSpec>,
    opts: &ReadOptions,
) -> Result<NftRuleset, NftError> {
    run_in(ns, || {
        snapshot::read(opts, snapshot::Visit::Decoded(&|_, _, _| {}))
    })?
}

/// Like [`read_ruleset_with`], calling `visit(family, table, chain)` for every chain as soon as
/// its rules are read, so a caller can translate and drop them chain by chain (flat memory on
/// huge rulesets). Big rulesets are dumped by several threads (one socket each), so the
/// visitor may run concurrently for different chains. If the snapshot must restart because
/// the ruleset changed, chains are visited again: the visitor must overwrite, not append.
pub fn read_ruleset_visit(
    ns: Option<&NetnsSpec>,
    opts: &ReadOptions,
    visit: &ChainVisitor<'_>,
) -> Result<NftRuleset, NftError> {
    run_in(ns, || snapshot::read(opts, snapshot::Visit::Decoded(visit)))?
}

/// Like [`read_ruleset_visit`], with each chain's rule messages handed over undecoded
/// (read them with [`RuleRef`] or [`NftRule::decode`]); rules are always dumped chain by
/// chain here, and the snapshot's chains come back without rules.
pub fn read_ruleset_raw(
    ns: Option<&NetnsSpec>,
    opts: &ReadOptions,
    visit: &RawChainVisitor<'_>,
) -> Result<NftRuleset, NftError> {
    run_in(ns, || snapshot::read(opts, snapshot::Visit::Raw(visit)))?
}

/// Like [`read_ruleset_raw`], with the chains to dump and their order chosen by
/// `visit.plan` and each chain visited in that order (see [`OrderedVisit`]), while later
/// chains are being dumped. A changed ruleset restarts the read (the plan is asked again).
pub fn read_ruleset_ordered(
    ns: Option<&NetnsSpec>,
    opts: &ReadOptions,
    visit: &OrderedVisit<'_>,
) -> Result<NftRuleset, NftError> {
    run_in(ns, || snapshot::read(opts, snapshot::Visit::Ordered(visit)))?
}

/// The current generation id, alone (cheap; used to prove reads change nothing).
pub fn read_genid(ns: Option<&NetnsSpec>) -> Result<u32, NftError> {
    run_in(ns, snapshot::genid_only)?
}

#[cfg(test)]
pub(crate) mod fixed_layout_tests;
#[cfg(test)]
pub(crate) mod tests;
