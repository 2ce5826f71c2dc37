//! `-j AUDIT` (struct xt_audit_info { u8 type; }).

use super::opts::{Args, bad, malformed, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "AUDIT";
const TYPES: [&str; 3] = ["accept", "drop", "reject"];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Audit {
    /// Index into `TYPES`; anything else prints no option, as iptables does.
    kind: u8,
}

impl Audit {
    fn words(&self) -> Vec<String> {
        match TYPES.get(usize::from(self.kind)) {
            Some(t) => vec!["--type".into(), (*t).into()],
            None => Vec::new(),
        }
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 1)?;
    let kind = tr(NAME, r.u8())?;
    if usize::from(kind) >= TYPES.len() {
        return Err(malformed(NAME, blob.len(), format!("unknown type {kind}")));
    }
    Ok(Audit { kind }.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut t = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--type" => {
                let v = a.value(o)?;
                let i = TYPES
                    .iter()
                    .position(|t| t.eq_ignore_ascii_case(v))
                    .ok_or_else(|| bad(NAME, format!("bad action type `{v}`")))?;
                t = Some(Audit { kind: i as u8 });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(t.ok_or_else(|| bad(NAME, "--type is required"))?.words())
}
