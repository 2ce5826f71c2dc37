//! `tp_btf/kfree_skb`: count every dropped skb, in total and per drop reason, optionally only
//! for one network namespace (see `probe_common::DropFilter`).
//!
//! Tracepoint prototype (6.x): `kfree_skb(struct sk_buff *skb, void *location,
//! enum skb_drop_reason reason, struct sock *rx_sk)`.

use aya_ebpf::{
    helpers::bpf_probe_read_kernel,
    macros::{btf_tracepoint, map},
    maps::{PerCpuArray, PerCpuHashMap},
    programs::BtfTracePointContext,
};
use probe_common::drop_counter::MAX_REASONS;
use probe_common::{DropFilter, ReasonKey, counter};

/// Set by userspace at load time; all zero = count every drop.
#[unsafe(no_mangle)]
static DROP_FILTER: DropFilter = DropFilter {
    netns_ino: 0,
    off_skb_dev: 0,
    off_dev_net: 0,
    off_net_inum: 0,
};

#[map(name = "DROP_COUNTERS")]
static DROP_COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::LEN, 0);

#[map(name = "DROP_REASONS")]
static DROP_REASONS: PerCpuHashMap<ReasonKey, u64> =
    PerCpuHashMap::with_max_entries(MAX_REASONS, 0);

const ARG_SKB: usize = 0;
const ARG_REASON: usize = 2;

#[btf_tracepoint(function = "kfree_skb")]
pub fn kfree_skb(ctx: BtfTracePointContext) -> i32 {
    bump(counter::SEEN);
    // SAFETY: a volatile read of our own global, so the compiler keeps the load that userspace
    // rewrites at load time instead of folding the zero initialiser.
    let filter = unsafe { core::ptr::read_volatile(&DROP_FILTER) };
    if filter.netns_ino != 0 {
        let skb: *const u8 = ctx.arg(ARG_SKB);
        match netns_inode(skb, &filter) {
            Netns::Inode(ino) if ino == filter.netns_ino => {}
            Netns::Inode(_) => return 0,
            Netns::NoDevice => {
                bump(counter::NO_DEVICE);
                return 0;
            }
            Netns::ReadError => {
                bump(counter::READ_ERRORS);
                return 0;
            }
        }
    }
    bump(counter::COUNTED);
    let reason: u32 = ctx.arg(ARG_REASON);
    count_reason(ReasonKey { reason });
    0
}

enum Netns {
    Inode(u32),
    /// `skb->dev` is NULL (e.g. a drop in the socket layer).
    NoDevice,
    ReadError,
}

/// `skb->dev->nd_net.net->ns.inum`.
fn netns_inode(skb: *const u8, f: &DropFilter) -> Netns {
    let dev = match read_ptr(skb, f.off_skb_dev) {
        Some(p) if p.is_null() => return Netns::NoDevice,
        Some(p) => p,
        None => return Netns::ReadError,
    };
    let net = match read_ptr(dev, f.off_dev_net) {
        Some(p) if !p.is_null() => p,
        _ => return Netns::ReadError,
    };
    // SAFETY: bpf_probe_read_kernel checks the address; a bad one is an error, not a fault.
    match unsafe { bpf_probe_read_kernel(net.wrapping_add(f.off_net_inum as usize).cast::<u32>()) }
    {
        Ok(ino) => Netns::Inode(ino),
        Err(_) => Netns::ReadError,
    }
}

/// Read the kernel pointer stored at `base + off` (None when `base` is NULL or unreadable).
fn read_ptr(base: *const u8, off: u32) -> Option<*const u8> {
    if base.is_null() {
        return None;
    }
    let field = base.wrapping_add(off as usize).cast::<*const u8>();
    // SAFETY: see netns_inode.
    unsafe { bpf_probe_read_kernel(field) }.ok()
}

fn bump(slot: u32) {
    if let Some(v) = DROP_COUNTERS.get_ptr_mut(slot) {
        // SAFETY: per-CPU slot, no other writer on this CPU while we run.
        unsafe { *v += 1 };
    }
}

fn count_reason(key: ReasonKey) {
    if let Some(v) = DROP_REASONS.get_ptr_mut(key) {
        // SAFETY: per-CPU value, see bump.
        unsafe { *v += 1 };
    } else if DROP_REASONS.insert(key, 1, 0).is_err() {
        // BPF_ANY insert only fails when the map is full; count that instead of losing it.
        bump(counter::REASONS_FULL);
    }
}
