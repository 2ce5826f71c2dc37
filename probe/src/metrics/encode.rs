//! The exporter's state under one lock, and its encoding: one prometheus-client collector
//! writes every family from [`State`] at scrape time, so a scrape always sees one consistent
//! check (never half of an update), and counters read from the kernel keep their absolute
//! values.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::facts::{
    CheckFacts, CheckStats, DropFacts, Limits, RulesetFacts, STATUSES, status_label,
};

/// Everything the exporter reports.
#[derive(Debug)]
pub struct State {
    /// Label of the watched network namespace (`host`, or the `--netns` argument).
    pub netns: String,
    pub limits: Limits,
    /// The last successful check (kept through failed ones: a failed check says nothing
    /// about the rules).
    pub check: Option<CheckFacts>,
    pub checks: CheckStats,
    pub ruleset: RulesetFacts,
    pub drops: Option<DropFacts>,
    /// Why the drop probe is not running, if it is not.
    pub drop_probe_error: Option<String>,
    /// When each worker last went round its loop (for /healthz).
    pub beats: Vec<(&'static str, Instant)>,
}

impl State {
    pub fn new(netns: String, limits: Limits) -> Self {
        Self {
            netns,
            limits,
            check: None,
            checks: CheckStats::default(),
            ruleset: RulesetFacts::default(),
            drops: None,
            drop_probe_error: None,
            beats: Vec::new(),
        }
    }

    pub fn beat(&mut self, worker: &'static str) {
        let now = Instant::now();
        match self.beats.iter_mut().find(|(w, _)| *w == worker) {
            Some(b) => b.1 = now,
            None => self.beats.push((worker, now)),
        }
    }
}

/// Which text format a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4 (what a plain `curl` and `promtool check metrics` get).
    Prometheus,
    /// OpenMetrics 1.0 (what Prometheus asks for first).
    OpenMetrics,
}

impl Format {
    /// From an `Accept` header.
    pub fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The registry and handles the workers update.
#[derive(Debug, Clone)]
pub struct Exporter {
    state: Arc<Mutex<State>>,
    registry: Arc<Registry>,
    check_duration: Histogram,
}

impl Exporter {
    pub fn new(state: State) -> Self {
        let state = Arc::new(Mutex::new(state));
        let mut registry = Registry::default();
        // 10 ms .. 20 s: a check is one netlink read plus a few iptables runs.
        let check_duration =
            Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 20.0]);
        registry.register_with_unit(
            "nfprobe_check_duration",
            "Time one check took (Docker state, kernel rulesets, iptables claims, audit)",
            Unit::Seconds,
            check_duration.clone(),
        );
        registry.register_collector(Box::new(StateCollector(state.clone())));
        Self {
            state,
            registry: Arc::new(registry),
            check_duration,
        }
    }

    /// The state, to update (a poisoned lock is taken over: the data is plain values).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn observe_check(&self, secs: f64) {
        self.check_duration.observe(secs);
    }

    pub fn render(&self, format: Format) -> Result<String, fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)?
            }
        }
        Ok(out)
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[derive(Debug)]
struct StateCollector(Arc<Mutex<State>>);

/// One family: a descriptor, then one sample per label set.
fn family<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    rows: impl IntoIterator<Item = (L, f64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, unit, kind)?;
    for (labels, v) in rows {
        let mut s = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => s.encode_counter::<NoLabelSet, _, u64>(&v, None)?,
            _ => s.encode_gauge(&v)?,
        }
    }
    Ok(())
}

