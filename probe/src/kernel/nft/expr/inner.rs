//! `inner`: match an expression against an encapsulated packet.

use serde::Serialize;

use super::{Expr, decode_expr_depth, missing, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "inner";
const NFTA_INNER_NUM: u16 = 1;
const NFTA_INNER_TYPE: u16 = 2;
const NFTA_INNER_FLAGS: u16 = 3;
const NFTA_INNER_HDRSIZE: u16 = 4;
const NFTA_INNER_EXPR: u16 = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inner {
    pub num: Option<u32>,
    pub inner_type: u32,
    pub flags: Option<u32>,
    pub hdrsize: Option<u32>,
    pub expr: Box<Expr>,
}

impl Inner {
    pub fn decode(buf: &[u8], depth: u8) -> Result<Self, NlaError> {
        let mut num = None;
        let mut inner_type = None;
        let mut flags = None;
        let mut hdrsize = None;
        let mut expr = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_INNER_NUM => num = Some(a.be32()?),
                NFTA_INNER_TYPE => inner_type = Some(a.be32()?),
                NFTA_INNER_FLAGS => flags = Some(a.be32()?),
                NFTA_INNER_HDRSIZE => hdrsize = Some(a.be32()?),
                NFTA_INNER_EXPR => {
                    expr = Some(Box::new(decode_expr_depth(a.data, depth.saturating_add(1))))
                }
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            num,
            inner_type: inner_type.ok_or_else(|| missing(EXPR, "NFTA_INNER_TYPE"))?,
            flags,
            hdrsize,
            expr: expr.ok_or_else(|| missing(EXPR, "NFTA_INNER_EXPR"))?,
        })
    }
}
