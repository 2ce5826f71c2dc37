//! The fixed-layout fast paths (`decode_kernel`, `routing`) against the generic decoders
//! they shortcut, on rule messages recorded from the kernel (testdata/): every answer of a
//! fast path equals the generic one, the recorded messages really take the fast paths, and
//! every other layout (cut, mutated, reordered, extended, flagged) falls back and still
//! decodes exactly as before.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::data::{decode_data_kernel, decode_data_ref, value_attr};
use super::expr::bitwise::BitwiseRef;
use super::expr::cmp::CmpRef;
use super::expr::counter::Counter;
use super::expr::immediate::ImmediateRef;
use super::expr::meta::Meta;
use super::expr::payload::Payload;
use super::expr::range::RangeRef;
use super::expr::testutil::*;
use super::expr::xt::XtRef;
use super::expr::{ExprRef, decode_expr};
use super::rule::{NftRule, RuleRef, routing, routing_generic};
use crate::kernel::nfnl::{Fixed, NLA_F_NESTED, NlaIter, until_nul};

const RECORDED: &str = include_str!("testdata/iptables_nft_rules.hex");

/// The recorded rule messages.
pub(crate) fn recorded() -> Vec<Vec<u8>> {
    RECORDED
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let hex = l.split(' ').nth(2).unwrap();
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

/// The `NFTA_LIST_ELEM` payloads of a (well-formed) rule message.
fn elems(msg: &[u8]) -> Vec<Vec<u8>> {
    let list = NlaIter::new(msg)
        .map(Result::unwrap)
        .find(|a| a.kind == 4)
        .unwrap();
    list.nested().map(|e| e.unwrap().data.to_vec()).collect()
}

/// Every distinct expression of the recorded messages.
fn recorded_elems() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = recorded().iter().flat_map(|m| elems(m)).collect();
    all.sort();
    all.dedup();
    all
}

/// (name attribute payload, data payload) of an expression, as the generic walk sees them.
fn name_and_data(elem: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut name = None;
    let mut data: &[u8] = &[];
    for a in NlaIter::new(elem) {
        let a = a.ok()?;
        match a.kind {
            1 => name = Some(a.cstr_bytes()),
            2 => data = a.data,
            _ => {}
        }
    }
    Some((name?, data))
}

/// The expression decodes the same through the fast path, the generic path and the owned
/// decoder; true when the fast path answered.
fn expr_agrees(elem: &[u8]) -> bool {
    let generic = ExprRef::decode_generic(elem);
    let fast = ExprRef::decode_kernel(elem);
    if let Some(f) = &fast {
        assert_eq!(f, &generic, "fast != generic for {elem:02x?}");
    }
    assert_eq!(ExprRef::decode(elem), generic, "{elem:02x?}");
    assert_eq!(generic.to_expr(), decode_expr(elem), "{elem:02x?}");
    if let Some((name, data)) = name_and_data(elem) {
        data_agrees(name, data);
    }
    fast.is_some()
}

/// Each expression's own fast decoder, on any bytes: where it answers, its generic decoder
/// gives the same value.
fn data_agrees(name: &[u8], d: &[u8]) {
    fn same<T: PartialEq + std::fmt::Debug, E>(fast: Option<T>, generic: Result<T, E>, d: &[u8]) {
        if let Some(f) = fast {
            assert_eq!(Some(f), generic.ok(), "{d:02x?}");
        }
    }
    match name {
        b"payload" => same(Payload::decode_kernel(d), Payload::decode(d), d),
        b"cmp" => same(CmpRef::decode_kernel(d), CmpRef::decode(d), d),
        b"meta" => same(Meta::decode_kernel(d), Meta::decode(d), d),
        b"counter" => same(Counter::decode_kernel(d), Counter::decode(d), d),
        b"immediate" => same(ImmediateRef::decode_kernel(d), ImmediateRef::decode(d), d),
        b"match" | b"target" => same(XtRef::decode_kernel(d), XtRef::decode(d), d),
        b"bitwise" => same(BitwiseRef::decode_kernel(d), BitwiseRef::decode(d), d),
        b"range" => same(RangeRef::decode_kernel(d), RangeRef::decode(d), d),
        _ => {}
    }
    // The data decoders, on whatever sits where a DATA nest's payload would.
    same(decode_data_kernel(d), decode_data_ref(d), d);
    // The same bytes as the payload of a cmp's DATA attribute, read as a value.
    let outer = nla(3, d);
    let mut f = Fixed::new(&outer);
    if let Some(v) = value_attr(&mut f, 3) {
        assert!(f.end());
        assert_eq!(
            decode_data_ref(d).ok(),
            Some(super::data::DataRef::Value(v)),
            "{d:02x?}"
        );
    }
}

