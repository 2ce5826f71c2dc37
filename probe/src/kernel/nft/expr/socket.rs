//! `socket`: properties of the packet's socket.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "socket";
const NFTA_SOCKET_KEY: u16 = 1;
const NFTA_SOCKET_DREG: u16 = 2;
const NFTA_SOCKET_LEVEL: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Socket {
    pub key: u32,
    pub dreg: u32,
    pub level: Option<u32>,
}

impl Socket {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut key = None;
        let mut dreg = None;
        let mut level = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_SOCKET_KEY => key = Some(a.be32()?),
                NFTA_SOCKET_DREG => dreg = Some(reg(&a)?),
                NFTA_SOCKET_LEVEL => level = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            key: key.ok_or_else(|| missing(EXPR, "NFTA_SOCKET_KEY"))?,
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_SOCKET_DREG"))?,
            level,
        })
    }
}
