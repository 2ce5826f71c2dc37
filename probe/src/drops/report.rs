//! What `nfprobe drops` reports: drop counter rows, the kernel's statistics of the watched
//! interfaces, the optional tc counters, flow samples. JSON field names are part of the output
//! format (schema version in `Summary::version`; 2 since the interface statistics come from
//! the kernel and the tc counters moved to `tc_counters`).

use std::fmt::Write as _;
use std::net::IpAddr;

use probe_common::drops::DropSample;
use serde::Serialize;

use super::hook::{Hook, Path};
use super::ifstats::IfaceStats;
use super::watch::{Role, Target};

/// Drops counted for one (interface, reason, location, route) combination.
#[derive(Debug, Clone, Serialize)]
pub struct DropRow {
    /// The watched interface the drop is attributed to (the route's output device when it is
    /// watched, so FORWARD drops land on the bridge the packet was headed for).
    pub iface: String,
    pub ifindex: u32,
    pub netns: u32,
    pub bridge: Option<String>,
    /// The skb's own device (the input interface for forwarded packets).
    pub in_iface: Option<String>,
    /// Short name from the kernel's `enum skb_drop_reason` (`NETFILTER_DROP`).
    pub reason: String,
    pub reason_code: u32,
    /// `function+0xoff` from kallsyms.
    pub location: String,
    pub function: Option<String>,
    /// Netfilter hook, when the drop was a netfilter verdict.
    pub hook: Option<Hook>,
    pub path: Path,
    /// Whether the watched device matched as the skb's device, its route's, or both.
    pub matched: &'static str,
    pub family: u8,
    pub packets: u64,
    pub bytes: u64,
    /// Packets per second since the previous report (None on the first).
    pub rate: Option<f64>,
}

/// tc counters of one interface (`--tc` only).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IfRow {
    pub iface: String,
    pub ifindex: u32,
    pub bridge: Option<String>,
    pub in_packets: u64,
    pub in_bytes: u64,
    pub out_packets: u64,
    pub out_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SampleStats {
    pub sampled: u64,
    /// Samples not taken because of the per-CPU rate limit.
    pub rate_limited: u64,
    /// Samples lost because the ring buffer was full.
    pub ring_full: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub version: u32,
    pub duration_secs: f64,
    pub netns: Option<String>,
    pub netns_inode: u32,
    /// The tc counters are attached (`--tc`).
    pub tc: bool,
    /// ... through tcx links (else clsact filters); false without `--tc`.
    pub tcx: bool,
    /// Interfaces whose drops are watched.
    pub targets: Vec<Target>,
    pub total_packets: u64,
    pub drops: Vec<DropRow>,
    /// The kernel's statistics of every watched interface and uplink: deltas over the run.
    pub interfaces: Vec<IfaceStats>,
    /// Per-interface tc counters (`--tc` only).
    pub tc_counters: Vec<IfRow>,
    /// Drop events on watched paths seen by the program (equals total_packets unless the
    /// counter map overflowed, see count_map_full).
    pub matched_events: u64,
    pub count_map_full: u64,
    pub samples: SampleStats,
    pub warnings: Vec<String>,
}

/// One sampled dropped packet.
#[derive(Debug, Clone, Serialize)]
pub struct SampleEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    pub iface: String,
    pub in_iface: Option<String>,
    pub bridge: Option<String>,
    pub netns: u32,
    pub reason: String,
    pub reason_code: u32,
    pub location: String,
    pub hook: Option<Hook>,
    pub path: Path,
    pub family: u8,
    pub proto: String,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub sport: u16,
    pub dport: u16,
    /// TCP flags as letters (`S`, `SA`, `R`, ...), empty for other protocols.
    pub tcp_flags: String,
    pub len: u32,
}

