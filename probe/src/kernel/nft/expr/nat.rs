//! `nat`: snat/dnat with addresses and ports taken from registers.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "nat";
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFTA_NAT_REG_ADDR_MAX: u16 = 4;
const NFTA_NAT_REG_PROTO_MIN: u16 = 5;
const NFTA_NAT_REG_PROTO_MAX: u16 = 6;
const NFTA_NAT_FLAGS: u16 = 7;

pub const TYPE_SNAT: u32 = 0;
pub const TYPE_DNAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nat {
    pub nat_type: u32,
    pub family: u32,
    pub reg_addr_min: Option<u32>,
    pub reg_addr_max: Option<u32>,
    pub reg_proto_min: Option<u32>,
    pub reg_proto_max: Option<u32>,
    pub flags: Option<u32>,
}

impl Nat {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut nat_type = None;
        let mut family = None;
        let mut reg_addr_min = None;
        let mut reg_addr_max = None;
        let mut reg_proto_min = None;
        let mut reg_proto_max = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_NAT_TYPE => nat_type = Some(a.be32()?),
                NFTA_NAT_FAMILY => family = Some(a.be32()?),
                NFTA_NAT_REG_ADDR_MIN => reg_addr_min = Some(reg(&a)?),
                NFTA_NAT_REG_ADDR_MAX => reg_addr_max = Some(reg(&a)?),
                NFTA_NAT_REG_PROTO_MIN => reg_proto_min = Some(reg(&a)?),
                NFTA_NAT_REG_PROTO_MAX => reg_proto_max = Some(reg(&a)?),
                NFTA_NAT_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            nat_type: nat_type.ok_or_else(|| missing(EXPR, "NFTA_NAT_TYPE"))?,
            family: family.ok_or_else(|| missing(EXPR, "NFTA_NAT_FAMILY"))?,
            reg_addr_min,
            reg_addr_max,
            reg_proto_min,
            reg_proto_max,
            flags,
        })
    }
}
