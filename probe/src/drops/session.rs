//! A drop-counting session: loads the probe, keeps the watch list in step with the interfaces
//! of the namespace (new containers appear, old ones go), turns the raw counters and samples
//! into named, symbolised rows, and reads the kernel's statistics of the watched interfaces.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use probe_common::drops::{
    DIR_EGRESS, DIR_INGRESS, DropKey, DropSample, MATCH_DEV, MATCH_DST, MATCH_FLOW,
    STAT_COUNT_MAP_FULL, STAT_MATCHED, STAT_SAMPLE_RATE_LIMITED, STAT_SAMPLE_RINGBUF_FULL,
    STAT_SAMPLED, WatchKey,
};
use thiserror::Error;

use super::hook::{self, Path};
use super::ifstats::{IfaceStats, Tracker};
use super::reasons::ReasonNames;
use super::report::{DropRow, IfRow, SampleEvent, SampleStats, Summary};
use super::watch::{self, Role, Target};
use crate::kernel::btf::{Btf, BtfError};
use crate::kernel::drop_probe::{self, DropProbe, DropProbeError};
use crate::kernel::kallsyms::{Kallsyms, KallsymsError};
use crate::kernel::link::{self, LinkError};
use crate::kernel::netns::NetnsSpec;

mod flow;
pub use flow::FlowDropEvent;

