//! `-m frag` (IPv6; struct ip6t_frag { u32 ids[2]; u32 hdrlen; u8 flags; u8 invflags; }).

use super::esp::Spis;
use super::opts::{Args, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "frag";
const F_IDS: u8 = 0x01;
const F_LEN: u8 = 0x02;
const F_RES: u8 = 0x04;
const F_FST: u8 = 0x08;
const F_MF: u8 = 0x10;
const F_NMF: u8 = 0x20;
const INV_IDS: u8 = 0x01;
const INV_LEN: u8 = 0x02;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frag {
    ids: Spis,
    hdrlen: u32,
    flags: u8,
    invflags: u8,
}

impl Frag {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.ids.push_words(&mut out, "--fragid");
        if self.flags & F_LEN != 0 {
            push_inv(&mut out, self.invflags & INV_LEN != 0);
            out.push("--fraglen".into());
            out.push(self.hdrlen.to_string());
        }
        for (bit, w) in [
            (F_RES, "--fragres"),
            (F_FST, "--fragfirst"),
            (F_MF, "--fragmore"),
            (F_NMF, "--fraglast"),
        ] {
            if self.flags & bit != 0 {
                out.push(w.into());
            }
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 14)?;
    let lo = tr(NAME, r.u32())?;
    let hi = tr(NAME, r.u32())?;
    let hdrlen = tr(NAME, r.u32())?;
    let flags = tr(NAME, r.u8())?;
    let invflags = tr(NAME, r.u8())?;
    Ok(Frag {
        ids: Spis {
            lo,
            hi,
            invert: invflags & INV_IDS != 0,
        },
        hdrlen,
        flags,
        invflags,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut f = Frag {
        ids: Spis::default(),
        hdrlen: 0,
        flags: 0,
        invflags: 0,
    };
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--fragid" => {
                f.ids = Spis::parse(NAME, a.value(o)?, inv)?;
                f.flags |= F_IDS;
                if inv {
                    f.invflags |= INV_IDS;
                }
            }
            "--fraglen" => {
                f.hdrlen = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
                f.flags |= F_LEN;
                if inv {
                    f.invflags |= INV_LEN;
                }
            }
            _ => {
                a.no_invert(inv, o)?;
                f.flags |= match o {
                    "--fragres" => F_RES,
                    "--fragfirst" => F_FST,
                    "--fragmore" => F_MF,
                    "--fraglast" => F_NMF,
                    _ => return Err(a.unknown(o)),
                };
            }
        }
    }
    Ok(f.words())
}
