//! `-m devgroup` (struct xt_devgroup_info { u32 flags, src_group, src_mask, dst_group,
//! dst_mask; }); group names from /etc/iproute2/group with a full mask.

use std::sync::OnceLock;

use super::opts::{Args, bad, parse_val_mask_named, push_inv, read_lmap, sized, tr, val_mask_str};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "devgroup";
const MATCH_SRC: u32 = 0x1;
const INVERT_SRC: u32 = 0x2;
const MATCH_DST: u32 = 0x4;
const INVERT_DST: u32 = 0x8;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

fn groups() -> &'static [(u32, String)] {
    static MAP: OnceLock<Vec<(u32, String)>> = OnceLock::new();
    MAP.get_or_init(|| read_lmap("/etc/iproute2/group"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Devgroup {
    flags: u32,
    src: (u32, u32),
    dst: (u32, u32),
}

impl Devgroup {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (m, i, opt, (v, k)) in [
            (MATCH_SRC, INVERT_SRC, "--src-group", self.src),
            (MATCH_DST, INVERT_DST, "--dst-group", self.dst),
        ] {
            if self.flags & m != 0 {
                push_inv(&mut out, self.flags & i != 0);
                out.push(opt.into());
                out.push(val_mask_str(v, k, groups()));
            }
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 20)?;
    Ok(Devgroup {
        flags: tr(NAME, r.u32())?,
        src: (tr(NAME, r.u32())?, tr(NAME, r.u32())?),
        dst: (tr(NAME, r.u32())?, tr(NAME, r.u32())?),
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut d = Devgroup::default();
    while let Some((inv, o)) = a.next_opt()? {
        let vm = parse_val_mask_named(NAME, a.value(o)?, groups())?;
        match o {
            "--src-group" => {
                d.src = vm;
                d.flags |= MATCH_SRC | if inv { INVERT_SRC } else { 0 };
            }
            "--dst-group" => {
                d.dst = vm;
                d.flags |= MATCH_DST | if inv { INVERT_DST } else { 0 };
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if d.flags == 0 {
        return Err(bad(NAME, "--src-group or --dst-group is required"));
    }
    Ok(d.words())
}
