//! `xfrm`: IPsec state.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "xfrm";
const NFTA_XFRM_DREG: u16 = 1;
const NFTA_XFRM_KEY: u16 = 2;
const NFTA_XFRM_DIR: u16 = 3;
const NFTA_XFRM_SPNUM: u16 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Xfrm {
    pub dreg: u32,
    pub key: u32,
    pub dir: u8,
    pub spnum: Option<u32>,
}

impl Xfrm {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut key = None;
        let mut dir = None;
        let mut spnum = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_XFRM_DREG => dreg = Some(reg(&a)?),
                NFTA_XFRM_KEY => key = Some(a.be32()?),
                NFTA_XFRM_DIR => dir = Some(a.u8()?),
                NFTA_XFRM_SPNUM => spnum = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_XFRM_DREG"))?,
            key: key.ok_or_else(|| missing(EXPR, "NFTA_XFRM_KEY"))?,
            dir: dir.ok_or_else(|| missing(EXPR, "NFTA_XFRM_DIR"))?,
            spnum,
        })
    }
}
