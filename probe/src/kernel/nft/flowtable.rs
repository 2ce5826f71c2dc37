//! `NFT_MSG_NEWFLOWTABLE` → [`NftFlowtable`].

use serde::Serialize;

use crate::kernel::nfnl::{NlaError, NlaIter};

const NFTA_FLOWTABLE_TABLE: u16 = 1;
const NFTA_FLOWTABLE_NAME: u16 = 2;
const NFTA_FLOWTABLE_HOOK: u16 = 3;
const NFTA_FLOWTABLE_USE: u16 = 4;
const NFTA_FLOWTABLE_HANDLE: u16 = 5;
const NFTA_FLOWTABLE_PAD: u16 = 6;
const NFTA_FLOWTABLE_FLAGS: u16 = 7;
const NFTA_FLOWTABLE_HOOK_NUM: u16 = 1;
const NFTA_FLOWTABLE_HOOK_PRIORITY: u16 = 2;
const NFTA_FLOWTABLE_HOOK_DEVS: u16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NftFlowtable {
    pub name: String,
    pub handle: u64,
    pub hooknum: Option<u32>,
    pub priority: i32,
    pub devs: Vec<String>,
    pub flags: u32,
    pub use_count: u32,
}

pub struct FlowtableMsg {
    pub table: String,
    pub flowtable: NftFlowtable,
}

impl NftFlowtable {
    pub fn decode(buf: &[u8]) -> Result<FlowtableMsg, NlaError> {
        let mut table = None;
        let mut f = NftFlowtable {
            name: String::new(),
            handle: 0,
            hooknum: None,
            priority: 0,
            devs: Vec::new(),
            flags: 0,
            use_count: 0,
        };
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_FLOWTABLE_TABLE => table = Some(a.string()),
                NFTA_FLOWTABLE_NAME => f.name = a.string(),
                NFTA_FLOWTABLE_HOOK => {
                    for h in a.nested() {
                        let h = h?;
                        match h.kind {
                            NFTA_FLOWTABLE_HOOK_NUM => f.hooknum = Some(h.be32()?),
                            NFTA_FLOWTABLE_HOOK_PRIORITY => f.priority = h.be32()? as i32,
                            NFTA_FLOWTABLE_HOOK_DEVS => {
                                for d in h.nested() {
                                    f.devs.push(d?.string());
                                }
                            }
                            k => {
                                return Err(NlaError::new(
                                    h.offset,
                                    format!("flowtable hook attr {k}"),
                                ));
                            }
                        }
                    }
                }
                NFTA_FLOWTABLE_USE => f.use_count = a.be32()?,
                NFTA_FLOWTABLE_HANDLE => f.handle = a.be64()?,
                NFTA_FLOWTABLE_PAD => {}
                NFTA_FLOWTABLE_FLAGS => f.flags = a.be32()?,
                k => return Err(NlaError::new(a.offset, format!("flowtable attr {k}"))),
            }
        }
        Ok(FlowtableMsg {
            table: table.ok_or_else(|| NlaError::new(0, "flowtable without a table"))?,
            flowtable: f,
        })
    }
}
