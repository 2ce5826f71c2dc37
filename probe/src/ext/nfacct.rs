//! `-m nfacct`, revisions 0 and 1 (struct xt_nfacct_match_info { char name[32]; ptr; }).

use super::opts::{Args, bad, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, save_string};
use crate::ruleset::Family;

const NAME: &str = "nfacct";
const NAME_MAX: usize = 32;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

fn words(name: &str) -> Vec<String> {
    vec!["--nfacct-name".into(), save_string(name)]
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    if ctx.revision > 1 {
        return Err(super::opts::unknown_revision(
            ExtKind::Match,
            NAME,
            ctx.revision,
        ));
    }
    let mut r = sized(NAME, blob, 40)?;
    Ok(words(&tr(NAME, r.cstr(NAME_MAX))?))
}

fn parse(_f: Family, words_in: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words_in);
    let mut n = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--nfacct-name" => {
                let v = a.value(o)?;
                if v.len() >= NAME_MAX {
                    return Err(bad(NAME, "name too long"));
                }
                n = Some(v.to_owned());
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(words(
        &n.ok_or_else(|| bad(NAME, "--nfacct-name is required"))?,
    ))
}
