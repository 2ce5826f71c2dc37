//! `last`: when the rule was last hit.

use serde::Serialize;

use super::unknown;
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "last";
const NFTA_LAST_SET: u16 = 1;
const NFTA_LAST_MSECS: u16 = 2;
const NFTA_LAST_PAD: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Last {
    pub set: Option<u32>,
    pub msecs: Option<u64>,
}

impl Last {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut set = None;
        let mut msecs = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_LAST_SET => set = Some(a.be32()?),
                NFTA_LAST_MSECS => msecs = Some(a.be64()?),
                NFTA_LAST_PAD => {}
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self { set, msecs })
    }
}
