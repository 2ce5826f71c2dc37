//! Decoder tests: hand-built frames with known meaning (round trips of what the kernel sends)
//! and property tests feeding random and mutated frames to every decoder: no panic, ever.

use proptest::prelude::*;

use super::chain::NftChain;
use super::data::{NftData, Verdict, decode_data};
use super::expr::testutil::*;
use super::expr::{Expr, decode_expr};
use super::flowtable::NftFlowtable;
use super::generation::decode_genid;
use super::object::NftObject;
use super::rule::NftRule;
use super::set::{NftSet, NftSetElem};
use super::table::NftTable;

pub(crate) const NAMES: &[&str] = &[
    "payload",
    "cmp",
    "bitwise",
    "byteorder",
    "meta",
    "immediate",
    "counter",
    "ct",
    "lookup",
    "dynset",
    "nat",
    "masq",
    "redir",
    "range",
    "limit",
    "log",
    "reject",
    "fib",
    "socket",
    "objref",
    "exthdr",
    "quota",
    "connlimit",
    "tproxy",
    "match",
    "target",
    "hash",
    "numgen",
    "queue",
    "dup",
    "fwd",
    "osf",
    "synproxy",
    "tunnel",
    "xfrm",
    "last",
    "inner",
    "rt",
    "notrack",
    "flow_offload",
    "nosuchexpr",
];

pub(crate) fn decode_one(frame: &[u8]) -> Expr {
    // decode_expr takes the NFTA_LIST_ELEM payload.
    let mut it = crate::kernel::nfnl::NlaIter::new(frame);
    let a = it.next().unwrap().unwrap();
    decode_expr(a.data)
}

#[test]
fn known_frames_decode_to_their_meaning() {
    use super::expr::{cmp, payload};
    // [ payload load 4b @ network header + 12 => reg 1 ]
    let e = decode_one(&expr(
        "payload",
        &[be32(1, 1), be32(2, 1), be32(3, 12), be32(4, 4)],
    ));
    assert_eq!(
        e,
        Expr::Payload(payload::Payload {
            dreg: Some(1),
            base: 1,
            offset: 12,
            len: 4,
            sreg: None,
            csum_type: None,
            csum_offset: None,
            csum_flags: None,
        })
    );
    // [ cmp neq reg 1 "docker0\0" ]
    let e = decode_one(&expr(
        "cmp",
        &[be32(1, 1), be32(2, 1), value(3, b"docker0\0")],
    ));
    assert!(matches!(e, Expr::Cmp(c) if c.op == cmp::OP_NEQ && &*c.data == b"docker0\0"));
    // [ immediate reg 0 jump -> DOCKER ]
    let verdict = nest(
        2,
        &[nest(2, &[be32(1, (-3i32) as u32), nla(2, b"DOCKER\0")])],
    );
    let e = decode_one(&expr("immediate", &[be32(1, 0), verdict]));
    assert!(
        matches!(e, Expr::Immediate(i) if i.data == NftData::Verdict(Verdict::Jump("DOCKER".into())))
    );
    // [ counter pkts 3 bytes 180 ]
    let e = decode_one(&expr(
        "counter",
        &[nla(1, &180u64.to_be_bytes()), nla(2, &3u64.to_be_bytes())],
    ));
    assert!(matches!(e, Expr::Counter(c) if c.packets == 3 && c.bytes == 180));
    // [ match name conntrack rev 3 ] with its blob
    let e = decode_one(&expr(
        "match",
        &[nla(1, b"conntrack\0"), be32(2, 3), nla(3, &[1, 2, 3, 4])],
    ));
    assert!(
        matches!(&e, Expr::Match(x) if x.name == "conntrack" && x.rev == 3 && *x.info == [1, 2, 3, 4])
    );
    // [ lookup reg 1 set ports dreg 0 ] (a vmap)
    let e = decode_one(&expr(
        "lookup",
        &[nla(1, b"ports\0"), be32(2, 1), be32(3, 0)],
    ));
    assert!(matches!(e, Expr::Lookup(l) if l.set == "ports" && l.dreg == Some(0)));
    // [ limit rate 5/minute burst 5 type packets flags 0x0 ]
    let e = decode_one(&expr(
        "limit",
        &[
            nla(1, &5u64.to_be_bytes()),
            nla(2, &60u64.to_be_bytes()),
            be32(3, 5),
            be32(4, 0),
            be32(5, 0),
        ],
    ));
    assert!(matches!(e, Expr::Limit(l) if l.rate == 5 && l.unit == 60 && l.burst == Some(5)));
    // dynset with a nested counter expression
    let e = decode_one(&expr(
        "dynset",
        &[
            nla(1, b"s\0"),
            be32(3, 0),
            be32(4, 1),
            nest(
                7,
                &[
                    nla(1, b"counter\0"),
                    nest(
                        2,
                        &[nla(1, &0u64.to_be_bytes()), nla(2, &0u64.to_be_bytes())],
                    ),
                ],
            ),
        ],
    ));
    assert!(matches!(&e, Expr::Dynset(d) if matches!(d.expr.as_deref(), Some(Expr::Counter(_)))));
    // an unknown expression and a malformed one stay raw, with their name and bytes
    let e = decode_one(&expr("nosuchexpr", &[be32(1, 1)]));
    assert!(matches!(&e, Expr::Raw(r) if r.name == "nosuchexpr" && r.data.len() == 8));
    let e = decode_one(&expr("cmp", &[be32(1, 1)]));
    assert!(matches!(&e, Expr::Raw(r) if r.name == "cmp" && r.reason.contains("missing")));
    let e = decode_one(&expr("counter", &[be32(1, 1)]));
    assert!(matches!(&e, Expr::Raw(r) if r.reason.contains("expected 8")));
    let e = decode_one(&expr("meta", &[be32(2, 6), be32(1, 1), be32(99, 0)]));
    assert!(matches!(&e, Expr::Raw(r) if r.reason.contains("unknown attribute 99")));
}

