//! Table blobs built by hand, byte for byte as `*_SO_GET_ENTRIES` lays them out (for the
//! tests of this layer and of the translation above it).

use super::entry::{ERROR_TARGET, EXT_HDR, STANDARD_TARGET, entry_size};
use crate::kernel::family::Family;

// Standard verdicts as stored (-verdict - 1).
pub const V_DROP: i32 = -1;
pub const V_ACCEPT: i32 = -2;
pub const V_RETURN: i32 = -5;

/// `xt_entry_match` / `xt_entry_target`: header, then `data` padded to 8 bytes.
pub fn ext_blob(name: &str, rev: u8, data: &[u8]) -> Vec<u8> {
    let size = (EXT_HDR + data.len()).div_ceil(8) * 8;
    let mut b = vec![0u8; size];
    b[..2].copy_from_slice(&(size as u16).to_ne_bytes());
    b[2..2 + name.len()].copy_from_slice(name.as_bytes());
    b[31] = rev;
    b[EXT_HDR..EXT_HDR + data.len()].copy_from_slice(data);
    b
}

/// A standard target: a verdict, or (non-negative) a jump offset.
pub fn verdict(v: i32) -> Vec<u8> {
    ext_blob(STANDARD_TARGET, 0, &v.to_ne_bytes())
}

/// Fixed part of an entry: (offset of flags, of target_offset, of counters).
fn layout(family: Family) -> (usize, usize, usize) {
    match family {
        Family::Ipv4 => (82, 88, 96),
        Family::Ipv6 => (131, 140, 152),
    }
}

/// Where `target_offset` (then `next_offset`) sits in the fixed part.
pub fn offsets_at(family: Family) -> usize {
    layout(family).1
}

/// What the fixed part of an entry says.
#[derive(Default)]
pub struct Spec {
    /// `-s 10.0.0.0/8` (IPv6: `10::/16`).
    pub src8: bool,
    /// `-i eth+`.
    pub in_eth: bool,
    /// `-p tcp`.
    pub tcp: bool,
    /// The jump is a goto.
    pub goto: bool,
    pub counters: (u64, u64),
}

/// One entry: fixed part, matches, target.
pub fn entry(family: Family, spec: &Spec, matches: &[Vec<u8>], target: &[u8]) -> Vec<u8> {
    let size = entry_size(family);
    let (flags_at, toff_at, cnt_at) = layout(family);
    let mut b = vec![0u8; size];
    if spec.src8 {
        b[0] = 10; // src 10.0.0.0 / 10::
        let (m, n) = match family {
            Family::Ipv4 => (8, 1),
            Family::Ipv6 => (32, 2),
        };
        b[m..m + n].fill(0xff);
    }
    if spec.in_eth {
        let (name, mask) = match family {
            Family::Ipv4 => (16, 48),
            Family::Ipv6 => (64, 96),
        };
        b[name..name + 3].copy_from_slice(b"eth");
        b[mask..mask + 3].fill(0xff);
    }
    if spec.tcp {
        b[flags_at - 2] = 6;
    }
    if spec.goto {
        b[flags_at] = match family {
            Family::Ipv4 => 0x02,
            Family::Ipv6 => 0x04,
        };
    }
    for m in matches {
        b.extend_from_slice(m);
    }
    let toff = b.len();
    b.extend_from_slice(target);
    let next = b.len();
    b[toff_at..toff_at + 2].copy_from_slice(&(toff as u16).to_ne_bytes());
    b[toff_at + 2..toff_at + 4].copy_from_slice(&(next as u16).to_ne_bytes());
    b[cnt_at..cnt_at + 8].copy_from_slice(&spec.counters.0.to_ne_bytes());
    b[cnt_at + 8..cnt_at + 16].copy_from_slice(&spec.counters.1.to_ne_bytes());
    b
}

/// An `ERROR` entry: a user chain's start, or (named `ERROR`) the table's end.
pub fn error(family: Family, name: &str) -> Vec<u8> {
    let mut t = [0u8; 30];
    t[..name.len()].copy_from_slice(name.as_bytes());
    entry(
        family,
        &Spec::default(),
        &[],
        &ext_blob(ERROR_TARGET, 0, &t),
    )
}
