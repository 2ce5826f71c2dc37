//! `-m ah`: IPv4 (struct ipt_ah { u32 spis[2]; u8 invflags; }) and IPv6 (struct ip6t_ah
//! { u32 spis[2]; u32 hdrlen; u8 hdrres; u8 invflags; }, with `--ahlen` and `--ahres`).

use super::esp::Spis;
use super::opts::{Args, known_invflags, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "ah";

pub static DEF4: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv4),
    decode: decode4,
    parse: parse_any,
};

pub static DEF6: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode: decode6,
    parse: parse_any,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ah {
    spis: Spis,
    /// IPv6 only.
    hdrlen: u32,
    len_invert: bool,
    hdrres: bool,
}

impl Ah {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.spis.push_words(&mut out, "--ahspi");
        if self.hdrlen != 0 || self.len_invert {
            push_inv(&mut out, self.len_invert);
            out.push("--ahlen".into());
            out.push(self.hdrlen.to_string());
        }
        if self.hdrres {
            out.push("--ahres".into());
        }
        out
    }
}

fn decode4(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 9)?;
    let lo = tr(NAME, r.u32())?;
    let hi = tr(NAME, r.u32())?;
    let inv = known_invflags(NAME, blob.len(), tr(NAME, r.u8())?, 1)?;
    Ok(Ah {
        spis: Spis {
            lo,
            hi,
            invert: inv & 1 != 0,
        },
        ..Ah::default()
    }
    .words())
}

fn decode6(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 14)?;
    let lo = tr(NAME, r.u32())?;
    let hi = tr(NAME, r.u32())?;
    let hdrlen = tr(NAME, r.u32())?;
    let hdrres = tr(NAME, r.u8())? != 0;
    let inv = known_invflags(NAME, blob.len(), tr(NAME, r.u8())?, 3)?;
    Ok(Ah {
        spis: Spis {
            lo,
            hi,
            invert: inv & 1 != 0,
        },
        hdrlen,
        len_invert: inv & 2 != 0,
        hdrres,
    }
    .words())
}

fn parse_any(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut ah = Ah::default();
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--ahspi" => ah.spis = Spis::parse(NAME, a.value(o)?, inv)?,
            "--ahlen" if family == Family::Ipv6 => {
                ah.hdrlen = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
                ah.len_invert = inv;
            }
            "--ahres" if family == Family::Ipv6 => {
                a.no_invert(inv, o)?;
                ah.hdrres = true;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(ah.words())
}
