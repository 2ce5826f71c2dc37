//! `tproxy`: transparent proxy to an address/port from registers.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "tproxy";
const NFTA_TPROXY_FAMILY: u16 = 1;
const NFTA_TPROXY_REG_ADDR: u16 = 2;
const NFTA_TPROXY_REG_PORT: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tproxy {
    pub family: u32,
    pub reg_addr: Option<u32>,
    pub reg_port: Option<u32>,
}

impl Tproxy {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut family = None;
        let mut reg_addr = None;
        let mut reg_port = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_TPROXY_FAMILY => family = Some(a.be32()?),
                NFTA_TPROXY_REG_ADDR => reg_addr = Some(reg(&a)?),
                NFTA_TPROXY_REG_PORT => reg_port = Some(reg(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            family: family.ok_or_else(|| missing(EXPR, "NFTA_TPROXY_FAMILY"))?,
            reg_addr,
            reg_port,
        })
    }
}
