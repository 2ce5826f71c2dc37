//! `-m addrtype` (xt_addrtype_info rev 0, xt_addrtype_info_v1 rev 1).

use super::args::{bad, need, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "addrtype";
const INV_SRC: u32 = 0x1;
const INV_DST: u32 = 0x2;
const LIMIT_IN: u32 = 0x4;
const LIMIT_OUT: u32 = 0x8;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

const TYPES: &[&str] = &[
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
];

#[derive(Default)]
struct Addrtype {
    source: u16,
    dest: u16,
    flags: u32,
}

fn types(mask: u16) -> String {
    TYPES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

impl Addrtype {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.source != 0 {
            push_inv(&mut w, self.flags & INV_SRC != 0);
            w.push("--src-type".into());
            w.push(types(self.source));
        }
        if self.dest != 0 {
            push_inv(&mut w, self.flags & INV_DST != 0);
            w.push("--dst-type".into());
            w.push(types(self.dest));
        }
        if self.flags & LIMIT_IN != 0 {
            w.push("--limit-iface-in".into());
        }
        if self.flags & LIMIT_OUT != 0 {
            w.push("--limit-iface-out".into());
        }
        w
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(NAME)(e);
    let a = match ctx.revision {
        0 => {
            let mut r = need(NAME, blob, 12)?;
            let source = r.u16().map_err(t)?;
            let dest = r.u16().map_err(t)?;
            let is = r.u32().map_err(t)?;
            let id = r.u32().map_err(t)?;
            Addrtype {
                source,
                dest,
                flags: if is != 0 { INV_SRC } else { 0 } | if id != 0 { INV_DST } else { 0 },
            }
        }
        1 => {
            let mut r = need(NAME, blob, 8)?;
            Addrtype {
                source: r.u16().map_err(t)?,
                dest: r.u16().map_err(t)?,
                flags: r.u32().map_err(t)?,
            }
        }
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Match,
                NAME,
                revision,
            ));
        }
    };
    Ok(a.words())
}

fn parse_types(s: &str) -> Result<u16, ExtError> {
    let mut m = 0;
    for part in s.split(',') {
        let i = TYPES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(part))
            .ok_or_else(|| bad(NAME, format!("unknown address type `{part}`")))?;
        m |= 1 << i;
    }
    Ok(m)
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("src-type", 1),
        ("dst-type", 1),
        ("limit-iface-in", 0),
        ("limit-iface-out", 0),
    ];
    let mut a = Addrtype::default();
    for o in scan(NAME, &specs, words)? {
        match o.name {
            "src-type" => {
                a.source = parse_types(&o.args[0])?;
                if o.inv {
                    a.flags |= INV_SRC;
                }
            }
            "dst-type" => {
                a.dest = parse_types(&o.args[0])?;
                if o.inv {
                    a.flags |= INV_DST;
                }
            }
            "limit-iface-in" => a.flags |= LIMIT_IN,
            _ => a.flags |= LIMIT_OUT,
        }
    }
    if a.flags & LIMIT_IN != 0 && a.flags & LIMIT_OUT != 0 {
        return Err(bad(
            NAME,
            "--limit-iface-in and --limit-iface-out are exclusive",
        ));
    }
    Ok(a.words())
}
