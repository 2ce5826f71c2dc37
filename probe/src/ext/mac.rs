//! `-m mac` (struct xt_mac_info): `[!] --mac-source XX:XX:XX:XX:XX:XX`.

use super::args::{bad, need, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "mac";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

fn words(mac: [u8; 6], inv: bool) -> Vec<String> {
    let mut w = Vec::new();
    push_inv(&mut w, inv);
    w.push("--mac-source".into());
    w.push(
        mac.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    );
    w
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = need(NAME, blob, 12)?;
    let mac = r.array::<6>().map_err(truncated(NAME))?;
    r.skip(2).map_err(truncated(NAME))?;
    let inv = r.u32().map_err(truncated(NAME))? != 0;
    Ok(words(mac, inv))
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let opts = scan(NAME, &[("mac-source", 1)], w)?;
    let [o] = opts.as_slice() else {
        return Err(bad(NAME, "expected one `--mac-source`"));
    };
    let parts: Vec<&str> = o.args[0].split(':').collect();
    if parts.len() != 6 {
        return Err(bad(NAME, format!("bad MAC address `{}`", o.args[0])));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        mac[i] = u8::from_str_radix(p, 16)
            .ok()
            .filter(|_| !p.is_empty() && p.len() <= 2)
            .ok_or_else(|| bad(NAME, format!("bad MAC address `{}`", o.args[0])))?;
    }
    Ok(words(mac, o.inv))
}
