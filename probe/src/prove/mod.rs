//! `nfprobe prove`: make the failing connection on purpose and prove why it fails.
//!
//! For every published port (or `--target`), from every vantage point that applies (an
//! outside client's namespace, the host via 127.0.0.1 and via its own address, a container on
//! another network), one TCP connect at a time, while
//! - the drop probe reports every kernel drop of exactly that flow (its 5-tuple both ways,
//!   following NAT: conntrack's reply tuple is added as soon as the kernel has it),
//! - the packet counters of every rule and chain policy are read before and after,
//!
//! and the `check` findings of that port's network are joined in. Nothing on the host is
//! changed: no rule, trace or log target is added; the only packets are the attempts'.

pub mod counters;
pub mod evidence;
pub mod plan;
pub mod report;
pub mod troubleshoot;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use probe_common::flow::FlowKey;
use serde::Serialize;
use thiserror::Error;

use crate::audit::Audit;
use crate::drops::{FlowDropEvent, Session};
use crate::host;
use crate::kernel::conntrack::{self, Entry, Tuple};
use crate::kernel::drop_probe::FlowRing;
use crate::kernel::link;
use crate::kernel::netns::NetnsSpec;
use crate::kernel::tcp::{self, ConnectResult, Segments};
use crate::report::bundle::Bundle;
use counters::{Moved, Snapshot};
use evidence::{ConntrackSeen, DropSeen, Evidence, Verdict};
use plan::{Plan, Planned, PortInfo, VantageKind};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum ProveError {
    #[error("reading the ruleset's counters: {0}")]
    Ruleset(#[from] host::HostError),
    #[error("watching drops: {0}")]
    Drops(#[from] crate::drops::DropsError),
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The Docker host's namespace (None: this process's).
    pub host: Option<NetnsSpec>,
    /// Per-attempt connect timeout.
    pub timeout: Duration,
    /// After the last attempt, keep listening this long for late drops of timed-out flows
    /// (a packet queued for a neighbour that never answers is freed about 3 s after the first
    /// probe).
    pub late_drops: Duration,
    /// Send a one-line HTTP GET where the port answers.
    pub http: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: None,
            timeout: Duration::from_secs(2),
            late_drops: Duration::from_secs(4),
            http: true,
        }
    }
}

/// How the connect itself went.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectSeen {
    /// connected, refused, reset, unreachable, timeout, error.
    pub result: String,
    pub elapsed_ms: u64,
    /// The source address and port the attempt used.
    pub source: String,
    /// The HTTP status line, when the port answered HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments_out: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments_in: Option<u32>,
}

/// One attempt, judged.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// `ADDRESS:PORT` connected to.
    pub target: String,
    /// Where from, in people's words.
    pub from: String,
    pub vantage: VantageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortInfo>,
    /// "reachable", or "blocked: WHY" where Docker means to block it.
    pub expect: String,
    pub verdict: Verdict,
    pub connect: ConnectSeen,
    pub evidence: Evidence,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kind: &'static str,
    pub schema: u32,
    pub timeout_ms: u64,
    pub duration_ms: u64,
    pub attempts: Vec<Attempt>,
    pub notes: Vec<String>,
    pub troubleshooting: troubleshoot::Troubleshooting,
}

impl Report {
    pub fn all_ok(&self) -> bool {
        self.attempts.iter().all(|a| a.verdict.is_ok())
    }
}

fn result_word(r: ConnectResult) -> String {
    match r {
        ConnectResult::Connected => "connected",
        ConnectResult::Refused => "refused",
        ConnectResult::Reset => "reset",
        ConnectResult::Unreachable => "unreachable",
        ConnectResult::Timeout => "timeout",
        ConnectResult::Error(_) => "error",
    }
    .to_owned()
}

fn addr16(ip: IpAddr) -> ([u8; 16], u8) {
    match ip {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (b, 4)
        }
        IpAddr::V6(a) => (a.octets(), 6),
    }
}