impl SampleEvent {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        s: &DropSample,
        iface: String,
        in_iface: Option<String>,
        bridge: Option<String>,
        reason: String,
        location: String,
        hook: Option<Hook>,
        path: Path,
    ) -> Self {
        let (src, dst) = match s.family {
            4 => {
                let a = |b: &[u8; 16]| IpAddr::from([b[0], b[1], b[2], b[3]]);
                (Some(a(&s.saddr)), Some(a(&s.daddr)))
            }
            6 => (Some(IpAddr::from(s.saddr)), Some(IpAddr::from(s.daddr))),
            _ => (None, None),
        };
        let proto = match (s.family, s.proto) {
            (0, _) => "other".to_owned(),
            (_, 6) => "tcp".to_owned(),
            (_, 17) => "udp".to_owned(),
            (_, 1) => "icmp".to_owned(),
            (_, 58) => "icmpv6".to_owned(),
            (_, p) => p.to_string(),
        };
        Self {
            kind: "drop",
            ts_ns: s.ts_ns,
            iface,
            in_iface,
            bridge,
            netns: s.netns,
            reason,
            reason_code: s.reason,
            location,
            hook,
            path,
            family: s.family,
            tcp_flags: if s.proto == 6 {
                tcp_flags(s.tcp_flags)
            } else {
                String::new()
            },
            proto,
            src,
            dst,
            sport: s.sport,
            dport: s.dport,
            len: s.len,
        }
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let flow = match (self.src, self.dst) {
            (Some(s), Some(d)) if matches!(self.proto.as_str(), "tcp" | "udp") => {
                format!("{} {s}:{} > {d}:{}", self.proto, self.sport, self.dport)
            }
            (Some(s), Some(d)) => format!("{} {s} > {d}", self.proto),
            _ => "non-IP".to_owned(),
        };
        let mut out = format!(
            "{:<15} {:<22} {} {}",
            self.iface,
            self.reason,
            self.hook.map(Hook::as_str).unwrap_or(self.path.as_str()),
            flow
        );
        if !self.tcp_flags.is_empty() {
            let _ = write!(out, " [{}]", self.tcp_flags);
        }
        let _ = write!(out, " len {} at {}", self.len, self.location);
        out
    }
}

