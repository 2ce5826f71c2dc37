//! `range`: is the register between two constants?

use serde::Serialize;

use super::{missing, reg, unknown, value_ref};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};
use crate::kernel::nft::data::value_attr;

const EXPR: &str = "range";
const NFTA_RANGE_SREG: u16 = 1;
const NFTA_RANGE_OP: u16 = 2;
const NFTA_RANGE_FROM_DATA: u16 = 3;
const NFTA_RANGE_TO_DATA: u16 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    pub sreg: u32,
    pub op: u32,
    pub from: Box<[u8]>,
    pub to: Box<[u8]>,
}

/// [`Range`] borrowing its bounds from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRef<'a> {
    pub sreg: u32,
    pub op: u32,
    pub from: &'a [u8],
    pub to: &'a [u8],
}

impl Range {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        RangeRef::decode(buf).map(|r| r.to_owned())
    }
    pub fn as_ref(&self) -> RangeRef<'_> {
        RangeRef {
            sreg: self.sreg,
            op: self.op,
            from: &self.from,
            to: &self.to,
        }
    }
}

impl<'a> RangeRef<'a> {
    /// The kernel's layout (`nft_range_dump`: SREG, OP, FROM_DATA, TO_DATA, each bound one
    /// VALUE) read at fixed offsets; `None` for any other, where [`RangeRef::decode`]
    /// decides (on this one both agree).
    #[inline]
    pub fn decode_kernel(buf: &'a [u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let r = Self {
            sreg: f.be32(NFTA_RANGE_SREG)?,
            op: f.be32(NFTA_RANGE_OP)?,
            from: value_attr(&mut f, NFTA_RANGE_FROM_DATA)?,
            to: value_attr(&mut f, NFTA_RANGE_TO_DATA)?,
        };
        f.end().then_some(r)
    }
    pub fn to_owned(&self) -> Range {
        Range {
            sreg: self.sreg,
            op: self.op,
            from: self.from.into(),
            to: self.to.into(),
        }
    }
    pub fn decode(buf: &'a [u8]) -> Result<Self, NlaError> {
        let mut sreg = None;
        let mut op = None;
        let mut from = None;
        let mut to = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_RANGE_SREG => sreg = Some(reg(&a)?),
                NFTA_RANGE_OP => op = Some(a.be32()?),
                NFTA_RANGE_FROM_DATA => from = Some(value_ref(EXPR, &a)?),
                NFTA_RANGE_TO_DATA => to = Some(value_ref(EXPR, &a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            sreg: sreg.ok_or_else(|| missing(EXPR, "NFTA_RANGE_SREG"))?,
            op: op.ok_or_else(|| missing(EXPR, "NFTA_RANGE_OP"))?,
            from: from.ok_or_else(|| missing(EXPR, "NFTA_RANGE_FROM_DATA"))?,
            to: to.ok_or_else(|| missing(EXPR, "NFTA_RANGE_TO_DATA"))?,
        })
    }
}
