//! `-m tcpmss` (struct xt_tcpmss_match_info { u16 mss_min, mss_max; u8 invert; }).

use super::opts::{Args, bad, push_inv, range, sized, span, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "tcpmss";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tcpmss {
    min: u16,
    max: u16,
    invert: bool,
}

impl Tcpmss {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.invert);
        out.push("--mss".into());
        out.push(span(self.min.into(), self.max.into()));
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 6)?;
    Ok(Tcpmss {
        min: tr(NAME, r.u16())?,
        max: tr(NAME, r.u16())?,
        invert: tr(NAME, r.u8())? != 0,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut m = None;
    while let Some((invert, o)) = a.next_opt()? {
        match o {
            "--mss" => {
                let (lo, hi) = range(NAME, a.value(o)?, 0, 0xffff)?;
                m = Some(Tcpmss {
                    min: lo as u16,
                    max: hi as u16,
                    invert,
                });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(m.ok_or_else(|| bad(NAME, "--mss is required"))?.words())
}
