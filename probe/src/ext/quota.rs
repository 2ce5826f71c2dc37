//! `-m quota` (struct xt_quota_info { u32 flags; u32 pad; u64 quota; ptr master; }).

use super::opts::{Args, bad, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "quota";
const XT_QUOTA_INVERT: u32 = 1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quota {
    quota: u64,
    invert: bool,
}

impl Quota {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.invert);
        out.push("--quota".into());
        out.push(self.quota.to_string());
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 24)?;
    let flags = tr(NAME, r.u32())?;
    tr(NAME, r.skip(4))?;
    let quota = tr(NAME, r.u64())?;
    Ok(Quota {
        quota,
        invert: flags & XT_QUOTA_INVERT != 0,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut q = None;
    while let Some((invert, o)) = a.next_opt()? {
        match o {
            "--quota" => {
                let quota = uint(NAME, a.value(o)?, 0, u64::MAX)?;
                q = Some(Quota { quota, invert });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(q.ok_or_else(|| bad(NAME, "--quota is required"))?.words())
}
