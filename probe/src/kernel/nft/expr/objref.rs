//! `objref`: use a stateful object by name or through a map.

use serde::Serialize;

use super::{reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "objref";
const NFTA_OBJREF_IMM_TYPE: u16 = 1;
const NFTA_OBJREF_IMM_NAME: u16 = 2;
const NFTA_OBJREF_SET_SREG: u16 = 3;
const NFTA_OBJREF_SET_NAME: u16 = 4;
const NFTA_OBJREF_SET_ID: u16 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Objref {
    pub imm_type: Option<u32>,
    pub imm_name: Option<String>,
    pub set_sreg: Option<u32>,
    pub set_name: Option<String>,
    pub set_id: Option<u32>,
}

impl Objref {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut imm_type = None;
        let mut imm_name = None;
        let mut set_sreg = None;
        let mut set_name = None;
        let mut set_id = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_OBJREF_IMM_TYPE => imm_type = Some(a.be32()?),
                NFTA_OBJREF_IMM_NAME => imm_name = Some(a.string()),
                NFTA_OBJREF_SET_SREG => set_sreg = Some(reg(&a)?),
                NFTA_OBJREF_SET_NAME => set_name = Some(a.string()),
                NFTA_OBJREF_SET_ID => set_id = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            imm_type,
            imm_name,
            set_sreg,
            set_name,
            set_id,
        })
    }
}
