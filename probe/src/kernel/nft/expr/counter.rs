//! `counter`: packets and bytes that hit the rule.

use serde::Serialize;

use super::{missing, unknown};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};

const EXPR: &str = "counter";
const NFTA_COUNTER_BYTES: u16 = 1;
const NFTA_COUNTER_PACKETS: u16 = 2;
const NFTA_COUNTER_PAD: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counter {
    pub bytes: u64,
    pub packets: u64,
}

impl Counter {
    /// The kernel's layout (`nft_counter_do_dump`: BYTES, PACKETS, no PAD where unaligned
    /// 64-bit access is cheap) read at fixed offsets; `None` for any other (PAD included),
    /// where [`Counter::decode`] decides (on this one both agree).
    #[inline]
    pub fn decode_kernel(buf: &[u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let c = Self {
            bytes: f.be64(NFTA_COUNTER_BYTES)?,
            packets: f.be64(NFTA_COUNTER_PACKETS)?,
        };
        f.end().then_some(c)
    }

    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut bytes = None;
        let mut packets = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_COUNTER_BYTES => bytes = Some(a.be64()?),
                NFTA_COUNTER_PACKETS => packets = Some(a.be64()?),
                NFTA_COUNTER_PAD => {}
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            bytes: bytes.ok_or_else(|| missing(EXPR, "NFTA_COUNTER_BYTES"))?,
            packets: packets.ok_or_else(|| missing(EXPR, "NFTA_COUNTER_PACKETS"))?,
        })
    }
}
