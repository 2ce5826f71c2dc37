//! `match` / `target`: xtables compat expressions. iptables-nft keeps every `-m`/`-j` it cannot
//! express natively as one of these: the extension name, its revision and the raw
//! `xt_*_info` blob, which `crate::ext` decodes exactly like a legacy entry's.

use serde::Serialize;

use super::{missing, unknown};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};
use crate::kernel::nft::data::cstr_bytes;

const EXPR: &str = "match/target";
// NFTA_MATCH_* and NFTA_TARGET_* share the numbering.
const NFTA_XT_NAME: u16 = 1;
const NFTA_XT_REV: u16 = 2;
const NFTA_XT_INFO: u16 = 3;
/// XT_EXTENSION_MAXNAMELEN (29, NUL included): the kernel rejects longer names.
const MAX_NAME: usize = 29;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Xt {
    pub name: String,
    pub rev: u32,
    #[serde(serialize_with = "crate::kernel::nft::data::hex")]
    pub info: Box<[u8]>,
}

/// [`Xt`] borrowing from the message. The name is the raw bytes up to the NUL (the owned
/// form converts them lossily, as the kernel only accepts ASCII names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XtRef<'a> {
    pub name: &'a [u8],
    pub rev: u32,
    pub info: &'a [u8],
}

impl Xt {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        XtRef::decode(buf).map(|x| x.to_owned())
    }
    pub fn as_ref(&self) -> XtRef<'_> {
        XtRef {
            name: self.name.as_bytes(),
            rev: self.rev,
            info: &self.info,
        }
    }
}

impl<'a> XtRef<'a> {
    /// The kernel's layout (`nft_match_dump` / `nft_target_dump`: NAME, REV, INFO) read at
    /// fixed offsets; `None` for any other, where [`XtRef::decode`] decides (on this one
    /// both agree).
    #[inline]
    pub fn decode_kernel(buf: &'a [u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let name = f.attr(NFTA_XT_NAME)?;
        if name.len() > MAX_NAME {
            return None;
        }
        let rev = f.be32(NFTA_XT_REV)?;
        let info = f.attr(NFTA_XT_INFO)?;
        f.end().then_some(Self {
            name: cstr_bytes(name),
            rev,
            info,
        })
    }
    pub fn to_owned(&self) -> Xt {
        Xt {
            name: String::from_utf8_lossy(self.name).into_owned(),
            rev: self.rev,
            info: self.info.into(),
        }
    }
    pub fn decode(buf: &'a [u8]) -> Result<Self, NlaError> {
        let mut name = None;
        let mut rev = None;
        let mut info: Option<&[u8]> = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_XT_NAME => {
                    if a.data.len() > MAX_NAME {
                        return Err(NlaError::new(a.offset, "extension name too long"));
                    }
                    name = Some(a.cstr_bytes());
                }
                NFTA_XT_REV => rev = Some(a.be32()?),
                NFTA_XT_INFO => info = Some(a.data),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            name: name.ok_or_else(|| missing(EXPR, "NFTA_MATCH_NAME"))?,
            rev: rev.ok_or_else(|| missing(EXPR, "NFTA_MATCH_REV"))?,
            info: info.unwrap_or_default(),
        })
    }
}
