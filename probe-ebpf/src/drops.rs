//! Drop counting: the `kfree_skb` BTF tracepoint and per-interface tc counters.
//!
//! Offsets into kernel structs come from `DROP_CONFIG`, set by userspace from the running
//! kernel's BTF; with `enabled == 0` nothing is read.

use aya_ebpf::{
    bindings::TC_ACT_UNSPEC,
    helpers::{bpf_ktime_get_ns, bpf_probe_read_kernel},
    macros::{btf_tracepoint, classifier, map},
    maps::{Array, HashMap, LpmTrie, PerCpuArray, PerCpuHashMap, RingBuf, lpm_trie::Key},
    programs::{BtfTracePointContext, TcContext},
};
use probe_common::drops::*;
use probe_common::flow::{FLOWCOUNT_SLOT, FlowDrop, FlowKey, MAX_FLOWS};

#[unsafe(no_mangle)]
static DROP_CONFIG: DropConfig = DropConfig {
    enabled: 0,
    sample_per_sec: 0,
    skb_dev: 0,
    skb_len: 0,
    skb_protocol: 0,
    skb_network_header: 0,
    skb_transport_header: 0,
    skb_head: 0,
    skb_refdst: 0,
    dev_ifindex: 0,
    dev_nd_net: 0,
    net_inum: 0,
    dst_dev: 0,
    dst_input: 0,
};

/// Watched devices: the owner of each slot in NFP_WATCHFAST (an inlined array lookup), the
/// others in the NFP_WATCH hash.
#[map]
static NFP_WATCHFAST: Array<WatchSlot> = Array::with_max_entries(WATCH_SLOTS, 0);
#[map]
static NFP_WATCH: HashMap<WatchKey, u32> = HashMap::with_max_entries(4096, 0);
#[map]
static NFP_NETCOUNT: Array<u32> = Array::with_max_entries(2, 0);
#[map]
static NFP_DROPS: PerCpuHashMap<DropKey, Counter> = PerCpuHashMap::with_max_entries(16384, 0);
#[map]
static NFP_SAMPLES: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);
#[map]
static NFP_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STATS_LEN, 0);
#[map]
static NFP_RATE: PerCpuArray<RateWindow> = PerCpuArray::with_max_entries(1, 0);
/// Watched subnets (a bridge's networks) → the bridge, for drops matched by their flow.
#[map]
static NFP_NETS4: LpmTrie<[u8; 4], WatchKey> = LpmTrie::with_max_entries(1024, 0);
#[map]
static NFP_NETS6: LpmTrie<[u8; 16], WatchKey> = LpmTrie::with_max_entries(1024, 0);
#[map]
static NFP_IFCOUNT: PerCpuHashMap<IfKey, Counter> = PerCpuHashMap::with_max_entries(4096, 0);
/// Fast path of the tc counters: slot `ifindex % IF_SLOTS` belongs to the interface userspace
/// wrote there (0 = none); its counters are `NFP_IFFAST[slot * 2 + dir]`. Array lookups are
/// inlined by the verifier, a hash lookup is a call: this is paid by every packet on every
/// watched interface. Interfaces whose slot is taken use NFP_IFCOUNT.
#[map]
static NFP_IFSLOT: Array<u32> = Array::with_max_entries(IF_SLOTS, 0);
#[map]
static NFP_IFFAST: PerCpuArray<Counter> = PerCpuArray::with_max_entries(IF_SLOTS * 2, 0);

const ETH_P_IP_BE: u16 = 0x0008; // htons(0x0800)
const ETH_P_IPV6_BE: u16 = 0xdd86; // htons(0x86dd)
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

#[inline(always)]
fn config() -> DropConfig {
    // SAFETY: a static read; volatile so the compiler does not fold the load-time value.
    unsafe { core::ptr::read_volatile(&DROP_CONFIG) }
}

#[inline(always)]
fn stat(idx: u32) {
    if let Some(p) = NFP_STATS.get_ptr_mut(idx) {
        // SAFETY: per-CPU slot, only this CPU writes it.
        unsafe { *p += 1 }
    }
}

#[inline(always)]
unsafe fn read<T>(base: u64, off: u32) -> Option<T> {
    if base == 0 {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel faults safely on bad addresses.
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T).ok() }
}

