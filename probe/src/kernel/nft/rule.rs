//! `NFT_MSG_NEWRULE` → [`NftRule`]: handle, position, userdata (comment) and every expression.

use serde::Serialize;

use super::expr::{Expr, ExprRef, decode_expr};
use super::{hex_opt, udata};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};

const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_COMPAT: u16 = 5;
const NFTA_RULE_POSITION: u16 = 6;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_RULE_PAD: u16 = 8;
const NFTA_RULE_ID: u16 = 9;

const NFTA_RULE_COMPAT_PROTO: u16 = 1;
const NFTA_RULE_COMPAT_FLAGS: u16 = 2;
/// NFT_RULE_COMPAT_F_INV: the compat protocol is inverted (`! -p`).
pub const COMPAT_F_INV: u32 = 2;

/// `NFTA_RULE_COMPAT`: the `-p` an xt match was loaded with (iptables-nft sets it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleCompat {
    pub proto: u32,
    pub flags: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NftRule {
    pub handle: u64,
    pub position: Option<u64>,
    #[serde(serialize_with = "hex_opt")]
    pub userdata: Option<Box<[u8]>>,
    /// The comment TLV of the userdata (`comment "..."`, iptables-nft's `-m comment`).
    pub comment: Option<String>,
    pub exprs: Vec<Expr>,
    pub compat: Option<RuleCompat>,
    /// Parts of the message this build did not understand; with `raw` set the rule is
    /// undecodable as a whole.
    pub problems: Vec<String>,
    #[serde(serialize_with = "hex_opt")]
    pub raw: Option<Box<[u8]>>,
}

/// A decoded rule message and where it belongs.
pub struct RuleMsg<'a> {
    pub table: &'a [u8],
    pub chain: &'a [u8],
    pub rule: NftRule,
}

impl NftRule {
    /// Never fails on the rule's content: a malformed rule comes back with `problems` and the
    /// raw attribute bytes; only the routing (table/chain) is required.
    pub fn decode(buf: &[u8]) -> Result<RuleMsg<'_>, NlaError> {
        let mut table = None;
        let mut chain = None;
        let mut r = NftRule {
            handle: 0,
            position: None,
            userdata: None,
            comment: None,
            exprs: Vec::new(),
            compat: None,
            problems: Vec::new(),
            raw: None,
        };
        for a in NlaIter::new(buf) {
            let a = match a {
                Ok(a) => a,
                Err(e) => {
                    r.problems.push(e.to_string());
                    break;
                }
            };
            let res: Result<(), NlaError> = (|| {
                match a.kind {
                    NFTA_RULE_TABLE => table = Some(trim_nul(a.data)),
                    NFTA_RULE_CHAIN => chain = Some(trim_nul(a.data)),
                    NFTA_RULE_HANDLE => r.handle = a.be64()?,
                    NFTA_RULE_EXPRESSIONS => {
                        // Typical rules hold < 16 expressions; one allocation.
                        r.exprs.reserve(8);
                        for e in a.nested() {
                            r.exprs.push(decode_expr(e?.data));
                        }
                    }
                    NFTA_RULE_COMPAT => {
                        let mut c = RuleCompat { proto: 0, flags: 0 };
                        for x in a.nested() {
                            let x = x?;
                            match x.kind {
                                NFTA_RULE_COMPAT_PROTO => c.proto = x.be32()?,
                                NFTA_RULE_COMPAT_FLAGS => c.flags = x.be32()?,
                                k => {
                                    return Err(NlaError::new(
                                        x.offset,
                                        format!("compat attr {k}"),
                                    ));
                                }
                            }
                        }
                        r.compat = Some(c);
                    }
                    NFTA_RULE_POSITION => r.position = Some(a.be64()?),
                    NFTA_RULE_USERDATA => {
                        r.comment = udata::string(a.data, udata::COMMENT);
                        r.userdata = Some(a.data.into());
                    }
                    NFTA_RULE_PAD | NFTA_RULE_ID => {}
                    k => {
                        return Err(NlaError::new(
                            a.offset,
                            format!("unknown rule attribute {k}"),
                        ));
                    }
                }
                Ok(())
            })();
            if let Err(e) = res {
                r.problems.push(e.to_string());
            }
        }
        if !r.problems.is_empty() {
            r.raw = Some(buf.into());
        }
        Ok(RuleMsg {
            table: table.ok_or_else(|| NlaError::new(0, "rule without a table"))?,
            chain: chain.ok_or_else(|| NlaError::new(0, "rule without a chain"))?,
            rule: r,
        })
    }
}

/// A rule message read in place, for the hot paths: routing, handle, and the expression
/// list still encoded (walk it with [`RuleRef::exprs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRef<'a> {
    /// The TABLE and CHAIN payloads as sent (NUL included): trimmed only when asked for,
    /// the hot path never looks at them.
    table: &'a [u8],
    chain: &'a [u8],
    pub handle: u64,
    exprs: &'a [u8],
}

impl<'a> RuleRef<'a> {
    /// `None` when [`NftRule::decode`] would report a problem with the message outside the
    /// expression list (then use it: it keeps the raw bytes and says why). The list itself
    /// is checked while [`RuleRef::exprs`] walks it (one pass instead of two), each
    /// expression exactly as the owned decoder checks it.
    pub fn decode(buf: &'a [u8]) -> Option<Self> {
        match Self::decode_kernel(buf) {
            Some(r) => Some(r),
            None => Self::decode_generic(buf),
        }
    }

