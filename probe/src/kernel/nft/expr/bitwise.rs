//! `bitwise`: `dreg = (sreg & mask) ^ xor`, or a shift by `data`.

use serde::Serialize;

use super::{missing, reg, unknown, value_ref};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};
use crate::kernel::nft::data::value_attr;

const EXPR: &str = "bitwise";
const NFTA_BITWISE_SREG: u16 = 1;
const NFTA_BITWISE_DREG: u16 = 2;
const NFTA_BITWISE_LEN: u16 = 3;
const NFTA_BITWISE_MASK: u16 = 4;
const NFTA_BITWISE_XOR: u16 = 5;
const NFTA_BITWISE_OP: u16 = 6;
const NFTA_BITWISE_DATA: u16 = 7;

pub const OP_BOOL: u32 = 0;
pub const OP_LSHIFT: u32 = 1;
pub const OP_RSHIFT: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bitwise {
    pub sreg: u32,
    pub dreg: u32,
    pub len: u32,
    pub mask: Option<Box<[u8]>>,
    pub xor: Option<Box<[u8]>>,
    pub op: Option<u32>,
    pub data: Option<Box<[u8]>>,
}

/// [`Bitwise`] borrowing its operands from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitwiseRef<'a> {
    pub sreg: u32,
    pub dreg: u32,
    pub len: u32,
    pub mask: Option<&'a [u8]>,
    pub xor: Option<&'a [u8]>,
    pub op: Option<u32>,
    pub data: Option<&'a [u8]>,
}

impl Bitwise {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        BitwiseRef::decode(buf).map(|b| b.to_owned())
    }
    pub fn as_ref(&self) -> BitwiseRef<'_> {
        BitwiseRef {
            sreg: self.sreg,
            dreg: self.dreg,
            len: self.len,
            mask: self.mask.as_deref(),
            xor: self.xor.as_deref(),
            op: self.op,
            data: self.data.as_deref(),
        }
    }
}

impl<'a> BitwiseRef<'a> {
    /// The kernel's layout (`nft_bitwise_dump`: SREG, DREG, LEN, OP, then MASK and XOR for
    /// the boolean form or DATA for a shift) read at fixed offsets; `None` for any other,
    /// where [`BitwiseRef::decode`] decides (on this one both agree).
    #[inline]
    pub fn decode_kernel(buf: &'a [u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let sreg = f.be32(NFTA_BITWISE_SREG)?;
        let dreg = f.be32(NFTA_BITWISE_DREG)?;
        let len = f.be32(NFTA_BITWISE_LEN)?;
        let op = Some(f.be32(NFTA_BITWISE_OP)?);
        let (mask, xor, data) = match f.peek_kind()? {
            NFTA_BITWISE_MASK => {
                let mask = value_attr(&mut f, NFTA_BITWISE_MASK)?;
                let xor = value_attr(&mut f, NFTA_BITWISE_XOR)?;
                (Some(mask), Some(xor), None)
            }
            NFTA_BITWISE_DATA => (None, None, Some(value_attr(&mut f, NFTA_BITWISE_DATA)?)),
            _ => return None,
        };
        f.end().then_some(Self {
            sreg,
            dreg,
            len,
            mask,
            xor,
            op,
            data,
        })
    }
    pub fn to_owned(&self) -> Bitwise {
        Bitwise {
            sreg: self.sreg,
            dreg: self.dreg,
            len: self.len,
            mask: self.mask.map(Into::into),
            xor: self.xor.map(Into::into),
            op: self.op,
            data: self.data.map(Into::into),
        }
    }
    pub fn decode(buf: &'a [u8]) -> Result<Self, NlaError> {
        let mut sreg = None;
        let mut dreg = None;
        let mut len = None;
        let mut mask = None;
        let mut xor = None;
        let mut op = None;
        let mut data = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_BITWISE_SREG => sreg = Some(reg(&a)?),
                NFTA_BITWISE_DREG => dreg = Some(reg(&a)?),
                NFTA_BITWISE_LEN => len = Some(a.be32()?),
                NFTA_BITWISE_MASK => mask = Some(value_ref(EXPR, &a)?),
                NFTA_BITWISE_XOR => xor = Some(value_ref(EXPR, &a)?),
                NFTA_BITWISE_OP => op = Some(a.be32()?),
                NFTA_BITWISE_DATA => data = Some(value_ref(EXPR, &a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            sreg: sreg.ok_or_else(|| missing(EXPR, "NFTA_BITWISE_SREG"))?,
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_BITWISE_DREG"))?,
            len: len.ok_or_else(|| missing(EXPR, "NFTA_BITWISE_LEN"))?,
            mask,
            xor,
            op,
            data,
        })
    }
}