/// The rule message reads the same through every path; true when the fast path answered.
fn rule_agrees(msg: &[u8]) -> bool {
    let generic = RuleRef::decode_generic(msg);
    let fast = RuleRef::decode_kernel(msg);
    if let Some(f) = &fast {
        assert_eq!(Some(f), generic.as_ref(), "{msg:02x?}");
    }
    assert_eq!(RuleRef::decode(msg), generic);
    let g = routing_generic(msg);
    assert_eq!(routing(msg), g, "{msg:02x?}");
    if let Some(r) = generic {
        let owned = NftRule::decode(msg).unwrap();
        assert_eq!((r.table(), r.chain()), (owned.table, owned.chain));
        assert_eq!(r.handle, owned.rule.handle);
        // The walk of the list is NlaIter's, element for element and error for error.
        let list = NlaIter::new(msg)
            .map_while(Result::ok)
            .find(|a| a.kind == 4)
            .map_or(&[][..], |a| a.data);
        let by_nla: Vec<_> = NlaIter::new(list)
            .map(|e| e.map(|e| ExprRef::decode(e.data)))
            .collect();
        assert_eq!(r.exprs().collect::<Vec<_>>(), by_nla, "{msg:02x?}");
        let walked: Result<Vec<_>, _> = r.exprs().map(|e| e.map(|e| e.to_expr())).collect();
        match walked {
            // Read in place only what the owned decoder takes without a problem.
            Ok(exprs) => {
                assert!(owned.rule.problems.is_empty(), "{msg:02x?}");
                assert_eq!(exprs, owned.rule.exprs);
            }
            Err(_) => assert!(!owned.rule.problems.is_empty()),
        }
    }
    fast.is_some()
}

#[test]
fn recorded_rules_take_the_fixed_paths_and_agree() {
    let msgs = recorded();
    assert!(msgs.len() >= 45, "{} messages", msgs.len());
    let mut fast_by_name: BTreeMap<String, usize> = BTreeMap::new();
    for m in &msgs {
        assert!(
            rule_agrees(m),
            "the kernel's rule layout missed the fast path"
        );
        assert!(routing(m).is_ok());
        for e in elems(m) {
            let name = String::from_utf8(name_and_data(&e).unwrap().0.to_vec()).unwrap();
            let hot = matches!(
                name.as_str(),
                "payload"
                    | "cmp"
                    | "meta"
                    | "counter"
                    | "immediate"
                    | "match"
                    | "target"
                    | "bitwise"
                    | "range"
            );
            let fast = expr_agrees(&e);
            assert_eq!(fast, hot, "{name}: {e:02x?}");
            if fast {
                *fast_by_name.entry(name).or_default() += 1;
            }
        }
    }
    // Every hot expression (and both verdict forms) came through the fast path.
    let names: Vec<&str> = fast_by_name.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "bitwise",
            "cmp",
            "counter",
            "immediate",
            "match",
            "meta",
            "payload",
            "range",
            "target"
        ]
    );
    let all = recorded_elems();
    let verdicts: Vec<_> = all
        .iter()
        .filter_map(|e| match ExprRef::decode_kernel(e) {
            Some(ExprRef::Immediate(i)) => Some(i.data),
            _ => None,
        })
        .collect();
    assert!(verdicts.iter().any(|d| matches!(
        d,
        super::data::DataRef::Verdict {
            code: -3,
            chain: Some(_)
        }
    )));
    assert!(verdicts.iter().any(|d| matches!(
        d,
        super::data::DataRef::Verdict {
            code: 1,
            chain: None
        }
    )));
    // Counters with traffic on them (not just zeros).
    assert!(all.iter().any(|e| matches!(
        ExprRef::decode_kernel(e),
        Some(ExprRef::Counter(Counter { packets: 1.., .. }))
    )));
}