/// A field of a kernel struct reached from a tracepoint argument (a BTF-typed pointer), read by
/// a plain load: the offset comes from the frozen read-only `DROP_CONFIG`, so the verifier
/// knows it, checks the access against the kernel's BTF and turns it into a fault-safe load
/// (a NULL base reads 0). No helper call: this is the hot path of every drop.
#[inline(always)]
unsafe fn field<T>(base: *const u8, off: u32) -> T {
    // SAFETY: see above; the verifier rejects the program if the access does not fit the BTF.
    unsafe { core::ptr::read_volatile(base.wrapping_add(off as usize).cast::<T>()) }
}

/// (netns inode, ifindex) of a `struct net_device *` (a BTF pointer, not NULL).
#[inline(always)]
unsafe fn device(c: &DropConfig, dev: *const u8) -> WatchKey {
    let ifindex: i32 = unsafe { field(dev, c.dev_ifindex) };
    let net: *const u8 = unsafe { field(dev, c.dev_nd_net) };
    let netns: u32 = unsafe { field(net, c.net_inum) };
    WatchKey {
        netns,
        ifindex: ifindex as u32,
    }
}

#[btf_tracepoint(function = "kfree_skb")]
pub fn nfp_drops(ctx: BtfTracePointContext) -> i32 {
    let c = config();
    if c.enabled == 0 {
        return 0;
    }
    let skb: *const u8 = ctx.arg(0);
    let location: u64 = ctx.arg(1);
    let reason: u32 = ctx.arg(2);
    if flows_on() {
        // SAFETY: as for on_drop.
        unsafe { on_flow_drop(&c, skb, location, reason) };
    }
    // SAFETY: struct fields are verifier-checked BTF loads, packet bytes go through
    // bpf_probe_read_kernel.
    unsafe { on_drop(&c, skb, location, reason) };
    0
}

#[inline(always)]
unsafe fn on_drop(c: &DropConfig, skb: *const u8, location: u64, reason: u32) {
    let dev: *const u8 = unsafe { field(skb, c.skb_dev) };
    let refdst: u64 = unsafe { field(skb, c.skb_refdst) };
    let dst = refdst & !1u64;
    // The route is a plain number in sk_buff (`_skb_refdst`), not a BTF pointer: probe reads.
    let dst_dev: u64 = if dst != 0 {
        unsafe { read(dst, c.dst_dev) }.unwrap_or(0)
    } else {
        0
    };
    let dev_id = if dev.is_null() {
        None
    } else {
        Some(unsafe { device(c, dev) })
    };
    let mut flags = 0u8;
    if let Some(k) = dev_id
        && watched(&k)
    {
        flags |= MATCH_DEV;
    }
    // Locally generated and POSTROUTING skbs carry the route's device already: one lookup.
    let dst_id = if dst_dev == 0 {
        None
    } else if dst_dev == dev as u64 {
        if flags & MATCH_DEV != 0 {
            flags |= MATCH_DST;
        }
        dev_id
    } else {
        let k = unsafe { device_probed(c, dst_dev) };
        if let Some(k) = k
            && watched(&k)
        {
            flags |= MATCH_DST;
        }
        k
    };
    let mut flow_id = None;
    if flags == 0 {
        flow_id = unsafe { flow_match(c, skb) };
        // A subnet belongs to the watched bridge only in the bridge's own namespace: other
        // namespaces (other Docker hosts, labs) use the same addresses.
        let ours = |k: &WatchKey| {
            dev_id.is_some_and(|d| d.netns == k.netns) || dst_id.is_some_and(|d| d.netns == k.netns)
        };
        if !flow_id.as_ref().is_some_and(ours) {
            return;
        }
        flags |= MATCH_FLOW;
    }
    stat(STAT_MATCHED);
    if !dev.is_null() {
        flags |= HAS_DEV;
        if dev as u64 == dst_dev {
            flags |= DEV_IS_DST_DEV;
        }
    }
    // Attribute to the route's output device when it is watched: a FORWARD drop then lands on
    // the bridge the packet was headed for, not on the input interface.
    let target = if flags & MATCH_DST != 0 {
        dst_id
    } else if flags & MATCH_DEV != 0 {
        dev_id
    } else {
        flow_id
    };
    let Some(target) = target else { return };
    let route_input: u64 = if dst != 0 {
        unsafe { read(dst, c.dst_input) }.unwrap_or(0)
    } else {
        0
    };
    let len: u32 = unsafe { field(skb, c.skb_len) };
    let proto: u16 = unsafe { field(skb, c.skb_protocol) };
    let family = match proto {
        ETH_P_IP_BE => 4,
        ETH_P_IPV6_BE => 6,
        _ => 0,
    };
    let key = DropKey {
        netns: target.netns,
        ifindex: target.ifindex,
        in_ifindex: dev_id.map(|k| k.ifindex).unwrap_or(0),
        reason,
        location,
        route_input,
        flags,
        family,
        _pad: [0; 6],
    };
    match NFP_DROPS.get_ptr_mut(&key) {
        Some(v) => unsafe {
            (*v).packets += 1;
            (*v).bytes += len as u64;
        },
        None => {
            let v = Counter {
                packets: 1,
                bytes: len as u64,
            };
            if NFP_DROPS.insert(&key, &v, 0).is_err() {
                stat(STAT_COUNT_MAP_FULL);
            }
        }
    }
    if c.sample_per_sec == 0 {
        return;
    }
    if !rate_ok(c.sample_per_sec) {
        stat(STAT_SAMPLE_RATE_LIMITED);
        return;
    }
    let Some(mut entry) = NFP_SAMPLES.reserve::<DropSample>(0) else {
        stat(STAT_SAMPLE_RINGBUF_FULL);
        return;
    };
    let mut s = DropSample {
        ts_ns: unsafe { bpf_ktime_get_ns() },
        location,
        route_input,
        netns: target.netns,
        ifindex: target.ifindex,
        in_ifindex: key.in_ifindex,
        reason,
        len,
        family,
        flags,
        ..DropSample::default()
    };
    if family != 0 {
        unsafe { fill_flow(c, skb, &mut s) };
    }
    entry.write(s);
    entry.submit(0);
    stat(STAT_SAMPLED);
}

