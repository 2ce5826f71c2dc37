//! `-m connbytes` (struct xt_connbytes_info { u64 from, to; u8 what; u8 direction; });
//! `!` is stored as from > to.

use super::opts::{Args, bad, range, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "connbytes";
const MODES: [&str; 3] = ["packets", "bytes", "avgpkt"];
const DIRS: [&str; 3] = ["original", "reply", "both"];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Connbytes {
    from: u64,
    to: u64,
    what: u8,
    direction: u8,
}

impl Connbytes {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        let (from, to) = if self.from > self.to {
            out.push("!".into());
            (self.to, self.from)
        } else {
            (self.from, self.to)
        };
        out.push("--connbytes".into());
        if to != 0 && to < u64::MAX {
            out.push(format!("{from}:{to}"));
        } else {
            out.push(from.to_string());
        }
        out.push("--connbytes-mode".into());
        out.push(
            MODES
                .get(usize::from(self.what))
                .unwrap_or(&"unknown")
                .to_string(),
        );
        out.push("--connbytes-dir".into());
        out.push(
            DIRS.get(usize::from(self.direction))
                .unwrap_or(&"unknown")
                .to_string(),
        );
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 24)?;
    Ok(Connbytes {
        from: tr(NAME, r.u64())?,
        to: tr(NAME, r.u64())?,
        what: tr(NAME, r.u8())?,
        direction: tr(NAME, r.u8())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let (mut count, mut what, mut dir) = (None, None, None);
    while let Some((inv, o)) = a.next_opt()? {
        let v = a.value(o)?;
        match o {
            "--connbytes" => {
                let (from, to) = if v.contains(':') {
                    range(NAME, v, 0, u64::MAX)?
                } else {
                    (range(NAME, v, 0, u64::MAX)?.0, u64::MAX)
                };
                if to < from {
                    return Err(bad(NAME, format!("{from} should be less than {to}")));
                }
                count = Some(if inv { (to, from) } else { (from, to) });
            }
            "--connbytes-mode" => {
                a.no_invert(inv, o)?;
                what = Some(
                    MODES
                        .iter()
                        .position(|m| *m == v)
                        .ok_or_else(|| bad(NAME, format!("unknown --connbytes-mode `{v}`")))?,
                );
            }
            "--connbytes-dir" => {
                a.no_invert(inv, o)?;
                dir = Some(
                    DIRS.iter()
                        .position(|m| *m == v)
                        .ok_or_else(|| bad(NAME, format!("unknown --connbytes-dir `{v}`")))?,
                );
            }
            _ => return Err(a.unknown(o)),
        }
    }
    let (from, to) = count.ok_or_else(|| bad(NAME, "--connbytes is required"))?;
    Ok(Connbytes {
        from,
        to,
        what: what.ok_or_else(|| bad(NAME, "--connbytes-mode is required"))? as u8,
        direction: dir.ok_or_else(|| bad(NAME, "--connbytes-dir is required"))? as u8,
    }
    .words())
}