#[test]
fn every_truncation_agrees() {
    for m in recorded() {
        for n in 0..m.len() {
            assert!(!rule_agrees(&m[..n]) || n == m.len());
        }
    }
    for e in recorded_elems() {
        for n in 0..e.len() {
            // A cut expression is never the kernel's layout.
            assert!(!expr_agrees(&e[..n]), "{:02x?}", &e[..n]);
        }
    }
}

#[test]
fn every_single_byte_mutation_agrees() {
    let mut fast = 0usize;
    let mut total = 0usize;
    for e in recorded_elems() {
        for i in 0..e.len() {
            for v in 0..=255u8 {
                let mut m = e.clone();
                m[i] = v;
                fast += usize::from(expr_agrees(&m));
                total += 1;
            }
        }
    }
    // Mutated values still take the fast path, mutated headers do not: both are exercised.
    assert!(fast > total / 4 && fast < total, "{fast} of {total}");
}

/// Each recorded message with one byte of its rule attributes (everything up to and
/// including the expression list's header) set to a telling value.
pub(crate) fn rule_attribute_mutations() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for msg in recorded() {
        let head = msg.windows(4).position(|w| w[2] == 4 && w[3] == 0).unwrap() + 4;
        for i in 0..head.min(msg.len()) {
            for v in [0u8, 1, 2, 3, 4, 6, 7, 8, 9, 0x40, 0x80, 0xff] {
                let mut m = msg.clone();
                m[i] = v;
                out.push(m);
            }
        }
    }
    out
}

#[test]
fn every_single_byte_mutation_of_the_rule_attributes_agrees() {
    for m in rule_attribute_mutations() {
        rule_agrees(&m);
    }
}

/// Frames in the kernel's layout, and variants of each that are not.
pub(crate) mod layouts {
    use super::*;

    fn elem(name: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
        // The NFTA_LIST_ELEM payload, DATA without NLA_F_NESTED as the kernel sends it.
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        [nla(1, &n), nla(2, &attrs.concat())].concat()
    }
    fn data_value(kind: u16, v: &[u8]) -> Vec<u8> {
        nla(kind, &nla(1, v))
    }
    fn verdict(code: i32, chain: Option<&str>) -> Vec<u8> {
        let mut v = vec![be32(1, code as u32)];
        if let Some(c) = chain {
            let mut c = c.as_bytes().to_vec();
            c.push(0);
            v.push(nla(2, &c));
        }
        nla(2, &nla(2, &v.concat()))
    }
    fn be64(kind: u16, v: u64) -> Vec<u8> {
        nla(kind, &v.to_be_bytes())
    }

