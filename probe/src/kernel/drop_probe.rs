//! The drop probe in the kernel: the `kfree_skb` BTF tracepoint with its watch list, drop
//! counters and flow samples, and, only when asked for, the tc counters on watched interfaces
//! (tcx on kernels ≥ 6.6, clsact otherwise). Without them nothing of ours runs on a packet the
//! kernel forwards or delivers: the tracepoint fires only when a packet is dropped.
//!
//! Everything attached belongs to the [`DropProbe`]: dropping it (or the process dying, even by
//! SIGKILL) closes the program and link fds, which detaches the tracepoint and the tcx links.
//! Only the clsact fallback survives a SIGKILL; [`DropProbe::attach_tc`] removes such leftovers
//! of an earlier run before attaching.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use aya::maps::lpm_trie::{Key as LpmKey, LpmTrie};
use aya::maps::{Array, HashMap, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues, RingBuf};
use aya::programs::tc::SchedClassifierLinkId;
use aya::programs::tc::{self, NlOptions, TcAttachOptions, TcAttachType};
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::programs::{BtfTracePoint, SchedClassifier};
use aya::util::KernelVersion;
use aya::{Ebpf, EbpfLoader};
use probe_common::drops::{
    Counter, DIR_EGRESS, DIR_INGRESS, DropConfig, DropKey, DropSample, IF_SLOTS, IfKey,
    NETCOUNT_V4, NETCOUNT_V6, STATS_LEN, WATCH_SLOTS, WatchKey, WatchSlot,
};
use thiserror::Error;

use super::btf::{Btf, BtfError};
use super::clsact;
use super::netns::{NetnsError, NetnsSpec, run_in};

mod flow;
pub use flow::FlowRing;

pub const PROG_DROPS: &str = "nfp_drops";
pub const PROG_TC_IN: &str = "nfp_tc_in";
pub const PROG_TC_OUT: &str = "nfp_tc_out";
/// Names our programs have in the kernel (bpftool shows them), for leftover checks.
pub const PROGRAM_NAMES: [&str; 3] = [PROG_DROPS, PROG_TC_IN, PROG_TC_OUT];
/// The tracepoint the drop program is written for (`skb:kfree_skb`; it carries the drop
/// reason since Linux 5.17).
pub const TRACEPOINT: &str = "kfree_skb";
/// Names a tracepoint to look for instead of [`TRACEPOINT`], so that what `drops` says on a
/// kernel without it can be shown (docs/troubleshooting.md). Only a missing name is useful:
/// the program is never attached anywhere but [`TRACEPOINT`].
pub const TRACEPOINT_ENV: &str = "NFPROBE_DROP_TRACEPOINT";
const CONFIG_GLOBAL: &str = "DROP_CONFIG";
const MAP_WATCH: &str = "NFP_WATCH";
const MAP_WATCHFAST: &str = "NFP_WATCHFAST";
const MAP_NETCOUNT: &str = "NFP_NETCOUNT";
const MAP_DROPS: &str = "NFP_DROPS";
const MAP_SAMPLES: &str = "NFP_SAMPLES";
const MAP_STATS: &str = "NFP_STATS";
const MAP_IFCOUNT: &str = "NFP_IFCOUNT";
const MAP_IFSLOT: &str = "NFP_IFSLOT";
const MAP_IFFAST: &str = "NFP_IFFAST";
const MAP_NETS4: &str = "NFP_NETS4";
const MAP_NETS6: &str = "NFP_NETS6";

#[derive(Debug, Error)]
pub enum DropProbeError {
    #[error(
        "this nfprobe was built without its eBPF object (AYA_BUILD_SKIP was set); \
         rebuild with `cargo xtask build`"
    )]
    NotEmbedded,
    #[error("kernel BTF: {0}")]
    Btf(#[from] BtfError),
    #[error("the kernel has no tracepoint skb:{name} (its BTF lacks `btf_trace_{name}`)")]
    NoTracepoint { name: String },
    #[error(
        "{TRACEPOINT_ENV} names skb:{name}, which exists; the drop program fits only skb:{TRACEPOINT} \
         (the variable is for showing what happens on a kernel without the tracepoint)"
    )]
    OtherTracepoint { name: String },
    #[error(
        "the running kernel lacks `{field}` in its BTF ({source}); drop counting is disabled \
         rather than reading at a guessed offset"
    )]
    MissingField {
        field: &'static str,
        #[source]
        source: BtfError,
    },
    #[error(
        "{what}: permission denied (eBPF needs root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN): {source}"
    )]
    NotPermitted {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{what}: {source}")]
    Aya {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the eBPF object has no {0} (stale build?)")]
    Missing(&'static str),
    #[error(
        "another nfprobe (pid {pid}) has its tc counters on {ifname} as clsact filters, and \
         two cannot share them (each would remove the other's); this one counts drops there \
         without them"
    )]
    ClsactBusy { ifname: String, pid: u32 },
    #[error("the tc counters were not loaded (the probe was started without them)")]
    TcNotLoaded,
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("cannot identify network namespace {path}: {source}")]
    NetnsInode {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn aya_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
    e: E,
) -> DropProbeError {
    let what = what.into();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
        {
            return DropProbeError::NotPermitted {
                what,
                source: Box::new(e),
            };
        }
        cur = err.source();
    }
    DropProbeError::Aya {
        what,
        source: Box::new(e),
    }
}

