//! nf_tables rule expressions: one file per expression, each a typed struct decoded from the
//! `NFTA_EXPR_DATA` attributes with bounds checks. A decoder rejects what it does not fully
//! understand (unknown attribute, missing mandatory one, wrong size) and the caller keeps the
//! expression as [`Expr::Raw`]: shown as such, never dropped.

use serde::Serialize;

use crate::kernel::nfnl::{Nla, NlaError, NlaIter};
pub use borrowed::ExprRef;

pub mod bitwise;
pub mod borrowed;
pub mod byteorder;
pub mod cmp;
pub mod connlimit;
pub mod counter;
pub mod ct;
pub mod dup;
pub mod dynset;
pub mod exthdr;
pub mod fib;
pub mod flow_offload;
pub mod fwd;
pub mod hash;
pub mod immediate;
pub mod inner;
pub mod last;
pub mod limit;
pub mod log;
pub mod lookup;
pub mod masq;
pub mod meta;
pub mod nat;
pub mod notrack;
pub mod numgen;
pub mod objref;
pub mod osf;
pub mod payload;
pub mod queue;
pub mod quota;
pub mod range;
pub mod redir;
pub mod reject;
pub mod rt;
pub mod socket;
pub mod synproxy;
pub mod tproxy;
pub mod tunnel;
pub mod xfrm;
pub mod xt;

const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
/// Nesting bound for expressions that hold expressions (dynset, inner): the kernel allows one
/// level; a deeper frame is malformed, and the bound keeps recursion finite on any input.
const MAX_DEPTH: u8 = 4;

