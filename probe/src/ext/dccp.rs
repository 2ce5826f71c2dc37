//! `-m dccp` (struct xt_dccp_info { u16 dpts[2], spts[2]; u16 flags, invflags, typemask;
//! u8 option; }).

use super::opts::{Args, bad, parse_port_range, push_inv, sized, span, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "dccp";
const F_SRC: u16 = 0x01;
const F_DST: u16 = 0x02;
const F_TYPE: u16 = 0x04;
const F_OPTION: u16 = 0x08;
const TYPES: [&str; 11] = [
    "REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC",
    "SYNCACK", "INVALID",
];
const PKT_INVALID: usize = 10;
const INVALID_OTHER_TYPE_MASK: u16 = 0xf800;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dccp {
    dpts: (u16, u16),
    spts: (u16, u16),
    flags: u16,
    invflags: u16,
    typemask: u16,
    option: u8,
}

impl Dccp {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (bit, opt, (lo, hi)) in [(F_SRC, "--sport", self.spts), (F_DST, "--dport", self.dpts)] {
            if self.flags & bit != 0 {
                push_inv(&mut out, self.invflags & bit != 0);
                out.push(opt.into());
                out.push(span(lo.into(), hi.into()));
            }
        }
        if self.flags & F_TYPE != 0 {
            push_inv(&mut out, self.invflags & F_TYPE != 0);
            out.push("--dccp-types".into());
            let mut names = Vec::new();
            for i in 0..16 {
                if self.typemask & (1 << i) == 0 {
                    continue;
                }
                names.push(
                    TYPES
                        .get(i)
                        .map_or_else(|| i.to_string(), |n| (*n).to_owned()),
                );
                if i == PKT_INVALID {
                    break;
                }
            }
            out.push(names.join(","));
        }
        if self.flags & F_OPTION != 0 {
            push_inv(&mut out, self.invflags & F_OPTION != 0);
            out.push("--dccp-option".into());
            out.push(self.option.to_string());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 16)?;
    Ok(Dccp {
        dpts: (tr(NAME, r.u16())?, tr(NAME, r.u16())?),
        spts: (tr(NAME, r.u16())?, tr(NAME, r.u16())?),
        flags: tr(NAME, r.u16())?,
        invflags: tr(NAME, r.u16())?,
        typemask: tr(NAME, r.u16())?,
        option: tr(NAME, r.u8())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut d = Dccp {
        dpts: (0, 0xffff),
        spts: (0, 0xffff),
        flags: 0,
        invflags: 0,
        typemask: 0,
        option: 0,
    };
    while let Some((inv, o)) = a.next_opt()? {
        let bit = match o {
            "--sport" | "--source-port" => {
                d.spts = parse_port_range(NAME, a.value(o)?, "dccp")?;
                F_SRC
            }
            "--dport" | "--destination-port" => {
                d.dpts = parse_port_range(NAME, a.value(o)?, "dccp")?;
                F_DST
            }
            "--dccp-types" => {
                let mut mask = 0u16;
                for t in a.value(o)?.split(',').filter(|x| !x.is_empty()) {
                    let i = TYPES
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(t))
                        .ok_or_else(|| bad(NAME, format!("unknown DCCP type `{t}`")))?;
                    mask |= 1 << i;
                }
                if mask & (1 << PKT_INVALID) != 0 {
                    mask |= INVALID_OTHER_TYPE_MASK;
                }
                d.typemask = mask;
                F_TYPE
            }
            "--dccp-option" => {
                d.option = uint(NAME, a.value(o)?, 0, 255)? as u8;
                F_OPTION
            }
            _ => return Err(a.unknown(o)),
        };
        d.flags |= bit;
        if inv {
            d.invflags |= bit;
        }
    }
    Ok(d.words())
}
