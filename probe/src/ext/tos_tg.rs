//! `-j TOS`: revision 0 (IPv4, struct ipt_tos_target_info { u8 tos; }) and revision 1
//! (struct xt_tos_target_info { u8 tos_value; u8 tos_mask; }). `--and-tos`, `--or-tos` and
//! `--xor-tos` are stored as value/mask pairs and printed as `--set-tos`.

use super::opts::{Args, bad, sized, tr, uint};
use super::tos::parse_tos;
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "TOS";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tos {
    V0(u8),
    V1 { value: u8, mask: u8 },
}

impl Tos {
    fn words(&self) -> Vec<String> {
        let v = match *self {
            Tos::V0(t) => format!("{t:#04x}"),
            Tos::V1 { value, mask } => format!("{value:#04x}/{mask:#04x}"),
        };
        vec!["--set-tos".into(), v]
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = match ctx.revision {
        0 => Tos::V0(tr(NAME, sized(NAME, blob, 1)?.u8())?),
        1 => {
            let mut r = sized(NAME, blob, 2)?;
            let value = tr(NAME, r.u8())?;
            let mask = tr(NAME, r.u8())?;
            Tos::V1 { value, mask }
        }
        rev => return Err(super::opts::unknown_revision(ExtKind::Target, NAME, rev)),
    };
    Ok(t.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut t = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = a.value(o)?;
        let (value, mask) = match o {
            "--set-tos" => parse_tos(NAME, v, 0x3f)?,
            "--and-tos" => (0, !(uint(NAME, v, 0, 255)? as u8)),
            "--or-tos" => {
                let x = uint(NAME, v, 0, 255)? as u8;
                (x, x)
            }
            "--xor-tos" => (uint(NAME, v, 0, 255)? as u8, 0),
            _ => return Err(a.unknown(o)),
        };
        if t.is_some() {
            return Err(bad(NAME, "only one TOS action allowed"));
        }
        t = Some(Tos::V1 { value, mask });
    }
    Ok(t.ok_or_else(|| bad(NAME, "a TOS action is required"))?
        .words())
}
