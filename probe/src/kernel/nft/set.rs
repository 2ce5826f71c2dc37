//! `NFT_MSG_NEWSET` → [`NftSet`] and `NFT_MSG_NEWSETELEM` → [`NftSetElem`] (sets, maps,
//! verdict maps; anonymous sets behind `{ ... }` too).

use serde::Serialize;

use super::data::{NftData, decode_data};
use super::expr::{Expr, decode_list};
use super::{hex, hex_opt, udata};
use crate::kernel::nfnl::{Nla, NlaError, NlaIter};

const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_FLAGS: u16 = 3;
const NFTA_SET_KEY_TYPE: u16 = 4;
const NFTA_SET_KEY_LEN: u16 = 5;
const NFTA_SET_DATA_TYPE: u16 = 6;
const NFTA_SET_DATA_LEN: u16 = 7;
const NFTA_SET_POLICY: u16 = 8;
const NFTA_SET_DESC: u16 = 9;
const NFTA_SET_ID: u16 = 10;
const NFTA_SET_TIMEOUT: u16 = 11;
const NFTA_SET_GC_INTERVAL: u16 = 12;
const NFTA_SET_USERDATA: u16 = 13;
const NFTA_SET_PAD: u16 = 14;
const NFTA_SET_OBJ_TYPE: u16 = 15;
const NFTA_SET_HANDLE: u16 = 16;
const NFTA_SET_EXPR: u16 = 17;
const NFTA_SET_EXPRESSIONS: u16 = 18;
/// Newer kernels (6.1x) add the backend's name and the element count to set dumps: facts of
/// the kernel's implementation, not of the ruleset (nft prints neither).
const NFTA_SET_TYPE: u16 = 19;
const NFTA_SET_COUNT: u16 = 20;

const NFTA_SET_DESC_SIZE: u16 = 1;
const NFTA_SET_DESC_CONCAT: u16 = 2;
const NFTA_SET_FIELD_LEN: u16 = 1;

const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_LIST_SET_ID: u16 = 4;

const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
const NFTA_SET_ELEM_EXPIRATION: u16 = 5;
const NFTA_SET_ELEM_USERDATA: u16 = 6;
const NFTA_SET_ELEM_EXPR: u16 = 7;
const NFTA_SET_ELEM_PAD: u16 = 8;
const NFTA_SET_ELEM_OBJREF: u16 = 9;
const NFTA_SET_ELEM_KEY_END: u16 = 10;
const NFTA_SET_ELEM_EXPRESSIONS: u16 = 11;

pub const F_ANONYMOUS: u32 = 0x1;
pub const F_CONSTANT: u32 = 0x2;
pub const F_INTERVAL: u32 = 0x4;
pub const F_MAP: u32 = 0x8;
pub const F_TIMEOUT: u32 = 0x10;
pub const F_EVAL: u32 = 0x20;
pub const F_OBJECT: u32 = 0x40;
pub const F_CONCAT: u32 = 0x80;

/// NFT_SET_ELEM_INTERVAL_END / NFT_SET_ELEM_CATCHALL.
pub const ELEM_F_INTERVAL_END: u32 = 1;
pub const ELEM_F_CATCHALL: u32 = 2;

/// Data type of a verdict map's values (NFT_DATA_VERDICT).
pub const DATA_TYPE_VERDICT: u32 = 0xffff_ff00;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NftSet {
    pub name: String,
    pub handle: u64,
    pub flags: u32,
    pub key_type: u32,
    pub key_len: u32,
    pub data_type: Option<u32>,
    pub data_len: Option<u32>,
    pub obj_type: Option<u32>,
    pub policy: Option<u32>,
    pub size: Option<u32>,
    /// Field lengths of a concatenated key.
    pub concat: Vec<u32>,
    pub timeout: Option<u64>,
    pub gc_interval: Option<u32>,
    #[serde(serialize_with = "hex_opt")]
    pub userdata: Option<Box<[u8]>>,
    pub comment: Option<String>,
    pub exprs: Vec<Expr>,
    pub elements: Vec<NftSetElem>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NftSetElem {
    #[serde(serialize_with = "hex")]
    pub key: Box<[u8]>,
    #[serde(serialize_with = "hex_opt")]
    pub key_end: Option<Box<[u8]>>,
    pub data: Option<NftData>,
    pub flags: u32,
    pub timeout: Option<u64>,
    pub expiration: Option<u64>,
    #[serde(serialize_with = "hex_opt")]
    pub userdata: Option<Box<[u8]>>,
    pub comment: Option<String>,
    pub objref: Option<String>,
    pub exprs: Vec<Expr>,
}

pub struct SetMsg {
    pub table: String,
    pub set: NftSet,
}

pub struct SetElemMsg {
    pub table: String,
    pub set: String,
    pub elements: Vec<NftSetElem>,
}

impl NftSet {
    pub fn decode(buf: &[u8]) -> Result<SetMsg, NlaError> {
        let mut table = None;
        let mut s = NftSet {
            name: String::new(),
            handle: 0,
            flags: 0,
            key_type: 0,
            key_len: 0,
            data_type: None,
            data_len: None,
            obj_type: None,
            policy: None,
            size: None,
            concat: Vec::new(),
            timeout: None,
            gc_interval: None,
            userdata: None,
            comment: None,
            exprs: Vec::new(),
            elements: Vec::new(),
            problems: Vec::new(),
        };
        let mut named = false;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_SET_TABLE => table = Some(a.string()),
                NFTA_SET_NAME => {
                    s.name = a.string();
                    named = true;
                }
                NFTA_SET_FLAGS => s.flags = a.be32()?,
                NFTA_SET_KEY_TYPE => s.key_type = a.be32()?,
                NFTA_SET_KEY_LEN => s.key_len = a.be32()?,
                NFTA_SET_DATA_TYPE => s.data_type = Some(a.be32()?),
                NFTA_SET_DATA_LEN => s.data_len = Some(a.be32()?),
                NFTA_SET_POLICY => s.policy = Some(a.be32()?),
                NFTA_SET_DESC => decode_desc(&a, &mut s)?,
                NFTA_SET_ID | NFTA_SET_PAD => {}
                NFTA_SET_TIMEOUT => s.timeout = Some(a.be64()?),
                NFTA_SET_GC_INTERVAL => s.gc_interval = Some(a.be32()?),
                NFTA_SET_USERDATA => {
                    s.comment = udata::string(a.data, udata::SET_COMMENT);
                    s.userdata = Some(a.data.into());
                }
                NFTA_SET_OBJ_TYPE => s.obj_type = Some(a.be32()?),
                NFTA_SET_HANDLE => s.handle = a.be64()?,
                NFTA_SET_EXPR => s.exprs.push(super::expr::decode_expr(a.data)),
                NFTA_SET_EXPRESSIONS => s.exprs.extend(decode_list(a.data, 0)?),
                NFTA_SET_TYPE | NFTA_SET_COUNT => {}
                k => s.problems.push(format!("unknown set attribute {k}")),
            }
        }
        let table = table.ok_or_else(|| NlaError::new(0, "set without a table"))?;
        if !named {
            return Err(NlaError::new(0, "set without a name"));
        }
        Ok(SetMsg { table, set: s })
    }
}

