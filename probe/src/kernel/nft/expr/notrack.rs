//! `notrack`: skip connection tracking (no attributes).

use serde::Serialize;

use super::unknown;
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "notrack";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notrack;

impl Notrack {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        if let Some(a) = NlaIter::new(buf).next() {
            return Err(unknown(EXPR, &a?));
        }
        Ok(Notrack)
    }
}
