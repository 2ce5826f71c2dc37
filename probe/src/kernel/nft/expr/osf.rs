//! `osf`: passive OS fingerprint.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "osf";
const NFTA_OSF_DREG: u16 = 1;
const NFTA_OSF_TTL: u16 = 2;
const NFTA_OSF_FLAGS: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Osf {
    pub dreg: u32,
    pub ttl: Option<u8>,
    pub flags: Option<u32>,
}

impl Osf {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut ttl = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_OSF_DREG => dreg = Some(reg(&a)?),
                NFTA_OSF_TTL => ttl = Some(a.u8()?),
                NFTA_OSF_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_OSF_DREG"))?,
            ttl,
            flags,
        })
    }
}