fn key(src: Option<SocketAddr>, dst: Option<SocketAddr>, family: u8) -> FlowKey {
    let side = |a: Option<SocketAddr>| match a {
        Some(a) => (addr16(a.ip()).0, a.port()),
        None => ([0u8; 16], 0),
    };
    let (saddr, sport) = side(src);
    let (daddr, dport) = side(dst);
    FlowKey {
        saddr,
        daddr,
        sport,
        dport,
        proto: libc::IPPROTO_TCP as u8,
        family,
        _pad: [0; 2],
    }
}

/// The 5-tuples of the attempt's packets before NAT: anything from the client socket and
/// anything to it (so a DNATed destination is followed without knowing it).
fn client_keys(local: SocketAddr) -> Vec<FlowKey> {
    let fam = addr16(local.ip()).1;
    vec![key(Some(local), None, fam), key(None, Some(local), fam)]
}

/// The tuples NAT made of the connection: the reply direction as conntrack has it, and the
/// original direction after NAT (the reply reversed).
fn nat_keys(e: &Entry) -> Vec<FlowKey> {
    let r = e.reply;
    let fam = addr16(r.src).1;
    let a = SocketAddr::new(r.src, r.sport);
    let b = SocketAddr::new(r.dst, r.dport);
    vec![key(Some(a), Some(b), fam), key(Some(b), Some(a), fam)]
}

/// Interface names in any namespace, by (namespace inode, ifindex).
#[derive(Default)]
struct Names {
    paths: Option<HashMap<u64, std::path::PathBuf>>,
    links: HashMap<u64, HashMap<u32, String>>,
}

impl Names {
    fn name(&mut self, netns: u32, ifindex: u32) -> String {
        if ifindex == 0 {
            return "-".into();
        }
        let ino = u64::from(netns);
        if !self.links.contains_key(&ino) {
            let paths = self.paths.get_or_insert_with(|| {
                link::namespaces()
                    .into_iter()
                    .map(|(p, i)| (i, p))
                    .collect()
            });
            let map = paths
                .get(&ino)
                .and_then(|p| {
                    link::snapshot(Some(&NetnsSpec::parse(&p.display().to_string()))).ok()
                })
                .map(|s| s.links.into_iter().map(|l| (l.ifindex, l.name)).collect())
                .unwrap_or_default();
            self.links.insert(ino, map);
        }
        self.links
            .get(&ino)
            .and_then(|m| m.get(&ifindex).cloned())
            .unwrap_or_else(|| format!("if{ifindex}"))
    }
}

fn drop_seen(e: &FlowDropEvent, names: &mut Names) -> DropSeen {
    let ev = &e.event;
    let packet = match (ev.src, ev.dst) {
        (Some(s), Some(d)) => {
            let flags = if ev.tcp_flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", ev.tcp_flags)
            };
            format!("{} {s}:{} > {d}:{}{flags}", ev.proto, ev.sport, ev.dport)
        }
        _ => ev.proto.clone(),
    };
    let iface = names.name(ev.netns, e.ifindex);
    let in_iface = (e.in_ifindex != 0).then(|| names.name(e.in_netns, e.in_ifindex));
    DropSeen {
        reason: ev.reason.clone(),
        hook: ev.hook.map(|h| h.as_str().to_owned()),
        function: e.function.clone().unwrap_or_else(|| ev.location.clone()),
        iface,
        in_iface,
        path: ev.path.as_str().to_owned(),
        packet,
        count: 1,
    }
}

/// Facts gathered once per run (what `check` gathers and finds).
pub struct Context<'a> {
    pub bundle: &'a Bundle,
    pub audit: &'a Audit,
}

