//! `-m socket`: revision 0 (no data) and 1-3 (struct xt_socket_mtinfoN { u8 flags; }).

use super::opts::{Args, malformed, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "socket";
const TRANSPARENT: u8 = 1;
const NOWILDCARD: u8 = 2;
const RESTORESKMARK: u8 = 4;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Socket {
    flags: u8,
}

impl Socket {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.flags & TRANSPARENT != 0 {
            out.push("--transparent".into());
        }
        if self.flags & NOWILDCARD != 0 {
            out.push("--nowildcard".into());
        }
        if self.flags & RESTORESKMARK != 0 {
            out.push("--restore-skmark".into());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    // Each revision prints only the flags it knows.
    let known = match ctx.revision {
        0 => {
            if blob.len() > 8 || blob.iter().any(|&b| b != 0) {
                return Err(malformed(NAME, blob.len(), "revision 0 has no data"));
            }
            return Ok(Vec::new());
        }
        1 => TRANSPARENT,
        2 => TRANSPARENT | NOWILDCARD,
        3 => TRANSPARENT | NOWILDCARD | RESTORESKMARK,
        rev => return Err(super::opts::unknown_revision(ExtKind::Match, NAME, rev)),
    };
    let mut r = sized(NAME, blob, 1)?;
    Ok(Socket {
        flags: tr(NAME, r.u8())? & known,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut s = Socket::default();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        s.flags |= match o {
            "--transparent" => TRANSPARENT,
            "--nowildcard" => NOWILDCARD,
            "--restore-skmark" => RESTORESKMARK,
            _ => return Err(a.unknown(o)),
        };
    }
    Ok(s.words())
}