/// Inode of a network namespace (`net->ns.inum`): `/run/netns/NAME`, `/proc/PID/ns/net`.
pub fn netns_inode(path: &Path) -> Result<u32, DropProbeError> {
    let err = |source| DropProbeError::NetnsInode {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    u32::try_from(meta.ino()).map_err(|_| err(std::io::Error::other("inode beyond 32 bits")))
}

/// The inode of `ns`, or of this process's namespace.
pub fn netns_inode_of(ns: Option<&NetnsSpec>) -> Result<u32, DropProbeError> {
    match ns {
        Some(ns) => netns_inode(&ns.path),
        None => netns_inode(Path::new("/proc/self/ns/net")),
    }
}

/// Offsets from the kernel's BTF, as the program needs them. Any missing struct member is an error naming it.
pub fn resolve_config(btf: &Btf, sample_per_sec: u32) -> Result<DropConfig, DropProbeError> {
    let off = |ty: &'static str, path: &'static str, field: &'static str| {
        btf.member(ty, path)
            .map(|f| f.offset)
            .map_err(|source| DropProbeError::MissingField { field, source })
    };
    let cfg = DropConfig {
        enabled: 1,
        sample_per_sec,
        skb_dev: off("sk_buff", "dev", "sk_buff.dev")?,
        skb_len: off("sk_buff", "len", "sk_buff.len")?,
        skb_protocol: off("sk_buff", "protocol", "sk_buff.protocol")?,
        skb_network_header: off("sk_buff", "network_header", "sk_buff.network_header")?,
        skb_transport_header: off("sk_buff", "transport_header", "sk_buff.transport_header")?,
        skb_head: off("sk_buff", "head", "sk_buff.head")?,
        skb_refdst: off("sk_buff", "_skb_refdst", "sk_buff._skb_refdst")?,
        dev_ifindex: off("net_device", "ifindex", "net_device.ifindex")?,
        dev_nd_net: off("net_device", "nd_net.net", "net_device.nd_net.net")?,
        net_inum: off("net", "ns.inum", "net.ns.inum")?,
        dst_dev: off("dst_entry", "dev", "dst_entry.dev")?,
        dst_input: off("dst_entry", "input", "dst_entry.input")?,
    };
    for (field, size) in [
        (
            "sk_buff.network_header",
            btf.member("sk_buff", "network_header")?.size,
        ),
        (
            "sk_buff.transport_header",
            btf.member("sk_buff", "transport_header")?.size,
        ),
        ("sk_buff.protocol", btf.member("sk_buff", "protocol")?.size),
        ("sk_buff.len", btf.member("sk_buff", "len")?.size),
        ("net.ns.inum", btf.member("net", "ns.inum")?.size),
    ] {
        let want = if field.ends_with("len") || field.ends_with("inum") {
            4
        } else {
            2
        };
        if size != want {
            return Err(DropProbeError::MissingField {
                field,
                source: BtfError::Malformed(format!("size {size}, the program reads {want}")),
            });
        }
    }
    Ok(cfg)
}

/// The tracepoint exists in this kernel (checked before anything is loaded, so its absence is
/// named as such rather than as a failed load).
pub fn check_tracepoint(btf: &Btf) -> Result<(), DropProbeError> {
    let name = std::env::var(TRACEPOINT_ENV)
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| TRACEPOINT.to_owned());
    let exists = btf.has_typedef(&format!("btf_trace_{name}"));
    match (exists, name == TRACEPOINT) {
        (true, true) => Ok(()),
        (true, false) => Err(DropProbeError::OtherTracepoint { name }),
        (false, _) => Err(DropProbeError::NoTracepoint { name }),
    }
}

