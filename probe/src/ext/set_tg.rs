//! `-j SET`, revisions 1-3 (struct xt_set_info_target_v1 { xt_set_info add_set, del_set; },
//! _v2 adds u32 flags, timeout; _v3 adds map_set before them). `xt_set_info` is { u16 index;
//! u8 dim; u8 flags; }; set names come from the ipset resolver of `ext::set`.

use super::opts::{Args, bad, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "SET";
const INVALID_ID: u16 = 65535;
const DIM_MAX: u8 = 6;
const MAXNAMELEN: usize = 32;
const F_EXIST: u32 = 1 << 0;
const F_MAP_MARK: u32 = 1 << 8;
const F_MAP_PRIO: u32 = 1 << 9;
const F_MAP_QUEUE: u32 = 1 << 10;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

/// One set reference: its name (None: unused slot), dimension and src bits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct SetRef {
    name: Option<String>,
    dim: u8,
    flags: u8,
}

impl SetRef {
    fn push(&self, out: &mut Vec<String>, opt: &str) {
        let Some(name) = &self.name else {
            return;
        };
        out.push(opt.into());
        out.push(name.clone());
        let dirs: Vec<&str> = (1..=self.dim)
            .map(|i| {
                if self.flags & (1 << i) != 0 {
                    "src"
                } else {
                    "dst"
                }
            })
            .collect();
        if !dirs.is_empty() {
            out.push(dirs.join(","));
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, ExtError> {
        let index = tr(NAME, r.u16())?;
        let dim = tr(NAME, r.u8())?;
        let flags = tr(NAME, r.u8())?;
        let name = if index == INVALID_ID {
            None
        } else {
            Some(super::set::resolve(index)?)
        };
        Ok(SetRef { name, dim, flags })
    }

    fn parse(name: &str, dirs: &str) -> Result<Self, ExtError> {
        if name.len() > MAXNAMELEN - 1 {
            return Err(bad(NAME, format!("setname `{name}` too long")));
        }
        let mut s = SetRef {
            name: Some(name.to_owned()),
            ..SetRef::default()
        };
        for d in dirs.split(',') {
            if s.dim == DIM_MAX {
                return Err(bad(NAME, "more than 6 src/dst options"));
            }
            s.dim += 1;
            if d.starts_with("src") {
                s.flags |= 1 << s.dim;
            } else if !d.starts_with("dst") {
                return Err(bad(NAME, "directions must be a list of src or dst"));
            }
        }
        Ok(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SetTarget {
    revision: u8,
    add: SetRef,
    del: SetRef,
    map: SetRef,
    flags: u32,
    timeout: u32,
}

impl SetTarget {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.add.push(&mut out, "--add-set");
        if self.revision >= 2 {
            if self.flags & F_EXIST != 0 {
                out.push("--exist".into());
            }
            if self.timeout != u32::MAX {
                out.push("--timeout".into());
                out.push(self.timeout.to_string());
            }
        }
        self.del.push(&mut out, "--del-set");
        if self.revision >= 3 {
            self.map.push(&mut out, "--map-set");
            for (bit, w) in [
                (F_MAP_MARK, "--map-mark"),
                (F_MAP_PRIO, "--map-prio"),
                (F_MAP_QUEUE, "--map-queue"),
            ] {
                if self.flags & bit != 0 {
                    out.push(w.into());
                }
            }
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let size = match ctx.revision {
        1 => 8,
        2 => 16,
        3 => 20,
        rev => return Err(super::opts::unknown_revision(ExtKind::Target, NAME, rev)),
    };
    let mut r = sized(NAME, blob, size)?;
    let add = SetRef::read(&mut r)?;
    let del = SetRef::read(&mut r)?;
    let map = if ctx.revision == 3 {
        SetRef::read(&mut r)?
    } else {
        SetRef::default()
    };
    let (flags, timeout) = if ctx.revision >= 2 {
        (tr(NAME, r.u32())?, tr(NAME, r.u32())?)
    } else {
        (0, u32::MAX)
    };
    Ok(SetTarget {
        revision: ctx.revision,
        add,
        del,
        map,
        flags,
        timeout,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut t = SetTarget {
        revision: 3,
        add: SetRef::default(),
        del: SetRef::default(),
        map: SetRef::default(),
        flags: 0,
        timeout: u32::MAX,
    };
    let (mut exist, mut timeout) = (false, false);
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--add-set" | "--del-set" | "--map-set" => {
                let name = a.value(o)?;
                let dirs = a
                    .optional_value()
                    .filter(|d| !d.starts_with('-'))
                    .ok_or_else(|| bad(NAME, format!("{o} requires two args")))?;
                let s = SetRef::parse(name, dirs)?;
                let slot = match o {
                    "--add-set" => &mut t.add,
                    "--del-set" => &mut t.del,
                    _ => &mut t.map,
                };
                if slot.name.is_some() {
                    return Err(bad(NAME, format!("{o} can be specified only once")));
                }
                *slot = s;
            }
            "--exist" => {
                t.flags |= F_EXIST;
                exist = true;
            }
            "--timeout" => {
                t.timeout = uint(NAME, a.value(o)?, 0, u64::from(u32::MAX) - 1)? as u32;
                timeout = true;
            }
            "--map-mark" => t.flags |= F_MAP_MARK,
            "--map-prio" => t.flags |= F_MAP_PRIO,
            "--map-queue" => t.flags |= F_MAP_QUEUE,
            _ => return Err(a.unknown(o)),
        }
    }
    if t.add.name.is_none() && t.del.name.is_none() && t.map.name.is_none() {
        return Err(bad(
            NAME,
            "you must specify --add-set, --del-set or --map-set",
        ));
    }
    if t.add.name.is_none() && (exist || timeout) {
        return Err(bad(
            NAME,
            "--exist and --timeout can be used with --add-set only",
        ));
    }
    Ok(t.words())
}
