//! Native expressions iptables-nft 1.8.9 emits for some extensions, turned back into the
//! blob iptables-nft rebuilds: `meta mark` (+mask) → `-m mark`, `limit` → `-m limit`,
//! `log group` → `-j NFLOG`, `meta nftrace set 1` → `-j TRACE`.

use super::compat;
use super::rule::{Reg, Xlate};
use crate::ext::nflog;
use crate::kernel::nft::data::DataRef;
use crate::kernel::nft::expr::ExprRef;
use crate::kernel::nft::expr::{cmp, limit::Limit, log::Log, meta};
use crate::ruleset::{ExtBody, Target};

/// `meta mark [& mask] ==/!= value` → struct xt_mark_mtinfo1 { u32 mark, mask; u8 invert; }.
pub(super) fn mark(x: &mut Xlate, reg: &Reg, op: u32, data: &[u8]) -> bool {
    let inv = match op {
        cmp::OP_EQ => 0u8,
        cmp::OP_NEQ => 1,
        _ => return false,
    };
    // meta mark is a host-order u32 in the register.
    let Ok(mark) = <[u8; 4]>::try_from(data) else {
        return false;
    };
    let mask = match reg.mask.as_deref() {
        None => [0xff; 4],
        Some(m) => match <[u8; 4]>::try_from(m) {
            Ok(m) => m,
            Err(_) => return false,
        },
    };
    let mut blob = [0u8; 16];
    blob[..4].copy_from_slice(&mark);
    blob[4..8].copy_from_slice(&mask);
    blob[8] = inv;
    compat::native_match(x, "mark", 1, &blob);
    true
}

/// XT_LIMIT_SCALE: iptables keeps the average period in 1/10000 s.
const XT_LIMIT_SCALE: u64 = 10_000;

/// `limit rate R/unit burst B` → struct xt_rateinfo { u32 avg, burst; ... } (40 bytes).
pub(super) fn limit(x: &mut Xlate, l: &Limit) -> Result<(), &'static str> {
    if l.limit_type.unwrap_or(0) != 0 || l.flags.unwrap_or(0) != 0 || l.rate == 0 {
        return Err("byte or inverted limit");
    }
    let avg = XT_LIMIT_SCALE
        .checked_mul(l.unit)
        .map(|v| v / l.rate)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or("limit rate out of range")?;
    let mut blob = vec![0u8; 40];
    blob[0..4].copy_from_slice(&avg.to_ne_bytes());
    blob[4..8].copy_from_slice(&l.burst.unwrap_or(0).to_ne_bytes());
    compat::native_match(x, "limit", 0, &blob);
    Ok(())
}

/// iptables-nft 1.8.9 copies the `log` prefix into a char[NF_LOG_PREFIXLEN] (128) buffer,
/// not the 64 bytes of `xt_nflog_info`: it prints up to 127 bytes.
const NF_LOG_PREFIXLEN: usize = 128;

/// `log group G [snaplen L] [queue-threshold T] [prefix P]` → `-j NFLOG` with the words
/// iptables-nft-save prints for it (the prefix is not cut at 63 bytes as in the xt blob).
pub(super) fn nflog(x: &mut Xlate, l: &Log) -> Result<(), &'static str> {
    let Some(group) = l.group else {
        return Err("syslog `log` (iptables uses the LOG target)");
    };
    if x.rule.target != Target::None {
        return Err("second target");
    }
    let prefix = l.prefix.as_deref().map(|p| {
        let mut end = p.len().min(NF_LOG_PREFIXLEN - 1);
        while !p.is_char_boundary(end) {
            end -= 1;
        }
        &p[..end]
    });
    let words = nflog::native_words(l.snaplen, group, l.qthreshold.unwrap_or(0), prefix);
    x.rule.target = Target::Ext {
        name: "NFLOG".into(),
        revision: 0,
        body: ExtBody::Decoded(words),
    };
    Ok(())
}

/// `immediate reg N <value>` followed by `meta nftrace set reg N` → `-j TRACE`, the pair
/// iptables-nft 1.8.9 writes for it. As iptables-nft reads it back, the first byte of the
/// value's first u32 must be non-zero (a cleared trace is not TRACE). False when the pair is not this.
pub(super) fn trace(x: &mut Xlate, imm: &ExprRef<'_>, set: &ExprRef<'_>) -> bool {
    let (ExprRef::Immediate(i), ExprRef::Meta(m)) = (imm, set) else {
        return false;
    };
    let DataRef::Value(v) = i.data else {
        return false;
    };
    let set_trace = m.key == meta::KEY_NFTRACE && m.dreg.is_none() && m.sreg == Some(i.dreg);
    if !set_trace || i.dreg == 0 || v.iter().take(4).all(|&b| b == 0) {
        return false;
    }
    if x.rule.target != Target::None {
        return false;
    }
    x.rule.target = Target::Ext {
        name: "TRACE".into(),
        revision: 0,
        body: ExtBody::Decoded(Vec::new()),
    };
    true
}
