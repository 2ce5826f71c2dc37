//! `-m dst` and `-m hbh` (IPv6 destination / hop-by-hop options; struct ip6t_opts { u32
//! hdrlen; u8 flags; u8 invflags; u16 opts[16]; u8 optsnr; }).

use super::opts::{Args, bad, malformed, push_inv, sized, strtoul0, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const OPTSNR: usize = 16;
const F_LEN: u8 = 0x01;
const F_OPTS: u8 = 0x02;
const INV_LEN: u8 = 0x01;

pub static DEF_DST: ExtDef = ExtDef {
    name: "dst",
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode: decode_dst,
    parse: parse_dst,
};

pub static DEF_HBH: ExtDef = ExtDef {
    name: "hbh",
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode: decode_hbh,
    parse: parse_hbh,
};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Opts {
    hdrlen: u32,
    flags: u8,
    invflags: u8,
    /// `type << 8 | length` (length 0xff: any).
    opts: Vec<u16>,
}

impl Opts {
    /// `p` is `dst` or `hbh`.
    fn words(&self, p: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.flags & F_LEN != 0 {
            push_inv(&mut out, self.invflags & INV_LEN != 0);
            out.push(format!("--{p}-len"));
            out.push(self.hdrlen.to_string());
        }
        if self.flags & F_OPTS != 0 {
            out.push(format!("--{p}-opts"));
        }
        if !self.opts.is_empty() {
            let list: Vec<String> = self
                .opts
                .iter()
                .map(|o| {
                    if o & 0xff != 0xff {
                        format!("{}:{}", o >> 8, o & 0xff)
                    } else {
                        (o >> 8).to_string()
                    }
                })
                .collect();
            out.push(list.join(","));
        }
        out
    }

    fn decode(name: &str, blob: &[u8]) -> Result<Self, ExtError> {
        let mut r = sized(name, blob, 40)?;
        let hdrlen = tr(name, r.u32())?;
        let flags = tr(name, r.u8())?;
        let invflags = tr(name, r.u8())?;
        let mut all = [0u16; OPTSNR];
        for o in &mut all {
            *o = tr(name, r.u16())?;
        }
        let n = usize::from(tr(name, r.u8())?);
        if n > OPTSNR {
            return Err(malformed(
                name,
                blob.len(),
                format!("{n} options, at most {OPTSNR}"),
            ));
        }
        Ok(Opts {
            hdrlen,
            flags,
            invflags,
            opts: all[..n].to_vec(),
        })
    }

    fn parse(name: &'static str, p: &str, words: &[String]) -> Result<Self, ExtError> {
        let mut a = Args::new(name, words);
        let mut o = Opts::default();
        let (len_opt, opts_opt) = (format!("--{p}-len"), format!("--{p}-opts"));
        while let Some((inv, opt)) = a.next_opt()? {
            if opt == len_opt {
                o.hdrlen = uint(name, a.value(opt)?, 0, u32::MAX.into())? as u32;
                o.flags |= F_LEN;
                if inv {
                    o.invflags |= INV_LEN;
                }
            } else if opt == opts_opt {
                a.no_invert(inv, opt)?;
                o.opts = parse_list(name, a.value(opt)?)?;
                o.flags |= F_OPTS;
            } else {
                return Err(a.unknown(opt));
            }
        }
        Ok(o)
    }
}

fn parse_list(name: &str, s: &str) -> Result<Vec<u16>, ExtError> {
    let num = |x: &str| {
        strtoul0(x)
            .filter(|v| *v <= 0xff)
            .ok_or_else(|| bad(name, format!("invalid option `{x}`")))
    };
    let mut out = Vec::new();
    for item in s.split(',') {
        if out.len() == OPTSNR {
            return Err(bad(name, "too many options"));
        }
        let v = match item.split_once(':') {
            Some((t, l)) => {
                let t = num(t)?;
                if t == 0 {
                    return Err(bad(name, "PAD0 hasn't got length"));
                }
                (t << 8) | num(l)?
            }
            None => (num(item)? << 8) | 0xff,
        };
        out.push(v as u16);
    }
    Ok(out)
}

fn decode_dst(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Opts::decode("dst", blob)?.words("dst"))
}

fn parse_dst(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Opts::parse("dst", "dst", words)?.words("dst"))
}

fn decode_hbh(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Opts::decode("hbh", blob)?.words("hbh"))
}

fn parse_hbh(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Opts::parse("hbh", "hbh", words)?.words("hbh"))
}