    /// A rule message exactly as the kernel dumps it (`nf_tables_fill_rule_info`: TABLE,
    /// CHAIN, HANDLE, POSITION when the rule has a predecessor, EXPRESSIONS, USERDATA when
    /// set), read at fixed offsets; `None` for any other layout, where
    /// [`RuleRef::decode_generic`] decides (on this one both agree).
    #[inline]
    pub(crate) fn decode_kernel(buf: &'a [u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let table = f.attr(NFTA_RULE_TABLE)?;
        let chain = f.attr(NFTA_RULE_CHAIN)?;
        let handle = f.be64(NFTA_RULE_HANDLE)?;
        if f.peek_kind()? == NFTA_RULE_POSITION {
            f.be64(NFTA_RULE_POSITION)?;
        }
        let exprs = f.attr(NFTA_RULE_EXPRESSIONS)?;
        if !f.end() {
            f.attr(NFTA_RULE_USERDATA)?;
        }
        f.end().then_some(Self {
            table,
            chain,
            handle,
            exprs,
        })
    }

    /// [`RuleRef::decode`] for any layout: every attribute in any order.
    #[cold]
    pub(crate) fn decode_generic(buf: &'a [u8]) -> Option<Self> {
        let mut table = None;
        let mut chain = None;
        let mut handle = 0;
        let mut exprs: &[u8] = &[];
        let mut seen_exprs = false;
        for a in NlaIter::new(buf) {
            let a = a.ok()?;
            match a.kind {
                NFTA_RULE_TABLE => table = Some(a.data),
                NFTA_RULE_CHAIN => chain = Some(a.data),
                NFTA_RULE_HANDLE => handle = a.be64().ok()?,
                // A second list would be walked by the owned decoder but not here: let it
                // decide (the kernel sends one).
                NFTA_RULE_EXPRESSIONS if seen_exprs => return None,
                NFTA_RULE_EXPRESSIONS => {
                    seen_exprs = true;
                    exprs = a.data;
                }
                NFTA_RULE_COMPAT => {
                    for x in a.nested() {
                        let x = x.ok()?;
                        match x.kind {
                            NFTA_RULE_COMPAT_PROTO | NFTA_RULE_COMPAT_FLAGS => {
                                x.be32().ok()?;
                            }
                            _ => return None,
                        }
                    }
                }
                NFTA_RULE_POSITION => {
                    a.be64().ok()?;
                }
                NFTA_RULE_USERDATA | NFTA_RULE_PAD | NFTA_RULE_ID => {}
                _ => return None,
            }
        }
        Some(Self {
            table: table?,
            chain: chain?,
            handle,
            exprs,
        })
    }

    /// The table's name (up to its NUL).
    pub fn table(&self) -> &'a [u8] {
        trim_nul(self.table)
    }

    /// The chain's name (up to its NUL).
    pub fn chain(&self) -> &'a [u8] {
        trim_nul(self.chain)
    }

    /// The expressions, in order; `Err` (then nothing more) where the list is malformed,
    /// which the owned decoder reports as a problem of the rule: callers then fall back to
    /// [`NftRule::decode`].
    pub fn exprs(&self) -> impl Iterator<Item = Result<ExprRef<'a>, NlaError>> + use<'a> {
        Exprs {
            list: self.exprs,
            rest: self.exprs,
        }
    }
}

/// The walk of [`RuleRef::exprs`]: [`NlaIter`]'s framing checks, without building an
/// [`crate::kernel::nfnl::Nla`] per element; a malformed element yields `NlaIter`'s own
/// error (found again from the start, once) and ends the walk.
struct Exprs<'a> {
    list: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Iterator for Exprs<'a> {
    type Item = Result<ExprRef<'a>, NlaError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let framed = self.rest.split_first_chunk::<4>().and_then(|(h, body)| {
            let len = usize::from(u16::from_ne_bytes([h[0], h[1]]));
            Some((len, body.get(..len.checked_sub(4)?)?))
        });
        let Some((len, elem)) = framed else {
            return Some(Err(self.fail()));
        };
        // Past the end when the last element's padding is missing: the walk ends there,
        // as NlaIter's does.
        self.rest = self
            .rest
            .get(crate::kernel::nfnl::align4(len)..)
            .unwrap_or(&[]);
        Some(Ok(ExprRef::decode(elem)))
    }
}

impl Exprs<'_> {
    #[cold]
    fn fail(&mut self) -> NlaError {
        self.rest = &[];
        NlaIter::new(self.list)
            .find_map(Result::err)
            .unwrap_or_else(|| NlaError::new(0, "malformed expression list"))
    }
}

/// The table and chain a rule message belongs to (both required, as for [`NftRule::decode`]).
pub fn routing(buf: &[u8]) -> Result<(&[u8], &[u8]), NlaError> {
    // The kernel sends TABLE then CHAIN first: read them in place; anything else walks.
    let mut f = Fixed::new(buf);
    if let (Some(t), Some(c)) = (f.attr(NFTA_RULE_TABLE), f.attr(NFTA_RULE_CHAIN)) {
        return Ok((trim_nul(t), trim_nul(c)));
    }
    routing_generic(buf)
}

/// [`routing`] for any layout.
#[cold]
pub(crate) fn routing_generic(buf: &[u8]) -> Result<(&[u8], &[u8]), NlaError> {
    let mut table = None;
    let mut chain = None;
    for a in NlaIter::new(buf) {
        let Ok(a) = a else { break };
        match a.kind {
            NFTA_RULE_TABLE => table = Some(trim_nul(a.data)),
            NFTA_RULE_CHAIN => chain = Some(trim_nul(a.data)),
            _ => {}
        }
        if let (Some(t), Some(c)) = (table, chain) {
            return Ok((t, c));
        }
    }
    Err(NlaError::new(
        0,
        if table.is_none() {
            "rule without a table"
        } else {
            "rule without a chain"
        },
    ))
}

fn trim_nul(b: &[u8]) -> &[u8] {
    crate::kernel::nfnl::until_nul(b)
}