fn tcp_flags(f: u8) -> String {
    const NAMES: [(u8, char); 8] = [
        (0x01, 'F'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x10, 'A'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'C'),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

impl Summary {
    /// The human view: drops per interface and reason, the interfaces' own counters, what
    /// came in on the uplinks and never left on a bridge, then the tc counters (`--tc`).
    /// `live`: rates per second; otherwise totals over the run.
    pub fn render(&self, live: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "nfprobe drops — {} — {:.0}s — {} interfaces watched{}",
            self.netns.as_deref().unwrap_or("current netns"),
            self.duration_secs,
            self.targets.len(),
            match (self.tc, self.tcx) {
                (false, _) => "",
                (true, true) => " — tc counters (tcx)",
                (true, false) => " — tc counters (clsact)",
            },
        );
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        let _ = writeln!(
            out,
            "\n{:<15} {:<26} {:<12} {:<10} {:>10} {:>9}  {:<28} from",
            "IFACE", "REASON", "HOOK", "PATH", "PACKETS", "PKT/S", "LOCATION"
        );
        if self.drops.is_empty() {
            let _ = writeln!(out, "(no drops on the watched interfaces)");
        }
        for r in &self.drops {
            let _ = writeln!(
                out,
                "{:<15} {:<26} {:<12} {:<10} {:>10} {:>9}  {:<28} {}",
                r.iface,
                r.reason,
                r.hook.map(Hook::as_str).unwrap_or("-"),
                r.path.as_str(),
                r.packets,
                r.rate
                    .map(|x| format!("{x:.1}"))
                    .unwrap_or_else(|| "-".into()),
                r.location,
                r.in_iface.as_deref().unwrap_or("-"),
            );
        }
        self.render_interfaces(&mut out, live);
        self.render_lost(&mut out, live);
        if !self.tc_counters.is_empty() {
            let _ = writeln!(
                out,
                "\ntc counters (--tc)\n{:<15} {:<15} {:>12} {:>14} {:>12} {:>14}",
                "IFACE", "BRIDGE", "IN PKTS", "IN BYTES", "OUT PKTS", "OUT BYTES"
            );
            for i in &self.tc_counters {
                let _ = writeln!(
                    out,
                    "{:<15} {:<15} {:>12} {:>14} {:>12} {:>14}",
                    i.iface,
                    i.bridge.as_deref().unwrap_or("-"),
                    i.in_packets,
                    i.in_bytes,
                    i.out_packets,
                    i.out_bytes
                );
            }
        }
        let _ = writeln!(
            out,
            "\nsamples: {} taken, {} rate-limited, {} lost (ring full); counter map full: {}",
            self.samples.sampled,
            self.samples.rate_limited,
            self.samples.ring_full,
            self.count_map_full
        );
        out
    }

    /// Drops of rows belonging to `bridge` (itself, its ports, its peers) that pass `pick`,
    /// per reason and hook: rates (live) or totals.
    fn dropped(
        &self,
        bridge: &str,
        live: bool,
        pick: impl Fn(&DropRow) -> bool,
    ) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = Vec::new();
        for r in self
            .drops
            .iter()
            .filter(|r| (r.iface == bridge || r.bridge.as_deref() == Some(bridge)) && pick(r))
        {
            let n = if live {
                r.rate.unwrap_or(0.0)
            } else {
                r.packets as f64
            };
            let what = match r.hook {
                Some(h) => format!("{} at {}", r.reason, h.as_str()),
                None => r.reason.clone(),
            };
            match out.iter_mut().find(|(w, _)| *w == what) {
                Some((_, m)) => *m += n,
                None => out.push((what, n)),
            }
        }
        out
    }

    /// Interfaces in display order: uplinks, then each bridge with its ports and peers.
    fn ordered_interfaces(&self) -> Vec<&IfaceStats> {
        let rank = |i: &IfaceStats| match i.role {
            Role::Uplink => 0,
            Role::Bridge => 1,
            Role::Port => 2,
            Role::Peer => 3,
            Role::Named => 4,
        };
        let group = |i: &IfaceStats| match i.role {
            Role::Uplink => None,
            Role::Bridge => Some(i.iface.clone()),
            _ => i.bridge.clone(),
        };
        let mut v: Vec<&IfaceStats> = self.interfaces.iter().collect();
        v.sort_by_key(|i| (rank(i) != 0, group(i), rank(i), i.iface.clone()));
        v
    }

    fn render_interfaces(&self, out: &mut String, live: bool) {
        if self.interfaces.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\nInterfaces (the kernel's own counters; {}). RX: received by the interface, TX: sent \
             by it (on a bridge, TX is what the host routed to its containers; on a port, what went \
             to the container; on a peer, RX is what the container received)",
            if live { "per second" } else { "over the run" }
        );
        let unit = if live { "/S" } else { "" };
        let _ = writeln!(
            out,
            "{:<22} {:<7} {:>12} {:>12} {:>14} {:>14} {:>10} {:>10}",
            "IFACE",
            "ROLE",
            format!("RX PKTS{unit}"),
            format!("TX PKTS{unit}"),
            format!("RX BYTES{unit}"),
            format!("TX BYTES{unit}"),
            format!("RX DROP{unit}"),
            format!("TX DROP{unit}"),
        );
        for i in self.ordered_interfaces() {
            let name = match i.role {
                Role::Port | Role::Peer => format!("  {}", i.iface),
                _ => i.iface.clone(),
            };
            let v = counts(i, live);
            let _ = writeln!(
                out,
                "{:<22} {:<7} {:>12} {:>12} {:>14} {:>14} {:>10} {:>10}",
                name,
                i.role.as_str(),
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[5]
            );
        }
    }

    /// Per bridge: packets in on the uplinks, out on the bridge towards its containers, into
    /// the containers, and the drops attributed to the bridge (its route, port or peers).
    fn render_lost(&self, out: &mut String, live: bool) {
        let uplinks: Vec<&IfaceStats> = self
            .interfaces
            .iter()
            .filter(|i| i.role == Role::Uplink)
            .collect();
        let bridges: Vec<&IfaceStats> = self
            .interfaces
            .iter()
            .filter(|i| i.role == Role::Bridge)
            .collect();
        if uplinks.is_empty() || bridges.is_empty() {
            return;
        }
        let pkts = |v: f64| {
            if live {
                format!("{v:.1}/s")
            } else {
                format!("{v:.0}")
            }
        };
        let get = |i: &IfaceStats, rx: bool| -> f64 {
            if live {
                i.rate
                    .map_or(0.0, |r| if rx { r.rx_packets } else { r.tx_packets })
            } else if rx {
                i.rx_packets as f64
            } else {
                i.tx_packets as f64
            }
        };
        let up_in: f64 = uplinks.iter().map(|u| get(u, true)).sum();
        let up_names: Vec<&str> = uplinks.iter().map(|u| u.iface.as_str()).collect();
        let _ = writeln!(
            out,
            "\nWent in on the uplink, never came out on the bridge ({}; the uplinks also carry \
             the host's own traffic):",
            if live { "per second" } else { "over the run" }
        );
        for b in bridges {
            let to_ctr: f64 = self
                .interfaces
                .iter()
                .filter(|i| i.role == Role::Peer && i.bridge.as_deref() == Some(&b.iface))
                .map(|i| get(i, true))
                .sum();
            // Drops attributed to the bridge itself happened before it (FORWARD, routing,
            // neighbours); those on its ports and peers happened behind it.
            let before = self.dropped(&b.iface, live, |r| r.iface == b.iface);
            let behind = self.dropped(&b.iface, live, |r| r.iface != b.iface);
            let _ = writeln!(
                out,
                "  {:<18} in on {} {} -> out on the bridge {} -> into its containers {}; \
                 dropped before the bridge {}; behind it {}",
                b.iface,
                up_names.join("+"),
                pkts(up_in),
                pkts(get(b, false)),
                pkts(to_ctr),
                show(&before, &pkts),
                show(&behind, &pkts),
            );
        }
    }
}

/// "N (n1 REASON at HOOK, n2 REASON)" of drops grouped by reason and hook.
fn show(dropped: &[(String, f64)], pkts: &dyn Fn(f64) -> String) -> String {
    let total: f64 = dropped.iter().map(|(_, n)| n).sum();
    let why: Vec<String> = dropped
        .iter()
        .filter(|(_, n)| *n > 0.0)
        .map(|(w, n)| format!("{} {w}", pkts(*n)))
        .collect();
    if why.is_empty() {
        pkts(total)
    } else {
        format!("{} ({})", pkts(total), why.join(", "))
    }
}