    /// Each hot expression as the kernel lays it out.
    pub(super) fn kernel_frames() -> Vec<(&'static str, Vec<Vec<u8>>)> {
        vec![
            (
                "payload",
                vec![be32(1, 1), be32(2, 1), be32(3, 12), be32(4, 4)],
            ),
            (
                "cmp",
                vec![be32(1, 1), be32(2, 0), data_value(3, b"eth0\0")],
            ),
            ("meta", vec![be32(2, 16), be32(1, 1)]),
            ("meta", vec![be32(2, 3), be32(3, 1)]),
            ("counter", vec![be64(1, 84), be64(2, 1)]),
            ("immediate", vec![be32(1, 0), verdict(1, None)]),
            ("immediate", vec![be32(1, 0), verdict(-3, Some("DOCKER"))]),
            (
                "immediate",
                vec![be32(1, 1), data_value(2, &[0, 0, 0x40, 0])],
            ),
            (
                "match",
                vec![nla(1, b"conntrack\0"), be32(2, 3), nla(3, &[6; 20])],
            ),
            (
                "target",
                vec![nla(1, b"DNAT\0"), be32(2, 2), nla(3, &[1; 22])],
            ),
            (
                "bitwise",
                vec![
                    be32(1, 1),
                    be32(2, 1),
                    be32(3, 4),
                    be32(6, 0),
                    data_value(4, &[255, 255, 0, 0]),
                    data_value(5, &[0; 4]),
                ],
            ),
            (
                "bitwise",
                vec![
                    be32(1, 1),
                    be32(2, 1),
                    be32(3, 4),
                    be32(6, 1),
                    data_value(7, &[0, 0, 0, 8]),
                ],
            ),
            (
                "range",
                vec![
                    be32(1, 1),
                    be32(2, 0),
                    data_value(3, &[0, 80]),
                    data_value(4, &[0, 90]),
                ],
            ),
        ]
    }

    #[test]
    fn kernel_layouts_are_fast() {
        for (name, attrs) in kernel_frames() {
            let e = elem(name, &attrs);
            assert!(expr_agrees(&e), "{name} {attrs:?}");
            assert!(!matches!(ExprRef::decode(&e), ExprRef::Other(_)), "{name}");
        }
    }

