//! `-m cgroup`: revision 0 (struct xt_cgroup_info_v0 { u32 id; u32 invert; }), 1 (flags,
//! char path[PATH_MAX], u32 classid, ptr) and 2 (flags, union { char path[512]; u32
//! classid; }, ptr).

use super::opts::{Args, bad, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, save_string};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "cgroup";
const PATH_MAX: usize = 4096;
const PATH_MAX_V2: usize = 512;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Cgroup {
    path: Option<(String, bool)>,
    classid: Option<(u32, bool)>,
}

impl Cgroup {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((p, inv)) = &self.path {
            push_inv(&mut out, *inv);
            out.push("--path".into());
            out.push(save_string(p));
        }
        if let Some((c, inv)) = self.classid {
            push_inv(&mut out, inv);
            out.push("--cgroup".into());
            out.push(c.to_string());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let c = match ctx.revision {
        0 => {
            let mut r = sized(NAME, blob, 8)?;
            let id = tr(NAME, r.u32())?;
            let inv = tr(NAME, r.u32())? != 0;
            Cgroup {
                path: None,
                classid: Some((id, inv)),
            }
        }
        1 | 2 => {
            let v2 = ctx.revision == 2;
            let mut r = sized(NAME, blob, if v2 { 528 } else { 4112 })?;
            let has_path = tr(NAME, r.u8())? != 0;
            let has_classid = tr(NAME, r.u8())? != 0;
            let inv_path = tr(NAME, r.u8())? != 0;
            let inv_classid = tr(NAME, r.u8())? != 0;
            let area = tr(NAME, r.bytes(if v2 { PATH_MAX_V2 } else { PATH_MAX }))?;
            let path = tr(NAME, Reader::new(area).cstr(area.len()))?;
            // v2 keeps the classid in the path's union; v1 after the path.
            let classid = if v2 {
                tr(NAME, Reader::new(area).u32())?
            } else {
                tr(NAME, r.u32())?
            };
            Cgroup {
                path: has_path.then_some((path, inv_path)),
                classid: has_classid.then_some((classid, inv_classid)),
            }
        }
        rev => return Err(super::opts::unknown_revision(ExtKind::Match, NAME, rev)),
    };
    Ok(c.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = Cgroup::default();
    while let Some((inv, o)) = a.next_opt()? {
        let v = a.value(o)?;
        match o {
            "--path" => {
                if v.len() >= PATH_MAX_V2 {
                    return Err(bad(NAME, "path too long"));
                }
                c.path = Some((v.to_owned(), inv));
            }
            "--cgroup" => c.classid = Some((uint(NAME, v, 0, u32::MAX.into())? as u32, inv)),
            _ => return Err(a.unknown(o)),
        }
    }
    if c.path.is_some() && c.classid.is_some() {
        return Err(bad(NAME, "--path and --cgroup are exclusive"));
    }
    if c.path.is_none() && c.classid.is_none() {
        return Err(bad(NAME, "--path or --cgroup is required"));
    }
    Ok(c.words())
}
