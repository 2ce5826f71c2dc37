//! `-m ipcomp` (struct xt_ipcomp { u32 spis[2]; u8 invflags; u8 hdrres; }).

use super::esp::Spis;
use super::opts::{Args, known_invflags, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "ipcomp";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ipcomp {
    spis: Spis,
    hdrres: bool,
}

impl Ipcomp {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.spis.push_words(&mut out, "--ipcompspi");
        if self.hdrres {
            out.push("--compres".into());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 10)?;
    let lo = tr(NAME, r.u32())?;
    let hi = tr(NAME, r.u32())?;
    let inv = known_invflags(NAME, blob.len(), tr(NAME, r.u8())?, 1)?;
    let hdrres = tr(NAME, r.u8())? != 0;
    Ok(Ipcomp {
        spis: Spis {
            lo,
            hi,
            invert: inv & 1 != 0,
        },
        hdrres,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = Ipcomp::default();
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--ipcompspi" => c.spis = Spis::parse(NAME, a.value(o)?, inv)?,
            "--compres" => {
                a.no_invert(inv, o)?;
                c.hdrres = true;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(c.words())
}
