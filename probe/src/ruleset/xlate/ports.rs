//! Native tcp/udp port and flag matches → the `xt_tcp`/`xt_udp` blob iptables-nft rebuilds
//! for `-m tcp`/`-m udp`, then the `tcp`/`udp` extension decoder prints it.

use super::compat;
use super::rule::{Load, Reg, Xlate};
use crate::kernel::nft::expr::{cmp, payload};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

// xt_tcp / xt_udp invflags
const INV_SRCPT: u8 = 0x01;
const INV_DSTPT: u8 = 0x02;
const INV_FLAGS: u8 = 0x04;

/// NFT_RANGE_EQ / NFT_RANGE_NEQ.
const RANGE_EQ: u32 = 0;
const RANGE_NEQ: u32 = 1;

/// The `-m tcp`/`-m udp` being assembled; it sits in `rule.matches[idx]` from the first port
/// expression on, so it keeps the position iptables-nft gives it.
#[derive(Debug, Clone)]
pub(super) struct PortState {
    proto: u8,
    idx: usize,
    spts: [u16; 2],
    dpts: [u16; 2],
    flg_mask: u8,
    flg_cmp: u8,
    invflags: u8,
}

enum Field {
    Sport,
    Dport,
    /// Both ports in one 4-byte load (iptables-nft's `--sport X --dport Y`).
    Both,
    Flags,
}

fn field(reg: &Reg, proto: u8) -> Option<Field> {
    let Load::Payload {
        base: payload::BASE_TRANSPORT,
        offset,
        len,
    } = reg.load
    else {
        return None;
    };
    match (offset, len, &reg.mask) {
        (0, 2, None) => Some(Field::Sport),
        (2, 2, None) => Some(Field::Dport),
        (0, 4, None) => Some(Field::Both),
        (13, 1, _) if proto == IPPROTO_TCP => Some(Field::Flags),
        _ => None,
    }
}

/// The port state for this rule's protocol, created (and placed) on first use.
fn state<'x>(x: &'x mut Xlate<'_>) -> Option<&'x mut PortState> {
    let proto = x.rule.ip.proto.filter(|p| !p.invert)?.proto;
    if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
        return None;
    }
    if x.ports.is_none() {
        let idx = compat::placeholder(x, if proto == IPPROTO_TCP { "tcp" } else { "udp" });
        x.ports = Some(PortState {
            proto,
            idx,
            spts: [0, 0xffff],
            dpts: [0, 0xffff],
            flg_mask: 0,
            flg_cmp: 0,
            invflags: 0,
        });
    }
    x.ports.as_mut()
}

fn be16(d: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(<[u8; 2]>::try_from(d).ok()?))
}

pub(super) fn cmp(x: &mut Xlate, reg: &Reg, op: u32, data: &[u8]) -> bool {
    let Some(proto) = x.rule.ip.proto.map(|p| p.proto) else {
        return false;
    };
    let Some(f) = field(reg, proto) else {
        return false;
    };
    let mask = reg.mask;
    let Some(st) = state(x) else { return false };
    match f {
        Field::Flags => {
            let (Some(&m), [c]) = (mask.as_deref().map_or(Some(&0xff), |m| m.first()), data) else {
                return false;
            };
            st.flg_mask = m;
            st.flg_cmp = *c;
            match op {
                cmp::OP_EQ => {}
                cmp::OP_NEQ => st.invflags |= INV_FLAGS,
                _ => return false,
            }
            true
        }
        Field::Sport => {
            be16(data).is_some_and(|v| single(&mut st.spts, &mut st.invflags, op, v, INV_SRCPT))
        }
        Field::Dport => {
            be16(data).is_some_and(|v| single(&mut st.dpts, &mut st.invflags, op, v, INV_DSTPT))
        }
        Field::Both => {
            let Ok(v) = <[u8; 4]>::try_from(data).map(u32::from_be_bytes) else {
                return false;
            };
            let (sport, dport) = ((v >> 16) as u16, v as u16);
            single(&mut st.spts, &mut st.invflags, op, sport, INV_SRCPT)
                && single(&mut st.dpts, &mut st.invflags, op, dport, INV_DSTPT)
        }
    }
}

/// One port compared with `op`, folded into the `[from, to]` range the way iptables-nft 1.8.9
/// reads it back: it writes `==`/`!=` for one port, `<=` for `0:N` and `>` for `! 0:N` (no
/// invert flag then: `! --sport :5` comes back as `--sport 6:65535`), a range otherwise.
fn single(pts: &mut [u16; 2], invflags: &mut u8, op: u32, v: u16, inv: u8) -> bool {
    match op {
        cmp::OP_EQ => *pts = [v, v],
        cmp::OP_NEQ => {
            *pts = [v, v];
            *invflags |= inv;
        }
        // iptables-nft clamps these two to 1 and 65535.
        cmp::OP_LT => pts[1] = v.saturating_sub(1).max(1),
        cmp::OP_GT => pts[0] = v.saturating_add(1),
        cmp::OP_LTE => pts[1] = v,
        cmp::OP_GTE => pts[0] = v,
        _ => return false,
    }
    true
}

pub(super) fn range(x: &mut Xlate, reg: &Reg, op: u32, from: &[u8], to: &[u8]) -> bool {
    let Some(proto) = x.rule.ip.proto.map(|p| p.proto) else {
        return false;
    };
    let (Some(f), Some(lo), Some(hi)) = (field(reg, proto), be16(from), be16(to)) else {
        return false;
    };
    let Some(st) = state(x) else { return false };
    let (pts, inv) = match f {
        Field::Sport => (&mut st.spts, INV_SRCPT),
        Field::Dport => (&mut st.dpts, INV_DSTPT),
        Field::Both | Field::Flags => return false,
    };
    *pts = [lo, hi];
    match op {
        RANGE_EQ => {}
        RANGE_NEQ => st.invflags |= inv,
        _ => return false,
    }
    true
}

/// Builds the blob and decodes it into the placeholder match.
pub(super) fn finish(x: &mut Xlate) {
    let Some(st) = x.ports.take() else { return };
    // struct xt_tcp { u16 spts[2], dpts[2]; u8 option, flg_mask, flg_cmp, invflags; }
    // struct xt_udp { u16 spts[2], dpts[2]; u8 invflags; }  (both XT_ALIGNed to 16)
    let mut blob = [0u8; 16];
    for (i, p) in st.spts.iter().chain(&st.dpts).enumerate() {
        blob[i * 2..i * 2 + 2].copy_from_slice(&p.to_ne_bytes());
    }
    if st.proto == IPPROTO_TCP {
        blob[8..12].copy_from_slice(&[0, st.flg_mask, st.flg_cmp, st.invflags]);
    } else {
        blob[8] = st.invflags;
    }
    let name = if st.proto == IPPROTO_TCP {
        "tcp"
    } else {
        "udp"
    };
    compat::fill_native_match(x, st.idx, name, 0, &blob);
}
