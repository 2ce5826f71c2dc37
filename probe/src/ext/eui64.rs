//! `-m eui64` (IPv6): no data at all; iptables-save prints no options.

use super::opts::{no_data, no_options};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "eui64";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode,
    parse,
};

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    no_data(NAME, blob)
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    no_options(NAME, words)
}
