//! `-j TTL` (IPv4, struct ipt_TTL_info) and `-j HL` (IPv6, struct ip6t_HL_info): both are
//! `{ u8 mode; u8 value; }` with mode SET/INC/DEC.

use super::opts::{Args, bad, malformed, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

pub static DEF_TTL: ExtDef = ExtDef {
    name: "TTL",
    kind: ExtKind::Target,
    family: Some(Family::Ipv4),
    decode: decode_ttl,
    parse: parse_ttl,
};

pub static DEF_HL: ExtDef = ExtDef {
    name: "HL",
    kind: ExtKind::Target,
    family: Some(Family::Ipv6),
    decode: decode_hl,
    parse: parse_hl,
};

const OPS: [&str; 3] = ["set", "inc", "dec"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Set {
    /// Index into `OPS` (IPT_TTL_SET, _INC, _DEC).
    mode: u8,
    value: u8,
}

impl Set {
    fn words(&self, opt: &str) -> Vec<String> {
        let op = OPS.get(usize::from(self.mode)).copied().unwrap_or("set");
        vec![format!("--{opt}-{op}"), self.value.to_string()]
    }

    fn decode(name: &str, blob: &[u8]) -> Result<Self, ExtError> {
        let mut r = sized(name, blob, 2)?;
        let mode = tr(name, r.u8())?;
        if usize::from(mode) >= OPS.len() {
            return Err(malformed(name, blob.len(), format!("unknown mode {mode}")));
        }
        Ok(Set {
            mode,
            value: tr(name, r.u8())?,
        })
    }

    fn parse(name: &'static str, opt: &str, words: &[String]) -> Result<Self, ExtError> {
        let mut a = Args::new(name, words);
        let mut s = None;
        while let Some((inv, o)) = a.next_opt()? {
            a.no_invert(inv, o)?;
            let mode = o
                .strip_prefix("--")
                .and_then(|x| x.strip_prefix(opt))
                .and_then(|x| x.strip_prefix('-'))
                .and_then(|x| OPS.iter().position(|p| *p == x))
                .ok_or_else(|| a.unknown(o))?;
            let value = uint(name, a.value(o)?, 0, 255)? as u8;
            if mode != 0 && value == 0 {
                return Err(bad(name, "increasing/decreasing by 0?"));
            }
            if s.is_some() {
                return Err(bad(name, "only one option allowed"));
            }
            s = Some(Set {
                mode: mode as u8,
                value,
            });
        }
        s.ok_or_else(|| {
            bad(
                name,
                format!("--{opt}-set, --{opt}-inc or --{opt}-dec is required"),
            )
        })
    }
}

fn decode_ttl(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Set::decode("TTL", blob)?.words("ttl"))
}

fn parse_ttl(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Set::parse("TTL", "ttl", words)?.words("ttl"))
}

fn decode_hl(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Set::decode("HL", blob)?.words("hl"))
}

fn parse_hl(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Set::parse("HL", "hl", words)?.words("hl"))
}
