//! `-j TRACE`: no data, no options.

use super::opts::{no_data, no_options};
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
    no_data(NAME, blob)
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    no_options(NAME, words)
}
