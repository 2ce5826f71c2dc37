//! `-m esp` (struct xt_esp { u32 spis[2]; u8 invflags; }). Also the SPI-range helpers that
//! `ah` and `ipcomp` share: the full range 0:0xffffffff prints nothing, even inverted.

use super::opts::{Args, known_invflags, push_inv, range, sized, span, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "esp";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

/// An SPI range with its `!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spis {
    pub lo: u32,
    pub hi: u32,
    pub invert: bool,
}

impl Default for Spis {
    fn default() -> Self {
        Spis {
            lo: 0,
            hi: u32::MAX,
            invert: false,
        }
    }
}

impl Spis {
    pub(crate) fn push_words(&self, out: &mut Vec<String>, opt: &str) {
        if self.lo == 0 && self.hi == u32::MAX {
            return;
        }
        push_inv(out, self.invert);
        out.push(opt.into());
        out.push(span(self.lo.into(), self.hi.into()));
    }

    pub(crate) fn parse(ext: &str, s: &str, invert: bool) -> Result<Self, ExtError> {
        let (lo, hi) = range(ext, s, 0, u32::MAX.into())?;
        Ok(Spis {
            lo: lo as u32,
            hi: hi as u32,
            invert,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Esp {
    spis: Spis,
}

impl Esp {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.spis.push_words(&mut out, "--espspi");
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 9)?;
    let lo = tr(NAME, r.u32())?;
    let hi = tr(NAME, r.u32())?;
    let inv = known_invflags(NAME, blob.len(), tr(NAME, r.u8())?, 1)?;
    Ok(Esp {
        spis: Spis {
            lo,
            hi,
            invert: inv & 1 != 0,
        },
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut e = Esp {
        spis: Spis::default(),
    };
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--espspi" => e.spis = Spis::parse(NAME, a.value(o)?, inv)?,
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(e.words())
}