fn decode_desc(a: &Nla<'_>, s: &mut NftSet) -> Result<(), NlaError> {
    for d in a.nested() {
        let d = d?;
        match d.kind {
            NFTA_SET_DESC_SIZE => s.size = Some(d.be32()?),
            NFTA_SET_DESC_CONCAT => {
                for f in d.nested() {
                    for x in f?.nested() {
                        let x = x?;
                        if x.kind == NFTA_SET_FIELD_LEN {
                            s.concat.push(x.be32()?);
                        }
                    }
                }
            }
            k => s.problems.push(format!("unknown set desc attribute {k}")),
        }
    }
    Ok(())
}

impl NftSetElem {
    /// Decodes a whole `NFT_MSG_NEWSETELEM` message (one or more elements).
    pub fn decode_msg(buf: &[u8]) -> Result<SetElemMsg, NlaError> {
        let mut table = None;
        let mut set = None;
        let mut elements = Vec::new();
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_SET_ELEM_LIST_TABLE => table = Some(a.string()),
                NFTA_SET_ELEM_LIST_SET => set = Some(a.string()),
                NFTA_SET_ELEM_LIST_ELEMENTS => {
                    for e in a.nested() {
                        elements.push(Self::decode(e?.data)?);
                    }
                }
                NFTA_SET_ELEM_LIST_SET_ID => {}
                k => {
                    return Err(NlaError::new(
                        a.offset,
                        format!("set element list attr {k}"),
                    ));
                }
            }
        }
        Ok(SetElemMsg {
            table: table.ok_or_else(|| NlaError::new(0, "elements without a table"))?,
            set: set.ok_or_else(|| NlaError::new(0, "elements without a set"))?,
            elements,
        })
    }

    fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut e = NftSetElem {
            key: Box::default(),
            key_end: None,
            data: None,
            flags: 0,
            timeout: None,
            expiration: None,
            userdata: None,
            comment: None,
            objref: None,
            exprs: Vec::new(),
        };
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_SET_ELEM_KEY => e.key = value(&a)?,
                NFTA_SET_ELEM_KEY_END => e.key_end = Some(value(&a)?),
                NFTA_SET_ELEM_DATA => e.data = Some(decode_data(a.data)?),
                NFTA_SET_ELEM_FLAGS => e.flags = a.be32()?,
                NFTA_SET_ELEM_TIMEOUT => e.timeout = Some(a.be64()?),
                NFTA_SET_ELEM_EXPIRATION => e.expiration = Some(a.be64()?),
                NFTA_SET_ELEM_USERDATA => {
                    e.comment = udata::string(a.data, udata::COMMENT);
                    e.userdata = Some(a.data.into());
                }
                NFTA_SET_ELEM_EXPR => e.exprs.push(super::expr::decode_expr(a.data)),
                NFTA_SET_ELEM_EXPRESSIONS => e.exprs.extend(decode_list(a.data, 0)?),
                NFTA_SET_ELEM_OBJREF => e.objref = Some(a.string()),
                NFTA_SET_ELEM_PAD => {}
                k => return Err(NlaError::new(a.offset, format!("set element attr {k}"))),
            }
        }
        Ok(e)
    }
}

fn value(a: &Nla<'_>) -> Result<Box<[u8]>, NlaError> {
    match decode_data(a.data)? {
        NftData::Value(v) => Ok(v),
        NftData::Verdict(_) => Err(NlaError::new(a.offset, "verdict as a set key")),
    }
}
