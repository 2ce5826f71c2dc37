//! `lookup`: is the register in a set (or map it through one)?

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "lookup";
const NFTA_LOOKUP_SET: u16 = 1;
const NFTA_LOOKUP_SREG: u16 = 2;
const NFTA_LOOKUP_DREG: u16 = 3;
const NFTA_LOOKUP_SET_ID: u16 = 4;
const NFTA_LOOKUP_FLAGS: u16 = 5;

pub const F_INV: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lookup {
    pub set: String,
    pub sreg: u32,
    pub dreg: Option<u32>,
    pub set_id: Option<u32>,
    pub flags: Option<u32>,
}

impl Lookup {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut set = None;
        let mut sreg = None;
        let mut dreg = None;
        let mut set_id = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_LOOKUP_SET => set = Some(a.string()),
                NFTA_LOOKUP_SREG => sreg = Some(reg(&a)?),
                NFTA_LOOKUP_DREG => dreg = Some(reg(&a)?),
                NFTA_LOOKUP_SET_ID => set_id = Some(a.be32()?),
                NFTA_LOOKUP_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            set: set.ok_or_else(|| missing(EXPR, "NFTA_LOOKUP_SET"))?,
            sreg: sreg.ok_or_else(|| missing(EXPR, "NFTA_LOOKUP_SREG"))?,
            dreg,
            set_id,
            flags,
        })
    }
}