/// Whether a device is on the watch list: its slot's owner, or (only if the slot says others
/// exist) in the hash.
#[inline(always)]
fn watched(k: &WatchKey) -> bool {
    match NFP_WATCHFAST.get(k.ifindex % WATCH_SLOTS) {
        Some(s) if s.netns == k.netns && s.ifindex == k.ifindex => true,
        Some(s) if s.more == 0 => false,
        _ => NFP_WATCH.get_ptr(k).is_some(),
    }
}

#[inline(always)]
fn have_nets(family: u32) -> bool {
    NFP_NETCOUNT.get(family).is_some_and(|n| *n != 0)
}

/// (netns inode, ifindex) of a `struct net_device *` known only as a number (a route's
/// device): probe reads.
#[inline(always)]
unsafe fn device_probed(c: &DropConfig, dev: u64) -> Option<WatchKey> {
    let ifindex: i32 = unsafe { read(dev, c.dev_ifindex)? };
    let net: u64 = unsafe { read(dev, c.dev_nd_net)? };
    let netns: u32 = unsafe { read(net, c.net_inum)? };
    Some(WatchKey {
        netns,
        ifindex: ifindex as u32,
    })
}

/// The watched bridge whose subnet holds the packet's destination (or source) address.
#[inline(always)]
unsafe fn flow_match(c: &DropConfig, skb: *const u8) -> Option<WatchKey> {
    let proto: u16 = unsafe { field(skb, c.skb_protocol) };
    let head: u64 = unsafe { field(skb, c.skb_head) };
    let nh: u16 = unsafe { field(skb, c.skb_network_header) };
    if head == 0 || nh == 0xffff {
        return None;
    }
    let ip = head + nh as u64;
    match proto {
        ETH_P_IP_BE if have_nets(NETCOUNT_V4) => {
            for off in [16u32, 12] {
                let a: [u8; 4] = unsafe { read(ip, off) }?;
                if let Some(k) = NFP_NETS4.get(Key::new(32, a)) {
                    return Some(*k);
                }
            }
            None
        }
        ETH_P_IPV6_BE if have_nets(NETCOUNT_V6) => {
            for off in [24u32, 8] {
                let a: [u8; 16] = unsafe { read(ip, off) }?;
                if let Some(k) = NFP_NETS6.get(Key::new(128, a)) {
                    return Some(*k);
                }
            }
            None
        }
        _ => None,
    }
}