    #[test]
    fn other_layouts_fall_back_and_agree() {
        let mut variants = 0;
        for (name, attrs) in kernel_frames() {
            let n = attrs.len();
            // Layouts the fast path must refuse, and ones it may take (other sizes).
            let mut cases: Vec<Vec<u8>> = Vec::new();
            let mut resized: Vec<Vec<u8>> = Vec::new();
            // An extra attribute at the end, of a known and an unknown type.
            for extra in [be32(1, 1), be32(9, 0), nla(n as u16, &[])] {
                let mut a = attrs.clone();
                a.push(extra);
                cases.push(elem(name, &a));
            }
            // Every pair of attributes swapped (other order, same content).
            for i in 0..n {
                for j in i + 1..n {
                    let mut a = attrs.clone();
                    a.swap(i, j);
                    cases.push(elem(name, &a));
                }
            }
            for i in 0..n {
                // One attribute missing; one duplicated.
                let mut a = attrs.clone();
                a.remove(i);
                cases.push(elem(name, &a));
                let mut a = attrs.clone();
                a.insert(i, attrs[i].clone());
                cases.push(elem(name, &a));
                // Flags on the type word (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
                for flag in [0x8000u16, 0x4000] {
                    let mut a = attrs.clone();
                    let t = u16::from_ne_bytes([a[i][2], a[i][3]]) | flag;
                    a[i][2..4].copy_from_slice(&t.to_ne_bytes());
                    cases.push(elem(name, &a));
                }
                // Four more (or fewer) payload bytes, lengths consistent.
                let mut a = attrs.clone();
                let mut grown = a[i][4..].to_vec();
                grown.extend_from_slice(&[0; 4]);
                a[i] = nla(u16::from_ne_bytes([attrs[i][2], attrs[i][3]]), &grown);
                resized.push(elem(name, &a));
                if attrs[i].len() >= 8 {
                    let mut a = attrs.clone();
                    let l = u16::from_ne_bytes([attrs[i][0], attrs[i][1]]);
                    let shrunk = &attrs[i][4..(l as usize).max(8) - 4];
                    a[i] = nla(u16::from_ne_bytes([attrs[i][2], attrs[i][3]]), shrunk);
                    resized.push(elem(name, &a));
                }
            }
            let base = elem(name, &attrs);
            // DATA flagged as nested (other kernels may), name without its NUL, name with
            // bytes after the NUL, NAME and DATA swapped, an attribute after DATA.
            let mut nested = base.clone();
            let off = crate::kernel::nfnl::align4(usize::from(u16::from_ne_bytes([
                nested[0], nested[1],
            ])));
            nested[off + 2..off + 4].copy_from_slice(&(2 | NLA_F_NESTED).to_ne_bytes());
            cases.push(nested.clone());
            let data = nla(2, &attrs.concat());
            cases.push([nla(1, name.as_bytes()), data.clone()].concat());
            let mut padded = name.as_bytes().to_vec();
            padded.extend_from_slice(b"\0x\0");
            cases.push([nla(1, &padded), data.clone()].concat());
            let mut n0 = name.as_bytes().to_vec();
            n0.push(0);
            cases.push([data.clone(), nla(1, &n0)].concat());
            cases.push([base.clone(), be32(3, 0)].concat());
            // The last attribute's padding cut off (the generic walk accepts that).
            let last = attrs.last().unwrap();
            let l = usize::from(u16::from_ne_bytes([last[0], last[1]]));
            if l % 4 != 0 {
                let cut = base.len() - (4 - l % 4);
                let mut c = base[..cut].to_vec();
                let dl = u16::from_ne_bytes([c[off], c[off + 1]]) - (4 - l % 4) as u16;
                c[off..off + 2].copy_from_slice(&dl.to_ne_bytes());
                cases.push(c);
            }
            for c in &cases {
                if c == &base {
                    continue;
                }
                variants += 1;
                assert!(
                    ExprRef::decode_kernel(c).is_none(),
                    "{name}: fast path took a foreign layout {c:02x?}"
                );
                expr_agrees(c);
            }
            for c in &resized {
                variants += 1;
                expr_agrees(c);
            }
            // The generic path still decodes the flagged nest in place.
            assert!(
                !matches!(ExprRef::decode(&nested), ExprRef::Other(_)),
                "{name}"
            );
        }
        assert!(variants > 200, "{variants}");
    }

    #[test]
    fn verdicts_and_values_off_the_kernel_layout_fall_back() {
        let cases = [
            // A verdict with CHAIN_ID, jump without a chain, CHAIN before CODE.
            nla(
                2,
                &[be32(1, (-3i32) as u32), nla(2, b"X\0"), be32(3, 7)].concat(),
            ),
            nla(2, &be32(1, (-3i32) as u32)),
            nla(2, &[nla(2, b"X\0"), be32(1, (-3i32) as u32)].concat()),
            // An unknown verdict attribute; a 65-byte value; a value and a verdict.
            nla(2, &[be32(1, 1), be32(9, 1)].concat()),
            nla(1, &[0; 65]),
            [nla(1, &[1]), nla(2, &be32(1, 1))].concat(),
            nla(3, &[1]),
        ];
        for c in &cases {
            assert!(decode_data_kernel(c).is_none(), "{c:02x?}");
            data_agrees(b"", c);
        }
        // The kernel's own forms are fast: a 64-byte value, a goto, a plain verdict.
        for c in [
            nla(1, &[7; 64]),
            nla(
                2,
                &[be32(1, (-4i32) as u32), nla(2, b"KUBE-SVC\0")].concat(),
            ),
            nla(2, &be32(1, 0)),
            nla(1, &[]),
        ] {
            assert!(decode_data_kernel(&c).is_some(), "{c:02x?}");
            data_agrees(b"", &c);
        }
    }

