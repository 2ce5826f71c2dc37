//! `masq`: masquerade, optionally to a port range.

use serde::Serialize;

use super::{reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "masq";
const NFTA_MASQ_FLAGS: u16 = 1;
const NFTA_MASQ_REG_PROTO_MIN: u16 = 2;
const NFTA_MASQ_REG_PROTO_MAX: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Masq {
    pub flags: Option<u32>,
    pub reg_proto_min: Option<u32>,
    pub reg_proto_max: Option<u32>,
}

impl Masq {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut flags = None;
        let mut reg_proto_min = None;
        let mut reg_proto_max = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_MASQ_FLAGS => flags = Some(a.be32()?),
                NFTA_MASQ_REG_PROTO_MIN => reg_proto_min = Some(reg(&a)?),
                NFTA_MASQ_REG_PROTO_MAX => reg_proto_max = Some(reg(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            flags,
            reg_proto_min,
            reg_proto_max,
        })
    }
}
