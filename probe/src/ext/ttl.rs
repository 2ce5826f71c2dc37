//! `-m ttl` (IPv4, struct ipt_ttl_info) and `-m hl` (IPv6, struct ip6t_hl_info): both are
//! `{ u8 mode; u8 value; }` with mode EQ/NE/LT/GT.

use super::opts::{Args, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

pub static DEF_TTL: ExtDef = ExtDef {
    name: "ttl",
    kind: ExtKind::Match,
    family: Some(Family::Ipv4),
    decode: decode_ttl,
    parse: parse_ttl,
};

pub static DEF_HL: ExtDef = ExtDef {
    name: "hl",
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode: decode_hl,
    parse: parse_hl,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Eq,
    Ne,
    Lt,
    Gt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cmp {
    mode: Mode,
    value: u8,
}

impl Cmp {
    /// `opt` is `ttl` or `hl`.
    fn words(&self, opt: &str) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.mode == Mode::Ne);
        let op = match self.mode {
            Mode::Eq | Mode::Ne => "eq",
            Mode::Lt => "lt",
            Mode::Gt => "gt",
        };
        out.push(format!("--{opt}-{op}"));
        out.push(self.value.to_string());
        out
    }

    fn decode(name: &str, blob: &[u8]) -> Result<Self, ExtError> {
        let mut r = sized(name, blob, 2)?;
        let mode = match tr(name, r.u8())? {
            0 => Mode::Eq,
            1 => Mode::Ne,
            2 => Mode::Lt,
            3 => Mode::Gt,
            m => {
                return Err(super::opts::malformed(
                    name,
                    blob.len(),
                    format!("unknown mode {m}"),
                ));
            }
        };
        Ok(Cmp {
            mode,
            value: tr(name, r.u8())?,
        })
    }

    fn parse(name: &'static str, opt: &str, words: &[String]) -> Result<Self, ExtError> {
        let mut a = Args::new(name, words);
        let mut out = None;
        while let Some((inv, o)) = a.next_opt()? {
            let mode = match o.strip_prefix("--").and_then(|s| s.strip_prefix(opt)) {
                Some("-eq") if inv => Mode::Ne,
                Some("-eq") => Mode::Eq,
                Some("-lt") => Mode::Lt,
                Some("-gt") => Mode::Gt,
                _ => return Err(a.unknown(o)),
            };
            if mode != Mode::Ne {
                a.no_invert(inv, o)?;
            }
            if out.is_some() {
                return Err(super::opts::bad(name, "only one comparison allowed"));
            }
            let value = uint(name, a.value(o)?, 0, 255)? as u8;
            out = Some(Cmp { mode, value });
        }
        out.ok_or_else(|| super::opts::bad(name, format!("one of --{opt}-eq/-lt/-gt is required")))
    }
}

fn decode_ttl(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Cmp::decode("ttl", blob)?.words("ttl"))
}

fn parse_ttl(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Cmp::parse("ttl", "ttl", words)?.words("ttl"))
}

fn decode_hl(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Cmp::decode("hl", blob)?.words("hl"))
}

fn parse_hl(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Cmp::parse("hl", "hl", words)?.words("hl"))
}
