//! The drop probe's side of the exporter, in one place: which options the always-on session
//! uses, and how its summary becomes bounded counter series.

use crate::drops::Options;
use crate::drops::report::Summary;
use crate::kernel::netns::NetnsSpec;

use super::facts::{DropFacts, DropKey, Limits, OTHER, bounded};

/// The session `serve` keeps attached: the drop tracepoint alone (nothing on the happy path:
/// no tc program), no flow samples (nothing reads them); per-interface packets come from the
/// kernel's own interface statistics. `ifaces`: watch these instead of the Docker bridges.
pub fn session_options(netns: Option<NetnsSpec>, ifaces: Vec<String>) -> Options {
    Options {
        netns,
        ifaces,
        sample_per_sec: 0,
        tc: false,
        force_clsact: false,
    }
}

/// Label for a namespace inode: the watched namespace by the name it was given (`host` for
/// the exporter's own), others as the kernel writes them (`net:[4026532...]`).
fn netns_label(ino: u32, watched_ino: u32, watched: &str) -> String {
    if ino == watched_ino {
        watched.to_owned()
    } else {
        format!("net:[{ino}]")
    }
}

impl DropFacts {
    /// `watched`: the label of the namespace the session watches.
    pub fn from_summary(s: &Summary, watched: &str, limits: &Limits) -> Self {
        let mut f = DropFacts {
            events_lost: s.count_map_full,
            samples_lost: s.samples.ring_full,
            watched: s.targets.len() as u64,
            ..DropFacts::default()
        };
        // Biggest first, so the series that stay past the bound are the ones that matter.
        let mut rows: Vec<_> = s.drops.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.packets));
        let rows = rows.into_iter().map(|r| {
            (
                DropKey {
                    netns: netns_label(r.netns, s.netns_inode, watched),
                    interface: r.iface.clone(),
                    bridge: r.bridge.clone().unwrap_or_default(),
                    reason: r.reason.clone(),
                    hook: r.hook.map(|h| h.as_str().to_owned()).unwrap_or_default(),
                },
                (r.packets, r.bytes),
            )
        });
        let folded = bounded(
            rows,
            limits.drop_series,
            |k| DropKey {
                netns: k.netns.clone(),
                interface: OTHER.into(),
                bridge: OTHER.into(),
                reason: OTHER.into(),
                hook: OTHER.into(),
            },
            &mut f.drops,
        );
        if folded > 0 {
            f.folded.insert("nfprobe_drops", folded);
        }
        // The kernel's absolute counters (IFLA_STATS64): monotonic as Prometheus counters
        // expect, and the same numbers `ip -s link` shows. "in" is what the interface
        // received, "out" what it sent; each in the namespace it lives in.
        let rows = s.interfaces.iter().flat_map(|i| {
            let ns = netns_label(i.netns, s.netns_inode, watched);
            [
                (
                    (ns.clone(), i.iface.clone(), "in"),
                    (i.kernel.rx_packets, i.kernel.rx_bytes),
                ),
                (
                    (ns, i.iface.clone(), "out"),
                    (i.kernel.tx_packets, i.kernel.tx_bytes),
                ),
            ]
        });
        let folded = bounded(
            rows,
            limits.interfaces * 2,
            |k| (k.0.clone(), OTHER.to_owned(), k.2),
            &mut f.interfaces,
        );
        if folded > 0 {
            f.folded.insert("nfprobe_interface_packets", folded);
        }
        f
    }
}

impl DropFacts {
    pub fn total_packets(&self) -> u64 {
        self.drops.values().map(|v| v.0).sum()
    }
}
