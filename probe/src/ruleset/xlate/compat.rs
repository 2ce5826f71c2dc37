//! xt compat `match`/`target` expressions (and the blobs rebuilt from native expressions)
//! → canonical matches and targets through the `crate::ext` decoders. A blob no decoder
//! understands stays `ExtBody::Raw`: the rule is then reported undecodable, never dropped.

use super::rule::Xlate;
use crate::ext::cache::{ExtCache, Got};
use crate::ext::{self, DecodeCtx, ExtKind};
use crate::kernel::nft::expr::xt::XtRef;
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

/// The printed name and body of a blob, through the read's cache when there is one,
/// in a match of the rules before (its allocations reused) or a new one.
fn decoded(x: &mut Xlate, kind: ExtKind, name: &str, rev: u8, blob: &[u8]) -> Match {
    let family = x.family;
    let decode = || {
        (
            save_name(kind, family, name, rev, blob),
            body(kind, family, name, rev, blob),
        )
    };
    fill(x, rev, |cache| match cache {
        Some(cache) => cache.lookup(kind, family, name, rev, blob, decode),
        None => Got::Fresh(decode()),
    })
}

/// A match with `rev` and what `get` finds, in a spare match when there is one.
fn fill<'c>(
    x: &'c mut Xlate,
    rev: u8,
    get: impl FnOnce(Option<&'c mut ExtCache>) -> Got<'c>,
) -> Match {
    let mut m = x.spare.pop().unwrap_or_else(|| Match {
        name: String::new(),
        revision: rev,
        body: ExtBody::Decoded(Vec::new()),
    });
    m.revision = rev;
    get(x.ext.as_deref_mut()).store(&mut m.name, &mut m.body);
    m
}

/// Extension names are ASCII (the kernel looks them up by name); anything else is shown lossily.
fn ext_name(name: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(name) {
        Ok(s) => s.into(),
        Err(_) => String::from_utf8_lossy(name),
    }
}

pub(super) fn add_match(x: &mut Xlate, m: &XtRef<'_>) {
    let rev = u8::try_from(m.rev).unwrap_or(u8::MAX);
    let m = decoded(x, ExtKind::Match, &ext_name(m.name), rev, m.info);
    x.rule.matches.push(m);
}

pub(super) fn target(x: &mut Xlate, t: &XtRef<'_>) -> Target {
    let rev = u8::try_from(t.rev).unwrap_or(u8::MAX);
    let Match {
        name,
        revision,
        body,
    } = decoded(x, ExtKind::Target, &ext_name(t.name), rev, t.info);
    Target::Ext {
        name,
        revision,
        body,
    }
}

/// A match iptables-nft expresses natively, decoded from the blob it would rebuild (the
/// printed name is the kernel name: no alias applies to these).
pub(super) fn native_match(x: &mut Xlate, name: &str, rev: u8, blob: &[u8]) -> Match {
    let family = x.family;
    let decode = || {
        (
            name.to_owned(),
            body(ExtKind::Match, family, name, rev, blob),
        )
    };
    fill(x, rev, |cache| match cache {
        Some(cache) => cache.lookup(ExtKind::Match, family, name, rev, blob, decode),
        None => Got::Fresh(decode()),
    })
}
