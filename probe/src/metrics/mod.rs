//! The Prometheus exporter behind `nfprobe serve`: the facts the check, the ruleset watch and
//! the drop probe produce ([`facts`]), encoded at scrape time through the prometheus-client
//! crate ([`encode`]), served over HTTP by tiny_http ([`server`]).
//!
//! Metric names follow Prometheus conventions: a `nfprobe_` prefix, base units in the name
//! (`_seconds`, `_bytes`), counters ending in `_total`. Label values are bounded
//! ([`facts::Limits`]); docs/serve.md lists every series.

pub mod checker;
pub mod drops;
pub mod encode;
pub mod facts;
pub mod server;
pub mod watch;

pub use encode::{Exporter, Format, State};
pub use facts::{CheckFacts, DropFacts, Limits, RulesetFacts};

#[cfg(test)]
mod tests;
