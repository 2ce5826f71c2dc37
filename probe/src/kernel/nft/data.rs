//! `NFTA_DATA_*`: the value-or-verdict payload of cmp, immediate, range, bitwise and set
//! elements.

use serde::{Serialize, Serializer};

use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};

const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NFTA_VERDICT_CHAIN_ID: u16 = 3;
/// NFT_DATA_VALUE_MAXLEN: the kernel never sends a longer value.
pub const VALUE_MAXLEN: usize = 64;

/// A value (register contents, big-endian as on the wire) or a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NftData {
    Value(#[serde(serialize_with = "hex")] Box<[u8]>),
    Verdict(Verdict),
}

/// nf_tables verdicts (`NF_*` and `NFT_*` codes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Drop,
    Accept,
    Stolen,
    Queue,
    Repeat,
    Continue,
    Break,
    Jump(String),
    Goto(String),
    Return,
    /// A code we do not know.
    Other(i32),
}

impl NftData {
    pub fn as_ref(&self) -> DataRef<'_> {
        match self {
            NftData::Value(v) => DataRef::Value(v),
            NftData::Verdict(v) => DataRef::Verdict {
                code: v.code(),
                chain: match v {
                    Verdict::Jump(c) | Verdict::Goto(c) => Some(c.as_bytes()),
                    _ => None,
                },
            },
        }
    }
}

impl Verdict {
    /// The kernel's verdict code.
    pub fn code(&self) -> i32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Stolen => 2,
            Verdict::Queue => 3,
            Verdict::Repeat => 4,
            Verdict::Continue => -1,
            Verdict::Break => -2,
            Verdict::Jump(_) => -3,
            Verdict::Goto(_) => -4,
            Verdict::Return => -5,
            Verdict::Other(c) => *c,
        }
    }
    fn from_code(code: i32, chain: Option<String>) -> Result<Self, NlaError> {
        Ok(match code {
            0 => Verdict::Drop,
            1 => Verdict::Accept,
            2 => Verdict::Stolen,
            3 => Verdict::Queue,
            4 => Verdict::Repeat,
            -1 => Verdict::Continue,
            -2 => Verdict::Break,
            -3 | -4 => {
                let chain = chain.ok_or_else(|| NlaError::new(0, "jump/goto without a chain"))?;
                if code == -3 {
                    Verdict::Jump(chain)
                } else {
                    Verdict::Goto(chain)
                }
            }
            -5 => Verdict::Return,
            other => Verdict::Other(other),
        })
    }
}

/// [`NftData`] borrowed from the message (hot paths decode without allocating).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRef<'a> {
    Value(&'a [u8]),
    /// The verdict code and the chain name bytes (NUL trimmed) of a jump/goto.
    Verdict {
        code: i32,
        chain: Option<&'a [u8]>,
    },
}

impl DataRef<'_> {
    pub fn to_owned(&self) -> Result<NftData, NlaError> {
        Ok(match *self {
            DataRef::Value(v) => NftData::Value(v.into()),
            DataRef::Verdict { code, chain } => NftData::Verdict(Verdict::from_code(
                code,
                chain.map(|c| String::from_utf8_lossy(c).into_owned()),
            )?),
        })
    }
}

/// Decodes the attributes inside an `NFTA_DATA` nest.
pub fn decode_data(buf: &[u8]) -> Result<NftData, NlaError> {
    decode_data_ref(buf)?.to_owned()
}

