//! `-j CLASSIFY` (struct xt_classify_target_info): `--set-class MAJOR:MINOR` (hex).

use super::args::{bad, need, no_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "CLASSIFY";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

fn words(prio: u32) -> Vec<String> {
    vec![
        "--set-class".into(),
        format!("{:04x}:{:04x}", prio >> 16, prio & 0xffff),
    ]
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = need(NAME, blob, 4)?;
    Ok(words(r.u32().map_err(truncated(NAME))?))
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let opts = scan(NAME, &[("set-class", 1)], w)?;
    let [o] = opts.as_slice() else {
        return Err(bad(NAME, "expected `--set-class MAJOR:MINOR`"));
    };
    no_inv(NAME, o)?;
    let err = || bad(NAME, format!("bad class `{}`", o.args[0]));
    let (a, b) = o.args[0].split_once(':').ok_or_else(err)?;
    let maj = u16::from_str_radix(a, 16).map_err(|_| err())?;
    let min = u16::from_str_radix(b, 16).map_err(|_| err())?;
    Ok(words((u32::from(maj) << 16) | u32::from(min)))
}
