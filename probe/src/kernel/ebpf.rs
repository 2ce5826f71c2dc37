//! Loading nfprobe's embedded eBPF object (built by probe/build.rs from probe-ebpf) and the
//! minimal drop counter: `tp_btf/kfree_skb` counting drops in total and per drop reason.
//!
//! Every program is detached when its owner is dropped (aya's links are owned by the `Ebpf`),
//! so no exit path leaves anything attached.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aya::maps::{PerCpuArray, PerCpuHashMap};
use aya::programs::BtfTracePoint;
use aya::{Ebpf, EbpfLoader};
use probe_common::drop_counter::{COUNTERS_MAP, FILTER_GLOBAL, KFREE_SKB_PROGRAM, REASONS_MAP};
use probe_common::{DropFilter, ReasonKey, counter};
use thiserror::Error;

use super::btf::{Btf, BtfError};

/// The eBPF object embedded at build time (empty when built with `AYA_BUILD_SKIP=1`).
pub fn embedded_object() -> &'static [u8] {
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/probe-ebpf"))
}

/// Which eBPF object this binary carries, for `nfprobe --version`: its size and FNV-1a 64-bit
/// hash (enough to tell two builds apart; not a security digest), or that there is none.
pub fn object_identity() -> String {
    let obj = embedded_object();
    if obj.is_empty() {
        return "none (built with AYA_BUILD_SKIP=1: drops cannot run)".to_owned();
    }
    let hash = obj.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!(
        "{} bytes, fnv1a64 {hash:016x}, built by {}",
        obj.len(),
        env!("NFPROBE_EBPF_TOOLCHAIN")
    )
}

#[derive(Debug, Error)]
pub enum EbpfError {
    #[error(
        "this nfprobe was built without its eBPF object (AYA_BUILD_SKIP was set); \
         rebuild with `cargo xtask build`"
    )]
    NotEmbedded,
    #[error(
        "{what}: permission denied; loading eBPF needs root (or CAP_BPF + CAP_PERFMON) \
         and a kernel that allows it (lockdown, unprivileged_bpf_disabled): {source}"
    )]
    NotPermitted {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("kernel BTF is needed for the kfree_skb tracepoint: {0}")]
    Btf(#[from] BtfError),
    #[error("kernel BTF is needed for the kfree_skb tracepoint: {0}")]
    AyaBtf(#[source] aya::BtfError),
    #[error("{what}: {source}")]
    Aya {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the eBPF object has no {kind} `{name}` (stale or foreign object?)")]
    Missing {
        kind: &'static str,
        name: &'static str,
    },
    #[error("cannot identify network namespace {path}: {source}")]
    Netns {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EbpfError {
    /// Wrap an aya error, naming permission problems as such.
    fn aya<E: std::error::Error + Send + Sync + 'static>(what: &'static str, e: E) -> Self {
        if super::caps::is_permission_denied(&e) {
            EbpfError::NotPermitted {
                what,
                source: Box::new(e),
            }
        } else {
            EbpfError::Aya {
                what,
                source: Box::new(e),
            }
        }
    }
}

/// Inode of a network namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`), as the kernel's
/// `net->ns.inum`.
pub fn netns_inode(path: &Path) -> Result<u32, EbpfError> {
    let meta = std::fs::metadata(path).map_err(|source| EbpfError::Netns {
        path: path.to_owned(),
        source,
    })?;
    u32::try_from(meta.ino()).map_err(|_| EbpfError::Netns {
        path: path.to_owned(),
        source: std::io::Error::other("inode does not fit in 32 bits: not a namespace file"),
    })
}

/// Resolve the filter for one namespace from the running kernel's BTF.
pub fn netns_filter(btf: &Btf, netns_ino: u32) -> Result<DropFilter, EbpfError> {
    Ok(DropFilter {
        netns_ino,
        off_skb_dev: btf.member_offset("sk_buff", &["dev"])?,
        off_dev_net: btf.member_offset("net_device", &["nd_net", "net"])?,
        off_net_inum: btf.member_offset("net", &["ns", "inum"])?,
    })
}

/// Totals read from the per-CPU array, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DropTotals {
    /// kfree_skb events seen before filtering.
    pub seen: u64,
    /// Events that passed the filter.
    pub counted: u64,
    /// Events whose namespace could not be read.
    pub read_errors: u64,
    /// Events the per-reason map had no room for.
    pub reasons_full: u64,
    /// Filtered-out events whose skb had no device (netns unknown).
    pub no_device: u64,
}

/// The attached `kfree_skb` drop counter. Dropping it detaches the program.
pub struct DropCounter {
    ebpf: Ebpf,
}

impl std::fmt::Debug for DropCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropCounter").finish_non_exhaustive()
    }
}

