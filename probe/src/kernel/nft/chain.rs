//! `NFT_MSG_NEWCHAIN` → [`NftChain`] (base chains carry hook, priority, type, policy and
//! counters).

use serde::Serialize;

use super::rule::NftRule;
use super::{hex_opt, udata};
use crate::kernel::nfnl::{Nla, NlaError, NlaIter};

const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_HANDLE: u16 = 2;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_USE: u16 = 6;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_CHAIN_COUNTERS: u16 = 8;
const NFTA_CHAIN_PAD: u16 = 9;
const NFTA_CHAIN_FLAGS: u16 = 10;
const NFTA_CHAIN_ID: u16 = 11;
const NFTA_CHAIN_USERDATA: u16 = 12;

const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_HOOK_DEV: u16 = 3;
const NFTA_HOOK_DEVS: u16 = 4;

const NFTA_COUNTER_BYTES: u16 = 1;
const NFTA_COUNTER_PACKETS: u16 = 2;

pub const F_BASE: u32 = 1;
pub const F_HW_OFFLOAD: u32 = 2;
pub const F_BINDING: u32 = 4;

/// Policy values (`NF_DROP`, `NF_ACCEPT`).
pub const POLICY_DROP: u32 = 0;
pub const POLICY_ACCEPT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hook {
    pub hooknum: u32,
    pub priority: i32,
    /// netdev/inet ingress device(s).
    pub devs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct NftCounters {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NftChain {
    pub name: String,
    pub handle: u64,
    pub hook: Option<Hook>,
    pub policy: Option<u32>,
    /// `filter`, `nat`, `route` (base chains only).
    pub chain_type: Option<String>,
    pub counters: Option<NftCounters>,
    pub flags: u32,
    pub use_count: u32,
    #[serde(serialize_with = "hex_opt")]
    pub userdata: Option<Box<[u8]>>,
    pub comment: Option<String>,
    pub rules: Vec<NftRule>,
    pub problems: Vec<String>,
}

/// A decoded chain message and the table it belongs to.
pub struct ChainMsg {
    pub table: String,
    pub chain: NftChain,
}

impl NftChain {
    pub fn decode(buf: &[u8]) -> Result<ChainMsg, NlaError> {
        let mut table = None;
        let mut c = NftChain {
            name: String::new(),
            handle: 0,
            hook: None,
            policy: None,
            chain_type: None,
            counters: None,
            flags: 0,
            use_count: 0,
            userdata: None,
            comment: None,
            rules: Vec::new(),
            problems: Vec::new(),
        };
        let mut named = false;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_CHAIN_TABLE => table = Some(a.string()),
                NFTA_CHAIN_HANDLE => c.handle = a.be64()?,
                NFTA_CHAIN_NAME => {
                    c.name = a.string();
                    named = true;
                }
                NFTA_CHAIN_HOOK => c.hook = Some(decode_hook(&a)?),
                NFTA_CHAIN_POLICY => c.policy = Some(a.be32()?),
                NFTA_CHAIN_USE => c.use_count = a.be32()?,
                NFTA_CHAIN_TYPE => c.chain_type = Some(a.string()),
                NFTA_CHAIN_COUNTERS => c.counters = Some(decode_counters(&a)?),
                NFTA_CHAIN_PAD | NFTA_CHAIN_ID => {}
                NFTA_CHAIN_FLAGS => c.flags = a.be32()?,
                NFTA_CHAIN_USERDATA => {
                    c.comment = udata::string(a.data, udata::COMMENT);
                    c.userdata = Some(a.data.into());
                }
                k => c.problems.push(format!("unknown chain attribute {k}")),
            }
        }
        let table = table.ok_or_else(|| NlaError::new(0, "chain without a table"))?;
        if !named {
            return Err(NlaError::new(0, "chain without a name"));
        }
        Ok(ChainMsg { table, chain: c })
    }
}

fn decode_hook(a: &Nla<'_>) -> Result<Hook, NlaError> {
    let mut hooknum = None;
    let mut priority = 0;
    let mut devs = Vec::new();
    let mut dev = None;
    for h in a.nested() {
        let h = h?;
        match h.kind {
            NFTA_HOOK_HOOKNUM => hooknum = Some(h.be32()?),
            NFTA_HOOK_PRIORITY => priority = h.be32()? as i32,
            NFTA_HOOK_DEV => dev = Some(h.string()),
            NFTA_HOOK_DEVS => {
                for d in h.nested() {
                    devs.push(d?.string());
                }
            }
            k => {
                return Err(NlaError::new(
                    h.offset,
                    format!("unknown hook attribute {k}"),
                ));
            }
        }
    }
    // The kernel sends a single device both as NFTA_HOOK_DEV and inside NFTA_HOOK_DEVS.
    if devs.is_empty() {
        devs.extend(dev);
    }
    Ok(Hook {
        hooknum: hooknum.ok_or_else(|| NlaError::new(a.offset, "hook without number"))?,
        priority,
        devs,
    })
}

pub(crate) fn decode_counters(a: &Nla<'_>) -> Result<NftCounters, NlaError> {
    let mut c = NftCounters::default();
    for x in a.nested() {
        let x = x?;
        match x.kind {
            NFTA_COUNTER_BYTES => c.bytes = x.be64()?,
            NFTA_COUNTER_PACKETS => c.packets = x.be64()?,
            _ => {}
        }
    }
    Ok(c)
}
