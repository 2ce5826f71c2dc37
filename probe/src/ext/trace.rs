//! `-j TRACE`: no data, no options.

use super::opts::{Args, malformed};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "TRACE";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    if blob.len() > 8 || blob.iter().any(|&b| b != 0) {
        return Err(malformed(NAME, blob.len(), "expected no data"));
    }
    Ok(Vec::new())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    if let Some((_, o)) = a.next_opt()? {
        return Err(a.unknown(o));
    }
    Ok(Vec::new())
}