    /// Rule messages in the kernel's layout, and others that are not (reordered, flagged,
    /// extended, missing parts).
    pub(crate) fn rule_messages() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let list = nla(
            4,
            &kernel_frames()
                .iter()
                .map(|(n, a)| nla(1, &elem(n, a)))
                .collect::<Vec<_>>()
                .concat(),
        );
        let t = nla(1, b"filter\0");
        let c = nla(2, b"INPUT\0");
        let h = be64(3, 7);
        let p = be64(6, 5);
        let u = nla(7, &[0, 3, b'h', b'i', 0]);
        let kernel = [
            [t.clone(), c.clone(), h.clone(), list.clone()].concat(),
            [t.clone(), c.clone(), h.clone(), p.clone(), list.clone()].concat(),
            [
                t.clone(),
                c.clone(),
                h.clone(),
                p.clone(),
                list.clone(),
                u.clone(),
            ]
            .concat(),
            [t.clone(), c.clone(), h.clone(), list.clone(), u.clone()].concat(),
        ];
        let mut flagged = list.clone();
        flagged[2..4].copy_from_slice(&(4 | NLA_F_NESTED).to_ne_bytes());
        let compat = nla(5, &[be32(1, 6), be32(2, 0)].concat());
        let others = [
            [c.clone(), t.clone(), h.clone(), list.clone()].concat(),
            [t.clone(), c.clone(), list.clone(), h.clone()].concat(),
            [t.clone(), c.clone(), h.clone(), flagged].concat(),
            [t.clone(), c.clone(), h.clone(), compat, list.clone()].concat(),
            [t.clone(), c.clone(), h.clone(), list.clone(), be64(8, 0)].concat(),
            [t.clone(), c.clone(), h.clone(), list.clone(), be32(9, 1)].concat(),
            [
                t.clone(),
                c.clone(),
                h.clone(),
                list.clone(),
                u.clone(),
                u.clone(),
            ]
            .concat(),
            [t.clone(), c.clone(), list.clone()].concat(),
            [t.clone(), c.clone(), h.clone()].concat(),
            [t.clone(), c.clone(), h.clone(), list.clone(), be32(42, 1)].concat(),
            [t.clone(), c.clone(), be32(3, 7), list.clone()].concat(),
            [c.clone(), list.clone()].concat(),
            [
                t.clone(),
                c.clone(),
                h.clone(),
                p.clone(),
                p.clone(),
                list.clone(),
            ]
            .concat(),
        ];
        (kernel.to_vec(), others.to_vec())
    }

    #[test]
    fn rule_messages_off_the_kernel_layout_fall_back() {
        let (kernel, others) = rule_messages();
        for m in &kernel {
            assert!(rule_agrees(m), "{m:02x?}");
        }
        for m in &others {
            assert!(RuleRef::decode_kernel(m).is_none(), "{m:02x?}");
            rule_agrees(m);
        }
    }
}

#[test]
fn until_nul_is_the_first_nul() {
    for len in 0..40 {
        for nul in 0..=len {
            let mut b: Vec<u8> = (0..len).map(|i| 1 + (i as u8 % 250)).collect();
            if nul < len {
                b[nul] = 0;
                if nul + 3 < len {
                    b[nul + 3] = 0;
                }
            }
            assert_eq!(until_nul(&b).len(), nul, "{b:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn until_nul_on_random_bytes(b in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, b'a']), 0..40)) {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        prop_assert_eq!(until_nul(&b), &b[..end]);
    }

    #[test]
    fn mutated_recorded_messages_agree(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let msgs = recorded();
        let msg = &mutated(&msgs[pick.index(msgs.len())], &flips, cut)[..];
        rule_agrees(msg);
        // Each expression still framed after the mutation, alone.
        if let Some(list) = NlaIter::new(msg).map_while(Result::ok).find(|a| a.kind == 4) {
            for e in list.nested().map_while(Result::ok) {
                expr_agrees(e.data);
            }
        }
    }

    #[test]
    fn mutated_recorded_expressions_agree(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let elems = recorded_elems();
        expr_agrees(&mutated(&elems[pick.index(elems.len())], &flips, cut));
    }
}
