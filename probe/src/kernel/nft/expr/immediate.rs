//! `immediate`: load a constant or a verdict into a register.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};
use crate::kernel::nft::data::{DataRef, NftData, decode_data_kernel, decode_data_ref};

const EXPR: &str = "immediate";
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Immediate {
    pub dreg: u32,
    pub data: NftData,
}

/// [`Immediate`] borrowing its data from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImmediateRef<'a> {
    pub dreg: u32,
    pub data: DataRef<'a>,
}

impl Immediate {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        ImmediateRef::decode(buf)?.to_owned()
    }
    pub fn as_ref(&self) -> ImmediateRef<'_> {
        ImmediateRef {
            dreg: self.dreg,
            data: self.data.as_ref(),
        }
    }
}

impl<'a> ImmediateRef<'a> {
    /// The kernel's layout (`nft_immediate_dump`: DREG, DATA) read at fixed offsets; `None`
    /// for any other, where [`ImmediateRef::decode`] decides (on this one both agree).
    #[inline]
    pub fn decode_kernel(buf: &'a [u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let i = Self {
            dreg: f.be32(NFTA_IMMEDIATE_DREG)?,
            data: decode_data_kernel(f.attr(NFTA_IMMEDIATE_DATA)?)?,
        };
        f.end().then_some(i)
    }
    pub fn to_owned(&self) -> Result<Immediate, NlaError> {
        Ok(Immediate {
            dreg: self.dreg,
            data: self.data.to_owned()?,
        })
    }
    pub fn decode(buf: &'a [u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut data = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_IMMEDIATE_DREG => dreg = Some(reg(&a)?),
                NFTA_IMMEDIATE_DATA => data = Some(decode_data_ref(a.data)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_IMMEDIATE_DREG"))?,
            data: data.ok_or_else(|| missing(EXPR, "NFTA_IMMEDIATE_DATA"))?,
        })
    }
}
