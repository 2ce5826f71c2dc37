//! `-j CONNSECMARK` (struct xt_connsecmark_target_info { u8 mode; }: 1 save, 2 restore).

use super::opts::{Args, bad, malformed, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "CONNSECMARK";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Save,
    Restore,
}

impl Mode {
    fn words(self) -> Vec<String> {
        vec![match self {
            Mode::Save => "--save".into(),
            Mode::Restore => "--restore".into(),
        }]
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 1)?;
    match tr(NAME, r.u8())? {
        1 => Ok(Mode::Save.words()),
        2 => Ok(Mode::Restore.words()),
        m => Err(malformed(NAME, blob.len(), format!("invalid mode {m}"))),
    }
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut m = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let mode = match o {
            "--save" => Mode::Save,
            "--restore" => Mode::Restore,
            _ => return Err(a.unknown(o)),
        };
        if m.is_some_and(|x| x != mode) {
            return Err(bad(NAME, "--save and --restore are exclusive"));
        }
        m = Some(mode);
    }
    Ok(
        m.ok_or_else(|| bad(NAME, "one of --save or --restore is required"))?
            .words(),
    )
}
