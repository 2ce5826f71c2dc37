//! What the exporter knows, as plain data: the last check's counts, the ruleset's change
//! history, the drop counters and the exporter's own bookkeeping. Built from the library's
//! results ([`CheckFacts::from_audit`]; drops in `drops.rs`), encoded at scrape time by
//! `encode.rs`. Every label set is bounded here (see [`Limits`]).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::audit::{Audit, Severity, Status};
use crate::ruleset::Family;

/// Label value standing for "everything past the bound" (see [`Limits`]).
pub const OTHER: &str = "_other";

/// Bounds on label values. Past a bound the remaining values (in label order) are summed into
/// one series whose bounded label is [`OTHER`], and `nfprobe_series_folded{metric}` says how
/// many label sets were folded, so totals stay right and the series count stays fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Docker networks in `nfprobe_expected_rules` (each network adds at most
    /// families × tables × 8 statuses series).
    pub networks: usize,
    /// (netns, interface, reason, hook) series of `nfprobe_drops` / `nfprobe_dropped_bytes`.
    pub drop_series: usize,
    /// (netns, interface) pairs of the interface counters.
    pub interfaces: usize,
    /// iptables binaries in `nfprobe_cli_lies`.
    pub binaries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            networks: 64,
            drop_series: 1000,
            interfaces: 512,
            binaries: 16,
        }
    }
}

/// Every finding status, as label values (the `check --json` spellings).
pub const STATUSES: [Status; 8] = [
    Status::Ok,
    Status::Missing,
    Status::MissingCliClaimsPresent,
    Status::PresentCliClaimsMissing,
    Status::WrongOrder,
    Status::Undecodable,
    Status::Extra,
    Status::Unknown,
];

pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Missing => "missing",
        Status::MissingCliClaimsPresent => "missing_cli_claims_present",
        Status::PresentCliClaimsMissing => "present_cli_claims_missing",
        Status::WrongOrder => "wrong_order",
        Status::Undecodable => "undecodable",
        Status::Extra => "extra",
        Status::Unknown => "unknown",
    }
}

pub fn family_label(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    }
}

/// (network, family, table) of a rule series. Rules of no network (daemon-wide rules,
/// extras) have network "".
pub type RuleKey = (String, &'static str, String);

/// The counts one check produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckFacts {
    /// Per (network, family, table): how many rules have each status (index as [`STATUSES`]).
    pub rules: BTreeMap<RuleKey, [u64; 8]>,
    /// Wrong `-C` answers per (binary, version): expected rules the binary misjudged plus
    /// bug probes it answered wrongly.
    pub lies: BTreeMap<(String, String), u64>,
    /// Host findings per (kind, severity).
    pub host: BTreeMap<(String, &'static str), u64>,
    /// Label sets folded into [`OTHER`], by metric name.
    pub folded: BTreeMap<&'static str, u64>,
}

impl CheckFacts {
    pub fn from_audit(a: &Audit, limits: &Limits) -> Self {
        let mut f = CheckFacts::default();
        let mut rules: BTreeMap<RuleKey, [u64; 8]> = BTreeMap::new();
        for x in &a.findings {
            let key = (
                x.network.clone().unwrap_or_default(),
                family_label(x.family),
                x.table.clone(),
            );
            let i = STATUSES.iter().position(|s| *s == x.status).unwrap_or(0);
            rules.entry(key).or_default()[i] += 1;
        }
        // Networks past the bound: their counts go to network="_other".
        let networks: Vec<&String> = {
            let mut v: Vec<&String> = rules
                .keys()
                .map(|k| &k.0)
                .filter(|n| !n.is_empty())
                .collect();
            v.dedup();
            v
        };
        let keep: std::collections::BTreeSet<String> = networks
            .iter()
            .take(limits.networks)
            .map(|s| (*s).clone())
            .collect();
        let mut folded = 0;
        for (k, counts) in rules {
            let key = if k.0.is_empty() || keep.contains(&k.0) {
                k
            } else {
                folded += 1;
                (OTHER.to_owned(), k.1, k.2)
            };
            let e = f.rules.entry(key).or_default();
            for (a, b) in e.iter_mut().zip(counts) {
                *a += b;
            }
        }
        if folded > 0 {
            f.folded.insert("nfprobe_expected_rules", folded);
        }

        // Lies: by the binary's path and `-V` text; every binary asked has a series (0 when
        // it told the truth), so an alert sees the lie appear and go.
        let mut lies: BTreeMap<(String, String), u64> = BTreeMap::new();
        for b in &a.binaries {
            let key = (
                b.path.display().to_string(),
                b.version.clone().unwrap_or_default(),
            );
            let n = a
                .findings
                .iter()
                .flat_map(|x| &x.claims)
                .filter(|c| c.lie && c.binary == key.0)
                .count() as u64;
            *lies.entry(key).or_default() += n;
        }
        // Probe lies are host findings naming the binary; count those whose binary told the
        // truth about every expected rule (the rules are intact but the bug is there).
        for h in a.host.iter().filter(|h| h.kind == "iptables_cli_lies") {
            for ((path, _), n) in lies.iter_mut() {
                if *n == 0 && h.message.starts_with(path.as_str()) {
                    *n = 1;
                }
            }
        }
        let mut folded = 0;
        for (i, (k, n)) in lies.into_iter().enumerate() {
            if i < limits.binaries {
                f.lies.insert(k, n);
            } else {
                folded += 1;
                *f.lies
                    .entry((OTHER.to_owned(), OTHER.to_owned()))
                    .or_default() += n;
            }
        }
        if folded > 0 {
            f.folded.insert("nfprobe_cli_lies", folded);
        }

        for h in &a.host {
            let sev = match h.severity {
                Severity::Problem => "problem",
                Severity::Info => "info",
            };
            *f.host.entry((h.kind.clone(), sev)).or_default() += 1;
        }
        f
    }

    /// Rules with a "missing" status, all networks.
    pub fn missing(&self) -> u64 {
        self.rules.values().map(|c| c[1] + c[2]).sum()
    }
}

/// The ruleset's change history as seen by the subscriber and the legacy poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulesetFacts {
    /// nf_tables generation id (from NEWGEN, or read at start).
    pub generation: Option<u32>,
    /// Unix time of the last change seen (None until one is seen).
    pub last_change: Option<f64>,
    /// Changes seen, by backend label ("nf_tables", "xtables").
    pub changes: BTreeMap<&'static str, u64>,
    /// Times the kernel could not queue a notification for us.
    pub notifications_lost: u64,
}

