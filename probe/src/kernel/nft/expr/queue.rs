//! `queue`: hand the packet to userspace.

use serde::Serialize;

use super::{reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "queue";
const NFTA_QUEUE_NUM: u16 = 1;
const NFTA_QUEUE_TOTAL: u16 = 2;
const NFTA_QUEUE_FLAGS: u16 = 3;
const NFTA_QUEUE_SREG_QNUM: u16 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Queue {
    pub num: Option<u16>,
    pub total: Option<u16>,
    pub flags: Option<u16>,
    pub sreg_qnum: Option<u32>,
}

impl Queue {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut num = None;
        let mut total = None;
        let mut flags = None;
        let mut sreg_qnum = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_QUEUE_NUM => num = Some(a.be16()?),
                NFTA_QUEUE_TOTAL => total = Some(a.be16()?),
                NFTA_QUEUE_FLAGS => flags = Some(a.be16()?),
                NFTA_QUEUE_SREG_QNUM => sreg_qnum = Some(reg(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            num,
            total,
            flags,
            sreg_qnum,
        })
    }
}
