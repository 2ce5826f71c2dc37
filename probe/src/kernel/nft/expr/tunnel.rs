//! `tunnel`: tunnel metadata.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "tunnel";
const NFTA_TUNNEL_KEY: u16 = 1;
const NFTA_TUNNEL_DREG: u16 = 2;
const NFTA_TUNNEL_MODE: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    pub key: u32,
    pub dreg: u32,
    pub mode: Option<u32>,
}

impl Tunnel {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut key = None;
        let mut dreg = None;
        let mut mode = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_TUNNEL_KEY => key = Some(a.be32()?),
                NFTA_TUNNEL_DREG => dreg = Some(reg(&a)?),
                NFTA_TUNNEL_MODE => mode = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            key: key.ok_or_else(|| missing(EXPR, "NFTA_TUNNEL_KEY"))?,
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_TUNNEL_DREG"))?,
            mode,
        })
    }
}
