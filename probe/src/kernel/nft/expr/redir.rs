//! `redir`: redirect to the local machine, optionally to a port range.

use serde::Serialize;

use super::{reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "redir";
const NFTA_REDIR_REG_PROTO_MIN: u16 = 1;
const NFTA_REDIR_REG_PROTO_MAX: u16 = 2;
const NFTA_REDIR_FLAGS: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redir {
    pub reg_proto_min: Option<u32>,
    pub reg_proto_max: Option<u32>,
    pub flags: Option<u32>,
}

impl Redir {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut reg_proto_min = None;
        let mut reg_proto_max = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_REDIR_REG_PROTO_MIN => reg_proto_min = Some(reg(&a)?),
                NFTA_REDIR_REG_PROTO_MAX => reg_proto_max = Some(reg(&a)?),
                NFTA_REDIR_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            reg_proto_min,
            reg_proto_max,
            flags,
        })
    }
}
