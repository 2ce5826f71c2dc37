//! `-j CHECKSUM` (struct xt_CHECKSUM_info { u8 operation; }).

use super::opts::{Args, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "CHECKSUM";
const OP_FILL: u8 = 0x01;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checksum {
    operation: u8,
}

impl Checksum {
    fn words(&self) -> Vec<String> {
        if self.operation & OP_FILL != 0 {
            vec!["--checksum-fill".into()]
        } else {
            Vec::new()
        }
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 1)?;
    Ok(Checksum {
        operation: tr(NAME, r.u8())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = Checksum { operation: 0 };
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--checksum-fill" => c.operation |= OP_FILL,
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(c.words())
}
