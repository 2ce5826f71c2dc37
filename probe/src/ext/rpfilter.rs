//! `-m rpfilter` (struct xt_rpfilter_info { u8 flags; }).

use super::opts::{Args, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "rpfilter";
/// Flag bits in the order iptables prints them.
const OPTS: [(u8, &str); 4] = [
    (1, "--loose"),
    (2, "--validmark"),
    (4, "--accept-local"),
    (8, "--invert"),
];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Rpfilter {
    flags: u8,
}

impl Rpfilter {
    fn words(&self) -> Vec<String> {
        OPTS.iter()
            .filter(|(b, _)| self.flags & b != 0)
            .map(|(_, n)| (*n).to_owned())
            .collect()
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 1)?;
    Ok(Rpfilter {
        flags: tr(NAME, r.u8())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut r = Rpfilter::default();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let (b, _) = OPTS
            .iter()
            .find(|(_, n)| *n == o)
            .ok_or_else(|| a.unknown(o))?;
        r.flags |= b;
    }
    Ok(r.words())
}
