//! An xtables extension blob (`xt_*_info`) through its decoder and its straight-to-text
//! renderer: byte 0 picks match or target and the family, byte 1 the revision, byte 2 the
//! extension by its index in the registry, the rest is the blob.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nfprobe::ext::{self, DecodeCtx, ExtKind};
use nfprobe::ruleset::Family;

/// The registry's names per kind, listed once: sorting them on every input took 40% of the
/// time and filled libFuzzer's comparison tables with name comparisons.
fn names(kind: ExtKind) -> &'static [&'static str] {
    static NAMES: OnceLock<[Vec<&'static str>; 2]> = OnceLock::new();
    let [m, t] = NAMES.get_or_init(|| [ext::names(ExtKind::Match), ext::names(ExtKind::Target)]);
    match kind {
        ExtKind::Match => m,
        ExtKind::Target => t,
    }
}

fuzz_target!(|data: &[u8]| {
    let [sel, revision, which, blob @ ..] = data else {
        return;
    };
    let kind = if sel & 1 == 0 {
        ExtKind::Match
    } else {
        ExtKind::Target
    };
    let family = if sel & 2 == 0 {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    let names = names(kind);
    let Some(name) = names.get(usize::from(*which) % names.len().max(1)) else {
        return;
    };
    let ctx = DecodeCtx {
        family,
        revision: *revision,
    };
    let words = ext::decode(kind, name, &ctx, blob);
    let mut line = String::new();
    let into = ext::decode_into(kind, name, &ctx, blob, &mut line);
    // The renderer writes exactly the decoder's words.
    if let (Ok(w), Ok(())) = (&words, &into) {
        let joined: String = w.iter().map(|w| format!(" {w}")).collect();
        assert_eq!(joined, line, "{kind:?} {name} rev {revision}");
    }
});