/// The kernel's BTF as aya reads it, from the same file as [`Btf::from_sys`].
fn aya_btf() -> Result<aya::Btf, DropProbeError> {
    let path = super::btf::vmlinux_path();
    aya::Btf::parse_file(&path, aya::Endianness::default()).map_err(|e| {
        DropProbeError::Btf(BtfError::Malformed(format!(
            "{} as read by the eBPF loader: {e}",
            path.display()
        )))
    })
}

/// Loaded and attached drop probe. Dropping it detaches everything.
pub struct DropProbe {
    ebpf: Ebpf,
    samples: Option<RingBuf<MapData>>,
    /// The tc programs are loaded (only then can [`DropProbe::attach_tc`] attach them).
    tc_loaded: bool,
    tcx: bool,
    /// The tracepoint's link while attached.
    tp_link: Option<BtfTracePointLinkId>,
    /// Interfaces with tc counters, and their links while attached.
    tc_ifaces: Vec<TcIface>,
    /// Data path detached ([`DropProbe::set_attached`]): programs and maps stay loaded.
    detached: bool,
    /// clsact fallback: every interface we attached filters to, and whether its clsact qdisc
    /// is ours to remove on exit (we created it, or a killed earlier run of ours did).
    clsact: Vec<ClsactIface>,
    /// tc counters' array fast path: slot → the ifindex that owns it.
    fast_slots: std::collections::BTreeMap<u32, u32>,
    /// Our copy of the watch list's fast slots, and the devices in its hash.
    watch_slots: std::collections::BTreeMap<u32, SlotState>,
    in_watch_hash: BTreeSet<WatchKey>,
    /// Watched subnets per family (their counts gate the subnet lookups).
    nets: [BTreeSet<(std::net::IpAddr, u8)>; 2],
}

/// One watch slot as userspace keeps it.
#[derive(Debug, Clone, Copy, Default)]
struct SlotState {
    owner: Option<WatchKey>,
    role: u32,
    more: u32,
}

/// An interface the tc counters belong on.
#[derive(Debug)]
struct TcIface {
    ns: Option<NetnsSpec>,
    netns_ino: u32,
    ifname: String,
    ifindex: u32,
    /// (program, link) per direction while attached.
    links: Vec<(&'static str, SchedClassifierLinkId)>,
}

#[derive(Debug)]
struct ClsactIface {
    ns: Option<NetnsSpec>,
    ifname: String,
    ifindex: u32,
    owned: bool,
}

/// Whether a clsact filter is one of ours (by program name).
fn is_ours(f: &clsact::Filter) -> bool {
    f.bpf_name
        .as_deref()
        .is_some_and(|n| n == PROG_TC_IN || n == PROG_TC_OUT)
}

impl Drop for DropProbe {
    /// tcx links and the tracepoint go with their fds; clsact filters and qdiscs do not:
    /// remove ours explicitly (before aya's own link cleanup, which stops at its first error).
    fn drop(&mut self) {
        for c in self.clsact.drain(..) {
            let ClsactIface {
                ns,
                ifname,
                ifindex,
                owned,
            } = c;
            let res = run_in(ns.as_ref(), move || {
                for (name, ty) in [
                    (PROG_TC_IN, TcAttachType::Ingress),
                    (PROG_TC_OUT, TcAttachType::Egress),
                ] {
                    if let Err(e) = tc::qdisc_detach_program(&ifname, ty, name) {
                        log::debug!("detaching {name} from {ifname}: {e}");
                    }
                }
                if owned {
                    match clsact::filters(ifindex) {
                        Ok(f) if f.is_empty() => {
                            if let Err(e) = clsact::delete(ifindex) {
                                log::warn!("removing the clsact qdisc of {ifname}: {e}");
                            }
                        }
                        Ok(_) => log::info!(
                            "leaving the clsact qdisc of {ifname}: it holds filters of others"
                        ),
                        Err(e) => log::warn!("listing the tc filters of {ifname}: {e}"),
                    }
                }
            });
            if let Err(e) = res {
                log::warn!("cleaning up tc: {e}");
            }
        }
    }
}

impl std::fmt::Debug for DropProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropProbe")
            .field("tcx", &self.tcx)
            .field("tc_ifaces", &self.tc_ifaces)
            .field("detached", &self.detached)
            .finish_non_exhaustive()
    }
}

