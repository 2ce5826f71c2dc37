//! `-m physdev` (struct xt_physdev_info): bridge port matching.

use super::args::{bad, need, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "physdev";
const OP_IN: u8 = 0x01;
const OP_OUT: u8 = 0x02;
const OP_BRIDGED: u8 = 0x04;
const OP_ISIN: u8 = 0x08;
const OP_ISOUT: u8 = 0x10;
const IFNAMSIZ: usize = 16;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Default)]
struct Physdev {
    indev: String,
    outdev: String,
    invert: u8,
    bitmask: u8,
}

impl Physdev {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        let opt = |w: &mut Vec<String>, bit: u8, name: &str, arg: Option<&str>| {
            if self.bitmask & bit != 0 {
                push_inv(w, self.invert & bit != 0);
                w.push(name.into());
                if let Some(a) = arg {
                    w.push(a.into());
                }
            }
        };
        opt(&mut w, OP_ISIN, "--physdev-is-in", None);
        opt(&mut w, OP_IN, "--physdev-in", Some(&self.indev));
        opt(&mut w, OP_ISOUT, "--physdev-is-out", None);
        opt(&mut w, OP_OUT, "--physdev-out", Some(&self.outdev));
        opt(&mut w, OP_BRIDGED, "--physdev-is-bridged", None);
        w
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    need(NAME, blob, 4 * IFNAMSIZ + 2)?;
    let name = |off: usize| {
        Reader::new(&blob[off..off + IFNAMSIZ])
            .cstr(IFNAMSIZ)
            .unwrap_or_default()
    };
    Ok(Physdev {
        indev: name(0),
        outdev: name(2 * IFNAMSIZ),
        invert: blob[4 * IFNAMSIZ],
        bitmask: blob[4 * IFNAMSIZ + 1],
    }
    .words())
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("physdev-in", 1),
        ("physdev-out", 1),
        ("physdev-is-in", 0),
        ("physdev-is-out", 0),
        ("physdev-is-bridged", 0),
    ];
    let mut p = Physdev::default();
    for o in scan(NAME, &specs, words)? {
        let bit = match o.name {
            "physdev-in" => {
                p.indev = iface(&o.args[0])?;
                OP_IN
            }
            "physdev-out" => {
                p.outdev = iface(&o.args[0])?;
                OP_OUT
            }
            "physdev-is-in" => OP_ISIN,
            "physdev-is-out" => OP_ISOUT,
            _ => OP_BRIDGED,
        };
        p.bitmask |= bit;
        if o.inv {
            p.invert |= bit;
        }
    }
    if p.bitmask == 0 {
        return Err(bad(NAME, "no option given"));
    }
    Ok(p.words())
}

fn iface(s: &str) -> Result<String, ExtError> {
    if s.is_empty() || s.len() >= IFNAMSIZ {
        return Err(bad(NAME, format!("bad interface name `{s}`")));
    }
    Ok(s.to_owned())
}
