//! The translation and both printers on frames built by hand or mutated at random: whatever
//! the kernel's decoders let through, translating and printing never panic, and the fast
//! in-place paths agree with the decoded model.

use proptest::prelude::*;

use crate::kernel::nft::expr::testutil::*;
use crate::kernel::nft::rule::NftRule;
use crate::kernel::nft::table::NftTable;
use crate::kernel::nft::tests::{NAMES, all_decoders, attrs, decode_one, sample_rule_msg};
use crate::ruleset::Family;

#[test]
fn a_known_rule_translates_to_its_meaning() {
    let msg = sample_rule_msg();
    let r = NftRule::decode(&msg).unwrap();
    let x = crate::ruleset::xlate::xlate_rule(&r.rule, Family::Ipv4);
    assert!(x.undecoded.is_empty(), "{:?}", x.undecoded);
    assert_eq!(x.ip.in_iface.unwrap().name, "eth0");
    assert_eq!(
        x.target,
        crate::ruleset::Target::Verdict(crate::ruleset::Verdict::Accept)
    );
    // Truncating the message never panics and never loses the rule silently.
    for cut in 0..msg.len() {
        if let Ok(r) = NftRule::decode(&msg[..cut]) {
            let _ = crate::ruleset::xlate::xlate_rule(&r.rule, Family::Ipv4);
        }
    }
}

/// Every kernel decoder, then both translations of whatever rule decoded.
fn decode_and_translate(bytes: &[u8]) {
    if let Some(r) = all_decoders(bytes) {
        let _ = crate::ruleset::xlate::xlate_rule(&r.rule, Family::Ipv4);
        let _ = crate::ruleset::xlate::xlate_rule(&r.rule, Family::Ipv6);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_translate_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_and_translate(&bytes);
    }

    #[test]
    fn random_expressions_never_panic(
        name in prop::sample::select(NAMES),
        parts in prop::collection::vec(attrs(), 0..8),
    ) {
        let frame = expr(name, &parts);
        let e = decode_one(&frame);
        // Whatever came out, xlate and the nft printer accept it.
        let rule = NftRule {
            handle: 1, position: None, userdata: None, comment: None,
            exprs: vec![e], compat: None, problems: vec![], raw: None,
        };
        let x = crate::ruleset::xlate::xlate_rule(&rule, Family::Ipv4);
        let t = NftTable::decode(2, &nla(1, b"t\0")).unwrap();
        let _ = crate::ruleset::nft_text::rule_text(&t, &rule);
        let _ = x;
    }

    #[test]
    fn mutated_rule_messages_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        // Cut short, or whole (inner lists then break while the message stays framed).
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let exprs = nest(4, &[
            expr("meta", &[be32(1, 1), be32(2, 16)]),
            expr("cmp", &[be32(1, 1), be32(2, 0), value(3, &[6])]),
            expr("payload", &[be32(1, 1), be32(2, 2), be32(3, 2), be32(4, 2)]),
            expr("range", &[be32(1, 1), be32(2, 0), value(3, &[0, 80]), value(4, &[0, 90])]),
            expr("match", &[nla(1, b"comment\0"), be32(2, 0), nla(3, &[b'x'; 16])]),
            expr("target", &[nla(1, b"DNAT\0"), be32(2, 2), nla(3, &[0; 40])]),
        ]);
        let whole = [nla(1, b"filter\0"), nla(2, b"INPUT\0"), exprs].concat();
        let msg = mutated(&whole, &flips, None);
        let cut = cut.map_or(msg.len(), |c| c.index(msg.len() + 1));
        decode_and_translate(&msg[..cut]);
        // The in-place translation (the hot path, with and without the extension cache)
        // agrees with decoding the message first, malformed or not.
        let fast = crate::ruleset::xlate::xlate_rule_msg(&msg[..cut], Family::Ipv4, None);
        let mut cache = crate::ruleset::xlate::ExtCache::new();
        let cached =
            crate::ruleset::xlate::xlate_rule_msg(&msg[..cut], Family::Ipv4, Some(&mut cache));
        prop_assert_eq!(format!("{fast:?}"), format!("{cached:?}"));
        // The save path's text (matches and targets rendered straight to text, the second
        // time from its cache) is the model's line.
        let mut model_line = String::new();
        crate::ruleset::render::rule_line(&mut model_line, "C", &fast, true);
        // Also with nothing kept: every blob rendered straight into the line.
        let mut frags = crate::ruleset::xlate::FragCache::default();
        let mut nothing = crate::ruleset::xlate::FragCache::keeping_nothing();
        let mut scratch = crate::ruleset::xlate::Scratch::default();
        for pass in 0..3 {
            let frags = if pass < 2 { &mut frags } else { &mut nothing };
            let (r, text) = crate::ruleset::xlate::xlate_rule_msg_text(
                &msg[..cut], Family::Ipv4, frags, &mut scratch,
            );
            let mut line = String::new();
            crate::ruleset::render::rule_line_text(&mut line, "C", r, text, true);
            prop_assert_eq!(&line, &model_line);
            prop_assert_eq!(r.is_decoded() && text.is_decoded(), fast.is_decoded());
        }
        match NftRule::decode(&msg[..cut]) {
            Ok(r) => {
                let owned = crate::ruleset::xlate::xlate_rule(&r.rule, Family::Ipv4);
                prop_assert_eq!(format!("{fast:?}"), format!("{owned:?}"));
                let t = NftTable::decode(2, &nla(1, b"t\0")).unwrap();
                let _ = crate::ruleset::nft_text::rule_text(&t, &r.rule);
            }
            Err(_) => prop_assert!(!fast.undecoded.is_empty()),
        }
    }
}

/// The in-place translation equals translating the owned decode (what the fast paths feed).
fn xlate_agrees(msg: &[u8]) {
    let fast = crate::ruleset::xlate::xlate_rule_msg(msg, Family::Ipv4, None);
    match NftRule::decode(msg) {
        Ok(r) => {
            let owned = crate::ruleset::xlate::xlate_rule(&r.rule, Family::Ipv4);
            assert_eq!(format!("{fast:?}"), format!("{owned:?}"));
        }
        Err(_) => assert!(!fast.undecoded.is_empty()),
    }
}

#[test]
fn recorded_and_reshaped_rules_translate_in_place_as_decoded() {
    use crate::kernel::nft::fixed_layout_tests::{
        layouts::rule_messages, recorded, rule_attribute_mutations,
    };
    let (kernel, others) = rule_messages();
    for m in recorded()
        .iter()
        .chain(&rule_attribute_mutations())
        .chain(&kernel)
        .chain(&others)
    {
        xlate_agrees(m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn mutated_recorded_messages_translate_as_decoded(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let msgs = crate::kernel::nft::fixed_layout_tests::recorded();
        xlate_agrees(&mutated(&msgs[pick.index(msgs.len())], &flips, cut));
    }
}
