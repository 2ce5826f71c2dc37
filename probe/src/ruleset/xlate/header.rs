//! The IP-header part of a rule: `-i/-o` (meta iifname/oifname), `-p` (meta l4proto),
//! `-s/-d` (network-header payload, optionally masked) and `-f` (fragment offset).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::rule::{Load, Reg, Xlate};
use crate::kernel::nft::expr::{cmp, meta};
use crate::ruleset::{AddrMatch, Family, IfaceMatch, ProtoMatch};

fn invert(op: u32) -> Option<bool> {
    match op {
        cmp::OP_EQ => Some(false),
        cmp::OP_NEQ => Some(true),
        _ => None,
    }
}

/// `meta iifname/oifname/l4proto` compared with a constant.
pub(super) fn meta_cmp(x: &mut Xlate, reg: &Reg, op: u32, data: &[u8]) -> bool {
    let (Load::Meta(key), None, Some(inv)) = (reg.load, &reg.mask, invert(op)) else {
        return false;
    };
    match key {
        meta::KEY_IIFNAME | meta::KEY_OIFNAME => {
            // Exact names carry their NUL; `eth+` compares only the prefix, without it.
            let (name, wildcard) = match data.iter().position(|&b| b == 0) {
                Some(end) => (&data[..end], false),
                None => (data, true),
            };
            let mut text = x.names.pop().unwrap_or_default();
            text.clear();
            match std::str::from_utf8(name) {
                Ok(n) => text.push_str(n),
                Err(_) => text.push_str(&String::from_utf8_lossy(name)),
            }
            let m = IfaceMatch {
                name: text,
                wildcard,
                invert: inv,
            };
            let slot = if key == meta::KEY_IIFNAME {
                &mut x.rule.ip.in_iface
            } else {
                &mut x.rule.ip.out_iface
            };
            if slot.is_some() {
                return false;
            }
            *slot = Some(m);
            true
        }
        meta::KEY_L4PROTO => proto(x, data, inv),
        _ => false,
    }
}

fn proto(x: &mut Xlate, data: &[u8], inv: bool) -> bool {
    let [p] = data else { return false };
    if x.rule.ip.proto.is_some() {
        return false;
    }
    x.rule.ip.proto = Some(ProtoMatch {
        proto: *p,
        invert: inv,
    });
    true
}

/// Network-header loads: addresses, the protocol byte, the fragment offset.
pub(super) fn network_cmp(x: &mut Xlate, reg: &Reg, op: u32, data: &[u8]) -> bool {
    let Load::Payload { offset, len, .. } = reg.load else {
        return false;
    };
    let Some(inv) = invert(op) else { return false };
    let (src_off, dst_off, proto_off, alen) = match x.family {
        Family::Ipv4 => (12, 16, 9, 4),
        Family::Ipv6 => (8, 24, 6, 16),
    };
    if offset == proto_off && len == 1 && reg.mask.is_none() {
        return proto(x, data, inv);
    }
    if x.family == Family::Ipv4 && offset == 6 && len == 2 {
        // frag_off & 0x1fff != 0 is `-f`; == 0 is `! -f`.
        let ok = reg.mask.as_deref() == Some(&[0x1f, 0xff][..]) && data == [0, 0];
        if !ok || x.rule.ip.fragment.is_some() {
            return false;
        }
        x.rule.ip.fragment = Some(!inv);
        return true;
    }
    if offset != src_off && offset != dst_off {
        return false;
    }
    let len = len as usize;
    if len == 0 || len > alen || data.len() != len {
        return false;
    }
    let mut addr = [0u8; 16];
    addr[..len].copy_from_slice(data);
    let mut mask = [0u8; 16];
    match reg.mask.as_deref() {
        Some(m) if m.len() == len => mask[..len].copy_from_slice(m),
        Some(_) => return false,
        None => mask[..len].fill(0xff),
    }
    let (addr, mask) = match x.family {
        Family::Ipv4 => (
            IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
            IpAddr::V4(Ipv4Addr::new(mask[0], mask[1], mask[2], mask[3])),
        ),
        Family::Ipv6 => (
            IpAddr::V6(Ipv6Addr::from(addr)),
            IpAddr::V6(Ipv6Addr::from(mask)),
        ),
    };
    let m = AddrMatch {
        addr,
        mask,
        invert: inv,
    };
    let slot = if offset == src_off {
        &mut x.rule.ip.src
    } else {
        &mut x.rule.ip.dst
    };
    if slot.is_some() {
        return false;
    }
    *slot = Some(m);
    true
}
