//! `limit`: token-bucket rate limit.

use serde::Serialize;

use super::{missing, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "limit";
const NFTA_LIMIT_RATE: u16 = 1;
const NFTA_LIMIT_UNIT: u16 = 2;
const NFTA_LIMIT_BURST: u16 = 3;
const NFTA_LIMIT_TYPE: u16 = 4;
const NFTA_LIMIT_FLAGS: u16 = 5;
const NFTA_LIMIT_PAD: u16 = 6;

pub const TYPE_PKTS: u32 = 0;
pub const TYPE_PKT_BYTES: u32 = 1;
pub const F_INV: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limit {
    pub rate: u64,
    pub unit: u64,
    pub burst: Option<u32>,
    pub limit_type: Option<u32>,
    pub flags: Option<u32>,
}

impl Limit {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut rate = None;
        let mut unit = None;
        let mut burst = None;
        let mut limit_type = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_LIMIT_RATE => rate = Some(a.be64()?),
                NFTA_LIMIT_UNIT => unit = Some(a.be64()?),
                NFTA_LIMIT_BURST => burst = Some(a.be32()?),
                NFTA_LIMIT_TYPE => limit_type = Some(a.be32()?),
                NFTA_LIMIT_FLAGS => flags = Some(a.be32()?),
                NFTA_LIMIT_PAD => {}
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            rate: rate.ok_or_else(|| missing(EXPR, "NFTA_LIMIT_RATE"))?,
            unit: unit.ok_or_else(|| missing(EXPR, "NFTA_LIMIT_UNIT"))?,
            burst,
            limit_type,
            flags,
        })
    }
}