/// Drop counters by label set, already bounded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DropFacts {
    /// (netns, interface, bridge, reason, hook) → (packets, bytes).
    pub drops: BTreeMap<DropKey, (u64, u64)>,
    /// (netns, interface, direction) → (packets, bytes).
    pub interfaces: BTreeMap<(String, String, &'static str), (u64, u64)>,
    /// Drop events the probe saw but could not count (its counter map was full).
    pub events_lost: u64,
    /// Flow samples lost because the ring buffer was full.
    pub samples_lost: u64,
    /// Interfaces watched now.
    pub watched: u64,
    pub folded: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DropKey {
    pub netns: String,
    pub interface: String,
    pub bridge: String,
    pub reason: String,
    pub hook: String,
}

impl DropKey {
    /// The series labels, in the order every drop family uses.
    pub fn labels(&self) -> [(&'static str, &str); 5] {
        [
            ("netns", self.netns.as_str()),
            ("interface", self.interface.as_str()),
            ("bridge", self.bridge.as_str()),
            ("reason", self.reason.as_str()),
            ("hook", self.hook.as_str()),
        ]
    }
}

/// Sums `rows` into their first `limit` distinct keys (in the order given); every later key
/// is summed into `other(key)`. So at most `limit` + the number of distinct `other` keys
/// series. Returns how many rows were folded.
pub fn bounded<K: Ord, V: Sum>(
    rows: impl IntoIterator<Item = (K, V)>,
    limit: usize,
    other: impl Fn(&K) -> K,
    out: &mut BTreeMap<K, V>,
) -> u64 {
    let mut kept = 0;
    let mut folded = 0;
    for (k, v) in rows {
        match out.entry(k) {
            Entry::Occupied(mut e) => e.get_mut().add(v),
            Entry::Vacant(e) if kept < limit => {
                kept += 1;
                e.insert(v);
            }
            Entry::Vacant(e) => {
                folded += 1;
                let o = other(e.key());
                out.entry(o).or_default().add(v);
            }
        }
    }
    folded
}

/// Values [`bounded`] can sum.
pub trait Sum: Default {
    fn add(&mut self, other: Self);
}

impl Sum for u64 {
    fn add(&mut self, other: Self) {
        *self = self.saturating_add(other);
    }
}

impl Sum for (u64, u64) {
    fn add(&mut self, other: Self) {
        self.0 = self.0.saturating_add(other.0);
        self.1 = self.1.saturating_add(other.1);
    }
}

/// Exporter bookkeeping about checks.
#[derive(Debug, Clone, Default)]
pub struct CheckStats {
    /// Checks run, by trigger ("start", "interval", "ruleset_change").
    pub runs: BTreeMap<&'static str, u64>,
    pub errors: u64,
    pub last_success: bool,
    /// Unix time the last check ended.
    pub last_time: Option<f64>,
    /// Last error, for /healthz and the log.
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_folds_past_the_limit_and_keeps_totals() {
        let rows = (0..10u32).map(|i| (format!("if{i:02}"), 1u64));
        let mut out = BTreeMap::new();
        let folded = bounded(rows, 4, |_| OTHER.to_owned(), &mut out);
        assert_eq!(folded, 6);
        assert_eq!(out.len(), 5, "{out:?}");
        assert_eq!(out[OTHER], 6);
        assert_eq!(out["if03"], 1);
        assert!(!out.contains_key("if04"));
        assert_eq!(out.values().sum::<u64>(), 10);
    }
}
