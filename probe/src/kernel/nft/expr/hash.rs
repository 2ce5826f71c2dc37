//! `hash`: jhash/symhash of a register into a range.

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "hash";
const NFTA_HASH_SREG: u16 = 1;
const NFTA_HASH_DREG: u16 = 2;
const NFTA_HASH_LEN: u16 = 3;
const NFTA_HASH_MODULUS: u16 = 4;
const NFTA_HASH_SEED: u16 = 5;
const NFTA_HASH_OFFSET: u16 = 6;
const NFTA_HASH_TYPE: u16 = 7;
const NFTA_HASH_SET_NAME: u16 = 8;
const NFTA_HASH_SET_ID: u16 = 9;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hash {
    pub sreg: Option<u32>,
    pub dreg: u32,
    pub len: Option<u32>,
    pub modulus: u32,
    pub seed: Option<u32>,
    pub offset: Option<u32>,
    pub hash_type: Option<u32>,
    pub set_name: Option<String>,
    pub set_id: Option<u32>,
}

impl Hash {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut sreg = None;
        let mut dreg = None;
        let mut len = None;
        let mut modulus = None;
        let mut seed = None;
        let mut offset = None;
        let mut hash_type = None;
        let mut set_name = None;
        let mut set_id = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_HASH_SREG => sreg = Some(reg(&a)?),
                NFTA_HASH_DREG => dreg = Some(reg(&a)?),
                NFTA_HASH_LEN => len = Some(a.be32()?),
                NFTA_HASH_MODULUS => modulus = Some(a.be32()?),
                NFTA_HASH_SEED => seed = Some(a.be32()?),
                NFTA_HASH_OFFSET => offset = Some(a.be32()?),
                NFTA_HASH_TYPE => hash_type = Some(a.be32()?),
                NFTA_HASH_SET_NAME => set_name = Some(a.string()),
                NFTA_HASH_SET_ID => set_id = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            sreg,
            dreg: dreg.ok_or_else(|| missing(EXPR, "NFTA_HASH_DREG"))?,
            len,
            modulus: modulus.ok_or_else(|| missing(EXPR, "NFTA_HASH_MODULUS"))?,
            seed,
            offset,
            hash_type,
            set_name,
            set_id,
        })
    }
}