/// One expression of a rule (or of a set/dynset expression list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "expr", rename_all = "snake_case")]
pub enum Expr {
    Payload(payload::Payload),
    Cmp(cmp::Cmp),
    Bitwise(bitwise::Bitwise),
    Byteorder(byteorder::Byteorder),
    Meta(meta::Meta),
    Immediate(immediate::Immediate),
    Counter(counter::Counter),
    Ct(ct::Ct),
    Lookup(lookup::Lookup),
    Dynset(dynset::Dynset),
    Nat(nat::Nat),
    Masq(masq::Masq),
    Redir(redir::Redir),
    Range(range::Range),
    Limit(limit::Limit),
    Log(log::Log),
    Reject(reject::Reject),
    Fib(fib::Fib),
    Socket(socket::Socket),
    Objref(objref::Objref),
    Exthdr(exthdr::Exthdr),
    Quota(quota::Quota),
    Connlimit(connlimit::Connlimit),
    Tproxy(tproxy::Tproxy),
    /// xtables compat `match` (iptables-nft keeps `-m NAME` it cannot express natively).
    Match(xt::Xt),
    /// xtables compat `target`.
    Target(xt::Xt),
    Hash(hash::Hash),
    Numgen(numgen::Numgen),
    Queue(queue::Queue),
    Dup(dup::Dup),
    Fwd(fwd::Fwd),
    Osf(osf::Osf),
    Synproxy(synproxy::Synproxy),
    Tunnel(tunnel::Tunnel),
    Xfrm(xfrm::Xfrm),
    Last(last::Last),
    Inner(inner::Inner),
    Rt(rt::Rt),
    Notrack(notrack::Notrack),
    FlowOffload(flow_offload::FlowOffload),
    /// An expression we could not decode: its name and the raw `NFTA_EXPR_DATA` bytes.
    Raw(RawExpr),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawExpr {
    pub name: String,
    #[serde(serialize_with = "super::data::hex")]
    pub data: Box<[u8]>,
    /// Why it is raw (unknown expression, or what the decoder rejected).
    pub reason: String,
}

impl Expr {
    /// The kernel's name of the expression.
    pub fn name(&self) -> &str {
        match self {
            Expr::Payload(_) => "payload",
            Expr::Cmp(_) => "cmp",
            Expr::Bitwise(_) => "bitwise",
            Expr::Byteorder(_) => "byteorder",
            Expr::Meta(_) => "meta",
            Expr::Immediate(_) => "immediate",
            Expr::Counter(_) => "counter",
            Expr::Ct(_) => "ct",
            Expr::Lookup(_) => "lookup",
            Expr::Dynset(_) => "dynset",
            Expr::Nat(_) => "nat",
            Expr::Masq(_) => "masq",
            Expr::Redir(_) => "redir",
            Expr::Range(_) => "range",
            Expr::Limit(_) => "limit",
            Expr::Log(_) => "log",
            Expr::Reject(_) => "reject",
            Expr::Fib(_) => "fib",
            Expr::Socket(_) => "socket",
            Expr::Objref(_) => "objref",
            Expr::Exthdr(_) => "exthdr",
            Expr::Quota(_) => "quota",
            Expr::Connlimit(_) => "connlimit",
            Expr::Tproxy(_) => "tproxy",
            Expr::Match(_) => "match",
            Expr::Target(_) => "target",
            Expr::Hash(_) => "hash",
            Expr::Numgen(_) => "numgen",
            Expr::Queue(_) => "queue",
            Expr::Dup(_) => "dup",
            Expr::Fwd(_) => "fwd",
            Expr::Osf(_) => "osf",
            Expr::Synproxy(_) => "synproxy",
            Expr::Tunnel(_) => "tunnel",
            Expr::Xfrm(_) => "xfrm",
            Expr::Last(_) => "last",
            Expr::Inner(_) => "inner",
            Expr::Rt(_) => "rt",
            Expr::Notrack(_) => "notrack",
            Expr::FlowOffload(_) => "flow_offload",
            Expr::Raw(r) => &r.name,
        }
    }
}

/// Decodes one `NFTA_LIST_ELEM` (an `NFTA_EXPR_NAME` + `NFTA_EXPR_DATA` pair). Never fails:
/// anything not understood comes back as [`Expr::Raw`].
pub fn decode_expr(elem: &[u8]) -> Expr {
    decode_expr_depth(elem, 0)
}

pub(crate) fn decode_expr_depth(elem: &[u8], depth: u8) -> Expr {
    if depth > MAX_DEPTH {
        return Expr::Raw(RawExpr {
            name: String::new(),
            data: elem.into(),
            reason: "expressions nested too deep".into(),
        });
    }
    let mut name: Option<&[u8]> = None;
    let mut data: &[u8] = &[];
    for a in NlaIter::new(elem) {
        match a {
            Ok(a) if a.kind == NFTA_EXPR_NAME => name = Some(a.data),
            Ok(a) if a.kind == NFTA_EXPR_DATA => data = a.data,
            Ok(_) => {}
            Err(e) => {
                return Expr::Raw(RawExpr {
                    name: name.map(cstr).unwrap_or_default(),
                    data: elem.into(),
                    reason: e.to_string(),
                });
            }
        }
    }
    let Some(name) = name else {
        return Expr::Raw(RawExpr {
            name: String::new(),
            data: elem.into(),
            reason: "expression without a name".into(),
        });
    };
    // Names are matched as bytes: no allocation on the hot path.
    let name = trim_nul(name);
    match std::str::from_utf8(name).map(|n| decode_named(n, data, depth)) {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => Expr::Raw(RawExpr {
            name: cstr(name),
            data: data.into(),
            reason: e.to_string(),
        }),
        Err(_) => Expr::Raw(RawExpr {
            name: cstr(name),
            data: data.into(),
            reason: "expression name is not UTF-8".into(),
        }),
    }
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

fn decode_named(name: &str, d: &[u8], depth: u8) -> Result<Expr, NlaError> {
    Ok(match name {
        "payload" => Expr::Payload(payload::Payload::decode(d)?),
        "cmp" => Expr::Cmp(cmp::Cmp::decode(d)?),
        "bitwise" => Expr::Bitwise(bitwise::Bitwise::decode(d)?),
        "byteorder" => Expr::Byteorder(byteorder::Byteorder::decode(d)?),
        "meta" => Expr::Meta(meta::Meta::decode(d)?),
        "immediate" => Expr::Immediate(immediate::Immediate::decode(d)?),
        "counter" => Expr::Counter(counter::Counter::decode(d)?),
        "ct" => Expr::Ct(ct::Ct::decode(d)?),
        "lookup" => Expr::Lookup(lookup::Lookup::decode(d)?),
        "dynset" => Expr::Dynset(dynset::Dynset::decode(d, depth)?),
        "nat" => Expr::Nat(nat::Nat::decode(d)?),
        "masq" => Expr::Masq(masq::Masq::decode(d)?),
        "redir" => Expr::Redir(redir::Redir::decode(d)?),
        "range" => Expr::Range(range::Range::decode(d)?),
        "limit" => Expr::Limit(limit::Limit::decode(d)?),
        "log" => Expr::Log(log::Log::decode(d)?),
        "reject" => Expr::Reject(reject::Reject::decode(d)?),
        "fib" => Expr::Fib(fib::Fib::decode(d)?),
        "socket" => Expr::Socket(socket::Socket::decode(d)?),
        "objref" => Expr::Objref(objref::Objref::decode(d)?),
        "exthdr" => Expr::Exthdr(exthdr::Exthdr::decode(d)?),
        "quota" => Expr::Quota(quota::Quota::decode(d)?),
        "connlimit" => Expr::Connlimit(connlimit::Connlimit::decode(d)?),
        "tproxy" => Expr::Tproxy(tproxy::Tproxy::decode(d)?),
        "match" => Expr::Match(xt::Xt::decode(d)?),
        "target" => Expr::Target(xt::Xt::decode(d)?),
        "hash" => Expr::Hash(hash::Hash::decode(d)?),
        "numgen" => Expr::Numgen(numgen::Numgen::decode(d)?),
        "queue" => Expr::Queue(queue::Queue::decode(d)?),
        "dup" => Expr::Dup(dup::Dup::decode(d)?),
        "fwd" => Expr::Fwd(fwd::Fwd::decode(d)?),
        "osf" => Expr::Osf(osf::Osf::decode(d)?),
        "synproxy" => Expr::Synproxy(synproxy::Synproxy::decode(d)?),
        "tunnel" => Expr::Tunnel(tunnel::Tunnel::decode(d)?),
        "xfrm" => Expr::Xfrm(xfrm::Xfrm::decode(d)?),
        "last" => Expr::Last(last::Last::decode(d)?),
        "inner" => Expr::Inner(inner::Inner::decode(d, depth)?),
        "rt" => Expr::Rt(rt::Rt::decode(d)?),
        "notrack" => Expr::Notrack(notrack::Notrack::decode(d)?),
        "flow_offload" => Expr::FlowOffload(flow_offload::FlowOffload::decode(d)?),
        other => {
            return Err(NlaError::new(0, format!("unknown expression `{other}`")));
        }
    })
}

/// Decodes a nested list of `NFTA_LIST_ELEM` expressions (dynset, set, inner).
pub(crate) fn decode_list(list: &[u8], depth: u8) -> Result<Vec<Expr>, NlaError> {
    if depth >= MAX_DEPTH {
        return Err(NlaError::new(0, "expressions nested too deep"));
    }
    let mut out = Vec::new();
    for a in NlaIter::new(list) {
        out.push(decode_expr_depth(a?.data, depth + 1));
    }
    Ok(out)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// An attribute the decoder does not know: refuse rather than silently drop it.
pub(crate) fn unknown(expr: &str, a: &Nla<'_>) -> NlaError {
    NlaError::new(a.offset, format!("{expr}: unknown attribute {}", a.kind))
}

pub(crate) fn missing(expr: &str, attr: &str) -> NlaError {
    NlaError::new(0, format!("{expr}: missing {attr}"))
}

/// A register number (`NFTA_*_SREG`/`DREG`, big-endian u32).
pub(crate) fn reg(a: &Nla<'_>) -> Result<u32, NlaError> {
    a.be32()
}

/// [`value`] without the copy.
pub(crate) fn value_ref<'a>(expr: &str, a: &Nla<'a>) -> Result<&'a [u8], NlaError> {
    match super::data::decode_data_ref(a.data)? {
        super::data::DataRef::Value(v) => Ok(v),
        super::data::DataRef::Verdict { .. } => Err(NlaError::new(
            a.offset,
            format!("{expr}: verdict where a value was expected"),
        )),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Hand-built attribute frames for the decoder tests.
    pub fn nla(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(data);
        v.resize(crate::kernel::nfnl::align4(v.len()), 0);
        v
    }
    pub fn be32(kind: u16, v: u32) -> Vec<u8> {
        nla(kind, &v.to_be_bytes())
    }
    pub fn nest(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
        nla(kind | crate::kernel::nfnl::NLA_F_NESTED, &parts.concat())
    }
    /// NFTA_DATA nest holding a value.
    pub fn value(kind: u16, v: &[u8]) -> Vec<u8> {
        nest(kind, &[nla(1, v)])
    }
    /// One NFTA_LIST_ELEM expression.
    pub fn expr(name: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        nest(1, &[nla(1, &n), nest(2, attrs)])
    }
    /// `bytes` with the proptest-chosen bytes set to new values, then cut short (or whole).
    pub fn mutated(
        bytes: &[u8],
        flips: &[(proptest::sample::Index, u8)],
        cut: Option<proptest::sample::Index>,
    ) -> Vec<u8> {
        let mut b = bytes.to_vec();
        for (i, v) in flips {
            let i = i.index(b.len());
            b[i] = *v;
        }
        let cut = cut.map_or(b.len(), |c| c.index(b.len() + 1));
        b.truncate(cut);
        b
    }
}
