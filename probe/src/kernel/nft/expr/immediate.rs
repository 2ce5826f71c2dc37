//! `immediate`: load a constant or a verdict into a register.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};
use crate::kernel::nft::data::NftData;

const EXPR: &str = "immediate";
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Immediate {
    pub dreg: u32,
    pub data: NftData,
}

impl Immediate {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut data = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_IMMEDIATE_DREG => dreg = Some(reg(&a)?),
                NFTA_IMMEDIATE_DATA => data = Some(super::data(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_IMMEDIATE_DREG"))?,
            data: data.ok_or_else(|| missing(EXPR, "NFTA_IMMEDIATE_DATA"))?,
        })
    }
}
