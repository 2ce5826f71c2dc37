//! `cmp`: compare a register with a constant.

use serde::Serialize;

use super::{missing, reg, unknown, value_ref};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};
use crate::kernel::nft::data::value_attr;

const EXPR: &str = "cmp";
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;

pub const OP_EQ: u32 = 0;
pub const OP_NEQ: u32 = 1;
pub const OP_LT: u32 = 2;
pub const OP_LTE: u32 = 3;
pub const OP_GT: u32 = 4;
pub const OP_GTE: u32 = 5;

/// nft's spelling of a comparison operator (`==` is implicit and printed as nothing).
pub fn op_str(op: u32) -> Option<&'static str> {
    Some(match op {
        OP_EQ => "",
        OP_NEQ => "!=",
        OP_LT => "<",
        OP_LTE => "<=",
        OP_GT => ">",
        OP_GTE => ">=",
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cmp {
    pub sreg: u32,
    pub op: u32,
    pub data: Box<[u8]>,
}

/// [`Cmp`] borrowing its value from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmpRef<'a> {
    pub sreg: u32,
    pub op: u32,
    pub data: &'a [u8],
}

impl Cmp {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        CmpRef::decode(buf).map(|c| c.to_owned())
    }
    pub fn as_ref(&self) -> CmpRef<'_> {
        CmpRef {
            sreg: self.sreg,
            op: self.op,
            data: &self.data,
        }
    }
}

impl<'a> CmpRef<'a> {
    /// The kernel's layout (`nft_cmp_dump`: SREG, OP, DATA holding one VALUE) read at fixed
    /// offsets; `None` for any other, where [`CmpRef::decode`] decides (on this one both
    /// agree).
    #[inline]
    pub fn decode_kernel(buf: &'a [u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let c = Self {
            sreg: f.be32(NFTA_CMP_SREG)?,
            op: f.be32(NFTA_CMP_OP)?,
            data: value_attr(&mut f, NFTA_CMP_DATA)?,
        };
        f.end().then_some(c)
    }
    pub fn decode(buf: &'a [u8]) -> Result<Self, NlaError> {
        let mut sreg = None;
        let mut op = None;
        let mut data = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_CMP_SREG => sreg = Some(reg(&a)?),
                NFTA_CMP_OP => op = Some(a.be32()?),
                NFTA_CMP_DATA => data = Some(value_ref(EXPR, &a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            sreg: sreg.ok_or_else(|| missing(EXPR, "NFTA_CMP_SREG"))?,
            op: op.ok_or_else(|| missing(EXPR, "NFTA_CMP_OP"))?,
            data: data.ok_or_else(|| missing(EXPR, "NFTA_CMP_DATA"))?,
        })
    }
    pub fn to_owned(&self) -> Cmp {
        Cmp {
            sreg: self.sreg,
            op: self.op,
            data: self.data.into(),
        }
    }
}
