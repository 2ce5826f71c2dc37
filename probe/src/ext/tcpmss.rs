//! `-j TCPMSS` (struct xt_tcpmss_info): `--set-mss N` or `--clamp-mss-to-pmtu`.

use super::args::{bad, need, no_inv, num, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "TCPMSS";
const CLAMP_PMTU: u16 = 0xffff;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

fn words(mss: u16) -> Vec<String> {
    if mss == CLAMP_PMTU {
        vec!["--clamp-mss-to-pmtu".into()]
    } else {
        vec!["--set-mss".into(), mss.to_string()]
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = need(NAME, blob, 2)?;
    Ok(words(r.u16().map_err(truncated(NAME))?))
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let opts = scan(NAME, &[("set-mss", 1), ("clamp-mss-to-pmtu", 0)], w)?;
    let [o] = opts.as_slice() else {
        return Err(bad(
            NAME,
            "expected exactly one of --set-mss, --clamp-mss-to-pmtu",
        ));
    };
    no_inv(NAME, o)?;
    if o.name == "set-mss" {
        let v: u16 = num(NAME, &o.args[0])?;
        if v == CLAMP_PMTU {
            return Err(bad(NAME, "--set-mss 65535 is reserved"));
        }
        Ok(words(v))
    } else {
        Ok(words(CLAMP_PMTU))
    }
}
