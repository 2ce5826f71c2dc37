//! The evidence of one attempt and the verdict it supports.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::counters::Moved;
use super::plan::{Planned, VantageKind};
use crate::audit::{Audit, Finding, Status};
use crate::kernel::conntrack::{self, Entry, IPS_DST_NAT, IPS_SRC_NAT};
use crate::kernel::tcp::{ConnectResult, Segments};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Refused,
    Reset,
    TimeoutExplained,
    TimeoutUnexplained,
    BlockedAsIntended,
    OpenNotIntended,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Refused => "refused",
            Verdict::Reset => "reset",
            Verdict::TimeoutExplained => "timeout_explained",
            Verdict::TimeoutUnexplained => "timeout_unexplained",
            Verdict::BlockedAsIntended => "blocked_as_intended",
            Verdict::OpenNotIntended => "open_not_intended",
        }
    }
    /// Whether the attempt went as Docker means it to.
    pub fn is_ok(self) -> bool {
        matches!(self, Verdict::Ok | Verdict::BlockedAsIntended)
    }
}

/// Kernel drops of the attempt's packets with the same cause, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropSeen {
    /// `enum skb_drop_reason` name without its prefix, e.g. NETFILTER_DROP.
    pub reason: String,
    /// Netfilter hook when the drop was a netfilter verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// Kernel function that freed the packets.
    pub function: String,
    /// The device the packet was headed for (route's output device), else its own device.
    pub iface: String,
    /// The device the packet came in on (or was on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_iface: Option<String>,
    /// forward, local-in, local-out, unrouted, route-error.
    pub path: String,
    /// The packet as the kernel had it: `tcp SRC:PORT > DST:PORT [FLAGS]` (after any NAT).
    pub packet: String,
    pub count: u32,
}

impl DropSeen {
    pub fn line(&self) -> String {
        let at = match &self.hook {
            Some(h) => format!("at {h} ({})", self.function),
            None => format!("in {}", self.function),
        };
        let dev = match &self.in_iface {
            Some(i) if *i != self.iface => format!("in on {i} towards {}", self.iface),
            _ => format!("on {}", self.iface),
        };
        format!(
            "{} × {} {at}, {dev}: {}",
            self.count, self.reason, self.packet
        )
    }
}

/// The conntrack entry of the attempt, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConntrackSeen {
    pub original: String,
    pub reply: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_state: Option<String>,
    /// "dnat", "snat".
    pub nat: Vec<String>,
    pub confirmed: bool,
}

impl ConntrackSeen {
    pub fn of(e: &Entry) -> Self {
        let t = |t: &conntrack::Tuple| format!("{}:{} > {}:{}", t.src, t.sport, t.dst, t.dport);
        let mut nat = Vec::new();
        if e.status & IPS_DST_NAT != 0 {
            nat.push("dnat".to_owned());
        }
        if e.status & IPS_SRC_NAT != 0 {
            nat.push("snat".to_owned());
        }
        ConntrackSeen {
            original: t(&e.orig),
            reply: t(&e.reply),
            tcp_state: e.tcp_state.map(|s| conntrack::tcp_state_name(s).to_owned()),
            nat,
            confirmed: e.confirmed(),
        }
    }
    pub fn line(&self) -> String {
        let nat = if self.nat.is_empty() {
            "no NAT".to_owned()
        } else {
            self.nat.join("+").to_uppercase()
        };
        format!(
            "{} (reply {}), {nat}, {}",
            self.original,
            self.reply,
            self.tcp_state.as_deref().unwrap_or("-")
        )
    }
}

/// A `check` finding that bears on the attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingSeen {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    pub table: String,
    pub chain: String,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Binaries whose `-C` says this missing rule is present (the CLI claim).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cli_says_present: Vec<String>,
}

impl FindingSeen {
    fn of(f: &Finding) -> Self {
        FindingSeen {
            status: f.status,
            network: f.network.clone(),
            table: f.table.clone(),
            chain: f.chain.clone(),
            rule: f.rule.clone(),
            effect: f.effect.clone(),
            fix: f.fix.clone(),
            cli_says_present: f
                .claims
                .iter()
                .filter(|c| c.lie && c.answer.says_present())
                .map(|c| match &c.version {
                    Some(v) => format!("{} ({v})", c.binary),
                    None => c.binary.clone(),
                })
                .collect(),
        }
    }
}

