//! `-m mh` (IPv6 mobility header; struct ip6t_mh { u8 types[2]; u8 invflags; }).

use super::opts::{Args, bad, known_invflags, push_inv, sized, span, strtoul0, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "mh";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mh {
    lo: u8,
    hi: u8,
    invert: bool,
}

impl Mh {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.lo == 0 && self.hi == 0xff {
            return out;
        }
        push_inv(&mut out, self.invert);
        out.push("--mh-type".into());
        out.push(span(self.lo.into(), self.hi.into()));
        out
    }
}

fn type_value(s: &str) -> Result<u8, ExtError> {
    const NAMES: &[(&str, u8)] = &[
        ("binding-refresh-request", 0),
        ("brr", 0),
        ("home-test-init", 1),
        ("hoti", 1),
        ("careof-test-init", 2),
        ("coti", 2),
        ("home-test", 3),
        ("hot", 3),
        ("careof-test", 4),
        ("cot", 4),
        ("binding-update", 5),
        ("bu", 5),
        ("binding-acknowledgement", 6),
        ("ba", 6),
        ("binding-error", 7),
        ("be", 7),
    ];
    if let Some(v) = strtoul0(s) {
        return u8::try_from(v).map_err(|_| bad(NAME, format!("invalid MH type `{s}`")));
    }
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|&(_, v)| v)
        .ok_or_else(|| bad(NAME, format!("invalid MH type `{s}`")))
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 3)?;
    let lo = tr(NAME, r.u8())?;
    let hi = tr(NAME, r.u8())?;
    let inv = known_invflags(NAME, blob.len(), tr(NAME, r.u8())?, 1)?;
    Ok(Mh {
        lo,
        hi,
        invert: inv & 1 != 0,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut m = Mh {
        lo: 0,
        hi: 0xff,
        invert: false,
    };
    while let Some((invert, o)) = a.next_opt()? {
        match o {
            "--mh-type" => {
                let v = a.value(o)?;
                let (lo, hi) = match v.split_once(':') {
                    None => {
                        let t = type_value(v)?;
                        (t, t)
                    }
                    Some((x, y)) => (
                        if x.is_empty() { 0 } else { type_value(x)? },
                        if y.is_empty() { 0xff } else { type_value(y)? },
                    ),
                };
                if lo > hi {
                    return Err(bad(NAME, "invalid MH type range (min > max)"));
                }
                m = Mh { lo, hi, invert };
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(m.words())
}
