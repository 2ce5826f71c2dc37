//! `-m pkttype` (struct xt_pkttype_info): `[!] --pkt-type unicast|broadcast|multicast|otherhost`.

use super::args::{bad, need, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "pkttype";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

/// First name per value is the one iptables-save prints.
const TYPES: &[(&str, i32)] = &[
    ("unicast", 0),
    ("broadcast", 1),
    ("multicast", 2),
    ("otherhost", 3),
    ("bcast", 1),
    ("mcast", 2),
    ("host", 0),
];

fn words(t: i32, inv: bool) -> Vec<String> {
    let mut w = Vec::new();
    push_inv(&mut w, inv);
    w.push("--pkt-type".into());
    w.push(
        TYPES
            .iter()
            .find(|(_, v)| *v == t)
            .map(|(n, _)| (*n).to_owned())
            .unwrap_or_else(|| t.to_string()),
    );
    w
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = need(NAME, blob, 8)?;
    let t = r.u32().map_err(truncated(NAME))? as i32;
    let inv = r.u32().map_err(truncated(NAME))? != 0;
    Ok(words(t, inv))
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let opts = scan(NAME, &[("pkt-type", 1)], w)?;
    let [o] = opts.as_slice() else {
        return Err(bad(NAME, "expected one `--pkt-type`"));
    };
    let t = TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&o.args[0]))
        .ok_or_else(|| bad(NAME, format!("bad packet type `{}`", o.args[0])))?;
    Ok(words(t.1, o.inv))
}
