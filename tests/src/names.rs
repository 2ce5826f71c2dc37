//! Unique names for lab objects: several labs (tests, helpers) run at the same time.

use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Root of every lab's private folder.
pub const LAB_ROOT: &str = "/run/nfprobe-lab";

/// Prefix of every lab name (and so of every lab netns name).
pub const PREFIX: &str = "nfl";

/// A fresh lab name: `nfl<pid>-<counter>`, unique per process and per call.
pub fn lab_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{}-{n}", std::process::id())
}

/// A Docker-looking 64-hex id derived from a seed (FNV-1a, then a splitmix64 finaliser per
/// word so that similar seeds give unrelated ids), stable for a given seed.
pub fn hex_id(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(64);
    for word in 0u64..4 {
        let mut z = h.wrapping_add((word + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out
}

/// Docker's bridge name for a network id: `br-` + the first 12 hex digits (15 chars).
pub fn bridge_name(network_id: &str) -> String {
    let short: String = network_id.chars().take(12).collect();
    format!("br-{short}")
}

/// Docker's host-side veth name: `veth` + 7 hex digits.
pub fn veth_name(seed: &str) -> String {
    let id = hex_id(seed);
    format!("veth{}", &id[..7])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_short() {
        let a = lab_name();
        let b = lab_name();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX));
        let br = bridge_name(&hex_id("x"));
        assert_eq!(br.len(), 15);
        assert!(veth_name("y").len() <= 15);
        assert_eq!(hex_id("s").len(), 64);
        assert_ne!(hex_id("s"), hex_id("t"));
        assert_ne!(hex_id("lab/network/0")[..12], hex_id("lab/network/1")[..12]);
    }
}