/// What one attempt produced before the late drops are in.
struct Raw {
    p: Planned,
    id: u32,
    started: Instant,
    result: ConnectResult,
    elapsed: Duration,
    source: Option<SocketAddr>,
    http: Option<String>,
    segs: Option<Segments>,
    ct: Option<Entry>,
    moved: Vec<Moved>,
    genid_changed: bool,
    keys: Vec<FlowKey>,
    /// CLOCK_MONOTONIC ns (the clock of the drop timestamps) of the counter reads.
    window: (u64, u64),
}

/// CLOCK_MONOTONIC in ns: the clock `bpf_ktime_get_ns` stamps drops with.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// Netfilter drops of *other* attempts' flows on this attempt's hooks while its counters were
/// being compared: they moved the same DROP counters.
fn others_in_window(r: &Raw, drops: &BTreeMap<u32, Vec<FlowDropEvent>>) -> Option<String> {
    let hooks = r.p.from.kind.hooks();
    let n = drops
        .iter()
        .filter(|(id, _)| **id != r.id)
        .flat_map(|(_, v)| v)
        .filter(|e| {
            e.event.ts_ns >= r.window.0
                && e.event.ts_ns <= r.window.1
                && e.event.hook.is_some_and(|h| hooks.contains(&h.as_str()))
        })
        .count();
    (n > 0 && r.moved.iter().any(|m| m.drops)).then(|| {
        format!(
            "background traffic: {n} packet(s) of earlier attempts were dropped by netfilter on this path meanwhile, so the DROP counters include them"
        )
    })
}

fn read_counters(ns: Option<&NetnsSpec>) -> Result<Snapshot, ProveError> {
    let k = host::read_kernel(ns, true)?;
    Ok(Snapshot::of(&k.rulesets))
}

