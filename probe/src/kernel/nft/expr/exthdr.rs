//! `exthdr`: IPv6 extension header, TCP/IPv4/SCTP/DCCP option.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "exthdr";
const NFTA_EXTHDR_DREG: u16 = 1;
const NFTA_EXTHDR_TYPE: u16 = 2;
const NFTA_EXTHDR_OFFSET: u16 = 3;
const NFTA_EXTHDR_LEN: u16 = 4;
const NFTA_EXTHDR_FLAGS: u16 = 5;
const NFTA_EXTHDR_OP: u16 = 6;
const NFTA_EXTHDR_SREG: u16 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exthdr {
    pub dreg: Option<u32>,
    pub ext_type: u8,
    pub offset: Option<u32>,
    pub len: Option<u32>,
    pub flags: Option<u32>,
    pub op: Option<u32>,
    pub sreg: Option<u32>,
}

impl Exthdr {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut ext_type = None;
        let mut offset = None;
        let mut len = None;
        let mut flags = None;
        let mut op = None;
        let mut sreg = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_EXTHDR_DREG => dreg = Some(reg(&a)?),
                NFTA_EXTHDR_TYPE => ext_type = Some(a.u8()?),
                NFTA_EXTHDR_OFFSET => offset = Some(a.be32()?),
                NFTA_EXTHDR_LEN => len = Some(a.be32()?),
                NFTA_EXTHDR_FLAGS => flags = Some(a.be32()?),
                NFTA_EXTHDR_OP => op = Some(a.be32()?),
                NFTA_EXTHDR_SREG => sreg = Some(reg(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg,
            ext_type: ext_type.ok_or_else(|| missing(EXPR, "NFTA_EXTHDR_TYPE"))?,
            offset,
            len,
            flags,
            op,
            sreg,
        })
    }
}
