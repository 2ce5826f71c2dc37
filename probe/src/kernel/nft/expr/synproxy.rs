//! `synproxy`: SYN cookie proxy.

use serde::Serialize;

use super::unknown;
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "synproxy";
const NFTA_SYNPROXY_MSS: u16 = 1;
const NFTA_SYNPROXY_WSCALE: u16 = 2;
const NFTA_SYNPROXY_FLAGS: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Synproxy {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub flags: Option<u32>,
}

impl Synproxy {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut mss = None;
        let mut wscale = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_SYNPROXY_MSS => mss = Some(a.be16()?),
                NFTA_SYNPROXY_WSCALE => wscale = Some(a.u8()?),
                NFTA_SYNPROXY_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self { mss, wscale, flags })
    }
}