/// Run the plan: one attempt at a time.
pub fn run(
    plan: &Plan,
    opts: &Options,
    session: &mut Session,
    ctx: Context<'_>,
) -> Result<Report, ProveError> {
    let t0 = Instant::now();
    let mut ring: FlowRing = session.flow_ring()?;
    let mut notes = plan.notes.clone();
    let mut raws = Vec::new();
    let mut drops: BTreeMap<u32, Vec<FlowDropEvent>> = BTreeMap::new();
    let mut all_keys = Vec::new();
    let collect =
        |session: &Session, ring: &mut FlowRing, drops: &mut BTreeMap<u32, Vec<FlowDropEvent>>| {
            for e in session.flow_drops(ring) {
                drops.entry(e.flow).or_default().push(e);
            }
        };
    // Earlier flows stay watched: a container keeps retransmitting its SYN-ACK for about a
    // minute, and those drops moving the counters of a later attempt must be seen to be said.
    // The oldest are retired once that minute is over or the kernel's flow map fills up.
    let retire_after = Duration::from_secs(64);
    let max_live = (probe_common::flow::MAX_FLOWS as usize) * 3 / 4;
    let mut live: std::collections::VecDeque<(Instant, Vec<FlowKey>)> = Default::default();
    for (i, p) in plan.attempts.iter().enumerate() {
        let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
        while live.front().is_some_and(|(t, _)| {
            t.elapsed() >= retire_after
                || live.iter().map(|(_, k)| k.len()).sum::<usize>() > max_live
        }) {
            if let Some((_, keys)) = live.pop_front()
                && let Err(e) = session.unwatch_flows(&keys)
            {
                log::warn!("retiring a flow watch: {e}");
            }
        }
        match attempt(p, id, opts, session) {
            Ok(raw) => {
                live.push_back((raw.started, raw.keys.clone()));
                all_keys.extend(raw.keys.iter().copied());
                raws.push(raw);
            }
            Err(AttemptError::Setup(e)) => {
                notes.push(format!(
                    "{} from {}: not attempted: {e}",
                    p.target, p.from.label
                ));
            }
            Err(AttemptError::Prove(e)) => {
                let _ = session.unwatch_flows(&all_keys);
                return Err(e);
            }
        }
        collect(session, &mut ring, &mut drops);
    }
    // Late drops: packets queued on a neighbour that never resolves are freed seconds later.
    let pending = |raws: &[Raw], drops: &BTreeMap<u32, Vec<FlowDropEvent>>| -> Option<Instant> {
        raws.iter()
            .filter(|r| r.result == ConnectResult::Timeout && !drops.contains_key(&r.id))
            .map(|r| r.started + opts.timeout.max(opts.late_drops))
            .max()
    };
    while let Some(until) = pending(&raws, &drops) {
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        collect(session, &mut ring, &mut drops);
    }
    collect(session, &mut ring, &mut drops);
    if let Err(e) = session.unwatch_flows(&all_keys) {
        log::warn!("stopping the flow watch: {e}");
    }

    let mut names = Names::default();
    let mut attempts = Vec::new();
    for r in raws {
        let seen: Vec<DropSeen> = drops
            .get(&r.id)
            .map(|v| {
                v.iter()
                    // Our own socket purging its queues when the attempt closes it.
                    .filter(|e| e.event.reason != "QUEUE_PURGE")
                    .map(|e| drop_seen(e, &mut names))
                    .collect()
            })
            .unwrap_or_default();
        let dropped = seen.len() as u64;
        let mut ev = Evidence {
            drops: evidence::group_drops(seen),
            conntrack: r.ct.as_ref().map(ConntrackSeen::of),
            counters_ambiguous: evidence::ambiguity(&r.moved, r.segs, dropped, r.genid_changed)
                .or_else(|| others_in_window(&r, &drops)),
            counters: r.moved,
            findings: evidence::relevant_findings(ctx.audit, &r.p),
            explanation: Vec::new(),
        };
        let verdict = evidence::judge(&r.p, r.result, r.elapsed, r.segs, &mut ev);
        attempts.push(Attempt {
            target: r.p.target.to_string(),
            from: r.p.from.label.clone(),
            vantage: r.p.from.kind,
            port: r.p.port.clone(),
            expect: match &r.p.expect_blocked {
                Some(w) => format!("blocked: {w}"),
                None => "reachable".into(),
            },
            verdict,
            connect: ConnectSeen {
                result: result_word(r.result),
                elapsed_ms: u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
                source: r.source.map(|s| s.to_string()).unwrap_or_default(),
                http: r.http,
                segments_out: r.segs.map(|s| s.out),
                segments_in: r.segs.map(|s| s.r#in),
            },
            evidence: ev,
        });
    }
    let explained = attempts
        .iter()
        .any(|a| a.verdict == Verdict::TimeoutExplained);
    let failures = attempts.iter().any(|a| !a.verdict.is_ok());
    Ok(Report {
        troubleshooting: troubleshoot::gather(ctx.bundle, ctx.audit, explained, failures),
        kind: "nfprobe-prove",
        schema: SCHEMA_VERSION,
        timeout_ms: u64::try_from(opts.timeout.as_millis()).unwrap_or(u64::MAX),
        duration_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
        attempts,
        notes,
    })
}

enum AttemptError {
    /// This attempt could not be set up (no route, no such namespace): noted, the run goes on.
    Setup(String),
    Prove(ProveError),
}

impl From<ProveError> for AttemptError {
    fn from(e: ProveError) -> Self {
        AttemptError::Prove(e)
    }
}

fn attempt(
    p: &Planned,
    id: u32,
    opts: &Options,
    session: &mut Session,
) -> Result<Raw, AttemptError> {
    let host = opts.host.as_ref();
    let prepared = tcp::prepare(p.from.netns.as_ref(), p.target)
        .map_err(|e| AttemptError::Setup(e.to_string()))?;
    let local = prepared.local;
    let mut keys = client_keys(local);
    session
        .watch_flows(&keys.iter().map(|k| (*k, id)).collect::<Vec<_>>())
        .map_err(ProveError::from)?;
    let w0 = monotonic_ns();
    let before = read_counters(host)?;
    let orig = Tuple {
        src: local.ip(),
        dst: p.target.ip(),
        proto: libc::IPPROTO_TCP as u8,
        sport: local.port(),
        dport: p.target.port(),
    };
    // Follow NAT as soon as conntrack has the entry (it is confirmed when the first packet
    // leaves the last hook): later packets, and the replies, carry the NATed tuple.
    let mut ct: Option<Entry> = None;
    let mut nat_added = false;
    let mut follow = |session: &mut Session, ct: &mut Option<Entry>, keys: &mut Vec<FlowKey>| {
        if nat_added {
            return;
        }
        match conntrack::lookup(host, &orig) {
            Ok(Some(e)) => {
                let extra: Vec<FlowKey> = nat_keys(&e)
                    .into_iter()
                    .filter(|k| !keys.contains(k))
                    .collect();
                if session
                    .watch_flows(&extra.iter().map(|k| (*k, id)).collect::<Vec<_>>())
                    .is_ok()
                {
                    keys.extend(extra);
                }
                *ct = Some(e);
                nat_added = true;
            }
            Ok(None) => {}
            Err(e) => log::debug!("conntrack lookup: {e}"),
        }
    };
    let started = Instant::now();
    let mut next_follow = Duration::from_millis(20);
    let result = prepared.connect(opts.timeout, Duration::from_millis(20), |elapsed| {
        if elapsed >= next_follow {
            follow(session, &mut ct, &mut keys);
            next_follow = elapsed + Duration::from_millis(100);
        }
    });
    let mut elapsed = started.elapsed();
    let mut http = None;
    if result == ConnectResult::Connected {
        follow(session, &mut ct, &mut keys);
        elapsed = started.elapsed();
        if opts.http {
            let left = opts
                .timeout
                .saturating_sub(elapsed)
                .max(Duration::from_millis(200));
            http = prepared
                .http_get(&p.target.to_string(), left)
                .ok()
                .flatten();
        }
    }
    let segs = prepared.segments();
    // The final state of the entry (for the report).
    match conntrack::lookup(host, &orig) {
        Ok(Some(e)) => {
            if !nat_added {
                let extra = nat_keys(&e);
                if session
                    .watch_flows(&extra.iter().map(|k| (*k, id)).collect::<Vec<_>>())
                    .is_ok()
                {
                    keys.extend(extra);
                }
            }
            ct = Some(e);
        }
        Ok(None) => {}
        Err(e) => log::debug!("conntrack lookup: {e}"),
    }
    drop(prepared);
    let after = read_counters(host)?;
    let w1 = monotonic_ns();
    let genid_changed = before.genids() != after.genids();
    let moved = after.moved_since(&before, p.from.kind.hooks());
    Ok(Raw {
        p: p.clone(),
        id,
        started,
        result,
        elapsed,
        source: Some(local),
        http,
        segs,
        ct,
        moved,
        genid_changed,
        keys,
        window: (w0, w1),
    })
}

/// `--dry-run`: the plan in people's words.
pub fn plan_text(plan: &Plan) -> String {
    let mut s = String::from("nfprobe prove — plan (nothing is attempted with --dry-run)\n");
    for (i, p) in plan.attempts.iter().enumerate() {
        let what = match &p.port {
            Some(port) => format!(" ({} on {}, {})", port.container, port.network, port.bridge),
            None => String::new(),
        };
        let expect = match &p.expect_blocked {
            Some(w) => format!(" — expected blocked: {w}"),
            None => String::new(),
        };
        s.push_str(&format!(
            "  {:>3}. {} → {}{what}{expect}\n",
            i + 1,
            p.from.label,
            p.target
        ));
    }
    if plan.attempts.is_empty() {
        s.push_str("  no attempt\n");
    }
    for n in &plan.notes {
        s.push_str(&format!("  note: {n}\n"));
    }
    s
}

#[cfg(test)]
mod tests;
