//! `-m tos`: revision 0 (IPv4, struct ipt_tos_info { u8 tos; u8 invert; }) and revision 1
//! (struct xt_tos_match_info { u8 tos_mask; u8 tos_value; u8 invert; }). Also the TOS
//! `value[/mask]`-or-symbol syntax the TOS target shares.

use super::opts::{Args, bad, push_inv, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "tos";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

/// `--tos`/`--set-tos` argument: a number with optional `/mask` (mask defaults to 0xff), or a
/// symbolic name whose mask is `symbol_mask` (0x3f for the current revisions).
pub(crate) fn parse_tos(ext: &str, s: &str, symbol_mask: u8) -> Result<(u8, u8), ExtError> {
    const SYMBOLS: &[(&str, u8)] = &[
        ("Minimize-Delay", 0x10),
        ("Maximize-Throughput", 0x08),
        ("Maximize-Reliability", 0x04),
        ("Minimize-Cost", 0x02),
        ("Normal-Service", 0x00),
    ];
    let first = s.split('/').next().unwrap_or(s);
    if super::opts::strtoul0(first).is_some() {
        let (v, m) = super::opts::val_mask(ext, s, 0xff)?;
        return Ok((v as u8, m as u8));
    }
    SYMBOLS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|&(_, v)| (v, symbol_mask))
        .ok_or_else(|| bad(ext, format!("symbolic name `{s}` is unknown")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tos {
    /// Revision 0: value only, printed without a mask.
    V0 {
        tos: u8,
        invert: bool,
    },
    V1 {
        value: u8,
        mask: u8,
        invert: bool,
    },
}

impl Tos {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        match *self {
            Tos::V0 { tos, invert } => {
                push_inv(&mut out, invert);
                out.push("--tos".into());
                out.push(format!("{tos:#04x}"));
            }
            Tos::V1 {
                value,
                mask,
                invert,
            } => {
                push_inv(&mut out, invert);
                out.push("--tos".into());
                out.push(format!("{value:#04x}/{mask:#04x}"));
            }
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = match ctx.revision {
        0 => {
            let mut r = sized(NAME, blob, 2)?;
            Tos::V0 {
                tos: tr(NAME, r.u8())?,
                invert: tr(NAME, r.u8())? != 0,
            }
        }
        1 => {
            let mut r = sized(NAME, blob, 3)?;
            let mask = tr(NAME, r.u8())?;
            let value = tr(NAME, r.u8())?;
            Tos::V1 {
                value,
                mask,
                invert: tr(NAME, r.u8())? != 0,
            }
        }
        rev => return Err(super::opts::unknown_revision(ExtKind::Match, NAME, rev)),
    };
    Ok(t.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut t = None;
    while let Some((invert, o)) = a.next_opt()? {
        match o {
            "--tos" => {
                let (value, mask) = parse_tos(NAME, a.value(o)?, 0x3f)?;
                t = Some(Tos::V1 {
                    value,
                    mask,
                    invert,
                });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(t.ok_or_else(|| bad(NAME, "--tos is required"))?.words())
}