impl Collector for StateCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let st = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let st = &*st;
        let ns = st.netns.as_str();
        use MetricType::{Counter, Gauge};

        family(
            &mut enc,
            "nfprobe_build_info",
            "Version of the running nfprobe (always 1)",
            None,
            Gauge,
            [([("version", env!("CARGO_PKG_VERSION"))], 1.0)],
        )?;

        // The check.
        if let Some(c) = &st.check {
            family(
                &mut enc,
                "nfprobe_expected_rules",
                "Rules Docker should have, by network, family, table and what the last check found (ok, missing, missing_cli_claims_present, wrong_order, ...); extra and undecodable are rules in Docker's chains nothing expects; network is empty for daemon-wide rules",
                None,
                Gauge,
                c.rules.iter().flat_map(|((net, fam, table), counts)| {
                    STATUSES.iter().zip(counts).map(move |(s, n)| {
                        (
                            [
                                ("netns", ns),
                                ("network", net.as_str()),
                                ("family", *fam),
                                ("table", table.as_str()),
                                ("status", status_label(*s)),
                            ],
                            *n as f64,
                        )
                    })
                }),
            )?;
            family(
                &mut enc,
                "nfprobe_cli_lies",
                "Wrong `-C` answers of an iptables binary in the last check (rules it claims present that the kernel lacks, and failed bug probes); 0 for a binary that told the truth",
                None,
                Gauge,
                c.lies.iter().map(|((bin, ver), n)| {
                    (
                        [
                            ("netns", ns),
                            ("binary", bin.as_str()),
                            ("version", ver.as_str()),
                        ],
                        *n as f64,
                    )
                }),
            )?;
            family(
                &mut enc,
                "nfprobe_host_findings",
                "Host-level findings of the last check (rules in both backends, FORWARD policy, known-bad iptables, ...) by kind and severity",
                None,
                Gauge,
                c.host.iter().map(|((kind, sev), n)| {
                    (
                        [("netns", ns), ("kind", kind.as_str()), ("severity", *sev)],
                        *n as f64,
                    )
                }),
            )?;
        }
        family(
            &mut enc,
            "nfprobe_checks",
            "Checks run, by what started them (start, interval, ruleset_change)",
            None,
            Counter,
            st.checks
                .runs
                .iter()
                .map(|(t, n)| ([("netns", ns), ("trigger", *t)], *n as f64)),
        )?;
        family(
            &mut enc,
            "nfprobe_check_errors",
            "Checks that could not run to the end (the rule series keep the last good check)",
            None,
            Counter,
            [([("netns", ns)], st.checks.errors as f64)],
        )?;
        family(
            &mut enc,
            "nfprobe_last_check_success",
            "1 when the last check ran to the end, 0 when it failed",
            None,
            Gauge,
            [([("netns", ns)], f64::from(u8::from(st.checks.last_success)))],
        )?;
        if let Some(t) = st.checks.last_time {
            family(
                &mut enc,
                "nfprobe_last_check_timestamp",
                "When the last check ended (Unix time)",
                Some(&Unit::Seconds),
                Gauge,
                [([("netns", ns)], t)],
            )?;
        }

        // The ruleset.
        if let Some(g) = st.ruleset.generation {
            family(
                &mut enc,
                "nfprobe_ruleset_generation",
                "nf_tables ruleset generation id (changes with every committed transaction)",
                None,
                Gauge,
                [([("netns", ns)], f64::from(g))],
            )?;
        }
        if let Some(t) = st.ruleset.last_change {
            family(
                &mut enc,
                "nfprobe_ruleset_last_change_timestamp",
                "When a ruleset change was last seen (Unix time; absent until one is seen)",
                Some(&Unit::Seconds),
                Gauge,
                [([("netns", ns)], t)],
            )?;
        }
        family(
            &mut enc,
            "nfprobe_ruleset_changes",
            "Ruleset changes seen: nf_tables transactions (notifications) and legacy xtables table replacements (polled)",
            None,
            Counter,
            ["nf_tables", "xtables"].iter().map(|b| {
                (
                    [("netns", ns), ("backend", *b)],
                    st.ruleset.changes.get(b).copied().unwrap_or(0) as f64,
                )
            }),
        )?;
        family(
            &mut enc,
            "nfprobe_ruleset_notifications_lost",
            "Times the kernel could not queue an nf_tables notification for nfprobe (a check runs anyway)",
            None,
            Counter,
            [([("netns", ns)], st.ruleset.notifications_lost as f64)],
        )?;

        // Drops.
        family(
            &mut enc,
            "nfprobe_drop_probe_up",
            "1 while the kernel drop probe is attached",
            None,
            Gauge,
            [(
                [("netns", ns)],
                f64::from(u8::from(
                    st.drops.is_some() && st.drop_probe_error.is_none(),
                )),
            )],
        )?;
        if let Some(d) = &st.drops {
            family(
                &mut enc,
                "nfprobe_drops",
                "Packets the kernel dropped on watched interfaces, by namespace, interface, its Docker bridge, drop reason (enum skb_drop_reason) and netfilter hook (empty when not a netfilter drop)",
                None,
                Counter,
                d.drops.iter().map(|(k, (p, _))| (k.labels(), *p as f64)),
            )?;
            family(
                &mut enc,
                "nfprobe_dropped",
                "Bytes of the packets counted in nfprobe_drops_total",
                Some(&Unit::Bytes),
                Counter,
                d.drops.iter().map(|(k, (_, b))| (k.labels(), *b as f64)),
            )?;
            family(
                &mut enc,
                "nfprobe_interface_packets",
                "Packets through a watched interface, in or out",
                None,
                Counter,
                d.interfaces.iter().map(|((n, i, dir), (p, _))| {
                    (
                        [
                            ("netns", n.as_str()),
                            ("interface", i.as_str()),
                            ("direction", *dir),
                        ],
                        *p as f64,
                    )
                }),
            )?;
            family(
                &mut enc,
                "nfprobe_interface",
                "Bytes through a watched interface, in or out",
                Some(&Unit::Bytes),
                Counter,
                d.interfaces.iter().map(|((n, i, dir), (_, b))| {
                    (
                        [
                            ("netns", n.as_str()),
                            ("interface", i.as_str()),
                            ("direction", *dir),
                        ],
                        *b as f64,
                    )
                }),
            )?;
            family(
                &mut enc,
                "nfprobe_watched_interfaces",
                "Interfaces the drop probe watches (Docker bridges, their ports, container-side peers)",
                None,
                Gauge,
                [([("netns", ns)], d.watched as f64)],
            )?;
            family(
                &mut enc,
                "nfprobe_drop_events_lost",
                "Drops the probe saw but could not count (its counter map was full)",
                None,
                Counter,
                [([("netns", ns)], d.events_lost as f64)],
            )?;
            family(
                &mut enc,
                "nfprobe_drop_samples_lost",
                "Dropped-flow samples lost because the ring buffer was full",
                None,
                Counter,
                [([("netns", ns)], d.samples_lost as f64)],
            )?;
        }

        // Bounds.
        let folded = st
            .check
            .iter()
            .flat_map(|c| &c.folded)
            .chain(st.drops.iter().flat_map(|d| &d.folded));
        family(
            &mut enc,
            "nfprobe_series_folded",
            "Label sets summed into one `_other` series because a metric reached its label bound",
            None,
            Gauge,
            folded.map(|(m, n)| ([("metric", *m)], *n as f64)),
        )?;
        Ok(())
    }
}
