//! `nfprobe::ext`: every registered extension (and unknown names) decodes arbitrary blobs and
//! parses arbitrary words into words or an error, never a panic.

use nfprobe::ext::{self, DecodeCtx, ExtKind};
use nfprobe::ruleset::Family;
use proptest::prelude::*;

fn name_and_kind() -> impl Strategy<Value = (ExtKind, String)> {
    let known: Vec<(ExtKind, String)> = ext::registered().map(|(k, n)| (k, n.to_owned())).collect();
    prop_oneof![
        4 => prop::sample::select(known),
        1 => (prop_oneof![Just(ExtKind::Match), Just(ExtKind::Target)], "[a-zA-Z]{0,12}"),
    ]
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::Ipv4), Just(Family::Ipv6)]
}

proptest! {
    #[test]
    fn decode_never_panics((kind, name) in name_and_kind(), family in family(),
                           revision in any::<u8>(),
                           blob in prop::collection::vec(any::<u8>(), 0..640)) {
        let ctx = DecodeCtx { family, revision };
        let _ = ext::decode(kind, &name, &ctx, &blob);
    }

    #[test]
    fn parse_never_panics((kind, name) in name_and_kind(), family in family(),
                          words in prop::collection::vec("[ -~]{0,300}", 0..6)) {
        let _ = ext::parse(kind, &name, family, &words);
    }
}
