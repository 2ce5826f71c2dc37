//! `payload`: load packet header bytes into a register, or store (with checksum fix-up).

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};

const EXPR: &str = "payload";
const NFTA_PAYLOAD_DREG: u16 = 1;
const NFTA_PAYLOAD_BASE: u16 = 2;
const NFTA_PAYLOAD_OFFSET: u16 = 3;
const NFTA_PAYLOAD_LEN: u16 = 4;
const NFTA_PAYLOAD_SREG: u16 = 5;
const NFTA_PAYLOAD_CSUM_TYPE: u16 = 6;
const NFTA_PAYLOAD_CSUM_OFFSET: u16 = 7;
const NFTA_PAYLOAD_CSUM_FLAGS: u16 = 8;

pub const BASE_LL: u32 = 0;
pub const BASE_NETWORK: u32 = 1;
pub const BASE_TRANSPORT: u32 = 2;
pub const BASE_INNER: u32 = 3;
pub const BASE_TUN: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payload {
    pub dreg: Option<u32>,
    pub base: u32,
    pub offset: u32,
    pub len: u32,
    pub sreg: Option<u32>,
    pub csum_type: Option<u32>,
    pub csum_offset: Option<u32>,
    pub csum_flags: Option<u32>,
}

impl Payload {
    /// A load as the kernel dumps it (`nft_payload_dump`: DREG, BASE, OFFSET, LEN), read at
    /// fixed offsets; `None` for any other layout, where [`Payload::decode`] decides (on
    /// this one both agree).
    #[inline]
    pub fn decode_kernel(buf: &[u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let p = Self {
            dreg: Some(f.be32(NFTA_PAYLOAD_DREG)?),
            base: f.be32(NFTA_PAYLOAD_BASE)?,
            offset: f.be32(NFTA_PAYLOAD_OFFSET)?,
            len: f.be32(NFTA_PAYLOAD_LEN)?,
            sreg: None,
            csum_type: None,
            csum_offset: None,
            csum_flags: None,
        };
        f.end().then_some(p)
    }

    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut base = None;
        let mut offset = None;
        let mut len = None;
        let mut sreg = None;
        let mut csum_type = None;
        let mut csum_offset = None;
        let mut csum_flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_PAYLOAD_DREG => dreg = Some(reg(&a)?),
                NFTA_PAYLOAD_BASE => base = Some(a.be32()?),
                NFTA_PAYLOAD_OFFSET => offset = Some(a.be32()?),
                NFTA_PAYLOAD_LEN => len = Some(a.be32()?),
                NFTA_PAYLOAD_SREG => sreg = Some(reg(&a)?),
                NFTA_PAYLOAD_CSUM_TYPE => csum_type = Some(a.be32()?),
                NFTA_PAYLOAD_CSUM_OFFSET => csum_offset = Some(a.be32()?),
                NFTA_PAYLOAD_CSUM_FLAGS => csum_flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg,
            base: base.ok_or_else(|| missing(EXPR, "NFTA_PAYLOAD_BASE"))?,
            offset: offset.ok_or_else(|| missing(EXPR, "NFTA_PAYLOAD_OFFSET"))?,
            len: len.ok_or_else(|| missing(EXPR, "NFTA_PAYLOAD_LEN"))?,
            sreg,
            csum_type,
            csum_offset,
            csum_flags,
        })
    }
}
