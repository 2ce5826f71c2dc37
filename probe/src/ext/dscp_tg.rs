//! `-j DSCP` (struct xt_DSCP_info { u8 dscp; }).

use super::dscp::class_value;
use super::opts::{Args, bad, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "DSCP";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dscp(u8);

impl Dscp {
    fn words(&self) -> Vec<String> {
        vec!["--set-dscp".into(), format!("{:#04x}", self.0)]
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 1)?;
    Ok(Dscp(tr(NAME, r.u8())?).words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut d = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = match o {
            "--set-dscp" => uint(NAME, a.value(o)?, 0, 0x3f)? as u8,
            "--set-dscp-class" => {
                let v = a.value(o)?;
                class_value(v).ok_or_else(|| bad(NAME, format!("unknown DSCP class `{v}`")))?
            }
            _ => return Err(a.unknown(o)),
        };
        if d.is_some() {
            return Err(bad(NAME, "--set-dscp and --set-dscp-class are exclusive"));
        }
        d = Some(Dscp(v));
    }
    Ok(
        d.ok_or_else(|| bad(NAME, "--set-dscp or --set-dscp-class is required"))?
            .words(),
    )
}