#[inline(always)]
fn rate_ok(limit: u32) -> bool {
    let Some(w) = NFP_RATE.get_ptr_mut(0) else {
        return false;
    };
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: per-CPU slot, only this CPU writes it.
    unsafe {
        if now.wrapping_sub((*w).start_ns) >= 1_000_000_000 {
            (*w).start_ns = now;
            (*w).count = 0;
        }
        if (*w).count >= limit as u64 {
            return false;
        }
        (*w).count += 1;
    }
    true
}

/// Addresses, ports and TCP flags from the packet headers the skb points at.
#[inline(always)]
unsafe fn fill_flow(c: &DropConfig, skb: *const u8, s: &mut DropSample) {
    let head: u64 = unsafe { field(skb, c.skb_head) };
    let nh: u16 = unsafe { field(skb, c.skb_network_header) };
    let th: u16 = unsafe { field(skb, c.skb_transport_header) };
    if head == 0 || nh == 0xffff {
        return;
    }
    let ip = head + nh as u64;
    let mut l4 = if th != 0xffff && th > nh {
        head + th as u64
    } else {
        0
    };
    if s.family == 4 {
        let Some(vihl) = (unsafe { read::<u8>(ip, 0) }) else {
            return;
        };
        s.proto = unsafe { read::<u8>(ip, 9) }.unwrap_or(0);
        if let Some(a) = unsafe { read::<[u8; 4]>(ip, 12) } {
            s.saddr[..4].copy_from_slice(&a);
        }
        if let Some(a) = unsafe { read::<[u8; 4]>(ip, 16) } {
            s.daddr[..4].copy_from_slice(&a);
        }
        // The transport header offset is not always set yet; the IHL always says it.
        l4 = ip + ((vihl & 0x0f) as u64) * 4;
    } else {
        s.proto = unsafe { read::<u8>(ip, 6) }.unwrap_or(0);
        s.saddr = unsafe { read::<[u8; 16]>(ip, 8) }.unwrap_or([0; 16]);
        s.daddr = unsafe { read::<[u8; 16]>(ip, 24) }.unwrap_or([0; 16]);
        if l4 == 0 {
            l4 = ip + 40;
        }
    }
    match s.proto {
        IPPROTO_TCP | IPPROTO_UDP => {
            let ports: [u8; 4] = unsafe { read(l4, 0) }.unwrap_or([0; 4]);
            s.sport = u16::from_be_bytes([ports[0], ports[1]]);
            s.dport = u16::from_be_bytes([ports[2], ports[3]]);
            if s.proto == IPPROTO_TCP {
                s.tcp_flags = unsafe { read::<u8>(l4, 13) }.unwrap_or(0);
            }
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let tc: [u8; 2] = unsafe { read(l4, 0) }.unwrap_or([0; 2]);
            s.sport = tc[0] as u16;
            s.dport = tc[1] as u16;
        }
        _ => {}
    }
}

#[inline(always)]
fn count_if(ctx: &TcContext, dir: u32) -> i32 {
    // SAFETY: reading __sk_buff fields the verifier allows for tc programs.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let len = ctx.len() as u64;
    let slot = ifindex % IF_SLOTS;
    let v = if NFP_IFSLOT.get(slot) == Some(&ifindex) {
        NFP_IFFAST.get_ptr_mut(slot * 2 + dir)
    } else {
        // Only interfaces userspace registered have an entry; others are not counted.
        NFP_IFCOUNT.get_ptr_mut(&IfKey { ifindex, dir })
    };
    if let Some(v) = v {
        // SAFETY: per-CPU value, only this CPU writes it.
        unsafe {
            (*v).packets += 1;
            (*v).bytes += len;
        }
    }
    TC_ACT_UNSPEC
}

#[classifier]
pub fn nfp_tc_in(ctx: TcContext) -> i32 {
    count_if(&ctx, DIR_INGRESS)
}

#[classifier]
pub fn nfp_tc_out(ctx: TcContext) -> i32 {
    count_if(&ctx, DIR_EGRESS)
}

// ---- Per-flow drop watch (`nfprobe prove`) ----
//
// Userspace fills NFP_FLOWS with the 5-tuples of the one connection it is making (both
// directions, and the NATed tuples conntrack reports) and their count in NFP_FLOWCOUNT. With
// a count of 0 (always, outside a prove run) a drop costs one array read here.