/// Everything seen about one attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub drops: Vec<DropSeen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<ConntrackSeen>,
    /// Rules and chain policies whose packet counters moved during the attempt.
    pub counters: Vec<Moved>,
    /// Why the counter deltas cannot be pinned on this attempt alone, when they cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters_ambiguous: Option<String>,
    /// `check` findings of this port's network whose effect matches this path.
    pub findings: Vec<FindingSeen>,
    /// The chain of evidence in people's words.
    pub explanation: Vec<String>,
}

/// The loopback MASQUERADE Docker installs per bridge for `127.0.0.1:PORT` with the proxy off.
fn is_loopback_masquerade(f: &Finding) -> bool {
    f.table == "nat" && f.rule.contains("MASQUERADE") && f.rule.contains("LOCAL")
}

/// Problem findings that bear on a connection from `kind` to the port's network: locally
/// generated connections never cross FORWARD (only nat matters to them), and only loopback
/// sources need the loopback MASQUERADE.
pub fn relevant_findings(audit: &Audit, p: &Planned) -> Vec<FindingSeen> {
    let Some(port) = &p.port else {
        return Vec::new();
    };
    let ip = port.container_ip.map(|i| i.to_string());
    audit
        .findings
        .iter()
        .filter(|f| f.status.is_problem() && f.status != Status::Extra)
        .filter(|f| {
            f.network.as_deref() == Some(port.network.as_str())
                // The isolation path: the source network's lost rules matter as much.
                || (f.network.is_some() && f.network == p.from.network)
                || f.bridge.as_deref() == Some(port.bridge.as_str())
                || ip.as_deref().is_some_and(|ip| f.rule.contains(ip))
        })
        .filter(|f| match p.from.kind {
            VantageKind::Outside | VantageKind::Container => !is_loopback_masquerade(f),
            VantageKind::HostLoopback => f.table == "nat",
            VantageKind::HostAddress => f.table == "nat" && !is_loopback_masquerade(f),
        })
        .map(FindingSeen::of)
        .collect()
}

/// Counters cannot be pinned on the attempt when some moved by more packets than the attempt
/// made, or the ruleset changed meanwhile.
/// The attempt's packets are those its socket sent and received plus those of its flow the
/// kernel dropped on the way (the socket never saw them); no counter can take more.
pub fn ambiguity(
    moved: &[Moved],
    segs: Option<Segments>,
    dropped: u64,
    genid_changed: bool,
) -> Option<String> {
    if genid_changed {
        return Some("the ruleset changed during the attempt (nf_tables generation moved)".into());
    }
    let segs = segs?;
    let bound = u64::from(segs.out) + u64::from(segs.r#in) + dropped;
    let over: Vec<String> = moved
        .iter()
        .filter(|m| m.packets > bound)
        .map(|m| format!("{} +{}", m.describe(), m.packets))
        .collect();
    if over.is_empty() {
        None
    } else {
        Some(format!(
            "background traffic: {} counter(s) took more packets than the attempt made ({bound}): {}",
            over.len(),
            over.join("; ")
        ))
    }
}

/// What the connect did, in people's words.
pub fn connect_words(r: ConnectResult, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    match r {
        ConnectResult::Connected => format!("connected in {:.1} ms", secs * 1000.0),
        ConnectResult::Refused => "refused (the SYN was answered with a reset)".into(),
        ConnectResult::Reset => "reset by the peer".into(),
        ConnectResult::Unreachable => "unreachable (ICMP or no route)".into(),
        ConnectResult::Timeout => format!("no answer within {secs:.1} s (timeout)"),
        ConnectResult::Error(e) => format!("failed: {}", std::io::Error::from_raw_os_error(e)),
    }
}

/// What makes two drops the same cause: reason, hook, function, devices, packet (no flags).
type DropCause = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
);

/// Group drop events into counted causes.
pub fn group_drops(drops: Vec<DropSeen>) -> Vec<DropSeen> {
    let mut g: BTreeMap<DropCause, DropSeen> = BTreeMap::new();
    for d in drops {
        let key = (
            d.reason.clone(),
            d.hook.clone(),
            d.function.clone(),
            d.iface.clone(),
            d.in_iface.clone(),
            d.packet.split(" [").next().unwrap_or("").to_owned(),
        );
        g.entry(key).and_modify(|e| e.count += d.count).or_insert(d);
    }
    g.into_values().collect()
}

