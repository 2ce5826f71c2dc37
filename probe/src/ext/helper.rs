//! `-m helper` (struct xt_helper_info { int invert; char name[30]; }).

use super::opts::{Args, bad, push_inv, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, save_string};
use crate::ruleset::Family;

const NAME: &str = "helper";
const NAME_LEN: usize = 30;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Helper {
    name: String,
    invert: bool,
}

impl Helper {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.invert);
        out.push("--helper".into());
        out.push(save_string(&self.name));
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 36)?;
    let invert = tr(NAME, r.u32())? != 0;
    let name = tr(NAME, r.cstr(NAME_LEN))?;
    Ok(Helper { name, invert }.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut h = None;
    while let Some((invert, o)) = a.next_opt()? {
        match o {
            "--helper" => {
                let name = a.value(o)?;
                if name.len() >= NAME_LEN {
                    return Err(bad(NAME, "helper name too long"));
                }
                h = Some(Helper {
                    name: name.to_owned(),
                    invert,
                });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(h.ok_or_else(|| bad(NAME, "--helper is required"))?.words())
}