/// Same as [`decode_data`], borrowing: the same checks, no allocation.
pub fn decode_data_ref(buf: &[u8]) -> Result<DataRef<'_>, NlaError> {
    let mut out = None;
    for a in NlaIter::new(buf) {
        let a = a?;
        match a.kind {
            NFTA_DATA_VALUE => {
                if a.data.len() > VALUE_MAXLEN {
                    return Err(NlaError::new(
                        a.offset,
                        format!("value of {} bytes exceeds {VALUE_MAXLEN}", a.data.len()),
                    ));
                }
                out = Some(DataRef::Value(a.data));
            }
            NFTA_DATA_VERDICT => {
                let mut code = None;
                let mut chain = None;
                for v in a.nested() {
                    let v = v?;
                    match v.kind {
                        NFTA_VERDICT_CODE => code = Some(v.be32()? as i32),
                        NFTA_VERDICT_CHAIN => chain = Some(v.cstr_bytes()),
                        NFTA_VERDICT_CHAIN_ID => {}
                        k => {
                            return Err(NlaError::new(v.offset, format!("verdict attribute {k}")));
                        }
                    }
                }
                let code = code.ok_or_else(|| NlaError::new(a.offset, "verdict without code"))?;
                if matches!(code, -3 | -4) && chain.is_none() {
                    return Err(NlaError::new(0, "jump/goto without a chain"));
                }
                out = Some(DataRef::Verdict { code, chain });
            }
            k => return Err(NlaError::new(a.offset, format!("data attribute {k}"))),
        }
    }
    out.ok_or_else(|| NlaError::new(0, "empty data"))
}

/// [`decode_data_ref`] for the kernel's own layout (`nft_data_dump`: one VALUE, or one
/// VERDICT holding CODE and, for jump/goto, CHAIN), read without a loop; `None` for any
/// other layout, where [`decode_data_ref`] decides (on this one both agree).
#[inline]
pub fn decode_data_kernel(buf: &[u8]) -> Option<DataRef<'_>> {
    let mut f = Fixed::new(buf);
    let (kind, d) = f.any()?;
    if !f.end() {
        return None;
    }
    match kind {
        NFTA_DATA_VALUE if d.len() <= VALUE_MAXLEN => Some(DataRef::Value(d)),
        NFTA_DATA_VERDICT => {
            let mut v = Fixed::new(d);
            let code = v.be32(NFTA_VERDICT_CODE)? as i32;
            let chain = if v.end() {
                None
            } else {
                Some(cstr_bytes(v.attr(NFTA_VERDICT_CHAIN)?))
            };
            let complete = chain.is_some() || !matches!(code, -3 | -4);
            (v.end() && complete).then_some(DataRef::Verdict { code, chain })
        }
        _ => None,
    }
}

/// The next attribute of `f`, of type `kind`, as an `NFTA_DATA` nest holding one value in
/// the kernel's layout (as [`decode_data_kernel`] reads it), both headers read at once.
#[inline]
pub fn value_attr<'a>(f: &mut Fixed<'a>, kind: u16) -> Option<&'a [u8]> {
    f.nest_of_one(kind, NFTA_DATA_VALUE)
        .filter(|v| v.len() <= VALUE_MAXLEN)
}

/// The bytes of a string attribute up to its first NUL (as `Nla::cstr_bytes`).
#[inline]
pub fn cstr_bytes(b: &[u8]) -> &[u8] {
    crate::kernel::nfnl::until_nul(b)
}

/// Serialises bytes as a lowercase hex string (JSON reports).
pub fn hex<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_hex(b))
}

pub fn hex_opt<S: Serializer>(b: &Option<Box<[u8]>>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.serialize_str(&to_hex(b)),
        None => s.serialize_none(),
    }
}

pub fn to_hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(out, "{x:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::nft::expr::testutil::*;

    #[test]
    fn value_and_verdicts() {
        assert_eq!(
            decode_data(&nla(1, &[1, 2])).unwrap(),
            NftData::Value(vec![1, 2].into())
        );
        let jump = nest(2, &[be32(1, (-3i32) as u32), nla(2, b"DOCKER\0")]);
        assert_eq!(
            decode_data(&jump).unwrap(),
            NftData::Verdict(Verdict::Jump("DOCKER".into()))
        );
        let bad = nest(2, &[be32(1, (-3i32) as u32)]);
        assert!(decode_data(&bad).is_err());
        assert!(decode_data(&nla(1, &[0; 65])).is_err());
        assert!(decode_data(&[]).is_err());
    }
}