#[map]
static NFP_FLOWS: HashMap<FlowKey, u32> = HashMap::with_max_entries(MAX_FLOWS, 0);
#[map]
static NFP_FLOWCOUNT: Array<u32> = Array::with_max_entries(1, 0);
#[map]
static NFP_FLOWDROPS: RingBuf = RingBuf::with_byte_size(64 * 1024, 0);

#[inline(always)]
fn flows_on() -> bool {
    NFP_FLOWCOUNT.get(FLOWCOUNT_SLOT).is_some_and(|n| *n != 0)
}

/// Per-CPU scratch for the drop being reported and the key being looked up: the BPF stack
/// (512 bytes, shared with the counting path inlined next to this one) cannot hold them.
#[map]
static NFP_FLOWSCRATCH: PerCpuArray<FlowDrop> = PerCpuArray::with_max_entries(1, 0);
#[map]
static NFP_FLOWKEY: PerCpuArray<FlowKey> = PerCpuArray::with_max_entries(1, 0);

/// The watched flow this packet belongs to: its exact 5-tuple, or a wildcard for one side.
#[inline(always)]
fn flow_of(s: &DropSample, k: &mut FlowKey) -> Option<u32> {
    k.saddr = s.saddr;
    k.daddr = s.daddr;
    k.sport = s.sport;
    k.dport = s.dport;
    k.proto = s.proto;
    k.family = s.family;
    k._pad = [0; 2];
    // SAFETY: map values are plain u32s.
    if let Some(v) = unsafe { NFP_FLOWS.get(&*k) } {
        return Some(*v);
    }
    k.daddr = [0; 16];
    k.dport = 0;
    if let Some(v) = unsafe { NFP_FLOWS.get(&*k) } {
        return Some(*v);
    }
    k.daddr = s.daddr;
    k.dport = s.dport;
    k.saddr = [0; 16];
    k.sport = 0;
    unsafe { NFP_FLOWS.get(&*k) }.copied()
}

#[inline(always)]
unsafe fn on_flow_drop(c: &DropConfig, skb: *const u8, location: u64, reason: u32) {
    let proto: u16 = unsafe { field(skb, c.skb_protocol) };
    let family = match proto {
        ETH_P_IP_BE => 4,
        ETH_P_IPV6_BE => 6,
        _ => return,
    };
    let (Some(d), Some(k)) = (NFP_FLOWSCRATCH.get_ptr_mut(0), NFP_FLOWKEY.get_ptr_mut(0)) else {
        return;
    };
    // SAFETY: per-CPU scratch slots, only this CPU uses them, and only inside this call.
    let (d, k) = unsafe { (&mut *d, &mut *k) };
    // SAFETY: FlowDrop is plain old data; all-zero is a valid value.
    unsafe { core::ptr::write_bytes(d as *mut FlowDrop, 0, 1) };
    d.sample.family = family;
    unsafe { fill_flow(c, skb, &mut d.sample) };
    let Some(flow) = flow_of(&d.sample, k) else {
        return;
    };
    d.flow = flow;
    let dev: *const u8 = unsafe { field(skb, c.skb_dev) };
    let refdst: u64 = unsafe { field(skb, c.skb_refdst) };
    let dst = refdst & !1u64;
    let (dst_dev, route_input) = if dst != 0 {
        (
            unsafe { read::<u64>(dst, c.dst_dev) }.unwrap_or(0),
            unsafe { read::<u64>(dst, c.dst_input) }.unwrap_or(0),
        )
    } else {
        (0, 0)
    };
    if !dev.is_null() {
        let w = unsafe { device(c, dev) };
        d.in_netns = w.netns;
        d.sample.in_ifindex = w.ifindex;
        d.sample.netns = w.netns;
        d.sample.ifindex = w.ifindex;
        d.sample.flags |= HAS_DEV;
    }
    if dst_dev != 0 {
        if dst_dev == dev as u64 {
            d.sample.flags |= DEV_IS_DST_DEV;
        } else if let Some(w) = unsafe { device_probed(c, dst_dev) } {
            d.sample.netns = w.netns;
            d.sample.ifindex = w.ifindex;
        }
    }
    d.sample.ts_ns = unsafe { bpf_ktime_get_ns() };
    d.sample.location = location;
    d.sample.route_input = route_input;
    d.sample.reason = reason;
    d.sample.len = unsafe { field(skb, c.skb_len) };
    let _ = NFP_FLOWDROPS.output::<FlowDrop>(&*d, 0);
}
