//! `NFT_MSG_NEWGEN`: the ruleset generation id.

use crate::kernel::nfnl::{NlaError, NlaIter};

const NFTA_GEN_ID: u16 = 1;

pub fn decode_genid(buf: &[u8]) -> Result<u32, NlaError> {
    for a in NlaIter::new(buf) {
        let a = a?;
        if a.kind == NFTA_GEN_ID {
            return a.be32();
        }
    }
    Err(NlaError::new(0, "generation message without NFTA_GEN_ID"))
}
