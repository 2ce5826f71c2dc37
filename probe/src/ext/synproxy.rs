//! `-j SYNPROXY` (struct xt_synproxy_info { u8 options; u8 wscale; u16 mss; }).

use super::opts::{Args, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "SYNPROXY";
const OPT_MSS: u8 = 0x01;
const OPT_WSCALE: u8 = 0x02;
const OPT_SACK_PERM: u8 = 0x04;
const OPT_TIMESTAMP: u8 = 0x08;
const OPT_ECN: u8 = 0x10;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Synproxy {
    options: u8,
    wscale: u8,
    mss: u16,
}

impl Synproxy {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.options & OPT_SACK_PERM != 0 {
            out.push("--sack-perm".into());
        }
        if self.options & OPT_TIMESTAMP != 0 {
            out.push("--timestamp".into());
        }
        if self.options & OPT_WSCALE != 0 {
            out.push("--wscale".into());
            out.push(self.wscale.to_string());
        }
        if self.options & OPT_MSS != 0 {
            out.push("--mss".into());
            out.push(self.mss.to_string());
        }
        if self.options & OPT_ECN != 0 {
            out.push("--ecn".into());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 4)?;
    Ok(Synproxy {
        options: tr(NAME, r.u8())?,
        wscale: tr(NAME, r.u8())?,
        mss: tr(NAME, r.u16())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut s = Synproxy::default();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--sack-perm" => s.options |= OPT_SACK_PERM,
            "--timestamp" => s.options |= OPT_TIMESTAMP,
            "--ecn" => s.options |= OPT_ECN,
            "--wscale" => {
                s.options |= OPT_WSCALE;
                // A u32 option stored in a u8, truncated as iptables does.
                s.wscale = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u8;
            }
            "--mss" => {
                s.options |= OPT_MSS;
                s.mss = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u16;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(s.words())
}
