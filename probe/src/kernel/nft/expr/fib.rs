//! `fib`: route lookup (oif, oifname or address type).

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "fib";
const NFTA_FIB_DREG: u16 = 1;
const NFTA_FIB_RESULT: u16 = 2;
const NFTA_FIB_FLAGS: u16 = 3;

pub const RESULT_OIF: u32 = 1;
pub const RESULT_OIFNAME: u32 = 2;
pub const RESULT_ADDRTYPE: u32 = 3;
pub const F_SADDR: u32 = 1;
pub const F_DADDR: u32 = 2;
pub const F_MARK: u32 = 4;
pub const F_IIF: u32 = 8;
pub const F_OIF: u32 = 16;
pub const F_PRESENT: u32 = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fib {
    pub dreg: u32,
    pub result: u32,
    pub flags: u32,
}

impl Fib {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut result = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_FIB_DREG => dreg = Some(reg(&a)?),
                NFTA_FIB_RESULT => result = Some(a.be32()?),
                NFTA_FIB_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_FIB_DREG"))?,
            result: result.ok_or_else(|| missing(EXPR, "NFTA_FIB_RESULT"))?,
            flags: flags.ok_or_else(|| missing(EXPR, "NFTA_FIB_FLAGS"))?,
        })
    }
}
