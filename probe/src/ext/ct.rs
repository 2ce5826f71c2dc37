//! `-j CT` (xt_ct_target_info rev 0, xt_ct_target_info_v1 rev 1/2) and `-j NOTRACK`
//! (the kernel's NOTRACK target, or CT rev 2 with the notrack-alias flag).

use super::args::{bad, need, no_inv, num, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "CT";
const NOTRACK: u16 = 1;
const NOTRACK_ALIAS: u16 = 2;
const ZONE_DIR_ORIG: u16 = 4;
const ZONE_DIR_REPL: u16 = 8;
const ZONE_MARK: u16 = 16;

const CT_EVENTS: &[(&str, u32)] = &[
    ("new", 0),
    ("related", 1),
    ("destroy", 2),
    ("reply", 3),
    ("assured", 4),
    ("protoinfo", 5),
    ("helper", 6),
    ("mark", 7),
    ("natseqinfo", 8),
    ("secmark", 9),
];
const EXP_EVENTS: &[(&str, u32)] = &[("new", 0)];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

pub static NOTRACK_DEF: ExtDef = ExtDef {
    name: "NOTRACK",
    kind: ExtKind::Target,
    family: None,
    decode: |_ctx, _blob| Ok(Vec::new()),
    parse: |_f, w| {
        if w.is_empty() {
            Ok(Vec::new())
        } else {
            Err(bad("NOTRACK", "takes no options"))
        }
    },
};

/// CT rev 2 blobs made for `-j NOTRACK` print as `NOTRACK`.
pub fn alias(ctx: &DecodeCtx, blob: &[u8]) -> Option<&'static str> {
    if ctx.revision != 2 {
        return None;
    }
    let f = Reader::new(blob).u16().ok()?;
    (f & NOTRACK_ALIAS != 0).then_some("NOTRACK")
}

#[derive(Default)]
struct Ct {
    flags: u16,
    zone: u16,
    ct_events: u32,
    exp_events: u32,
    helper: String,
    timeout: String,
}

fn events(tbl: &[(&str, u32)], mask: u32) -> String {
    tbl.iter()
        .filter(|(_, b)| mask & (1 << b) != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

impl Ct {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.flags & NOTRACK_ALIAS != 0 {
            return w;
        }
        if self.flags & NOTRACK != 0 {
            w.push("--notrack".into());
        }
        if !self.helper.is_empty() {
            w.push("--helper".into());
            w.push(self.helper.clone());
        }
        if !self.timeout.is_empty() {
            w.push("--timeout".into());
            w.push(self.timeout.clone());
        }
        if self.ct_events != 0 {
            w.push("--ctevents".into());
            w.push(events(CT_EVENTS, self.ct_events));
        }
        if self.exp_events != 0 {
            w.push("--expevents".into());
            w.push(events(EXP_EVENTS, self.exp_events));
        }
        if self.flags & ZONE_MARK != 0 || self.zone != 0 {
            let mut z = "--zone".to_owned();
            match self.flags & (ZONE_DIR_ORIG | ZONE_DIR_REPL) {
                ZONE_DIR_ORIG => z.push_str("-orig"),
                ZONE_DIR_REPL => z.push_str("-reply"),
                _ => {}
            }
            w.push(z);
            w.push(if self.flags & ZONE_MARK != 0 {
                "mark".into()
            } else {
                self.zone.to_string()
            });
        }
        w
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| super::truncated(NAME)(e);
    let v1 = match ctx.revision {
        0 => false,
        1 | 2 => true,
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Target,
                NAME,
                revision,
            ));
        }
    };
    let mut r = need(NAME, blob, if v1 { 60 } else { 28 })?;
    let mut c = Ct {
        flags: r.u16().map_err(t)?,
        zone: r.u16().map_err(t)?,
        ct_events: r.u32().map_err(t)?,
        exp_events: r.u32().map_err(t)?,
        helper: r.cstr(16).map_err(t)?,
        timeout: String::new(),
    };
    if v1 {
        c.timeout = r.cstr(32).map_err(t)?;
    }
    // Rev 0/1 have no alias flag meaning; iptables prints their notrack as --notrack.
    if ctx.revision < 2 {
        c.flags &= !NOTRACK_ALIAS;
    }
    Ok(c.words())
}

fn parse_events(tbl: &[(&str, u32)], s: &str) -> Result<u32, ExtError> {
    let mut m = 0;
    for part in s.split(',') {
        let (_, b) = tbl
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(part))
            .ok_or_else(|| bad(NAME, format!("unknown event `{part}`")))?;
        m |= 1 << b;
    }
    Ok(m)
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("notrack", 0),
        ("helper", 1),
        ("timeout", 1),
        ("ctevents", 1),
        ("expevents", 1),
        ("zone-orig", 1),
        ("zone-reply", 1),
        ("zone", 1),
    ];
    let mut c = Ct::default();
    for o in scan(NAME, &specs, w)? {
        no_inv(NAME, &o)?;
        let a = o.args.first().cloned().unwrap_or_default();
        match o.name {
            "notrack" => c.flags |= NOTRACK,
            "helper" => c.helper = a,
            "timeout" => c.timeout = a,
            "ctevents" => c.ct_events = parse_events(CT_EVENTS, &a)?,
            "expevents" => c.exp_events = parse_events(EXP_EVENTS, &a)?,
            zone => {
                c.flags &= !(ZONE_DIR_ORIG | ZONE_DIR_REPL);
                c.flags |= match zone {
                    "zone-orig" => ZONE_DIR_ORIG,
                    "zone-reply" => ZONE_DIR_REPL,
                    _ => 0,
                };
                if a == "mark" {
                    c.flags |= ZONE_MARK;
                } else {
                    c.zone = num(NAME, &a)?;
                }
            }
        }
    }
    Ok(c.words())
}
