//! `reject`: ICMP unreachable or TCP reset.

use serde::Serialize;

use super::{missing, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "reject";
const NFTA_REJECT_TYPE: u16 = 1;
const NFTA_REJECT_ICMP_CODE: u16 = 2;

pub const TYPE_ICMP_UNREACH: u32 = 0;
pub const TYPE_TCP_RST: u32 = 1;
pub const TYPE_ICMPX_UNREACH: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub reject_type: u32,
    pub icmp_code: Option<u8>,
}

impl Reject {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut reject_type = None;
        let mut icmp_code = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_REJECT_TYPE => reject_type = Some(a.be32()?),
                NFTA_REJECT_ICMP_CODE => icmp_code = Some(a.u8()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            reject_type: reject_type.ok_or_else(|| missing(EXPR, "NFTA_REJECT_TYPE"))?,
            icmp_code,
        })
    }
}
