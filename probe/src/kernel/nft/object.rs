//! `NFT_MSG_NEWOBJ` → [`NftObject`]: named stateful objects (counter, quota, limit, ct helper,
//! ...). Counter, quota, limit and connlimit are typed (same attributes as the expressions);
//! the others keep their raw data.

use serde::Serialize;

use super::expr::{connlimit::Connlimit, counter::Counter, limit::Limit, quota::Quota};
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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjData {
    Counter(Counter),
    Quota(Quota),
    Limit(Limit),
    Connlimit(Connlimit),
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
