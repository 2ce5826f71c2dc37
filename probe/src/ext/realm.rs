//! `-m realm` (IPv4; struct xt_realm_info { u32 id; u32 mask; u8 invert; }). With a full
//! mask iptables prints the realm's name from /etc/iproute2/rt_realms when it has one.

use std::sync::OnceLock;

use super::opts::{Args, bad, parse_val_mask_named, push_inv, read_lmap, sized, tr, val_mask_str};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "realm";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv4),
    decode,
    parse,
};

fn realms() -> &'static [(u32, String)] {
    static MAP: OnceLock<Vec<(u32, String)>> = OnceLock::new();
    MAP.get_or_init(|| read_lmap("/etc/iproute2/rt_realms"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Realm {
    id: u32,
    mask: u32,
    invert: bool,
}

impl Realm {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.invert);
        out.push("--realm".into());
        out.push(val_mask_str(self.id, self.mask, realms()));
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 12)?;
    Ok(Realm {
        id: tr(NAME, r.u32())?,
        mask: tr(NAME, r.u32())?,
        invert: tr(NAME, r.u8())? != 0,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut m = None;
    while let Some((invert, o)) = a.next_opt()? {
        match o {
            "--realm" => {
                let (id, mask) = parse_val_mask_named(NAME, a.value(o)?, realms())?;
                m = Some(Realm { id, mask, invert });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(m.ok_or_else(|| bad(NAME, "--realm is required"))?.words())
}
