//! `numgen`: incremental or random number into a register.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "numgen";
const NFTA_NUMGEN_DREG: u16 = 1;
const NFTA_NUMGEN_MODULUS: u16 = 2;
const NFTA_NUMGEN_TYPE: u16 = 3;
const NFTA_NUMGEN_OFFSET: u16 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Numgen {
    pub dreg: u32,
    pub modulus: u32,
    pub ng_type: u32,
    pub offset: Option<u32>,
}

impl Numgen {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut modulus = None;
        let mut ng_type = None;
        let mut offset = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_NUMGEN_DREG => dreg = Some(reg(&a)?),
                NFTA_NUMGEN_MODULUS => modulus = Some(a.be32()?),
                NFTA_NUMGEN_TYPE => ng_type = Some(a.be32()?),
                NFTA_NUMGEN_OFFSET => offset = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_NUMGEN_DREG"))?,
            modulus: modulus.ok_or_else(|| missing(EXPR, "NFTA_NUMGEN_MODULUS"))?,
            ng_type: ng_type.ok_or_else(|| missing(EXPR, "NFTA_NUMGEN_TYPE"))?,
            offset,
        })
    }
}
