//! `-m rt` (IPv6 routing header; struct ip6t_rt { u32 rt_type; u32 segsleft[2]; u32 hdrlen;
//! u8 flags; u8 invflags; in6_addr addrs[16]; u8 addrnr; }).

use super::esp::Spis;
use super::opts::{Args, addr_str, bad, malformed, parse_addr, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "rt";
const HOPS: usize = 16;
const F_TYP: u8 = 0x01;
const F_SGS: u8 = 0x02;
const F_LEN: u8 = 0x04;
const F_RES: u8 = 0x08;
const F_FST: u8 = 0x10;
const F_NSTRICT: u8 = 0x20;
const INV_TYP: u8 = 0x01;
const INV_SGS: u8 = 0x02;
const INV_LEN: u8 = 0x04;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rt {
    rt_type: u32,
    segsleft: Spis,
    hdrlen: u32,
    flags: u8,
    invflags: u8,
    addrs: Vec<[u8; 16]>,
}

impl Rt {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.flags & F_TYP != 0 {
            push_inv(&mut out, self.invflags & INV_TYP != 0);
            out.push("--rt-type".into());
            out.push(self.rt_type.to_string());
        }
        self.segsleft.push_words(&mut out, "--rt-segsleft");
        if self.flags & F_LEN != 0 {
            push_inv(&mut out, self.invflags & INV_LEN != 0);
            out.push("--rt-len".into());
            out.push(self.hdrlen.to_string());
        }
        if self.flags & F_RES != 0 {
            out.push("--rt-0-res".into());
        }
        if self.flags & F_FST != 0 {
            out.push("--rt-0-addrs".into());
        }
        if !self.addrs.is_empty() {
            let list: Vec<String> = self.addrs.iter().map(|a| addr_str(a)).collect();
            out.push(list.join(","));
        }
        if self.flags & F_NSTRICT != 0 {
            out.push("--rt-0-not-strict".into());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 280)?;
    let rt_type = tr(NAME, r.u32())?;
    let lo = tr(NAME, r.u32())?;
    let hi = tr(NAME, r.u32())?;
    let hdrlen = tr(NAME, r.u32())?;
    let flags = tr(NAME, r.u8())?;
    let invflags = tr(NAME, r.u8())?;
    tr(NAME, r.skip(2))?;
    let mut all = Vec::with_capacity(HOPS);
    for _ in 0..HOPS {
        all.push(tr(NAME, r.array::<16>())?);
    }
    let n = usize::from(tr(NAME, r.u8())?);
    if n > HOPS {
        return Err(malformed(
            NAME,
            blob.len(),
            format!("{n} addresses, at most {HOPS}"),
        ));
    }
    all.truncate(n);
    Ok(Rt {
        rt_type,
        segsleft: Spis {
            lo,
            hi,
            invert: invflags & INV_SGS != 0,
        },
        hdrlen,
        flags,
        invflags,
        addrs: all,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut rt = Rt {
        rt_type: 0,
        segsleft: Spis::default(),
        hdrlen: 0,
        flags: 0,
        invflags: 0,
        addrs: Vec::new(),
    };
    let type0 = |rt: &Rt| rt.flags & F_TYP != 0 && rt.rt_type == 0 && rt.invflags & INV_TYP == 0;
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--rt-type" => {
                rt.rt_type = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
                rt.flags |= F_TYP;
                if inv {
                    rt.invflags |= INV_TYP;
                }
            }
            "--rt-segsleft" => {
                rt.segsleft = Spis::parse(NAME, a.value(o)?, inv)?;
                rt.flags |= F_SGS;
                if inv {
                    rt.invflags |= INV_SGS;
                }
            }
            "--rt-len" => {
                rt.hdrlen = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
                rt.flags |= F_LEN;
                if inv {
                    rt.invflags |= INV_LEN;
                }
            }
            "--rt-0-res" => {
                a.no_invert(inv, o)?;
                if !type0(&rt) {
                    return Err(bad(NAME, "`--rt-type 0' required before `--rt-0-res'"));
                }
                rt.flags |= F_RES;
            }
            "--rt-0-addrs" => {
                a.no_invert(inv, o)?;
                if !type0(&rt) {
                    return Err(bad(NAME, "`--rt-type 0' required before `--rt-0-addrs'"));
                }
                let list = a.value(o)?;
                rt.addrs = list
                    .split(',')
                    .map(|x| parse_addr::<16>(NAME, x))
                    .collect::<Result<_, _>>()?;
                if rt.addrs.len() > HOPS {
                    return Err(bad(NAME, "too many addresses specified"));
                }
                rt.flags |= F_FST;
            }
            "--rt-0-not-strict" => {
                a.no_invert(inv, o)?;
                if rt.flags & F_FST == 0 {
                    return Err(bad(
                        NAME,
                        "`--rt-0-addrs' required before `--rt-0-not-strict'",
                    ));
                }
                rt.flags |= F_NSTRICT;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(rt.words())
}
