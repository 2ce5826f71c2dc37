//! xt compat `match`/`target` expressions (and the blobs rebuilt from native expressions)
//! → canonical matches and targets through the `crate::ext` decoders. A blob no decoder
//! understands stays `ExtBody::Raw`: the rule is then reported undecodable, never dropped.

use super::rule::Xlate;
use crate::ext::{self, DecodeCtx, ExtKind};
use crate::kernel::nft::expr::xt::Xt;
use crate::ruleset::{ExtBody, Family, Match, Target};

fn body(kind: ExtKind, family: Family, name: &str, rev: u8, blob: &[u8]) -> ExtBody {
    let ctx = DecodeCtx {
        family,
        revision: rev,
    };
    match ext::decode(kind, name, &ctx, blob) {
        Ok(words) => ExtBody::Decoded(words),
        Err(e) => {
            log::debug!("{kind} {name} rev {rev}: {e}");
            ExtBody::Raw(blob.to_vec())
        }
    }
}

/// The name iptables-save prints (`conntrack` with the state flag prints as `state`, ...).
fn save_name(kind: ExtKind, family: Family, name: &str, rev: u8, blob: &[u8]) -> String {
    let ctx = DecodeCtx {
        family,
        revision: rev,
    };
    ext::save_name(kind, name, &ctx, blob)
}

pub(super) fn add_match(x: &mut Xlate, m: &Xt) {
    let rev = u8::try_from(m.rev).unwrap_or(u8::MAX);
    let b = body(ExtKind::Match, x.family, &m.name, rev, &m.info);
    x.rule.matches.push(Match {
        name: save_name(ExtKind::Match, x.family, &m.name, rev, &m.info),
        revision: rev,
        body: b,
    });
}

pub(super) fn target(family: Family, t: &Xt) -> Target {
    let rev = u8::try_from(t.rev).unwrap_or(u8::MAX);
    Target::Ext {
        name: save_name(ExtKind::Target, family, &t.name, rev, &t.info),
        revision: rev,
        body: body(ExtKind::Target, family, &t.name, rev, &t.info),
    }
}

pub(super) fn native_match(family: Family, name: &str, rev: u8, blob: Vec<u8>) -> Match {
    Match {
        name: name.into(),
        revision: rev,
        body: body(ExtKind::Match, family, name, rev, &blob),
    }
}