impl DropProbe {
    /// Load the embedded object with `config` and attach the `kfree_skb` tracepoint. With
    /// `tc`, also load the tc programs (attached per interface by [`DropProbe::attach_tc`]):
    /// through tcx links on kernels ≥ 6.6, else (or with `force_clsact`) as filters of a
    /// clsact qdisc. Without `tc` no classifier is loaded at all.
    pub fn load(
        object: &[u8],
        config: &DropConfig,
        tc: bool,
        force_clsact: bool,
    ) -> Result<Self, DropProbeError> {
        if object.is_empty() {
            return Err(DropProbeError::NotEmbedded);
        }
        let aya_btf = aya_btf()?;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&aya_btf))
            .override_global(CONFIG_GLOBAL, config, true)
            .load(object)
            .map_err(|e| aya_err("loading the eBPF object", e))?;
        let prog = drops_program(&mut ebpf)?;
        prog.load(TRACEPOINT, &aya_btf)
            .map_err(|e| aya_err("loading tp_btf/kfree_skb", e))?;
        let tp_link = prog
            .attach()
            .map_err(|e| aya_err("attaching tp_btf/kfree_skb", e))?;
        for name in [PROG_TC_IN, PROG_TC_OUT].into_iter().filter(|_| tc) {
            let p: &mut SchedClassifier = ebpf
                .program_mut(name)
                .ok_or(DropProbeError::Missing("tc program"))?
                .try_into()
                .map_err(|e| aya_err(format!("{name} is not a classifier"), e))?;
            p.load()
                .map_err(|e| aya_err(format!("loading {name}"), e))?;
        }
        let samples = ebpf
            .take_map(MAP_SAMPLES)
            .ok_or(DropProbeError::Missing("map NFP_SAMPLES"))?;
        let samples =
            RingBuf::try_from(samples).map_err(|e| aya_err("opening the sample ring", e))?;
        let tcx = !force_clsact
            && KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(6, 6, 0));
        Ok(Self {
            ebpf,
            samples: Some(samples),
            tc_loaded: tc,
            tcx,
            tp_link: Some(tp_link),
            tc_ifaces: Vec::new(),
            detached: false,
            clsact: Vec::new(),
            fast_slots: std::collections::BTreeMap::new(),
            watch_slots: std::collections::BTreeMap::new(),
            in_watch_hash: BTreeSet::new(),
            nets: [BTreeSet::new(), BTreeSet::new()],
        })
    }

    /// Whether tc programs attach through tcx links (else the clsact fallback).
    pub fn uses_tcx(&self) -> bool {
        self.tcx
    }

    /// Whether the tc counters are loaded.
    pub fn has_tc(&self) -> bool {
        self.tc_loaded
    }

    /// Count drops on this device (and drops routed towards it).
    pub fn watch(&mut self, key: WatchKey, role: u32) -> Result<(), DropProbeError> {
        let slot = key.ifindex % WATCH_SLOTS;
        let mut st = self.watch_slots.get(&slot).copied().unwrap_or_default();
        if st.owner.is_none() || st.owner == Some(key) {
            st.owner = Some(key);
            st.role = role;
        } else {
            self.watch_hash()?
                .insert(key, role, 0)
                .map_err(|e| aya_err("filling the watch list", e))?;
            if self.in_watch_hash.insert(key) {
                st.more += 1;
            }
        }
        self.write_slot(slot, st)
    }

    pub fn unwatch(&mut self, key: WatchKey) -> Result<(), DropProbeError> {
        let slot = key.ifindex % WATCH_SLOTS;
        let mut st = self.watch_slots.get(&slot).copied().unwrap_or_default();
        if st.owner == Some(key) {
            st.owner = None;
            st.role = 0;
        }
        if self.in_watch_hash.remove(&key) {
            match self.watch_hash()?.remove(&key) {
                Ok(()) | Err(aya::maps::MapError::KeyNotFound) => {}
                Err(e) => return Err(aya_err("updating the watch list", e)),
            }
            st.more = st.more.saturating_sub(1);
        }
        self.write_slot(slot, st)
    }

    fn watch_hash(&mut self) -> Result<HashMap<&mut MapData, WatchKey, u32>, DropProbeError> {
        self.typed_mut(MAP_WATCH)
    }

    /// Map `name` of the object, opened as the typed map `T`.
    fn typed_mut<'a, T>(&'a mut self, name: &'static str) -> Result<T, DropProbeError>
    where
        T: TryFrom<&'a mut aya::maps::Map>,
        T::Error: std::error::Error + Send + Sync + 'static,
    {
        let map = self
            .ebpf
            .map_mut(name)
            .ok_or(DropProbeError::Missing(name))?;
        T::try_from(map).map_err(|e| aya_err(format!("opening {name}"), e))
    }

    /// Map `name` of the object, opened read-only as the typed map `T`.
    fn typed<'a, T>(&'a self, name: &'static str) -> Result<T, DropProbeError>
    where
        T: TryFrom<&'a aya::maps::Map>,
        T::Error: std::error::Error + Send + Sync + 'static,
    {
        let map = self.ebpf.map(name).ok_or(DropProbeError::Missing(name))?;
        T::try_from(map).map_err(|e| aya_err(format!("opening {name}"), e))
    }

    /// Publish a watch slot (the kernel's copy first, then ours).
    fn write_slot(&mut self, slot: u32, st: SlotState) -> Result<(), DropProbeError> {
        let mut fast: Array<_, WatchSlot> = self.typed_mut(MAP_WATCHFAST)?;
        let owner = st.owner.unwrap_or_default();
        fast.set(
            slot,
            WatchSlot {
                netns: owner.netns,
                ifindex: owner.ifindex,
                role: st.role,
                more: st.more,
            },
            0,
        )
        .map_err(|e| aya_err("filling the watch list", e))?;
        self.watch_slots.insert(slot, st);
        Ok(())
    }

    /// Count drops of packets to or from `net/prefix` (a bridge's subnet) on `key`, even when
    /// neither the skb's device nor its route's is watched. `key = None` removes the subnet.
    pub fn watch_net(
        &mut self,
        net: std::net::IpAddr,
        prefix: u8,
        key: Option<WatchKey>,
    ) -> Result<(), DropProbeError> {
        fn apply<const N: usize>(
            map: &mut aya::maps::Map,
            data: [u8; N],
            prefix: u8,
            key: Option<WatchKey>,
        ) -> Result<(), DropProbeError> {
            let mut trie: LpmTrie<_, [u8; N], WatchKey> =
                LpmTrie::try_from(map).map_err(|e| aya_err("opening the subnet watch", e))?;
            let k = LpmKey::new(u32::from(prefix), data);
            match key {
                Some(v) => trie
                    .insert(&k, v, 0)
                    .map_err(|e| aya_err("filling the subnet watch", e)),
                None => match trie.remove(&k) {
                    Ok(()) | Err(aya::maps::MapError::KeyNotFound) => Ok(()),
                    Err(e) => Err(aya_err("updating the subnet watch", e)),
                },
            }
        }
        let (family, map_name) = match net {
            std::net::IpAddr::V4(_) => (NETCOUNT_V4, MAP_NETS4),
            std::net::IpAddr::V6(_) => (NETCOUNT_V6, MAP_NETS6),
        };
        let map = self
            .ebpf
            .map_mut(map_name)
            .ok_or(DropProbeError::Missing("subnet watch map"))?;
        match net {
            std::net::IpAddr::V4(a) => apply(map, a.octets(), prefix.min(32), key)?,
            std::net::IpAddr::V6(a) => apply(map, a.octets(), prefix.min(128), key)?,
        }
        let set = &mut self.nets[family as usize];
        if key.is_some() {
            set.insert((net, prefix));
        } else {
            set.remove(&(net, prefix));
        }
        let count = u32::try_from(set.len()).unwrap_or(u32::MAX);
        let mut counts: Array<_, u32> = self.typed_mut(MAP_NETCOUNT)?;
        counts
            .set(family, count, 0)
            .map_err(|e| aya_err("filling the subnet watch", e))
    }

    /// Attach the ingress/egress counters to `ifname` (ifindex `ifindex`) in namespace `ns`.
    /// Only one namespace's interfaces can be counted by tc at a time (keys are ifindexes).
    pub fn attach_tc(
        &mut self,
        ns: Option<&NetnsSpec>,
        netns_ino: u32,
        ifname: &str,
        ifindex: u32,
    ) -> Result<(), DropProbeError> {
        if !self.tc_loaded {
            return Err(DropProbeError::TcNotLoaded);
        }
        if self
            .tc_ifaces
            .iter()
            .any(|t| (t.netns_ino, t.ifindex) == (netns_ino, ifindex))
        {
            return Ok(());
        }
        if !self.tcx {
            // clsact works in the calling thread's namespace, like tc itself.
            let live = run_in(ns, move || live_clsact_owner(ifindex))?;
            if let Some(pid) = live {
                return Err(DropProbeError::ClsactBusy {
                    ifname: ifname.to_owned(),
                    pid,
                });
            }
        }
        self.register_if(ifindex)?;
        if !self.tcx {
            let iface = ifname.to_owned();
            let owned = run_in(ns, move || prepare_clsact(&iface, ifindex))?;
            self.clsact.push(ClsactIface {
                ns: ns.cloned(),
                ifname: ifname.to_owned(),
                ifindex,
                owned,
            });
        }
        let mut t = TcIface {
            ns: ns.cloned(),
            netns_ino,
            ifname: ifname.to_owned(),
            ifindex,
            links: Vec::new(),
        };
        if !self.detached {
            self.attach_tc_programs(&mut t)?;
        }
        self.tc_ifaces.push(t);
        Ok(())
    }

    /// Attach both tc programs to `t` (recording their links).
    fn attach_tc_programs(&mut self, t: &mut TcIface) -> Result<(), DropProbeError> {
        let tcx = self.tcx;
        for (name, ty) in [
            (PROG_TC_IN, TcAttachType::Ingress),
            (PROG_TC_OUT, TcAttachType::Egress),
        ] {
            let prog = self.classifier(name)?;
            let iface = t.ifname.clone();
            // tc/tcx resolve the interface in the calling thread's namespace.
            let res = run_in(t.ns.as_ref(), move || {
                if tcx {
                    prog.attach(&iface, ty)
                } else {
                    prog.attach_with_options(
                        &iface,
                        ty,
                        TcAttachOptions::Netlink(NlOptions::default()),
                    )
                }
            })?;
            let link = res.map_err(|e| aya_err(format!("attaching {name} to {}", t.ifname), e))?;
            t.links.push((name, link));
        }
        Ok(())
    }

    fn classifier(&mut self, name: &'static str) -> Result<&mut SchedClassifier, DropProbeError> {
        self.ebpf
            .program_mut(name)
            .ok_or(DropProbeError::Missing("tc program"))?
            .try_into()
            .map_err(|e| aya_err(format!("{name} is not a classifier"), e))
    }

    /// Detach (`false`) or re-attach (`true`) the data path: the `kfree_skb` tracepoint and
    /// every tc program, keeping the programs, maps, counters and watch list loaded. Detached,
    /// the probe costs the kernel's packet path nothing; this is how `cargo xtask bench drops`
    /// compares throughput with and without exactly what `nfprobe drops` attaches.
    pub fn set_attached(&mut self, on: bool) -> Result<(), DropProbeError> {
        if on != self.detached {
            // Already attached (detached) as asked.
            return Ok(());
        }
        let mut ifaces = std::mem::take(&mut self.tc_ifaces);
        let res = if on {
            self.attach_all(&mut ifaces)
        } else {
            self.detach_all(&mut ifaces)
        };
        self.tc_ifaces = ifaces;
        self.detached = !on;
        res
    }

    fn attach_all(&mut self, ifaces: &mut [TcIface]) -> Result<(), DropProbeError> {
        if self.tp_link.is_none() {
            let prog = drops_program(&mut self.ebpf)?;
            self.tp_link = Some(
                prog.attach()
                    .map_err(|e| aya_err("attaching tp_btf/kfree_skb", e))?,
            );
        }
        // Every interface is tried; the first failure (one that vanished, say) is returned.
        let mut first = None;
        for t in ifaces.iter_mut().filter(|t| t.links.is_empty()) {
            if let Err(e) = self.attach_tc_programs(t) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn detach_all(&mut self, ifaces: &mut [TcIface]) -> Result<(), DropProbeError> {
        if let Some(link) = self.tp_link.take() {
            let prog = drops_program(&mut self.ebpf)?;
            prog.detach(link)
                .map_err(|e| aya_err("detaching tp_btf/kfree_skb", e))?;
        }
        let mut first = None;
        for t in ifaces.iter_mut() {
            for (name, link) in t.links.drain(..) {
                let ns = t.ns.clone();
                let prog = match self.classifier(name) {
                    Ok(p) => p,
                    Err(e) => {
                        first.get_or_insert(e);
                        continue;
                    }
                };
                // A clsact filter is removed by netlink in the interface's namespace.
                let res = run_in(ns.as_ref(), move || prog.detach(link))
                    .map_err(DropProbeError::from)
                    .and_then(|r| {
                        r.map_err(|e| aya_err(format!("detaching {name} from {}", t.ifname), e))
                    });
                if let Err(e) = res {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Zeroed counters for `ifindex`: in its slot of the array fast path if free, else in the
    /// hash. The tc programs count only registered interfaces.
    fn register_if(&mut self, ifindex: u32) -> Result<(), DropProbeError> {
        let ncpu = aya::util::nr_cpus().map_err(|(_, e)| aya_err("counting CPUs", e))?;
        let zero = || {
            PerCpuValues::try_from(vec![Counter::default(); ncpu])
                .map_err(|e| aya_err("per-CPU values", e))
        };
        let slot = ifindex % IF_SLOTS;
        if !self.fast_slots.contains_key(&slot) {
            {
                let mut fast: PerCpuArray<_, Counter> = self.typed_mut(MAP_IFFAST)?;
                for dir in [DIR_INGRESS, DIR_EGRESS] {
                    fast.set(slot * 2 + dir, zero()?, 0)
                        .map_err(|e| aya_err("registering interface counters", e))?;
                }
            }
            let mut slots: Array<_, u32> = self.typed_mut(MAP_IFSLOT)?;
            slots
                .set(slot, ifindex, 0)
                .map_err(|e| aya_err("registering interface counters", e))?;
            self.fast_slots.insert(slot, ifindex);
            return Ok(());
        }
        let mut counters: PerCpuHashMap<_, IfKey, Counter> = self.typed_mut(MAP_IFCOUNT)?;
        for dir in [DIR_INGRESS, DIR_EGRESS] {
            counters
                .insert(IfKey { ifindex, dir }, zero()?, 0)
                .map_err(|e| aya_err("registering interface counters", e))?;
        }
        Ok(())
    }

    /// Drop counters summed over CPUs.
    pub fn drops(&self) -> Result<Vec<(DropKey, Counter)>, DropProbeError> {
        self.summed(MAP_DROPS, "map NFP_DROPS")
    }

    /// Per-interface, per-direction tc counters summed over CPUs (fast slots and hash).
    pub fn if_counters(&self) -> Result<Vec<(IfKey, Counter)>, DropProbeError> {
        let mut out = self.summed(MAP_IFCOUNT, "map NFP_IFCOUNT")?;
        let fast: PerCpuArray<_, Counter> = self.typed(MAP_IFFAST)?;
        for (&slot, &ifindex) in &self.fast_slots {
            for dir in [DIR_INGRESS, DIR_EGRESS] {
                let v = fast
                    .get(&(slot * 2 + dir), 0)
                    .map_err(|e| aya_err("reading NFP_IFFAST", e))?;
                out.push((IfKey { ifindex, dir }, sum(&v)));
            }
        }
        Ok(out)
    }

    /// Every entry of a per-CPU counter hash, its values summed over CPUs.
    fn summed<K: aya::Pod>(
        &self,
        name: &str,
        label: &'static str,
    ) -> Result<Vec<(K, Counter)>, DropProbeError> {
        let map = self.ebpf.map(name).ok_or(DropProbeError::Missing(label))?;
        let hash: PerCpuHashMap<_, K, Counter> =
            PerCpuHashMap::try_from(map).map_err(|e| aya_err(format!("opening {name}"), e))?;
        let mut out = Vec::new();
        for entry in hash.iter() {
            let (k, v) = entry.map_err(|e| aya_err(format!("reading {name}"), e))?;
            out.push((k, sum(&v)));
        }
        Ok(out)
    }

    /// The program's own statistics (`probe_common::drops::STAT_*`), summed over CPUs.
    pub fn stats(&self) -> Result<[u64; STATS_LEN as usize], DropProbeError> {
        let arr: PerCpuArray<_, u64> = self.typed(MAP_STATS)?;
        let mut out = [0u64; STATS_LEN as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            let v = arr
                .get(&(i as u32), 0)
                .map_err(|e| aya_err("reading NFP_STATS", e))?;
            *slot = v.iter().fold(0u64, |a, x| a.saturating_add(*x));
        }
        Ok(out)
    }

    /// Drain the sample ring, at most `max` samples.
    pub fn samples(&mut self, max: usize) -> Vec<DropSample> {
        let mut out = Vec::new();
        let Some(ring) = self.samples.as_mut() else {
            return out;
        };
        while out.len() < max {
            let Some(item) = ring.next() else { break };
            if item.len() >= std::mem::size_of::<DropSample>() {
                // SAFETY: the slice holds at least size_of::<DropSample>() bytes, and
                // DropSample is plain old data (every bit pattern is valid).
                out.push(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<DropSample>()) });
            }
        }
        out
    }
}

/// Before attaching in clsact mode: remove filters a SIGKILLed earlier run left on `ifname`,
/// make sure a clsact qdisc exists, and say whether it is ours to remove on exit: we created
/// it, or it held nothing but our leftovers (an earlier run created it and was killed).
/// A live process holding the program of one of our clsact filters on `ifindex`: another
/// nfprobe counting there (a killed one's filters hold their programs alone).
fn live_clsact_owner(ifindex: u32) -> Option<u32> {
    let ids: Vec<u32> = clsact::filters(ifindex)
        .ok()?
        .iter()
        .filter(|f| is_ours(f))
        .filter_map(|f| f.prog_id)
        .collect();
    super::proc::bpf_program_holders(&ids).into_values().next()
}

fn prepare_clsact(ifname: &str, ifindex: u32) -> bool {
    let mut leftovers = false;
    for (name, ty) in [
        (PROG_TC_IN, TcAttachType::Ingress),
        (PROG_TC_OUT, TcAttachType::Egress),
    ] {
        match tc::qdisc_detach_program(ifname, ty, name) {
            Ok(()) => {
                leftovers = true;
                log::info!(
                    "removed a leftover {name} filter from {ifname} (an earlier run was killed)"
                );
            }
            Err(e) => log::debug!("no leftover {name} on {ifname}: {e}"),
        }
    }
    match tc::qdisc_add_clsact(ifname) {
        Ok(()) => true,
        Err(e) => {
            log::debug!("clsact on {ifname}: {e} (it exists)");
            leftovers && clsact::filters(ifindex).is_ok_and(|f| f.iter().all(is_ours))
        }
    }
}

fn sum(v: &PerCpuValues<Counter>) -> Counter {
    v.iter().fold(Counter::default(), |a, c| Counter {
        packets: a.packets.saturating_add(c.packets),
        bytes: a.bytes.saturating_add(c.bytes),
    })
}

/// Ids of every BPF program and link loaded in the kernel right now (leftover checks).
pub fn loaded_ids() -> Result<(BTreeSet<u32>, BTreeSet<u32>), DropProbeError> {
    let mut progs = BTreeSet::new();
    for p in aya::programs::loaded_programs() {
        progs.insert(
            p.map_err(|e| aya_err("listing loaded BPF programs", e))?
                .id(),
        );
    }
    let mut links = BTreeSet::new();
    for l in aya::programs::loaded_links() {
        links.insert(l.map_err(|e| aya_err("listing BPF links", e))?.id());
    }
    Ok((progs, links))
}

/// One BPF program loaded in the kernel, as `bpftool prog` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedProgram {
    pub id: u32,
    pub name: String,
    /// `sched_cls` for tc/tcx classifiers, `tracing` for BTF tracepoints, ...
    pub kind: &'static str,
}

/// Every BPF program loaded in the kernel right now, with its name and type.
pub fn loaded_programs() -> Result<Vec<LoadedProgram>, DropProbeError> {
    let mut out = Vec::new();
    for p in aya::programs::loaded_programs() {
        let p = p.map_err(|e| aya_err("listing loaded BPF programs", e))?;
        // UAPI `enum bpf_prog_type`.
        let kind = match p.program_type() as u32 {
            2 => "kprobe",
            3 => "sched_cls",
            4 => "sched_act",
            5 => "tracepoint",
            6 => "xdp",
            17 => "raw_tracepoint",
            26 => "tracing",
            _ => "other",
        };
        out.push(LoadedProgram {
            id: p.id(),
            name: p.name_as_str().unwrap_or("").to_owned(),
            kind,
        });
    }
    Ok(out)
}

/// The `kfree_skb` program of the object.
fn drops_program(ebpf: &mut Ebpf) -> Result<&mut BtfTracePoint, DropProbeError> {
    ebpf.program_mut(PROG_DROPS)
        .ok_or(DropProbeError::Missing("program nfp_drops"))?
        .try_into()
        .map_err(|e| aya_err("nfp_drops is not a BTF tracepoint", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid BTF blob with no types at all: every field is missing.
    fn empty_btf() -> Btf {
        let mut b = Vec::new();
        b.extend_from_slice(&0xeb9fu16.to_ne_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, 0, 0, 1] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.push(0);
        Btf::parse(&b).unwrap()
    }

    #[test]
    fn a_missing_field_disables_the_probe_with_its_name() {
        let err = resolve_config(&empty_btf(), 0).unwrap_err();
        assert!(err.to_string().contains("lacks `sk_buff.dev`"), "{err}");
    }

    #[test]
    fn offsets_of_the_running_kernel() {
        let btf = Btf::from_sys().expect("this test needs /sys/kernel/btf/vmlinux");
        let c = resolve_config(&btf, 7).unwrap();
        assert_eq!((c.enabled, c.sample_per_sec), (1, 7));
        let skb = btf.struct_size("sk_buff").unwrap();
        for off in [c.skb_len, c.skb_head, c.skb_protocol, c.skb_refdst] {
            assert!(off > 0 && off < skb, "{c:?}");
        }
        assert!(c.dev_ifindex < btf.struct_size("net_device").unwrap());
    }
}
