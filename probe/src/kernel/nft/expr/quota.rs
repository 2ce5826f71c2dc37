//! `quota`: byte quota.

use serde::Serialize;

use super::{missing, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "quota";
const NFTA_QUOTA_BYTES: u16 = 1;
const NFTA_QUOTA_FLAGS: u16 = 2;
const NFTA_QUOTA_PAD: u16 = 3;
const NFTA_QUOTA_CONSUMED: u16 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub bytes: u64,
    pub flags: Option<u32>,
    pub consumed: Option<u64>,
}

impl Quota {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut bytes = None;
        let mut flags = None;
        let mut consumed = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_QUOTA_BYTES => bytes = Some(a.be64()?),
                NFTA_QUOTA_FLAGS => flags = Some(a.be32()?),
                NFTA_QUOTA_PAD => {}
                NFTA_QUOTA_CONSUMED => consumed = Some(a.be64()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            bytes: bytes.ok_or_else(|| missing(EXPR, "NFTA_QUOTA_BYTES"))?,
            flags,
            consumed,
        })
    }
}