impl DropCounter {
    /// Load the embedded object and attach `tp_btf/kfree_skb`; `netns_ino` restricts counting to
    /// drops whose device lives in that namespace.
    pub fn attach(netns_ino: Option<u32>) -> Result<Self, EbpfError> {
        let object = embedded_object();
        if object.is_empty() {
            return Err(EbpfError::NotEmbedded);
        }
        let filter = match netns_ino {
            Some(ino) => netns_filter(&Btf::from_sys()?, ino)?,
            None => DropFilter::default(),
        };
        let aya_btf = aya::Btf::parse_file(super::btf::vmlinux_path(), aya::Endianness::default())
            .map_err(EbpfError::AyaBtf)?;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&aya_btf))
            .override_global(FILTER_GLOBAL, &filter, true)
            .load(object)
            .map_err(|e| EbpfError::aya("loading the eBPF object", e))?;
        let program: &mut BtfTracePoint = ebpf
            .program_mut(KFREE_SKB_PROGRAM)
            .ok_or(EbpfError::Missing {
                kind: "program",
                name: KFREE_SKB_PROGRAM,
            })?
            .try_into()
            .map_err(|e| EbpfError::aya("kfree_skb is not a BTF tracepoint", e))?;
        program
            .load("kfree_skb", &aya_btf)
            .map_err(|e| EbpfError::aya("loading tp_btf/kfree_skb", e))?;
        program
            .attach()
            .map_err(|e| EbpfError::aya("attaching tp_btf/kfree_skb", e))?;
        log::debug!("tp_btf/kfree_skb attached, filter {filter:?}");
        Ok(Self { ebpf })
    }

    /// The kernel's id of the loaded kfree_skb program (to check it is gone after drop).
    pub fn program_id(&self) -> Result<u32, EbpfError> {
        let program = self
            .ebpf
            .program(KFREE_SKB_PROGRAM)
            .ok_or(EbpfError::Missing {
                kind: "program",
                name: KFREE_SKB_PROGRAM,
            })?;
        let info = program
            .info()
            .map_err(|e| EbpfError::aya("reading program info", e))?;
        Ok(info.id())
    }

    pub fn totals(&self) -> Result<DropTotals, EbpfError> {
        let map = self.ebpf.map(COUNTERS_MAP).ok_or(EbpfError::Missing {
            kind: "map",
            name: COUNTERS_MAP,
        })?;
        let array = PerCpuArray::<_, u64>::try_from(map)
            .map_err(|e| EbpfError::aya("opening DROP_COUNTERS", e))?;
        let slot = |i: u32| -> Result<u64, EbpfError> {
            let values = array
                .get(&i, 0)
                .map_err(|e| EbpfError::aya("reading DROP_COUNTERS", e))?;
            Ok(values.iter().fold(0u64, |a, v| a.saturating_add(*v)))
        };
        Ok(DropTotals {
            seen: slot(counter::SEEN)?,
            counted: slot(counter::COUNTED)?,
            read_errors: slot(counter::READ_ERRORS)?,
            reasons_full: slot(counter::REASONS_FULL)?,
            no_device: slot(counter::NO_DEVICE)?,
        })
    }

    /// Counted drops per raw `enum skb_drop_reason` value, summed over CPUs.
    pub fn by_reason(&self) -> Result<BTreeMap<u32, u64>, EbpfError> {
        let map = self.ebpf.map(REASONS_MAP).ok_or(EbpfError::Missing {
            kind: "map",
            name: REASONS_MAP,
        })?;
        let hash = PerCpuHashMap::<_, ReasonKey, u64>::try_from(map)
            .map_err(|e| EbpfError::aya("opening DROP_REASONS", e))?;
        let mut out = BTreeMap::new();
        for entry in hash.iter() {
            let (key, values) = entry.map_err(|e| EbpfError::aya("reading DROP_REASONS", e))?;
            let sum = values.iter().fold(0u64, |a, v| a.saturating_add(*v));
            out.insert(key.reason, sum);
        }
        Ok(out)
    }
}

/// Can this process load and attach the drop counter here? Loads, attaches and detaches at once.
pub fn probe_load() -> Result<(), EbpfError> {
    DropCounter::attach(None).map(drop)
}

/// Ids of every eBPF program loaded in the kernel right now.
pub fn loaded_program_ids() -> Result<Vec<u32>, EbpfError> {
    aya::programs::loaded_programs()
        .map(|p| {
            p.map(|info| info.id())
                .map_err(|e| EbpfError::aya("listing loaded programs", e))
        })
        .collect()
}
