//! `-j CONNMARK` (xt_connmark_tginfo1 rev 1, xt_connmark_tginfo2 rev 2 with shifts).

use super::args::{bad, need, no_inv, num, parse_mark_mask, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "CONNMARK";
const SET: u8 = 0;
const SAVE: u8 = 1;
const RESTORE: u8 = 2;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

struct Connmark {
    ctmark: u32,
    ctmask: u32,
    nfmask: u32,
    mode: u8,
    shift_dir: u8,
    shift_bits: u8,
}

impl Connmark {
    fn words(&self) -> Result<Vec<String>, ExtError> {
        let mut w: Vec<String> = match self.mode {
            SET => vec![
                "--set-xmark".into(),
                format!("{:#x}/{:#x}", self.ctmark, self.ctmask),
            ],
            SAVE | RESTORE => vec![
                if self.mode == SAVE {
                    "--save-mark"
                } else {
                    "--restore-mark"
                }
                .into(),
                "--nfmask".into(),
                format!("{:#x}", self.nfmask),
                "--ctmask".into(),
                format!("{:#x}", self.ctmask),
            ],
            m => return Err(bad(NAME, format!("unknown mode {m}"))),
        };
        if self.shift_bits != 0 {
            w.push(
                match self.shift_dir {
                    0 => "--left-shift-mark",
                    1 => "--right-shift-mark",
                    d => return Err(bad(NAME, format!("unknown shift direction {d}"))),
                }
                .into(),
            );
            w.push(self.shift_bits.to_string());
        }
        Ok(w)
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(NAME)(e);
    let v2 = match ctx.revision {
        1 => false,
        2 => true,
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Target,
                NAME,
                revision,
            ));
        }
    };
    let mut r = need(NAME, blob, if v2 { 15 } else { 13 })?;
    let ctmark = r.u32().map_err(t)?;
    let ctmask = r.u32().map_err(t)?;
    let nfmask = r.u32().map_err(t)?;
    // tginfo1 ends with mode; tginfo2 has shift_dir, shift_bits, then mode.
    let (shift_dir, shift_bits) = if v2 {
        (r.u8().map_err(t)?, r.u8().map_err(t)?)
    } else {
        (0, 0)
    };
    Connmark {
        ctmark,
        ctmask,
        nfmask,
        mode: r.u8().map_err(t)?,
        shift_dir,
        shift_bits,
    }
    .words()
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("set-xmark", 1),
        ("set-mark", 1),
        ("and-mark", 1),
        ("or-mark", 1),
        ("xor-mark", 1),
        ("save-mark", 0),
        ("restore-mark", 0),
        ("mask", 1),
        ("nfmask", 1),
        ("ctmask", 1),
        ("left-shift-mark", 1),
        ("right-shift-mark", 1),
    ];
    let mut c = Connmark {
        ctmark: 0,
        ctmask: u32::MAX,
        nfmask: u32::MAX,
        mode: u8::MAX,
        shift_dir: 0,
        shift_bits: 0,
    };
    for o in scan(NAME, &specs, w)? {
        no_inv(NAME, &o)?;
        let a = o.args.first().map(String::as_str).unwrap_or("");
        match o.name {
            "set-xmark" => {
                (c.ctmark, c.ctmask) = parse_mark_mask(NAME, a)?;
                c.mode = SET;
            }
            "set-mark" => {
                let (m, k) = parse_mark_mask(NAME, a)?;
                (c.ctmark, c.ctmask) = (m, m | k);
                c.mode = SET;
            }
            "and-mark" => {
                (c.ctmark, c.ctmask) = (0, !num::<u32>(NAME, a)?);
                c.mode = SET;
            }
            "or-mark" => {
                let v = num(NAME, a)?;
                (c.ctmark, c.ctmask) = (v, v);
                c.mode = SET;
            }
            "xor-mark" => {
                (c.ctmark, c.ctmask) = (num(NAME, a)?, 0);
                c.mode = SET;
            }
            "save-mark" => c.mode = SAVE,
            "restore-mark" => c.mode = RESTORE,
            "mask" => {
                let v = num(NAME, a)?;
                c.nfmask = v;
                c.ctmask = v;
            }
            "nfmask" => c.nfmask = num(NAME, a)?,
            "ctmask" => c.ctmask = num(NAME, a)?,
            "left-shift-mark" => {
                c.shift_dir = 0;
                c.shift_bits = num(NAME, a)?;
            }
            _ => {
                c.shift_dir = 1;
                c.shift_bits = num(NAME, a)?;
            }
        }
    }
    if c.mode == u8::MAX {
        return Err(bad(
            NAME,
            "one of --set-xmark, --save-mark, --restore-mark ... is required",
        ));
    }
    c.words()
}
