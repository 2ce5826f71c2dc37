//! `-m mark` and `-m connmark` (matches): `[!] --mark VALUE[/MASK]`.
//! Rev 0 uses `unsigned long` fields (xt_mark_info), rev 1 `__u32` (xt_mark_mtinfo1); the
//! connmark structs have the same shapes.

use super::args::{bad, mark_mask, need, parse_mark_mask, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

pub static MARK: ExtDef = ExtDef {
    name: "mark",
    kind: ExtKind::Match,
    family: None,
    decode: decode_mark,
    parse: parse_mark,
};

pub static CONNMARK: ExtDef = ExtDef {
    name: "connmark",
    kind: ExtKind::Match,
    family: None,
    decode: decode_connmark,
    parse: parse_connmark,
};

fn words(mark: u32, mask: u32, inv: bool) -> Vec<String> {
    let mut w = Vec::new();
    push_inv(&mut w, inv);
    w.push("--mark".into());
    w.push(mark_mask(mark, mask));
    w
}

fn decode_any(name: &str, ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(name)(e);
    match ctx.revision {
        0 => {
            let mut r = need(name, blob, 17)?;
            // unsigned long on a 64-bit kernel; iptables prints it as unsigned int.
            let mark = r.u64().map_err(t)? as u32;
            let mask = r.u64().map_err(t)? as u32;
            Ok(words(mark, mask, r.u8().map_err(t)? != 0))
        }
        1 => {
            let mut r = need(name, blob, 9)?;
            let mark = r.u32().map_err(t)?;
            let mask = r.u32().map_err(t)?;
            Ok(words(mark, mask, r.u8().map_err(t)? != 0))
        }
        revision => Err(super::opts::unknown_revision(
            ExtKind::Match,
            name,
            revision,
        )),
    }
}

fn parse_any(name: &str, words_in: &[String]) -> Result<Vec<String>, ExtError> {
    let opts = scan(name, &[("mark", 1)], words_in)?;
    let [o] = opts.as_slice() else {
        return Err(bad(name, "expected one `--mark VALUE[/MASK]`"));
    };
    let (mark, mask) = parse_mark_mask(name, &o.args[0])?;
    Ok(words(mark, mask, o.inv))
}

fn decode_mark(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    decode_any("mark", ctx, blob)
}
fn decode_connmark(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    decode_any("connmark", ctx, blob)
}
fn parse_mark(_f: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    parse_any("mark", w)
}
fn parse_connmark(_f: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    parse_any("connmark", w)
}
