//! Native expressions iptables-nft 1.8.9 emits for some extensions, turned back into the
//! blob iptables-nft rebuilds: `meta mark` (+mask) → `-m mark`, `limit` → `-m limit`,
//! `log group` → `-j NFLOG`.

use super::compat;
use super::rule::{Reg, Xlate};
use crate::kernel::nft::expr::{cmp, limit::Limit, log::Log};
use crate::ruleset::Target;

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
    let mut blob = Vec::with_capacity(16);
    blob.extend_from_slice(&mark);
    blob.extend_from_slice(&mask);
    blob.push(inv);
    blob.resize(16, 0);
    x.rule
        .matches
        .push(compat::native_match(x.family, "mark", 1, blob));
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
    x.rule
        .matches
        .push(compat::native_match(x.family, "limit", 0, blob));
    Ok(())
}

const XT_NFLOG_F_COPY_LEN: u16 = 0x1;

/// `log group G [snaplen L] [queue-threshold T] [prefix P]` → struct xt_nflog_info
/// { u32 len; u16 group, threshold, flags, pad; char prefix[64]; } (80 bytes aligned).
pub(super) fn nflog(x: &mut Xlate, l: &Log) -> Result<(), &'static str> {
    let Some(group) = l.group else {
        return Err("syslog `log` (iptables uses the LOG target)");
    };
    if x.rule.target != Target::None {
        return Err("second target");
    }
    let mut blob = vec![0u8; 80];
    let len = l.snaplen.unwrap_or(0);
    blob[0..4].copy_from_slice(&len.to_ne_bytes());
    blob[4..6].copy_from_slice(&group.to_ne_bytes());
    blob[6..8].copy_from_slice(&l.qthreshold.unwrap_or(0).to_ne_bytes());
    let flags = if l.snaplen.is_some() {
        XT_NFLOG_F_COPY_LEN
    } else {
        0
    };
    blob[8..10].copy_from_slice(&flags.to_ne_bytes());
    if let Some(p) = &l.prefix {
        let n = p.len().min(63);
        blob[12..12 + n].copy_from_slice(&p.as_bytes()[..n]);
    }
    x.rule.target = compat::native_target(x.family, "NFLOG", 0, blob);
    Ok(())
}
