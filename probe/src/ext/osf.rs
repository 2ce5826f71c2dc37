//! `-m osf` (struct nf_osf_info { char genre[32]; u32 len, flags, loglevel, ttl; }).

use super::opts::{Args, bad, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "osf";
const GENRE_LEN: usize = 32;
const F_TTL: u32 = 1 << 1;
const F_LOG: u32 = 1 << 2;
const F_INVERT: u32 = 1 << 3;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Osf {
    genre: String,
    flags: u32,
    loglevel: u32,
    ttl: u32,
}

impl Osf {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.flags & F_INVERT != 0);
        out.push("--genre".into());
        out.push(self.genre.clone());
        if self.flags & F_TTL != 0 {
            out.push("--ttl".into());
            out.push(self.ttl.to_string());
        }
        if self.flags & F_LOG != 0 {
            out.push("--log".into());
            out.push(self.loglevel.to_string());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 48)?;
    let genre = tr(NAME, r.cstr(GENRE_LEN))?;
    tr(NAME, r.skip(4))?;
    Ok(Osf {
        genre,
        flags: tr(NAME, r.u32())?,
        loglevel: tr(NAME, r.u32())?,
        ttl: tr(NAME, r.u32())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut s = Osf::default();
    let mut genre = false;
    while let Some((inv, o)) = a.next_opt()? {
        let v = a.value(o)?;
        match o {
            "--genre" => {
                if v.len() >= GENRE_LEN {
                    return Err(bad(NAME, "genre too long"));
                }
                s.genre = v.to_owned();
                genre = true;
                if inv {
                    s.flags |= F_INVERT;
                }
            }
            "--ttl" => {
                a.no_invert(inv, o)?;
                s.ttl = uint(NAME, v, 0, 2)? as u32;
                s.flags |= F_TTL;
            }
            "--log" => {
                a.no_invert(inv, o)?;
                s.loglevel = uint(NAME, v, 0, 2)? as u32;
                s.flags |= F_LOG;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if !genre {
        return Err(bad(NAME, "--genre is required"));
    }
    Ok(s.words())
}
