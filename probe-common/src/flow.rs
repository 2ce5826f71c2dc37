//! Types of the per-flow drop watch (`nfprobe prove`): the kfree_skb program reports every drop
//! whose 5-tuple is in the flow map, unrated, through its own ring buffer. The map is empty
//! unless a prove run fills it; then the program pays nothing but one array read per drop.

use crate::drops::DropSample;

/// Key of NFP_FLOWS: a packet's 5-tuple as it is on the wire at the drop. An all-zero address
/// with port 0 is a wildcard for that side (userspace inserts `(client, *)` and `(*, client)`
/// so a DNATed destination is followed without knowing it in advance).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// IPv4 addresses use the first four bytes.
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    /// Host byte order.
    pub sport: u16,
    pub dport: u16,
    /// IPPROTO_*.
    pub proto: u8,
    /// 4 or 6.
    pub family: u8,
    pub _pad: [u8; 2],
}

/// One drop of a watched flow, sent through NFP_FLOWDROPS. In `sample`, `netns`/`ifindex`
/// are the route's output device when the skb has a route to another device, otherwise the
/// skb's own device; `in_ifindex` is the skb's device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowDrop {
    pub sample: DropSample,
    /// Value of the NFP_FLOWS entry that matched (the attempt's id).
    pub flow: u32,
    /// Namespace inode of the skb's own device (0: none).
    pub in_netns: u32,
}

/// Slot of NFP_FLOWCOUNT holding how many entries NFP_FLOWS has (0: the watch is off).
pub const FLOWCOUNT_SLOT: u32 = 0;
/// Capacity of NFP_FLOWS.
pub const MAX_FLOWS: u32 = 1024;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), Copy, explicit padding, no pointers.
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowDrop {}
}

const _: () = assert!(core::mem::size_of::<FlowKey>() == 40);
const _: () = assert!(core::mem::size_of::<FlowDrop>() == 104);
