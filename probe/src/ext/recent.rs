//! `-m recent` (xt_recent_mtinfo rev 0, xt_recent_mtinfo_v1 rev 1 with `--mask`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::args::{bad, need, num, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "recent";
const NAME_LEN: usize = 200;
const SET: u8 = 2;
const CHECK: u8 = 1;
const UPDATE: u8 = 4;
const REMOVE: u8 = 8;
const TTL: u8 = 16;
const REAP: u8 = 32;
const SIDE_SOURCE: u8 = 0;
const SIDE_DEST: u8 = 1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

struct Recent {
    seconds: u32,
    hit_count: u32,
    check_set: u8,
    invert: bool,
    name: String,
    side: u8,
    /// rev 1 only
    mask: Option<IpAddr>,
}

impl Recent {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.invert {
            w.push("!".into());
        }
        for (bit, opt) in [
            (SET, "--set"),
            (CHECK, "--rcheck"),
            (UPDATE, "--update"),
            (REMOVE, "--remove"),
        ] {
            if self.check_set & bit != 0 {
                w.push(opt.into());
            }
        }
        if self.seconds != 0 {
            w.push("--seconds".into());
            w.push((self.seconds as i32).to_string());
        }
        if self.check_set & REAP != 0 {
            w.push("--reap".into());
        }
        if self.hit_count != 0 {
            w.push("--hitcount".into());
            w.push((self.hit_count as i32).to_string());
        }
        if self.check_set & TTL != 0 {
            w.push("--rttl".into());
        }
        w.push("--name".into());
        w.push(self.name.clone());
        if let Some(m) = self.mask {
            w.push("--mask".into());
            w.push(match m {
                IpAddr::V6(a) => crate::ruleset::render::ipv6_text(&a),
                a => a.to_string(),
            });
        }
        match self.side {
            SIDE_SOURCE => w.push("--rsource".into()),
            SIDE_DEST => w.push("--rdest".into()),
            _ => {}
        }
        w
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(NAME)(e);
    let v1 = match ctx.revision {
        0 => false,
        1 => true,
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Match,
                NAME,
                revision,
            ));
        }
    };
    let mut r = need(NAME, blob, if v1 { 228 } else { 211 })?;
    let seconds = r.u32().map_err(t)?;
    let hit_count = r.u32().map_err(t)?;
    let check_set = r.u8().map_err(t)?;
    let invert = r.u8().map_err(t)? != 0;
    let name = r.cstr(NAME_LEN).map_err(t)?;
    let side = r.u8().map_err(t)?;
    let mask = if v1 {
        let m = Reader::new(&blob[212..228]).array::<16>().map_err(t)?;
        Some(match ctx.family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(m[0], m[1], m[2], m[3])),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(m)),
        })
    } else {
        None
    };
    Ok(Recent {
        seconds,
        hit_count,
        check_set,
        invert,
        name,
        side,
        mask,
    }
    .words())
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("set", 0),
        ("rcheck", 0),
        ("update", 0),
        ("remove", 0),
        ("seconds", 1),
        ("reap", 0),
        ("hitcount", 1),
        ("rttl", 0),
        ("name", 1),
        ("rsource", 0),
        ("rdest", 0),
        ("mask", 1),
    ];
    let mut r = Recent {
        seconds: 0,
        hit_count: 0,
        check_set: 0,
        invert: false,
        name: "DEFAULT".into(),
        side: SIDE_SOURCE,
        mask: Some(match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::BROADCAST),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::from([0xff; 16])),
        }),
    };
    for o in scan(NAME, &specs, words)? {
        let action = |r: &mut Recent, bit: u8| -> Result<(), ExtError> {
            if r.check_set & (SET | CHECK | UPDATE | REMOVE) != 0 {
                return Err(bad(NAME, "only one of --set, --rcheck, --update, --remove"));
            }
            r.check_set |= bit;
            r.invert = o.inv;
            Ok(())
        };
        match o.name {
            "set" => action(&mut r, SET)?,
            "rcheck" => action(&mut r, CHECK)?,
            "update" => action(&mut r, UPDATE)?,
            "remove" => action(&mut r, REMOVE)?,
            "seconds" => r.seconds = num(NAME, &o.args[0])?,
            "reap" => r.check_set |= REAP,
            "hitcount" => r.hit_count = num(NAME, &o.args[0])?,
            "rttl" => r.check_set |= TTL,
            "name" => {
                if o.args[0].is_empty() || o.args[0].len() >= NAME_LEN {
                    return Err(bad(NAME, "bad --name"));
                }
                r.name = o.args[0].clone();
            }
            "rsource" => r.side = SIDE_SOURCE,
            "rdest" => r.side = SIDE_DEST,
            _ => {
                let m: IpAddr = o.args[0]
                    .parse()
                    .map_err(|_| bad(NAME, format!("bad --mask `{}`", o.args[0])))?;
                r.mask = Some(m);
            }
        }
    }
    if r.check_set & (SET | CHECK | UPDATE | REMOVE) == 0 {
        return Err(bad(
            NAME,
            "one of --set, --rcheck, --update, --remove is required",
        ));
    }
    Ok(r.words())
}