/// A rule message of known meaning: `-i eth0`, a counter, accept; handle 7, comment "hi".
pub(crate) fn sample_rule_msg() -> Vec<u8> {
    let exprs = nest(
        4,
        &[
            expr("meta", &[be32(1, 1), be32(2, 6)]),
            expr("cmp", &[be32(1, 1), be32(2, 0), value(3, b"eth0\0")]),
            expr(
                "counter",
                &[nla(1, &0u64.to_be_bytes()), nla(2, &0u64.to_be_bytes())],
            ),
            expr(
                "immediate",
                &[be32(1, 0), nest(2, &[nest(2, &[be32(1, 1)])])],
            ),
        ],
    );
    [
        nla(1, b"filter\0"),
        nla(2, b"INPUT\0"),
        nla(3, &7u64.to_be_bytes()),
        exprs,
        nla(7, &[0, 3, b'h', b'i', 0]),
    ]
    .concat()
}

#[test]
fn rule_message_round_trip() {
    let msg = sample_rule_msg();
    let r = NftRule::decode(&msg).unwrap();
    assert_eq!((r.table, r.chain), (&b"filter"[..], &b"INPUT"[..]));
    assert_eq!(r.rule.handle, 7);
    assert_eq!(r.rule.comment.as_deref(), Some("hi"));
    assert_eq!(r.rule.exprs.len(), 4);
    assert!(r.rule.problems.is_empty());
    // Truncating the message never panics.
    for cut in 0..msg.len() {
        let _ = NftRule::decode(&msg[..cut]);
    }
}

#[test]
fn data_and_genid() {
    assert!(decode_data(&[]).is_err());
    assert_eq!(decode_genid(&be32(1, 42)).unwrap(), 42);
    assert!(decode_genid(&nla(1, &[1, 2])).is_err());
}

/// Every decoder of this module on `bytes`; the rule, when one decodes, for the caller.
pub(crate) fn all_decoders(bytes: &[u8]) -> Option<super::rule::RuleMsg<'_>> {
    let _ = decode_expr(bytes);
    let _ = decode_data(bytes);
    let _ = decode_genid(bytes);
    let _ = NftTable::decode(2, bytes);
    let _ = NftChain::decode(bytes);
    let _ = NftSet::decode(bytes);
    let _ = NftSetElem::decode_msg(bytes);
    let _ = NftFlowtable::decode(bytes);
    let _ = NftObject::decode(bytes);
    NftRule::decode(bytes).ok()
}

/// Random attributes, some nested, with plausible sizes: reaches deep into the decoders.
pub(crate) fn attrs() -> impl Strategy<Value = Vec<u8>> {
    let leaf = (0u16..12, prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(k, d)| nla(k, &d));
    leaf.prop_recursive(3, 24, 6, |inner| {
        (0u16..12, prop::collection::vec(inner, 0..6)).prop_map(|(k, parts)| nest(k, &parts))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        all_decoders(&bytes);
    }

    #[test]
    fn random_expressions_never_panic(
        name in prop::sample::select(NAMES),
        parts in prop::collection::vec(attrs(), 0..8),
    ) {
        let _ = decode_one(&expr(name, &parts));
    }
}
