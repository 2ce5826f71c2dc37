//! Per-interface packets and bytes in and out, and the kernel's own rx/tx dropped counters,
//! from the kernel's interface statistics (IFLA_STATS64) of the watched interfaces: nothing
//! runs per packet to get them. Counted from the moment an interface is first read (deltas
//! over the run), with per-second rates between two reads.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::watch::{Role, Target};
use crate::kernel::link::LinkStats;

/// One watched interface's counters.
#[derive(Debug, Clone, Serialize)]
pub struct IfaceStats {
    pub iface: String,
    pub ifindex: u32,
    /// Inode of its network namespace (container-side peers live in their container's).
    pub netns: u32,
    pub role: Role,
    /// The bridge a port or peer belongs to.
    pub bridge: Option<String>,
    /// Since the interface was first read (the start of the run, or when it appeared).
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    /// Per second between the two latest reads (None until there are two).
    pub rate: Option<IfaceRates>,
    /// Seconds the deltas above cover.
    pub secs: f64,
    /// The kernel's absolute counters at the latest read (since the interface was created):
    /// what an exporter publishes as counters.
    #[serde(skip)]
    pub kernel: LinkStats,
}

/// Per-second rates of an interface's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct IfaceRates {
    pub rx_packets: f64,
    pub tx_packets: f64,
    pub rx_bytes: f64,
    pub tx_bytes: f64,
    pub rx_dropped: f64,
    pub tx_dropped: f64,
}

impl IfaceRates {
    fn between(a: &LinkStats, b: &LinkStats, secs: f64) -> Self {
        let d = b.since(a);
        let r = |n: u64| n as f64 / secs;
        Self {
            rx_packets: r(d.rx_packets),
            tx_packets: r(d.tx_packets),
            rx_bytes: r(d.rx_bytes),
            tx_bytes: r(d.tx_bytes),
            rx_dropped: r(d.rx_dropped),
            tx_dropped: r(d.tx_dropped),
        }
    }
}

/// Shortest interval a rate is computed over.
const MIN_RATE_SPAN: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
struct Seen {
    target: Target,
    first: (Instant, LinkStats),
    prev: Option<(Instant, LinkStats)>,
    last: (Instant, LinkStats),
}

/// Readings per interface, keyed by (netns inode, ifindex).
#[derive(Debug, Default)]
pub struct Tracker {
    seen: BTreeMap<(u32, u32), Seen>,
}

impl Tracker {
    /// Record one read of `target`'s counters, taken at `at`. Rates span at least
    /// `MIN_RATE_SPAN`: a read soon after another moves the end of the interval, not its start.
    pub fn record(&mut self, target: &Target, at: Instant, stats: LinkStats) {
        let key = (target.netns, target.ifindex);
        match self.seen.get_mut(&key) {
            Some(s) => {
                s.target = target.clone();
                if at.saturating_duration_since(s.last.0) >= MIN_RATE_SPAN {
                    s.prev = Some(s.last);
                }
                s.last = (at, stats);
            }
            None => {
                self.seen.insert(
                    key,
                    Seen {
                        target: target.clone(),
                        first: (at, stats),
                        prev: None,
                        last: (at, stats),
                    },
                );
            }
        }
    }

    /// Forget interfaces not in `keep` (gone, or no longer watched).
    pub fn retain(&mut self, keep: impl Fn(&(u32, u32)) -> bool) {
        self.seen.retain(|k, _| keep(k));
    }

    /// Every tracked interface: deltas since its first read, rates over the last interval.
    pub fn rows(&self) -> Vec<IfaceStats> {
        self.seen
            .values()
            .map(|s| {
                let d = s.last.1.since(&s.first.1);
                let rate = s.prev.and_then(|(at, prev)| {
                    let secs = s.last.0.duration_since(at).as_secs_f64();
                    (secs > 0.0).then(|| IfaceRates::between(&prev, &s.last.1, secs))
                });
                IfaceStats {
                    iface: s.target.name.clone(),
                    ifindex: s.target.ifindex,
                    netns: s.target.netns,
                    role: s.target.role,
                    bridge: s.target.bridge.clone(),
                    rx_packets: d.rx_packets,
                    tx_packets: d.tx_packets,
                    rx_bytes: d.rx_bytes,
                    tx_bytes: d.tx_bytes,
                    rx_dropped: d.rx_dropped,
                    tx_dropped: d.tx_dropped,
                    rate,
                    secs: s.last.0.duration_since(s.first.0).as_secs_f64(),
                    kernel: s.last.1,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_since_the_first_read_and_rates_over_the_last() {
        let t = Target {
            netns: 7,
            ifindex: 3,
            name: "br-x".into(),
            role: Role::Bridge,
            bridge: None,
            peer: None,
            nets: Vec::new(),
        };
        let st = |rx: u64, txd: u64| LinkStats {
            rx_packets: rx,
            tx_dropped: txd,
            ..LinkStats::default()
        };
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        tr.record(&t, t0, st(100, 5));
        let r = &tr.rows()[0];
        assert_eq!((r.rx_packets, r.tx_dropped, r.rate), (0, 0, None));
        tr.record(&t, t0 + Duration::from_secs(1), st(110, 5));
        tr.record(&t, t0 + Duration::from_secs(3), st(150, 9));
        // Read again right away: the end moves, the start of the rate's interval stays.
        tr.record(&t, t0 + Duration::from_millis(3010), st(150, 9));
        let r = &tr.rows()[0];
        assert_eq!((r.rx_packets, r.tx_dropped), (50, 4));
        let rate = r.rate.unwrap();
        assert!((rate.rx_packets - 40.0 / 2.01).abs() < 1e-9, "{rate:?}");
        assert!((rate.tx_dropped - 4.0 / 2.01).abs() < 1e-9, "{rate:?}");
        assert_eq!(r.kernel.rx_packets, 150);
        tr.retain(|_| false);
        assert!(tr.rows().is_empty());
    }
}