/// The six counters of an interface as text: rates (live) or totals.
fn counts(i: &IfaceStats, live: bool) -> [String; 6] {
    if live {
        match i.rate {
            Some(r) => [
                r.rx_packets,
                r.tx_packets,
                r.rx_bytes,
                r.tx_bytes,
                r.rx_dropped,
                r.tx_dropped,
            ]
            .map(|x| format!("{x:.1}")),
            None => std::array::from_fn(|_| "-".to_owned()),
        }
    } else {
        [
            i.rx_packets,
            i.tx_packets,
            i.rx_bytes,
            i.tx_bytes,
            i.rx_dropped,
            i.tx_dropped,
        ]
        .map(|x| x.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_flow_line() {
        assert_eq!(tcp_flags(0x12), "SA");
        let mut s = DropSample {
            family: 4,
            proto: 6,
            tcp_flags: 0x02,
            sport: 40000,
            dport: 8082,
            len: 60,
            ..DropSample::default()
        };
        s.saddr[..4].copy_from_slice(&[10, 0, 0, 2]);
        s.daddr[..4].copy_from_slice(&[172, 18, 0, 2]);
        let e = SampleEvent::new(
            &s,
            "br-x".into(),
            Some("eth0".into()),
            None,
            "NETFILTER_DROP".into(),
            "nft_do_chain+0x10".into(),
            Some(Hook::Forward),
            Path::Forward,
        );
        assert_eq!(
            e.line(),
            "br-x            NETFILTER_DROP         FORWARD tcp 10.0.0.2:40000 > 172.18.0.2:8082 [S] len 60 at nft_do_chain+0x10"
        );
    }

    fn iface(name: &str, role: Role, bridge: Option<&str>, rx: u64, tx: u64) -> IfaceStats {
        IfaceStats {
            iface: name.into(),
            ifindex: 1,
            netns: 1,
            role,
            bridge: bridge.map(str::to_owned),
            rx_packets: rx,
            tx_packets: tx,
            rx_bytes: rx * 100,
            tx_bytes: tx * 100,
            rx_dropped: 0,
            tx_dropped: 0,
            rate: None,
            secs: 10.0,
            kernel: crate::kernel::link::LinkStats::default(),
        }
    }

    #[test]
    fn what_went_in_on_the_uplink_and_never_came_out_on_the_bridge() {
        let drop = |iface: &str, reason: &str, hook: Option<Hook>, packets: u64| DropRow {
            iface: iface.into(),
            ifindex: 1,
            netns: 1,
            bridge: Some("br-a".into()),
            in_iface: Some("ext0".into()),
            reason: reason.into(),
            reason_code: 0,
            location: "x+0x1".into(),
            function: None,
            hook,
            path: Path::Forward,
            matched: "route",
            family: 4,
            packets,
            bytes: packets * 60,
            rate: None,
        };
        let s = Summary {
            version: 2,
            duration_secs: 10.0,
            netns: Some("lab".into()),
            netns_inode: 1,
            tc: false,
            tcx: false,
            targets: Vec::new(),
            total_packets: 15,
            drops: vec![
                drop("br-a", "NETFILTER_DROP", Some(Hook::Forward), 12),
                drop("eth0", "NO_SOCKET", None, 3),
            ],
            interfaces: vec![
                iface("eth0", Role::Peer, Some("br-a"), 40, 0),
                iface("br-a", Role::Bridge, None, 0, 40),
                iface("ext0", Role::Uplink, None, 52, 1),
                iface("veth1", Role::Port, Some("br-a"), 0, 40),
            ],
            tc_counters: Vec::new(),
            matched_events: 15,
            count_map_full: 0,
            samples: SampleStats::default(),
            warnings: Vec::new(),
        };
        let text = s.render(false);
        assert!(
            text.contains(
                "br-a               in on ext0 52 -> out on the bridge 40 -> into its containers \
                 40; dropped before the bridge 12 (12 NETFILTER_DROP at FORWARD); behind it 3 \
                 (3 NO_SOCKET)"
            ),
            "{text}"
        );
        // Uplinks first, then each bridge with its port and peer indented under it.
        let (_, table) = text.split_once("Interfaces (").expect("interfaces table");
        let order: Vec<&str> = table
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| ["ext0", "br-a", "veth1", "eth0"].contains(w))
            .take(4)
            .collect();
        assert_eq!(order, ["ext0", "br-a", "veth1", "eth0"], "{text}");
        assert!(!text.contains("tc counters"), "{text}");
        // Live: rates, "-" until there are two reads.
        assert!(s.render(true).contains("RX PKTS/S"));
    }
}
