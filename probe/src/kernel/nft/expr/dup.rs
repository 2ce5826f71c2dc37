//! `dup`: duplicate the packet to an address/device.

use serde::Serialize;

use super::{reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "dup";
const NFTA_DUP_SREG_ADDR: u16 = 1;
const NFTA_DUP_SREG_DEV: u16 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dup {
    pub sreg_addr: Option<u32>,
    pub sreg_dev: Option<u32>,
}

impl Dup {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut sreg_addr = None;
        let mut sreg_dev = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_DUP_SREG_ADDR => sreg_addr = Some(reg(&a)?),
                NFTA_DUP_SREG_DEV => sreg_dev = Some(reg(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            sreg_addr,
            sreg_dev,
        })
    }
}
