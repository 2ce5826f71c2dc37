//! The minimal drop pipeline: `kfree_skb` events counted in a per-CPU array (totals) and a
//! per-CPU hash keyed by the kernel's drop reason, optionally only for one network namespace.

/// Name of the per-CPU array of totals (`u64` per slot, indexed by [`counter`]).
pub const COUNTERS_MAP: &str = "DROP_COUNTERS";
/// Name of the per-CPU hash `ReasonKey -> u64`.
pub const REASONS_MAP: &str = "DROP_REASONS";
/// Name of the load-time global holding the [`DropFilter`].
pub const FILTER_GLOBAL: &str = "DROP_FILTER";
/// Name of the `tp_btf/kfree_skb` program in the object.
pub const KFREE_SKB_PROGRAM: &str = "kfree_skb";
/// Capacity of [`REASONS_MAP`]; the kernel has about a hundred reasons plus subsystem ones.
pub const MAX_REASONS: u32 = 1024;

/// Slots of the totals array.
pub mod counter {
    /// Every `kfree_skb` event the program saw, before any filter.
    pub const SEEN: u32 = 0;
    /// Events that passed the filter (these are also counted per reason).
    pub const COUNTED: u32 = 1;
    /// Events whose netns could not be read (a kernel read failed): never silently dropped.
    pub const READ_ERRORS: u32 = 2;
    /// Events the reason hash could not take (it was full).
    pub const REASONS_FULL: u32 = 3;
    /// Filtered events whose skb had no device (socket-level drops): their netns is unknown,
    /// so they are not counted.
    pub const NO_DEVICE: u32 = 4;
    /// Number of slots.
    pub const LEN: u32 = 5;
}

/// Key of the per-reason hash: the raw `enum skb_drop_reason` value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReasonKey {
    pub reason: u32,
}

/// Load-time global: which drops to count.
///
/// With `netns_ino == 0` every drop counts. Otherwise only drops whose `skb->dev` lives in the
/// network namespace with that inode; the kernel has no CO-RE for Rust programs, so userspace
/// resolves the field offsets from the running kernel's BTF and passes them here.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropFilter {
    /// Inode of the network namespace to watch (`stat -L -c %i /run/netns/NAME`), 0 = all.
    pub netns_ino: u32,
    /// Byte offset of `struct sk_buff::dev`.
    pub off_skb_dev: u32,
    /// Byte offset of `struct net_device::nd_net.net`.
    pub off_dev_net: u32,
    /// Byte offset of `struct net::ns.inum`.
    pub off_net_inum: u32,
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: both are #[repr(C)], Copy, made of u32 only (no padding), valid for any bytes.
    unsafe impl aya::Pod for super::ReasonKey {}
    unsafe impl aya::Pod for super::DropFilter {}
}