/// The verdict and the explanation lines.
pub fn judge(
    p: &Planned,
    result: ConnectResult,
    elapsed: Duration,
    segs: Option<Segments>,
    ev: &mut Evidence,
) -> Verdict {
    let mut lines = vec![connect_words(result, elapsed)];
    if let Some(s) = segs {
        lines[0].push_str(&format!("; {} segment(s) sent, {} received", s.out, s.r#in));
    }
    for d in &ev.drops {
        let note = if d.reason == "NOT_SPECIFIED" {
            " (the kernel names no reason, e.g. TCP discarding a retransmitted SYN: not counted as a block)"
        } else {
            ""
        };
        lines.push(format!("kernel drop: {}{note}", d.line()));
    }
    match &ev.conntrack {
        Some(c) => {
            lines.push(format!("conntrack: {}", c.line()));
            if p.from.kind == VantageKind::HostLoopback
                && c.nat.iter().any(|n| n == "dnat")
                && !c.nat.iter().any(|n| n == "snat")
                && !matches!(result, ConnectResult::Connected)
            {
                lines.push(
                    "the DNATed packets kept their source 127.0.0.1 (no SNAT): a container cannot answer 127.0.0.1, so the loopback MASQUERADE of this bridge did not apply".into(),
                );
            }
        }
        None if !matches!(result, ConnectResult::Connected) => lines.push(
            "conntrack: no entry (an entry is confirmed only when its first packet gets through every hook)".into(),
        ),
        None => {}
    }
    let counter_drop: Vec<&Moved> = ev.counters.iter().filter(|m| m.drops).collect();
    match &ev.counters_ambiguous {
        Some(why) => lines.push(format!("counters: ambiguous, {why}")),
        None => {
            for m in &counter_drop {
                lines.push(format!(
                    "counter: {} took {} packet(s)",
                    m.describe(),
                    m.packets
                ));
            }
        }
    }
    let missing: Vec<&FindingSeen> = ev.findings.iter().collect();
    if !missing.is_empty() {
        let lies: Vec<&&FindingSeen> = missing
            .iter()
            .filter(|f| !f.cli_says_present.is_empty())
            .collect();
        let mut s = format!(
            "check: {} rule(s) Docker should have here are not in the kernel",
            missing.len()
        );
        if let Some(f) = lies.first() {
            s.push_str(&format!(
                "; for {} of them {} says present (`-C`)",
                lies.len(),
                f.cli_says_present.join(", ")
            ));
        }
        lines.push(s);
        for f in &missing {
            lines.push(format!(
                "  missing: -t {} {}{}",
                f.table,
                f.rule,
                f.effect
                    .as_deref()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    // NOT_SPECIFIED is the kernel freeing a packet without naming a drop (e.g. a duplicate SYN
    // absorbed by TCP): shown, but not evidence of a block.
    let seen_drop = ev.drops.iter().any(|d| d.reason != "NOT_SPECIFIED")
        || (ev.counters_ambiguous.is_none() && !counter_drop.is_empty());
    let verdict = match (&p.expect_blocked, result) {
        (Some(_), ConnectResult::Connected) => Verdict::OpenNotIntended,
        (Some(_), _) => Verdict::BlockedAsIntended,
        (None, ConnectResult::Connected) => Verdict::Ok,
        (None, ConnectResult::Refused | ConnectResult::Unreachable) => Verdict::Refused,
        (None, ConnectResult::Reset | ConnectResult::Error(_)) => Verdict::Reset,
        (None, ConnectResult::Timeout) => {
            if seen_drop && !missing.is_empty() {
                Verdict::TimeoutExplained
            } else {
                if !seen_drop {
                    lines.push("unexplained: no kernel drop and no DROP rule or policy counter was seen for this flow".into());
                }
                if missing.is_empty() {
                    lines.push(
                        "unexplained: no `check` finding of this network explains the path".into(),
                    );
                }
                Verdict::TimeoutUnexplained
            }
        }
    };
    if let Some(why) = &p.expect_blocked {
        lines.push(format!("Docker means this to be blocked: {why}"));
    }
    ev.explanation = lines;
    verdict
}
