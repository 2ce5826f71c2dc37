//! [`ExprRef`]: an expression as the hot paths see it. The expressions iptables-nft emits
//! for nearly every rule (payload, meta, cmp, bitwise, range, counter, immediate, match,
//! target) are decoded in place, borrowing from the netlink message, with the very checks
//! of their owned decoders; everything else (and anything those checks reject) is the
//! owned [`Expr`], so both views agree on every input.

use super::bitwise::BitwiseRef;
use super::cmp::CmpRef;
use super::counter::Counter;
use super::immediate::ImmediateRef;
use super::meta::Meta;
use super::payload::Payload;
use super::range::RangeRef;
use super::xt::XtRef;
use super::{Expr, NFTA_EXPR_DATA, NFTA_EXPR_NAME, decode_expr};
use crate::kernel::nfnl::{NlaIter, header};

#[derive(Debug, Clone, PartialEq)]
pub enum ExprRef<'a> {
    Payload(Payload),
    Meta(Meta),
    Counter(Counter),
    Cmp(CmpRef<'a>),
    Bitwise(BitwiseRef<'a>),
    Range(RangeRef<'a>),
    Immediate(ImmediateRef<'a>),
    Match(XtRef<'a>),
    Target(XtRef<'a>),
    /// Any other expression, or one the borrowed decoders refused (then `Expr::Raw`).
    Other(Other<'a>),
}

/// An expression without a borrowed view; boxed when owned so that [`ExprRef`] stays small
/// (it is moved around for every expression).
#[derive(Debug, Clone, PartialEq)]
pub enum Other<'a> {
    Borrowed(&'a Expr),
    Owned(Box<Expr>),
}

impl std::ops::Deref for Other<'_> {
    type Target = Expr;
    fn deref(&self) -> &Expr {
        match self {
            Other::Borrowed(e) => e,
            Other::Owned(e) => e,
        }
    }
}

impl<'a> ExprRef<'a> {
    /// Decodes one `NFTA_LIST_ELEM`; never fails (like [`decode_expr`]).
    pub fn decode(elem: &'a [u8]) -> Self {
        match Self::decode_kernel(elem) {
            Some(e) => e,
            None => Self::decode_generic(elem),
        }
    }

    /// [`ExprRef::decode`] without the fixed-layout fast path (the reference it must equal).
    #[cold]
    pub(crate) fn decode_generic(elem: &'a [u8]) -> Self {
        Self::decode_hot(elem)
            .unwrap_or_else(|| ExprRef::Other(Other::Owned(Box::new(decode_expr(elem)))))
    }

    /// A hot expression exactly as the kernel dumps it (`nft_expr_dump`: NAME then DATA,
    /// and the data in its expression's own fixed layout), read at fixed offsets; `None`
    /// for anything else, where the loops of [`ExprRef::decode_generic`] decide. Where
    /// this answers, the generic decoders give the same answer.
    #[inline]
    pub(crate) fn decode_kernel(elem: &'a [u8]) -> Option<Self> {
        // The NAME header and the name's first four bytes are one word: one comparison
        // per candidate picks the expression, then the rest of its name (NUL included;
        // the padding after it is not looked at, as the generic walk ignores it too).
        let (head, _) = elem.split_first_chunk::<8>()?;
        Some(match u64::from_ne_bytes(*head) {
            CMP => ExprRef::Cmp(CmpRef::decode_kernel(named(elem, b"", 8)?)?),
            META => ExprRef::Meta(Meta::decode_kernel(named(elem, b"\0", 12)?)?),
            PAYLOAD => ExprRef::Payload(Payload::decode_kernel(named(elem, b"oad\0", 12)?)?),
            COUNTER => ExprRef::Counter(Counter::decode_kernel(named(elem, b"ter\0", 12)?)?),
            IMMEDIATE => {
                ExprRef::Immediate(ImmediateRef::decode_kernel(named(elem, b"diate\0", 16)?)?)
            }
            MATCH => ExprRef::Match(XtRef::decode_kernel(named(elem, b"h\0", 12)?)?),
            TARGET => ExprRef::Target(XtRef::decode_kernel(named(elem, b"et\0", 12)?)?),
            BITWISE => ExprRef::Bitwise(BitwiseRef::decode_kernel(named(elem, b"ise\0", 12)?)?),
            RANGE => ExprRef::Range(RangeRef::decode_kernel(named(elem, b"e\0", 12)?)?),
            _ => return None,
        })
    }

    pub(crate) fn decode_hot(elem: &'a [u8]) -> Option<Self> {
        let mut name: Option<&[u8]> = None;
        let mut data: &[u8] = &[];
        for a in NlaIter::new(elem) {
            let a = a.ok()?;
            match a.kind {
                NFTA_EXPR_NAME => name = Some(a.cstr_bytes()),
                NFTA_EXPR_DATA => data = a.data,
                _ => {}
            }
        }
        Some(match name? {
            b"payload" => ExprRef::Payload(Payload::decode(data).ok()?),
            b"cmp" => ExprRef::Cmp(CmpRef::decode(data).ok()?),
            b"meta" => ExprRef::Meta(Meta::decode(data).ok()?),
            b"immediate" => ExprRef::Immediate(ImmediateRef::decode(data).ok()?),
            b"counter" => ExprRef::Counter(Counter::decode(data).ok()?),
            b"match" => ExprRef::Match(XtRef::decode(data).ok()?),
            b"target" => ExprRef::Target(XtRef::decode(data).ok()?),
            b"bitwise" => ExprRef::Bitwise(BitwiseRef::decode(data).ok()?),
            b"range" => ExprRef::Range(RangeRef::decode(data).ok()?),
            _ => return None,
        })
    }

    /// The borrowed view of an owned expression.
    pub fn of(e: &'a Expr) -> Self {
        match e {
            Expr::Payload(p) => ExprRef::Payload(p.clone()),
            Expr::Meta(m) => ExprRef::Meta(m.clone()),
            Expr::Counter(c) => ExprRef::Counter(c.clone()),
            Expr::Cmp(c) => ExprRef::Cmp(c.as_ref()),
            Expr::Bitwise(b) => ExprRef::Bitwise(b.as_ref()),
            Expr::Range(r) => ExprRef::Range(r.as_ref()),
            Expr::Immediate(i) => ExprRef::Immediate(i.as_ref()),
            Expr::Match(x) => ExprRef::Match(x.as_ref()),
            Expr::Target(x) => ExprRef::Target(x.as_ref()),
            other => ExprRef::Other(Other::Borrowed(other)),
        }
    }

    /// The owned expression (for reports of what could not be translated).
    pub fn to_expr(&self) -> Expr {
        match self {
            ExprRef::Payload(p) => Expr::Payload(p.clone()),
            ExprRef::Meta(m) => Expr::Meta(m.clone()),
            ExprRef::Counter(c) => Expr::Counter(c.clone()),
            ExprRef::Cmp(c) => Expr::Cmp(c.to_owned()),
            ExprRef::Bitwise(b) => Expr::Bitwise(b.to_owned()),
            ExprRef::Range(r) => Expr::Range(r.to_owned()),
            // Decoded once already: the conversion cannot fail again.
            ExprRef::Immediate(i) => match i.to_owned() {
                Ok(i) => Expr::Immediate(i),
                Err(e) => Expr::Raw(super::RawExpr {
                    name: "immediate".into(),
                    data: Box::default(),
                    reason: e.to_string(),
                }),
            },
            ExprRef::Match(x) => Expr::Match(x.to_owned()),
            ExprRef::Target(x) => Expr::Target(x.to_owned()),
            ExprRef::Other(e) => Expr::clone(e),
        }
    }

    /// The kernel's name of the expression.
    pub fn name(&self) -> &str {
        match self {
            ExprRef::Payload(_) => "payload",
            ExprRef::Meta(_) => "meta",
            ExprRef::Counter(_) => "counter",
            ExprRef::Cmp(_) => "cmp",
            ExprRef::Bitwise(_) => "bitwise",
            ExprRef::Range(_) => "range",
            ExprRef::Immediate(_) => "immediate",
            ExprRef::Match(_) => "match",
            ExprRef::Target(_) => "target",
            ExprRef::Other(e) => e.name(),
        }
    }
}

/// The first word of an expression named `name` as the kernel sends it: the NAME header
/// (length with the NUL, unpadded) and the name's first four bytes (NUL for a shorter name).
const fn head(name: &[u8]) -> u64 {
    let h = header((4 + name.len() + 1) as u16, NFTA_EXPR_NAME);
    let n3 = if name.len() > 3 { name[3] } else { 0 };
    u64::from_ne_bytes([h[0], h[1], h[2], h[3], name[0], name[1], name[2], n3])
}
const CMP: u64 = head(b"cmp");
const META: u64 = head(b"meta");
const PAYLOAD: u64 = head(b"payload");
const COUNTER: u64 = head(b"counter");
const IMMEDIATE: u64 = head(b"immediate");
const MATCH: u64 = head(b"match");
const TARGET: u64 = head(b"target");
const BITWISE: u64 = head(b"bitwise");
const RANGE: u64 = head(b"range");

/// The DATA payload of an expression whose first word matched: the name's remaining bytes
/// `tail` follow the word, the DATA attribute starts at `data` (after the padded NAME) and
/// runs, padded, to the end of the element.
#[inline]
fn named<'a, const N: usize>(elem: &'a [u8], tail: &[u8; N], data: usize) -> Option<&'a [u8]> {
    if elem.get(8..8 + N)? != tail {
        return None;
    }
    let (h, d) = elem.get(data..)?.split_first_chunk::<4>()?;
    let len = usize::from(u16::from_ne_bytes([h[0], h[1]]));
    let kind = u16::from_ne_bytes([h[2], h[3]]);
    (kind == NFTA_EXPR_DATA && len == d.len() + 4 && len % 4 == 0).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::nft::expr::testutil::*;

    /// Both views agree: the borrowed decode, made owned, is the owned decode.
    fn agree(elem: &[u8]) {
        assert_eq!(
            ExprRef::decode(elem).to_expr(),
            decode_expr(elem),
            "{elem:?}"
        );
    }

    #[test]
    fn hot_expressions_agree_with_the_owned_decoders() {
        let jump = nest(2, &[be32(1, (-3i32) as u32), nla(2, b"KUBE-SVC\0")]);
        let cases = [
            expr("cmp", &[be32(1, 1), be32(2, 0), value(3, &[6])]),
            expr("cmp", &[be32(1, 1), be32(2, 0)]),
            expr("cmp", &[be32(1, 1), be32(2, 0), value(3, &[6]), be32(9, 1)]),
            expr(
                "immediate",
                &[be32(1, 0), nest(2, std::slice::from_ref(&jump))],
            ),
            expr(
                "immediate",
                &[be32(1, 0), nest(2, &[nest(2, &[be32(1, (-3i32) as u32)])])],
            ),
            expr(
                "match",
                &[nla(1, b"conntrack\0"), be32(2, 3), nla(3, &[1, 2, 3, 4])],
            ),
            expr("target", &[nla(1, b"MARK\0"), be32(2, 2)]),
            expr(
                "bitwise",
                &[
                    be32(1, 1),
                    be32(2, 1),
                    be32(3, 4),
                    value(4, &[255, 0, 0, 0]),
                    value(5, &[0; 4]),
                ],
            ),
            expr(
                "range",
                &[be32(1, 1), be32(2, 0), value(3, &[0, 1]), value(4, &[0, 9])],
            ),
            expr(
                "payload",
                &[be32(1, 1), be32(2, 1), be32(3, 16), be32(4, 4)],
            ),
            expr("meta", &[be32(1, 1), be32(2, 16)]),
            expr(
                "counter",
                &[nla(1, &7u64.to_be_bytes()), nla(2, &1u64.to_be_bytes())],
            ),
            expr("limit", &[]),
            expr("nosuch", &[be32(1, 1)]),
        ];
        for c in &cases {
            // The NFTA_LIST_ELEM payload, and every truncation of it.
            let elem = &c[4..];
            for n in 0..=elem.len() {
                agree(&elem[..n]);
            }
        }
        // The well-formed ones really are decoded in place.
        assert!(matches!(ExprRef::decode(&cases[0][4..]), ExprRef::Cmp(_)));
        assert!(matches!(
            ExprRef::decode(&cases[3][4..]),
            ExprRef::Immediate(_)
        ));
        assert!(matches!(ExprRef::decode(&cases[5][4..]), ExprRef::Match(_)));
        assert!(matches!(ExprRef::decode(&cases[1][4..]), ExprRef::Other(_)));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_agree(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160)) {
            agree(&d);
        }
    }
}
