//! `flow_offload`: add the flow to a flowtable.

use serde::Serialize;

use super::{missing, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "flow_offload";
const NFTA_FLOW_TABLE_NAME: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowOffload {
    pub flowtable: String,
}

impl FlowOffload {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut flowtable = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_FLOW_TABLE_NAME => flowtable = Some(a.string()),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            flowtable: flowtable.ok_or_else(|| missing(EXPR, "NFTA_FLOW_TABLE_NAME"))?,
        })
    }
}
