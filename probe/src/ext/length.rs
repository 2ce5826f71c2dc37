//! `-m length` (struct xt_length_info): `[!] --length MIN[:MAX]`.

use super::args::{bad, need, num, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "length";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

fn words(min: u16, max: u16, inv: bool) -> Vec<String> {
    let mut w = Vec::new();
    push_inv(&mut w, inv);
    w.push("--length".into());
    w.push(if min == max {
        min.to_string()
    } else {
        format!("{min}:{max}")
    });
    w
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = need(NAME, blob, 5)?;
    let min = r.u16().map_err(truncated(NAME))?;
    let max = r.u16().map_err(truncated(NAME))?;
    Ok(words(min, max, blob[4] != 0))
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let opts = scan(NAME, &[("length", 1)], w)?;
    let [o] = opts.as_slice() else {
        return Err(bad(NAME, "expected one `--length`"));
    };
    let s = &o.args[0];
    let (min, max) = match s.split_once(':') {
        Some((a, b)) => (
            if a.is_empty() { 0 } else { num(NAME, a)? },
            if b.is_empty() {
                u16::MAX
            } else {
                num(NAME, b)?
            },
        ),
        None => {
            let v = num(NAME, s)?;
            (v, v)
        }
    };
    if min > max {
        return Err(bad(NAME, format!("invalid range `{s}`")));
    }
    Ok(words(min, max, o.inv))
}
