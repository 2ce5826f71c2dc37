//! `NFT_MSG_NEWOBJ` → [`NftObject`]: named stateful objects (counter, quota, limit, ct helper,
//! ...). Counter, quota, limit, connlimit, ct helper, ct expectation and synproxy are typed;
//! the others keep their raw data.

use serde::Serialize;

use super::expr::{
    connlimit::Connlimit, counter::Counter, limit::Limit, quota::Quota, synproxy::Synproxy,
};
use super::{hex, hex_opt, udata};
use crate::kernel::nfnl::{NlaError, NlaIter};

const NFTA_OBJ_TABLE: u16 = 1;
const NFTA_OBJ_NAME: u16 = 2;
const NFTA_OBJ_TYPE: u16 = 3;
const NFTA_OBJ_DATA: u16 = 4;
const NFTA_OBJ_USE: u16 = 5;
const NFTA_OBJ_HANDLE: u16 = 6;
const NFTA_OBJ_PAD: u16 = 7;
const NFTA_OBJ_USERDATA: u16 = 8;

pub const TYPE_COUNTER: u32 = 1;
pub const TYPE_QUOTA: u32 = 2;
pub const TYPE_CT_HELPER: u32 = 3;
pub const TYPE_LIMIT: u32 = 4;
pub const TYPE_CONNLIMIT: u32 = 5;
pub const TYPE_TUNNEL: u32 = 6;
pub const TYPE_CT_TIMEOUT: u32 = 7;
pub const TYPE_SECMARK: u32 = 8;
pub const TYPE_CT_EXPECT: u32 = 9;
pub const TYPE_SYNPROXY: u32 = 10;

const NFTA_CT_HELPER_NAME: u16 = 1;
const NFTA_CT_HELPER_L3PROTO: u16 = 2;
const NFTA_CT_HELPER_L4PROTO: u16 = 3;

const NFTA_CT_EXPECT_L3PROTO: u16 = 1;
const NFTA_CT_EXPECT_L4PROTO: u16 = 2;
const NFTA_CT_EXPECT_DPORT: u16 = 3;
const NFTA_CT_EXPECT_TIMEOUT: u16 = 4;
const NFTA_CT_EXPECT_SIZE: u16 = 5;

/// A `ct helper` object: the kernel helper's name and the protocols it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CtHelper {
    pub name: String,
    /// NFPROTO_* (host order on the wire as be16).
    pub l3proto: Option<u16>,
    pub l4proto: Option<u8>,
}

impl CtHelper {
    fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut h = CtHelper {
            name: String::new(),
            l3proto: None,
            l4proto: None,
        };
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_CT_HELPER_NAME => h.name = a.string(),
                NFTA_CT_HELPER_L3PROTO => h.l3proto = Some(a.be16()?),
                NFTA_CT_HELPER_L4PROTO => h.l4proto = Some(a.u8()?),
                k => return Err(NlaError::new(a.offset, format!("ct helper attr {k}"))),
            }
        }
        Ok(h)
    }
}

/// A `ct expectation` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CtExpect {
    pub l3proto: Option<u16>,
    pub l4proto: Option<u8>,
    pub dport: Option<u16>,
    /// Milliseconds.
    pub timeout: Option<u32>,
    pub size: Option<u8>,
}

impl CtExpect {
    fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut e = CtExpect {
            l3proto: None,
            l4proto: None,
            dport: None,
            timeout: None,
            size: None,
        };
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_CT_EXPECT_L3PROTO => e.l3proto = Some(a.be16()?),
                NFTA_CT_EXPECT_L4PROTO => e.l4proto = Some(a.u8()?),
                NFTA_CT_EXPECT_DPORT => e.dport = Some(a.be16()?),
                // The kernel puts the timeout in host order (nla_put_u32).
                NFTA_CT_EXPECT_TIMEOUT => e.timeout = Some(a.ne32()?),
                NFTA_CT_EXPECT_SIZE => e.size = Some(a.u8()?),
                k => return Err(NlaError::new(a.offset, format!("ct expectation attr {k}"))),
            }
        }
        Ok(e)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjData {
    Counter(Counter),
    Quota(Quota),
    Limit(Limit),
    Connlimit(Connlimit),
    CtHelper(CtHelper),
    CtExpect(CtExpect),
    Synproxy(Synproxy),
    /// Another type, or one that did not decode: raw `NFTA_OBJ_DATA`.
    Raw(#[serde(serialize_with = "hex")] Box<[u8]>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NftObject {
    pub name: String,
    pub handle: u64,
    pub obj_type: u32,
    pub data: ObjData,
    pub use_count: u32,
    #[serde(serialize_with = "hex_opt")]
    pub userdata: Option<Box<[u8]>>,
    pub comment: Option<String>,
}

pub struct ObjMsg {
    pub table: String,
    pub obj: NftObject,
}

impl NftObject {
    pub fn decode(buf: &[u8]) -> Result<ObjMsg, NlaError> {
        let mut table = None;
        let mut name = String::new();
        let mut handle = 0;
        let mut obj_type = None;
        let mut raw: &[u8] = &[];
        let mut use_count = 0;
        let mut userdata = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_OBJ_TABLE => table = Some(a.string()),
                NFTA_OBJ_NAME => name = a.string(),
                NFTA_OBJ_TYPE => obj_type = Some(a.be32()?),
                NFTA_OBJ_DATA => raw = a.data,
                NFTA_OBJ_USE => use_count = a.be32()?,
                NFTA_OBJ_HANDLE => handle = a.be64()?,
                NFTA_OBJ_PAD => {}
                NFTA_OBJ_USERDATA => userdata = Some(Box::<[u8]>::from(a.data)),
                k => return Err(NlaError::new(a.offset, format!("object attr {k}"))),
            }
        }
        let obj_type = obj_type.ok_or_else(|| NlaError::new(0, "object without a type"))?;
        let typed = match obj_type {
            TYPE_COUNTER => Counter::decode(raw).map(ObjData::Counter),
            TYPE_QUOTA => Quota::decode(raw).map(ObjData::Quota),
            TYPE_LIMIT => Limit::decode(raw).map(ObjData::Limit),
            TYPE_CONNLIMIT => Connlimit::decode(raw).map(ObjData::Connlimit),
            TYPE_CT_HELPER => CtHelper::decode(raw).map(ObjData::CtHelper),
            TYPE_CT_EXPECT => CtExpect::decode(raw).map(ObjData::CtExpect),
            TYPE_SYNPROXY => Synproxy::decode(raw).map(ObjData::Synproxy),
            _ => Ok(ObjData::Raw(raw.into())),
        };
        let data = typed.unwrap_or_else(|_| ObjData::Raw(raw.into()));
        let comment = userdata
            .as_deref()
            .and_then(|u| udata::string(u, udata::COMMENT));
        Ok(ObjMsg {
            table: table.ok_or_else(|| NlaError::new(0, "object without a table"))?,
            obj: NftObject {
                name,
                handle,
                obj_type,
                data,
                use_count,
                userdata,
                comment,
            },
        })
    }
}
