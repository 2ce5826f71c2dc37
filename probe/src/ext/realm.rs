//! `-m realm` (IPv4; struct xt_realm_info { u32 id; u32 mask; u8 invert; }). With a full
//! mask iptables prints the realm's name from /etc/iproute2/rt_realms when it has one.

use std::sync::OnceLock;

use super::opts::{Args, bad, push_inv, sized, strtoul0, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "realm";
const RT_REALMS: &str = "/etc/iproute2/rt_realms";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv4),
    decode,
    parse,
};

/// `id name` lines of rt_realms (what `xtables_lmap_init` reads), loaded once.
fn realms() -> &'static [(u32, String)] {
    static MAP: OnceLock<Vec<(u32, String)>> = OnceLock::new();
    MAP.get_or_init(|| {
        let text = std::fs::read_to_string(RT_REALMS).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let l = l.trim_start();
                if l.starts_with('#') {
                    return None;
                }
                let mut it = l.split_whitespace();
                let id = strtoul0(it.next()?)?;
                let name = it.next()?;
                Some((u32::try_from(id).ok()?, name.to_owned()))
            })
            .collect()
    })
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
        if self.mask != u32::MAX {
            out.push(format!("{:#x}/{:#x}", self.id, self.mask));
        } else if let Some((_, n)) = realms().iter().find(|(i, _)| *i == self.id) {
            out.push(n.clone());
        } else {
            out.push(format!("{:#x}", self.id));
        }
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
                let v = a.value(o)?;
                let (id, mask) = match v.split_once('/') {
                    Some((i, k)) => (
                        uint(NAME, i, 0, u32::MAX.into())? as u32,
                        uint(NAME, k, 0, u32::MAX.into())? as u32,
                    ),
                    None => match strtoul0(v) {
                        Some(i) => (
                            u32::try_from(i).map_err(|_| bad(NAME, "realm out of range"))?,
                            u32::MAX,
                        ),
                        None => {
                            let id = realms()
                                .iter()
                                .find(|(_, n)| n == v)
                                .map(|(i, _)| *i)
                                .ok_or_else(|| bad(NAME, format!("unknown realm `{v}`")))?;
                            (id, u32::MAX)
                        }
                    },
                };
                m = Some(Realm { id, mask, invert });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(m.ok_or_else(|| bad(NAME, "--realm is required"))?.words())
}
