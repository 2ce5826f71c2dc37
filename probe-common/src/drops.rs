//! Types of the drop counter (`kfree_skb` BTF tracepoint) and the per-interface tc counters.

/// Key of the WATCH map: a device by namespace inode and ifindex. Value: `WATCH_*` role bits.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchKey {
    pub netns: u32,
    pub ifindex: u32,
}

/// Slots of the watch list's array fast path (NFP_WATCHFAST): slot `ifindex % WATCH_SLOTS`.
pub const WATCH_SLOTS: u32 = 1024;

/// One slot of NFP_WATCHFAST: the watched device that owns it (netns 0 = free), its role, and
/// how many other watched devices with this slot live in the NFP_WATCH hash (0 = a device that
/// is not the owner is not watched: no hash lookup).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchSlot {
    pub netns: u32,
    pub ifindex: u32,
    pub role: u32,
    pub more: u32,
}

/// Counts of watched subnets per family (NFP_NETCOUNT[0] IPv4, [1] IPv6): with none, drops of
/// unwatched devices skip the subnet lookups.
pub const NETCOUNT_V4: u32 = 0;
pub const NETCOUNT_V6: u32 = 1;

pub const WATCH_BRIDGE: u32 = 1;
pub const WATCH_PORT: u32 = 2;
pub const WATCH_PEER: u32 = 4;
pub const WATCH_NAMED: u32 = 8;

/// `DropKey::flags`: which watched device matched, and how skb->dev relates to the route.
pub const MATCH_DEV: u8 = 1;
pub const MATCH_DST: u8 = 2;
pub const DEV_IS_DST_DEV: u8 = 4;
pub const HAS_DEV: u8 = 8;
/// Neither device is watched, but the packet's address is in a watched bridge's subnet
/// (NFP_NETS4/NFP_NETS6, filled by userspace): e.g. a drop before routing on the uplink.
pub const MATCH_FLOW: u8 = 16;

/// Key of the per-CPU DROPS hash.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DropKey {
    /// Namespace inode of the watched device the drop is attributed to.
    pub netns: u32,
    /// The watched device: the route's output device if watched (so a FORWARD drop lands on the
    /// bridge the packet was headed for), otherwise the skb's device.
    pub ifindex: u32,
    /// The skb's own device (input device for forwarded packets), 0 if none.
    pub in_ifindex: u32,
    /// `enum skb_drop_reason` value (named from BTF in userspace).
    pub reason: u32,
    /// Address the skb was freed from (symbolised from kallsyms).
    pub location: u64,
    /// The route's `dst->input` function (0: no route). Userspace symbolises it: ip_forward
    /// means forwarded, ip_local_deliver/ip6_input local delivery, anything else locally
    /// generated or an error route.
    pub route_input: u64,
    pub flags: u8,
    /// 4 or 6, 0 for other protocols.
    pub family: u8,
    pub _pad: [u8; 6],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

/// One sampled drop, sent through the SAMPLES ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropSample {
    pub ts_ns: u64,
    pub location: u64,
    pub route_input: u64,
    pub netns: u32,
    pub ifindex: u32,
    pub in_ifindex: u32,
    pub reason: u32,
    pub len: u32,
    pub family: u8,
    /// IPPROTO_* of the transport header.
    pub proto: u8,
    pub tcp_flags: u8,
    pub flags: u8,
    pub _pad: [u8; 4],
    /// IPv4 addresses use the first four bytes.
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    /// Host byte order; for ICMP: type and code.
    pub sport: u16,
    pub dport: u16,
    pub _pad2: u64,
}

/// Indices of the per-CPU STATS array.
pub const STAT_MATCHED: u32 = 0;
pub const STAT_SAMPLED: u32 = 1;
pub const STAT_SAMPLE_RATE_LIMITED: u32 = 2;
pub const STAT_SAMPLE_RINGBUF_FULL: u32 = 3;
pub const STAT_COUNT_MAP_FULL: u32 = 4;
pub const STAT_READ_ERROR: u32 = 5;
pub const STATS_LEN: u32 = 8;

/// Per-CPU sampling window (rate limit).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateWindow {
    pub start_ns: u64,
    pub count: u64,
}

/// Key of the per-CPU IF_COUNTERS hash filled by the tc programs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfKey {
    pub ifindex: u32,
    pub dir: u32,
}

/// Slots of the tc counters' array fast path (NFP_IFSLOT, NFP_IFFAST).
pub const IF_SLOTS: u32 = 256;

pub const DIR_INGRESS: u32 = 0;
pub const DIR_EGRESS: u32 = 1;

/// Load-time global `DROP_CONFIG`: kernel struct offsets from the running kernel's BTF. `enabled == 0` (the default in the object) makes the
/// program do nothing, so a missing field can never lead to reads at wrong offsets.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropConfig {
    pub enabled: u32,
    /// Samples per second per CPU; 0 disables sampling.
    pub sample_per_sec: u32,
    pub skb_dev: u32,
    pub skb_len: u32,
    pub skb_protocol: u32,
    pub skb_network_header: u32,
    pub skb_transport_header: u32,
    pub skb_head: u32,
    pub skb_refdst: u32,
    pub dev_ifindex: u32,
    pub dev_nd_net: u32,
    pub net_inum: u32,
    pub dst_dev: u32,
    pub dst_input: u32,
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all of these are repr(C), Copy, with explicit padding and no pointers.
    unsafe impl aya::Pod for WatchKey {}
    unsafe impl aya::Pod for WatchSlot {}
    unsafe impl aya::Pod for DropKey {}
    unsafe impl aya::Pod for Counter {}
    unsafe impl aya::Pod for DropSample {}
    unsafe impl aya::Pod for RateWindow {}
    unsafe impl aya::Pod for IfKey {}
    unsafe impl aya::Pod for DropConfig {}
}

// The eBPF side and userspace must agree byte for byte, without implicit padding.
const _: () = assert!(core::mem::size_of::<DropKey>() == 40);
const _: () = assert!(core::mem::size_of::<DropSample>() == 96);
const _: () = assert!(core::mem::size_of::<DropConfig>() == 56);
