//! `NFT_MSG_NEWTABLE` → [`NftTable`].

use serde::Serialize;

use super::chain::NftChain;
use super::family::NftFamily;
use super::flowtable::NftFlowtable;
use super::object::NftObject;
use super::set::NftSet;
use super::{hex_opt, udata};
use crate::kernel::nfnl::{NlaError, NlaIter};

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_FLAGS: u16 = 2;
const NFTA_TABLE_USE: u16 = 3;
const NFTA_TABLE_HANDLE: u16 = 4;
const NFTA_TABLE_PAD: u16 = 5;
const NFTA_TABLE_USERDATA: u16 = 6;
const NFTA_TABLE_OWNER: u16 = 7;

pub const F_DORMANT: u32 = 1;
pub const F_OWNER: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NftTable {
    pub family: NftFamily,
    pub name: String,
    pub handle: u64,
    pub flags: u32,
    pub use_count: u32,
    #[serde(serialize_with = "hex_opt")]
    pub userdata: Option<Box<[u8]>>,
    pub comment: Option<String>,
    /// Netlink port id of the owning process (`flags owner`).
    pub owner: Option<u32>,
    pub chains: Vec<NftChain>,
    pub sets: Vec<NftSet>,
    pub flowtables: Vec<NftFlowtable>,
    pub objects: Vec<NftObject>,
    /// Attributes this build did not understand (the table itself is still shown).
    pub problems: Vec<String>,
}

impl NftTable {
    pub fn decode(family: u8, buf: &[u8]) -> Result<Self, NlaError> {
        let mut t = NftTable {
            family: NftFamily::from_nfproto(family),
            name: String::new(),
            handle: 0,
            flags: 0,
            use_count: 0,
            userdata: None,
            comment: None,
            owner: None,
            chains: Vec::new(),
            sets: Vec::new(),
            flowtables: Vec::new(),
            objects: Vec::new(),
            problems: Vec::new(),
        };
        let mut named = false;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_TABLE_NAME => {
                    t.name = a.string();
                    named = true;
                }
                NFTA_TABLE_FLAGS => t.flags = a.be32()?,
                NFTA_TABLE_USE => t.use_count = a.be32()?,
                NFTA_TABLE_HANDLE => t.handle = a.be64()?,
                NFTA_TABLE_PAD => {}
                NFTA_TABLE_USERDATA => {
                    t.comment = udata::string(a.data, udata::COMMENT);
                    t.userdata = Some(a.data.into());
                }
                NFTA_TABLE_OWNER => t.owner = Some(a.be32()?),
                k => t.problems.push(format!("unknown table attribute {k}")),
            }
        }
        if !named {
            return Err(NlaError::new(0, "table without a name"));
        }
        Ok(t)
    }
}
