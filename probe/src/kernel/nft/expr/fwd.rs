//! `fwd`: forward to a device (netdev family).

use serde::Serialize;

use super::{reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "fwd";
const NFTA_FWD_SREG_DEV: u16 = 1;
const NFTA_FWD_SREG_ADDR: u16 = 2;
const NFTA_FWD_NFPROTO: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fwd {
    pub sreg_dev: Option<u32>,
    pub sreg_addr: Option<u32>,
    pub nfproto: Option<u32>,
}

impl Fwd {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut sreg_dev = None;
        let mut sreg_addr = None;
        let mut nfproto = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_FWD_SREG_DEV => sreg_dev = Some(reg(&a)?),
                NFTA_FWD_SREG_ADDR => sreg_addr = Some(reg(&a)?),
                NFTA_FWD_NFPROTO => nfproto = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            sreg_dev,
            sreg_addr,
            nfproto,
        })
    }
}