#[derive(Debug, Error)]
pub enum DropsError {
    #[error(transparent)]
    Probe(#[from] DropProbeError),
    #[error("reading the kernel's BTF: {0}")]
    Btf(#[from] BtfError),
    #[error("symbolising drop locations: {0}")]
    Kallsyms(#[from] KallsymsError),
    #[error("listing interfaces: {0}")]
    Link(#[from] LinkError),
    #[error("no interface `{name}` in {netns}")]
    NoInterface { name: String, netns: String },
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub netns: Option<NetnsSpec>,
    /// Watch exactly these interfaces (in `netns`) instead of the Docker bridges.
    pub ifaces: Vec<String>,
    /// Flow samples per second per CPU; 0 = no sampling.
    pub sample_per_sec: u32,
    /// Also load and attach the per-interface tc counters (in and out on the bridges and
    /// ports). Off by default: every packet then runs two tc hooks, which costs a routed
    /// datagram measurably (docs/benchmarks.md); the kernel's interface statistics give
    /// packets and bytes in and out without it.
    pub tc: bool,
    /// Attach them as clsact filters even where tcx exists (the fallback of kernels < 6.6).
    pub force_clsact: bool,
}

/// How often to retry resolving container-side peers whose namespace is unknown.
const PEER_RETRY: Duration = Duration::from_secs(10);

pub struct Session {
    opts: Options,
    probe: DropProbe,
    ksyms: Kallsyms,
    reasons: ReasonNames,
    netns_ino: u32,
    targets: BTreeMap<(u32, u32), Target>,
    /// Interfaces whose statistics are read but whose drops are not watched.
    uplinks: BTreeMap<(u32, u32), Target>,
    ifstats: Tracker,
    /// Every interface name we have seen, by (netns inode, ifindex).
    names: HashMap<(u32, u32), String>,
    /// nsid (relative to the watched namespace) → (path, inode).
    nsids: HashMap<i32, (PathBuf, u32)>,
    nsids_tried: Option<Instant>,
    started: Instant,
    last: Option<(Instant, HashMap<DropKey, u64>)>,
    warnings: Vec<String>,
    started_watching: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("netns_ino", &self.netns_ino)
            .field("targets", &self.targets.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Load and attach the probe, then watch the interfaces `opts` selects.
    pub fn start(opts: Options) -> Result<Self, DropsError> {
        let t0 = Instant::now();
        let btf = Btf::from_sys()?;
        let ksyms = Kallsyms::from_proc()?;
        let reasons = ReasonNames::from_btf(&btf)?;
        // Before anything is loaded, so that its absence is named as such.
        drop_probe::check_tracepoint(&btf)?;
        let config = drop_probe::resolve_config(&btf, opts.sample_per_sec)?;
        drop(btf);
        log::debug!("BTF and kallsyms read in {:?}", t0.elapsed());
        let netns_ino = drop_probe::netns_inode_of(opts.netns.as_ref())?;
        let probe = DropProbe::load(
            crate::kernel::ebpf::embedded_object(),
            &config,
            opts.tc,
            opts.force_clsact,
        )?;
        log::debug!("probe loaded and attached after {:?}", t0.elapsed());
        let warnings = Vec::new();
        let mut s = Self {
            opts,
            probe,
            ksyms,
            reasons,
            netns_ino,
            targets: BTreeMap::new(),
            uplinks: BTreeMap::new(),
            ifstats: Tracker::default(),
            names: HashMap::new(),
            nsids: HashMap::new(),
            nsids_tried: None,
            started: Instant::now(),
            last: None,
            warnings,
            started_watching: false,
        };
        s.refresh()?;
        if s.targets.is_empty() {
            s.warnings.push(format!(
                "no Docker bridge (docker0, br-*) in {}; watching for new ones (or use --iface)",
                s.netns_label()
            ));
        }
        Ok(s)
    }

    fn netns_label(&self) -> String {
        match &self.opts.netns {
            Some(ns) => format!("network namespace {}", ns.spec),
            None => "the current network namespace".to_owned(),
        }
    }

    /// The interfaces whose drops are watched.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.values()
    }

    /// The uplinks: interface statistics only (see [`watch::uplinks`]).
    pub fn uplinks(&self) -> impl Iterator<Item = &Target> {
        self.uplinks.values()
    }

    /// Whether the tc counters are loaded (`Options::tc`).
    pub fn has_tc(&self) -> bool {
        self.probe.has_tc()
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn uses_tcx(&self) -> bool {
        self.probe.uses_tcx()
    }

    /// Detach (`false`) or re-attach (`true`) the probe's data path (the `kfree_skb`
    /// tracepoint and, with `Options::tc`, every tc counter) while everything stays loaded:
    /// for measuring what the probe costs the packets it watches (`cargo xtask bench drops`).
    pub fn set_attached(&mut self, on: bool) -> Result<(), DropsError> {
        Ok(self.probe.set_attached(on)?)
    }

    /// Re-read the interfaces: watch new ones, forget vanished ones. Returns the new targets.
    pub fn refresh(&mut self) -> Result<Vec<Target>, DropsError> {
        // The first refresh's warnings are printed by whoever started the session.
        let starting = !self.started_watching;
        let snap = link::snapshot(self.opts.netns.as_ref())?;
        for l in &snap.links {
            self.names
                .insert((self.netns_ino, l.ifindex), l.name.clone());
        }
        // A named interface must exist at start; one that vanishes later (its container
        // stopped) is just no longer watched, and watched again if it comes back.
        let ifaces: Vec<String> = if self.started_watching {
            self.opts
                .ifaces
                .iter()
                .filter(|n| snap.by_name(n).is_some())
                .cloned()
                .collect()
        } else {
            self.opts.ifaces.clone()
        };
        if self.started_watching && !self.opts.ifaces.is_empty() && ifaces.is_empty() {
            log::warn!("none of the named interfaces exists any more");
        }
        let mut wanted =
            if self.started_watching && !self.opts.ifaces.is_empty() && ifaces.is_empty() {
                Vec::new()
            } else {
                watch::select(&snap, self.netns_ino, &ifaces).map_err(|name| {
                    DropsError::NoInterface {
                        name,
                        netns: self.netns_label(),
                    }
                })?
            };
        self.started_watching = true;
        let peers = self.peers(&wanted);
        wanted.extend(peers);
        let wanted = watch::by_key(&wanted);
        let mut added = Vec::new();
        for (key, t) in &wanted {
            if self.targets.contains_key(key) {
                continue;
            }
            self.probe.watch(
                WatchKey {
                    netns: t.netns,
                    ifindex: t.ifindex,
                },
                t.role.bits(),
            )?;
            if self.opts.tc
                && t.role != Role::Peer
                && let Err(e) = self.probe.attach_tc(
                    self.opts.netns.as_ref(),
                    self.netns_ino,
                    &t.name,
                    t.ifindex,
                )
            {
                // The interface may have vanished between dump and attach; counting drops
                // goes on without its tc counters.
                let msg = format!("no tc counters on {}: {e}", t.name);
                if !starting {
                    log::warn!("{msg}");
                }
                self.warnings.push(msg);
            }
            for (net, prefix) in &t.nets {
                self.probe.watch_net(
                    *net,
                    *prefix,
                    Some(WatchKey {
                        netns: t.netns,
                        ifindex: t.ifindex,
                    }),
                )?;
            }
            log::info!("watching {} ({:?}, ifindex {})", t.name, t.role, t.ifindex);
            added.push(t.clone());
        }
        let gone: Vec<_> = self
            .targets
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .copied()
            .collect();
        for key in gone {
            self.probe.unwatch(WatchKey {
                netns: key.0,
                ifindex: key.1,
            })?;
            if let Some(t) = self.targets.remove(&key) {
                for (net, prefix) in t.nets {
                    self.probe.watch_net(net, prefix, None)?;
                }
            }
        }
        self.targets.extend(wanted);
        self.uplinks = if self.opts.ifaces.is_empty() {
            watch::by_key(&watch::uplinks(&snap, self.netns_ino))
        } else {
            BTreeMap::new()
        };
        // The first read of a new interface is its baseline: its counters start here.
        self.read_stats()?;
        Ok(added)
    }

    /// The kernel's statistics of every watched interface and uplink, read now: deltas since
    /// each was first read (the start of the session, or when it appeared), per-second rates
    /// over the last interval of at least half a second, and the absolute counters
    /// (`IfaceStats::kernel`). Container-side peers are read in their own namespaces.
    pub fn interface_stats(&mut self) -> Result<Vec<IfaceStats>, DropsError> {
        self.read_stats()?;
        Ok(self.ifstats.rows())
    }

    fn read_stats(&mut self) -> Result<(), DropsError> {
        let at = Instant::now();
        // Namespace inode -> its targets (peers live in their containers' namespaces).
        let mut by_ns: BTreeMap<u32, Vec<&Target>> = BTreeMap::new();
        for t in self.targets.values().chain(self.uplinks.values()) {
            by_ns.entry(t.netns).or_default().push(t);
        }
        let paths: HashMap<u32, NetnsSpec> = self
            .nsids
            .values()
            .map(|(path, ino)| (*ino, NetnsSpec::parse(&path.display().to_string())))
            .collect();
        let mut wanted: Vec<(u32, Option<&NetnsSpec>, Vec<u32>)> = Vec::new();
        for (ino, ts) in &by_ns {
            let ns = if *ino == self.netns_ino {
                self.opts.netns.as_ref()
            } else {
                match paths.get(ino) {
                    Some(p) => Some(p),
                    None => continue,
                }
            };
            wanted.push((*ino, ns, ts.iter().map(|t| t.ifindex).collect()));
        }
        let req: Vec<(Option<&NetnsSpec>, &[u32])> = wanted
            .iter()
            .map(|(_, ns, ifs)| (*ns, ifs.as_slice()))
            .collect();
        let results = link::stats_in(&req);
        for ((ino, _, _), res) in wanted.iter().zip(results) {
            match res {
                Ok(stats) => {
                    for t in by_ns.get(ino).into_iter().flatten() {
                        if let Some(st) = stats.get(&t.ifindex) {
                            self.ifstats.record(t, at, *st);
                        }
                    }
                }
                // The watched namespace must be readable; a container's may just have gone.
                Err(e) if *ino == self.netns_ino => return Err(e.into()),
                Err(e) => log::debug!("interface statistics in namespace {ino}: {e}"),
            }
        }
        let (targets, uplinks) = (&self.targets, &self.uplinks);
        self.ifstats
            .retain(|k| targets.contains_key(k) || uplinks.contains_key(k));
        Ok(())
    }

    /// Container-side peers of the watched veth ports, in the namespaces we can identify.
    fn peers(&mut self, targets: &[Target]) -> Vec<Target> {
        let wanted: Vec<(i32, u32, &Target)> = targets
            .iter()
            .filter_map(|t| t.peer.map(|(id, ix)| (id, ix, t)))
            .collect();
        let unknown = wanted.iter().any(|(id, _, _)| !self.nsids.contains_key(id));
        if unknown && self.nsids_tried.is_none_or(|t| t.elapsed() >= PEER_RETRY) {
            self.nsids_tried = Some(Instant::now());
            let spaces = link::namespaces();
            let paths: Vec<PathBuf> = spaces.iter().map(|(p, _)| p.clone()).collect();
            match link::netnsids(self.opts.netns.as_ref(), &paths) {
                Ok(ids) => {
                    for ((path, ino), id) in spaces.into_iter().zip(ids) {
                        if let (Some(id), Ok(ino)) = (id, u32::try_from(ino)) {
                            self.nsids.insert(id, (path, ino));
                        }
                    }
                }
                Err(e) => log::debug!("cannot map peer namespaces: {e}"),
            }
        }
        let mut out = Vec::new();
        for (id, ifindex, port) in wanted {
            let Some((path, ino)) = self.nsids.get(&id).cloned() else {
                continue;
            };
            let name = match self.names.get(&(ino, ifindex)) {
                Some(n) => n.clone(),
                None => {
                    let spec = NetnsSpec::parse(&path.display().to_string());
                    let n = link::snapshot(Some(&spec))
                        .ok()
                        .and_then(|s| s.by_index(ifindex).map(|l| l.name.clone()))
                        .unwrap_or_else(|| format!("peer-of-{}", port.name));
                    self.names.insert((ino, ifindex), n.clone());
                    n
                }
            };
            out.push(Target {
                netns: ino,
                ifindex,
                name,
                role: Role::Peer,
                bridge: port.bridge.clone(),
                peer: None,
                nets: Vec::new(),
            });
        }
        out
    }

    fn path(&self, route_input: u64) -> Path {
        if route_input == 0 {
            return Path::Unrouted;
        }
        Path::classify(Some(self.ksyms.function(route_input).unwrap_or("?")))
    }

    fn name(&self, netns: u32, ifindex: u32) -> String {
        self.names
            .get(&(netns, ifindex))
            .cloned()
            .unwrap_or_else(|| format!("if{ifindex}"))
    }

    fn bridge_of(&self, netns: u32, ifindex: u32) -> Option<String> {
        let t = self.targets.get(&(netns, ifindex))?;
        match t.role {
            Role::Bridge => Some(t.name.clone()),
            _ => t.bridge.clone(),
        }
    }

    /// Counters now, with rates since the previous call.
    pub fn summary(&mut self) -> Result<Summary, DropsError> {
        let now = Instant::now();
        let raw = self.probe.drops()?;
        let (prev_at, prev) = match self.last.take() {
            Some((at, m)) => (Some(at), m),
            None => (None, HashMap::new()),
        };
        let secs = prev_at
            .map(|at| now.duration_since(at).as_secs_f64())
            .filter(|s| *s > 0.0);
        let mut rows = Vec::new();
        let mut totals = HashMap::new();
        for (k, c) in &raw {
            totals.insert(*k, c.packets);
            let function = self.ksyms.function(k.location).map(str::to_owned);
            let path = self.path(k.route_input);
            let delta = c.packets.saturating_sub(prev.get(k).copied().unwrap_or(0));
            rows.push(DropRow {
                iface: self.name(k.netns, k.ifindex),
                ifindex: k.ifindex,
                netns: k.netns,
                bridge: self.bridge_of(k.netns, k.ifindex),
                in_iface: (k.in_ifindex != 0).then(|| self.name(k.netns, k.in_ifindex)),
                reason: self.reasons.name(k.reason),
                reason_code: k.reason,
                location: self.ksyms.symbolize(k.location),
                hook: hook::infer(function.as_deref(), path, k.flags),
                function,
                path,
                matched: match (k.flags & MATCH_DEV != 0, k.flags & MATCH_DST != 0) {
                    (true, true) => "device+route",
                    (false, true) => "route",
                    (true, false) => "device",
                    (false, false) if k.flags & MATCH_FLOW != 0 => "flow",
                    (false, false) => "?",
                },
                family: k.family,
                packets: c.packets,
                bytes: c.bytes,
                rate: secs.map(|s| delta as f64 / s),
            });
        }
        rows.sort_by(|a, b| b.packets.cmp(&a.packets).then(a.iface.cmp(&b.iface)));
        self.last = Some((now, totals));
        let interfaces = self.interface_stats()?;
        let mut ifs: BTreeMap<u32, IfRow> = BTreeMap::new();
        let tc_rows = if self.probe.has_tc() {
            self.probe.if_counters()?
        } else {
            Vec::new()
        };
        for (k, c) in tc_rows {
            let row = ifs.entry(k.ifindex).or_insert_with(|| IfRow {
                iface: self.name(self.netns_ino, k.ifindex),
                ifindex: k.ifindex,
                bridge: self.bridge_of(self.netns_ino, k.ifindex),
                ..IfRow::default()
            });
            match k.dir {
                DIR_INGRESS => (row.in_packets, row.in_bytes) = (c.packets, c.bytes),
                DIR_EGRESS => (row.out_packets, row.out_bytes) = (c.packets, c.bytes),
                _ => {}
            }
        }
        let st = self.probe.stats()?;
        Ok(Summary {
            version: 2,
            duration_secs: self.started.elapsed().as_secs_f64(),
            netns: self.opts.netns.as_ref().map(|n| n.spec.clone()),
            netns_inode: self.netns_ino,
            tc: self.probe.has_tc(),
            tcx: self.probe.has_tc() && self.probe.uses_tcx(),
            targets: self.targets.values().cloned().collect(),
            total_packets: rows.iter().map(|r| r.packets).sum(),
            drops: rows,
            interfaces,
            tc_counters: ifs.into_values().collect(),
            matched_events: st[STAT_MATCHED as usize],
            count_map_full: st[STAT_COUNT_MAP_FULL as usize],
            samples: SampleStats {
                sampled: st[STAT_SAMPLED as usize],
                rate_limited: st[STAT_SAMPLE_RATE_LIMITED as usize],
                ring_full: st[STAT_SAMPLE_RINGBUF_FULL as usize],
            },
            warnings: self.warnings.clone(),
        })
    }

    /// Flow samples that arrived since the last call.
    pub fn samples(&mut self) -> Vec<SampleEvent> {
        let raw = self.probe.samples(4096);
        raw.iter().map(|s| self.event(s)).collect()
    }

    fn event(&self, s: &DropSample) -> SampleEvent {
        let function = self.ksyms.function(s.location).map(str::to_owned);
        let path = self.path(s.route_input);
        SampleEvent::new(
            s,
            self.name(s.netns, s.ifindex),
            (s.in_ifindex != 0).then(|| self.name(s.netns, s.in_ifindex)),
            self.bridge_of(s.netns, s.ifindex),
            self.reasons.name(s.reason),
            self.ksyms.symbolize(s.location),
            hook::infer(function.as_deref(), path, s.flags),
            path,
        )
    }
}
