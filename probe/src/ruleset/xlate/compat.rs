//! xt compat `match`/`target` expressions (and the blobs rebuilt from native expressions)
//! → canonical matches and targets through the `crate::ext` decoders, or straight to their
//! iptables-save text on the save path. A blob no decoder understands stays
//! `ExtBody::Raw`: the rule is then reported undecodable, never dropped.

use super::rule::{Exts, Xlate};
use super::text::{At, Frag, FragCache, head};
use crate::ext::cache::{Blob, Decoded, Got};
use crate::ext::{self, DecodeCtx, ExtKind};
use crate::kernel::nft::expr::xt::XtRef;
use crate::ruleset::{ExtBody, Match, Target, render};

fn body(kind: ExtKind, ctx: &DecodeCtx, name: &str, blob: &[u8]) -> ExtBody {
    match ext::decode(kind, name, ctx, blob) {
        Ok(words) => ExtBody::Decoded(words),
        Err(e) => {
            log::debug!("{kind} {name} rev {}: {e}", ctx.revision);
            ExtBody::Raw(blob.to_vec())
        }
    }
}

/// The name iptables-save prints (`conntrack` with the state flag prints as `state`, ...).
/// `native`: a blob rebuilt from native expressions, printed under its kernel name.
fn save_name<'n>(
    kind: ExtKind,
    ctx: &DecodeCtx,
    name: &'n str,
    blob: &[u8],
    native: bool,
) -> &'n str {
    if native {
        return name;
    }
    ext::save_name_ref(kind, name, ctx, blob)
}

fn ctx(id: &Blob) -> DecodeCtx {
    DecodeCtx {
        family: id.family,
        revision: id.rev,
    }
}

/// The printed name and the words of a blob (what a model `Match` or `Target::Ext`
/// holds); an undecodable body is kept raw. Both backends' model paths.
pub(super) fn decoded(id: Blob<'_>, native: bool) -> Decoded {
    let ctx = ctx(&id);
    (
        save_name(id.kind, &ctx, id.name, id.data, native).to_owned(),
        body(id.kind, &ctx, id.name, id.data),
    )
}

/// ` -m NAME words` / ` -j NAME words` of a blob appended to `out`, through the read's text
/// cache (a blob not worth keeping is rendered straight into `out`). True when the body
/// was undecodable. Both backends' save paths.
pub(super) fn ext_text(
    cache: &mut FragCache,
    out: &mut String,
    id: Blob<'_>,
    native: bool,
) -> bool {
    let ctx = ctx(&id);
    let (kind, name, blob) = (id.kind, id.name, id.data);
    let flag = match kind {
        ExtKind::Match => "-m",
        ExtKind::Target => "-j",
    };
    // Only when the blob is decoded, not for every cache hit.
    let printed = || save_name(kind, &ctx, name, blob, native);
    let decode = || Frag::new(flag, printed(), &body(kind, &ctx, name, blob));
    match cache.lookup_kept(id, decode) {
        Some(f) => {
            out.push_str(f.text());
            f.is_raw()
        }
        None => {
            head(out, flag, printed());
            match ext::decode_into(kind, name, &ctx, blob, out) {
                Ok(()) => false,
                Err(e) => {
                    log::debug!("{kind} {name} rev {}: {e}", id.rev);
                    render::body(out, &ExtBody::Raw(blob.to_vec()));
                    true
                }
            }
        }
    }
}

/// A blob decoded (through the read's cache when there is one) and put into the rule:
/// as a match or target value, or as text. Returns the target value for `At::Target`
/// (on the text path an empty marker: its text is in the rule's text).
fn put(
    x: &mut Xlate,
    kind: ExtKind,
    name: &str,
    rev: u8,
    blob: &[u8],
    native: bool,
    at: At,
) -> Target {
    let id = Blob {
        kind,
        family: x.family,
        name,
        rev,
        data: blob,
    };
    match &mut x.ext {
        Exts::Text(cache, text) => {
            text.put(at, |out| ext_text(cache, out, id, native));
            if let At::Target = at {
                return Target::Ext {
                    name: String::new(),
                    revision: rev,
                    body: ExtBody::Decoded(Vec::new()),
                };
            }
            Target::None
        }
        Exts::Model(cache) => {
            let decode = || decoded(id, native);
            // A spare match of the rules before (its allocations reused) or a new one.
            let mut m = x.spare.pop().unwrap_or_else(|| Match {
                name: String::new(),
                revision: rev,
                body: ExtBody::Decoded(Vec::new()),
            });
            m.revision = rev;
            match cache {
                Some(cache) => cache.lookup(id, decode),
                None => Got::Fresh(decode()),
            }
            .store(&mut m.name, &mut m.body);
            match at {
                At::Push => x.rule.matches.push(m),
                At::Match(i) => {
                    if let Some(s) = x.rule.matches.get_mut(i) {
                        *s = m;
                    }
                }
                At::Target => {
                    return Target::Ext {
                        name: m.name,
                        revision: m.revision,
                        body: m.body,
                    };
                }
            }
            Target::None
        }
    }
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
    put(
        x,
        ExtKind::Match,
        &ext_name(m.name),
        rev,
        m.info,
        false,
        At::Push,
    );
}

pub(super) fn target(x: &mut Xlate, t: &XtRef<'_>) -> Target {
    let rev = u8::try_from(t.rev).unwrap_or(u8::MAX);
    put(
        x,
        ExtKind::Target,
        &ext_name(t.name),
        rev,
        t.info,
        false,
        At::Target,
    )
}

/// A match iptables-nft expresses natively, decoded from the blob it would rebuild (the
/// printed name is the kernel name: no alias applies to these), appended to the matches.
pub(super) fn native_match(x: &mut Xlate, name: &str, rev: u8, blob: &[u8]) {
    put(x, ExtKind::Match, name, rev, blob, true, At::Push);
}

/// Reserves the next match position for a native match filled in later
/// ([`fill_native_match`]), so that it keeps the place iptables-nft gives it.
pub(super) fn placeholder(x: &mut Xlate, name: &str) -> usize {
    match &mut x.ext {
        Exts::Text(_, text) => text.placeholder(),
        Exts::Model(_) => {
            x.rule.matches.push(Match {
                name: name.to_owned(),
                revision: 0,
                body: ExtBody::Raw(Vec::new()),
            });
            x.rule.matches.len() - 1
        }
    }
}

/// [`native_match`] into the position `at` reserved by [`placeholder`].
pub(super) fn fill_native_match(x: &mut Xlate, at: usize, name: &str, rev: u8, blob: &[u8]) {
    put(x, ExtKind::Match, name, rev, blob, true, At::Match(at));
}
