//! `byteorder`: host/network byte order conversion of a register.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "byteorder";
const NFTA_BYTEORDER_SREG: u16 = 1;
const NFTA_BYTEORDER_DREG: u16 = 2;
const NFTA_BYTEORDER_OP: u16 = 3;
const NFTA_BYTEORDER_LEN: u16 = 4;
const NFTA_BYTEORDER_SIZE: u16 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Byteorder {
    pub sreg: u32,
    pub dreg: u32,
    pub op: u32,
    pub len: u32,
    pub size: u32,
}

impl Byteorder {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut sreg = None;
        let mut dreg = None;
        let mut op = None;
        let mut len = None;
        let mut size = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_BYTEORDER_SREG => sreg = Some(reg(&a)?),
                NFTA_BYTEORDER_DREG => dreg = Some(reg(&a)?),
                NFTA_BYTEORDER_OP => op = Some(a.be32()?),
                NFTA_BYTEORDER_LEN => len = Some(a.be32()?),
                NFTA_BYTEORDER_SIZE => size = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            sreg: sreg.ok_or_else(|| missing(EXPR, "NFTA_BYTEORDER_SREG"))?,
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_BYTEORDER_DREG"))?,
            op: op.ok_or_else(|| missing(EXPR, "NFTA_BYTEORDER_OP"))?,
            len: len.ok_or_else(|| missing(EXPR, "NFTA_BYTEORDER_LEN"))?,
            size: size.ok_or_else(|| missing(EXPR, "NFTA_BYTEORDER_SIZE"))?,
        })
    }
}
