//! `connlimit`: number of connections.

use serde::Serialize;

use super::{missing, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "connlimit";
const NFTA_CONNLIMIT_COUNT: u16 = 1;
const NFTA_CONNLIMIT_FLAGS: u16 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connlimit {
    pub count: u32,
    pub flags: Option<u32>,
}

impl Connlimit {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut count = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_CONNLIMIT_COUNT => count = Some(a.be32()?),
                NFTA_CONNLIMIT_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            count: count.ok_or_else(|| missing(EXPR, "NFTA_CONNLIMIT_COUNT"))?,
            flags,
        })
    }
}
