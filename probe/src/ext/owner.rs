//! `-m owner` rev 1 (struct xt_owner_match_info): uid/gid (ranges), socket, supplementary
//! groups. iptables-save prints ids numerically.

use super::args::{bad, need, num, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "owner";
const UID: u8 = 1;
const GID: u8 = 2;
const SOCKET: u8 = 4;
const SUPPL_GROUPS: u8 = 8;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Default)]
struct Owner {
    uid: (u32, u32),
    gid: (u32, u32),
    matches: u8,
    invert: u8,
}

fn range(r: (u32, u32)) -> String {
    if r.0 == r.1 {
        r.0.to_string()
    } else {
        format!("{}-{}", r.0, r.1)
    }
}

impl Owner {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        for (bit, label) in [
            (SOCKET, "--socket-exists"),
            (UID, "--uid-owner"),
            (GID, "--gid-owner"),
            (SUPPL_GROUPS, "--suppl-groups"),
        ] {
            if self.matches & bit == 0 {
                continue;
            }
            push_inv(&mut w, self.invert & bit != 0);
            w.push(label.into());
            match bit {
                UID => w.push(range(self.uid)),
                GID => w.push(range(self.gid)),
                _ => {}
            }
        }
        w
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    if ctx.revision != 1 {
        return Err(super::opts::unknown_revision(
            ExtKind::Match,
            NAME,
            ctx.revision,
        ));
    }
    let t = |e| truncated(NAME)(e);
    let mut r = need(NAME, blob, 18)?;
    let o = Owner {
        uid: (r.u32().map_err(t)?, r.u32().map_err(t)?),
        gid: (r.u32().map_err(t)?, r.u32().map_err(t)?),
        matches: r.u8().map_err(t)?,
        invert: r.u8().map_err(t)?,
    };
    Ok(o.words())
}

/// A user or group: number, `a-b` range, or a name from /etc/passwd or /etc/group.
fn id_range(s: &str, db: &str) -> Result<(u32, u32), ExtError> {
    if let Some((a, b)) = s.split_once('-')
        && let (Ok(a), Ok(b)) = (num::<u32>(NAME, a), num::<u32>(NAME, b))
    {
        return Ok((a, b));
    }
    if let Ok(v) = num::<u32>(NAME, s) {
        return Ok((v, v));
    }
    let text = std::fs::read_to_string(db).unwrap_or_default();
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&s))
        .and_then(|f| f.get(2).and_then(|v| v.parse().ok()))
        .map(|v| (v, v))
        .ok_or_else(|| bad(NAME, format!("no such user or group `{s}`")))
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("uid-owner", 1),
        ("gid-owner", 1),
        ("socket-exists", 0),
        ("suppl-groups", 0),
    ];
    let mut o = Owner::default();
    for x in scan(NAME, &specs, words)? {
        let bit = match x.name {
            "uid-owner" => {
                o.uid = id_range(&x.args[0], "/etc/passwd")?;
                UID
            }
            "gid-owner" => {
                o.gid = id_range(&x.args[0], "/etc/group")?;
                GID
            }
            "socket-exists" => SOCKET,
            _ => SUPPL_GROUPS,
        };
        o.matches |= bit;
        if x.inv {
            o.invert |= bit;
        }
    }
    Ok(o.words())
}
