//! What `nfprobe drops` reports: counter rows, per-interface tc counters, flow samples.
//! JSON field names are part of the output format (schema version in `Summary::version`).

use std::fmt::Write as _;
use std::net::IpAddr;

use probe_common::drops::DropSample;
use serde::Serialize;

use super::hook::{Hook, Path};
use super::watch::Target;

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

/// tc counters of one interface ("went in, never came out").
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
    pub tcx: bool,
    pub targets: Vec<Target>,
    pub total_packets: u64,
    pub drops: Vec<DropRow>,
    pub interfaces: Vec<IfRow>,
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
    /// The human view: drops per interface and reason, then the tc counters.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "nfprobe drops — {} — {:.0}s — {} interfaces watched ({})",
            self.netns.as_deref().unwrap_or("current netns"),
            self.duration_secs,
            self.targets.len(),
            if self.tcx { "tcx" } else { "clsact" },
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
        if !self.interfaces.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<15} {:<15} {:>12} {:>14} {:>12} {:>14}",
                "IFACE", "BRIDGE", "IN PKTS", "IN BYTES", "OUT PKTS", "OUT BYTES"
            );
            for i in &self.interfaces {
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
}
