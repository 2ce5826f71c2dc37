//! `rt`: routing data (nexthop, classid, mtu, ipsec).

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "rt";
const NFTA_RT_DREG: u16 = 1;
const NFTA_RT_KEY: u16 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rt {
    pub dreg: u32,
    pub key: u32,
}

impl Rt {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut key = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_RT_DREG => dreg = Some(reg(&a)?),
                NFTA_RT_KEY => key = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_RT_DREG"))?,
            key: key.ok_or_else(|| missing(EXPR, "NFTA_RT_KEY"))?,
        })
    }
}
