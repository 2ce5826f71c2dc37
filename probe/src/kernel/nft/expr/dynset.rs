//! `dynset`: add/update/delete a set element from the packet path.

use serde::Serialize;

use super::{Expr, decode_expr_depth, decode_list, missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "dynset";
const NFTA_DYNSET_SET_NAME: u16 = 1;
const NFTA_DYNSET_SET_ID: u16 = 2;
const NFTA_DYNSET_OP: u16 = 3;
const NFTA_DYNSET_SREG_KEY: u16 = 4;
const NFTA_DYNSET_SREG_DATA: u16 = 5;
const NFTA_DYNSET_TIMEOUT: u16 = 6;
const NFTA_DYNSET_EXPR: u16 = 7;
const NFTA_DYNSET_PAD: u16 = 8;
const NFTA_DYNSET_FLAGS: u16 = 9;
const NFTA_DYNSET_EXPRESSIONS: u16 = 10;

pub const OP_ADD: u32 = 0;
pub const OP_UPDATE: u32 = 1;
pub const OP_DELETE: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dynset {
    pub set_name: String,
    pub set_id: Option<u32>,
    pub op: u32,
    pub sreg_key: u32,
    pub sreg_data: Option<u32>,
    pub timeout: Option<u64>,
    pub expr: Option<Box<Expr>>,
    pub flags: Option<u32>,
    pub exprs: Vec<Expr>,
}

impl Dynset {
    pub fn decode(buf: &[u8], depth: u8) -> Result<Self, NlaError> {
        let mut set_name = None;
        let mut set_id = None;
        let mut op = None;
        let mut sreg_key = None;
        let mut sreg_data = None;
        let mut timeout = None;
        let mut expr = None;
        let mut flags = None;
        let mut exprs = Vec::new();
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_DYNSET_SET_NAME => set_name = Some(a.string()),
                NFTA_DYNSET_SET_ID => set_id = Some(a.be32()?),
                NFTA_DYNSET_OP => op = Some(a.be32()?),
                NFTA_DYNSET_SREG_KEY => sreg_key = Some(reg(&a)?),
                NFTA_DYNSET_SREG_DATA => sreg_data = Some(reg(&a)?),
                NFTA_DYNSET_TIMEOUT => timeout = Some(a.be64()?),
                NFTA_DYNSET_EXPR => {
                    expr = Some(Box::new(decode_expr_depth(a.data, depth.saturating_add(1))))
                }
                NFTA_DYNSET_PAD => {}
                NFTA_DYNSET_FLAGS => flags = Some(a.be32()?),
                NFTA_DYNSET_EXPRESSIONS => exprs = decode_list(a.data, depth)?,
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            set_name: set_name.ok_or_else(|| missing(EXPR, "NFTA_DYNSET_SET_NAME"))?,
            set_id,
            op: op.ok_or_else(|| missing(EXPR, "NFTA_DYNSET_OP"))?,
            sreg_key: sreg_key.ok_or_else(|| missing(EXPR, "NFTA_DYNSET_SREG_KEY"))?,
            sreg_data,
            timeout,
            expr,
            flags,
            exprs,
        })
    }
}
