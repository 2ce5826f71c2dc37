//! `-j SECMARK`, revision 0 (struct xt_secmark_target_info { u8 mode; u32 secid; char
//! secctx[256]; }) and 1 (u8 mode; char secctx[256]; u32 secid).

use super::opts::{Args, bad, malformed, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "SECMARK";
const CTX_MAX: usize = 256;
const MODE_SEL: u8 = 1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

fn words(ctx: &str) -> Vec<String> {
    vec!["--selctx".into(), ctx.to_owned()]
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 264)?;
    let mode = tr(NAME, r.u8())?;
    let secctx = match ctx.revision {
        0 => {
            tr(NAME, r.skip(7))?;
            tr(NAME, r.cstr(CTX_MAX))?
        }
        1 => tr(NAME, r.cstr(CTX_MAX))?,
        rev => return Err(super::opts::unknown_revision(ExtKind::Target, NAME, rev)),
    };
    if mode != MODE_SEL {
        return Err(malformed(NAME, blob.len(), format!("invalid mode {mode}")));
    }
    Ok(words(&secctx))
}

fn parse(_f: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, w);
    let mut c = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--selctx" => {
                let v = a.value(o)?;
                if v.len() >= CTX_MAX {
                    return Err(bad(NAME, "context too long"));
                }
                c = Some(v.to_owned());
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(words(&c.ok_or_else(|| bad(NAME, "--selctx is required"))?))
}
