//! `-j LOG` (struct xt_log_info): prefix, level, flags.

use super::args::{bad, need, no_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, save_string};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "LOG";
const DEFAULT_LEVEL: u8 = 4;
const PREFIX_LEN: usize = 30;
const FLAGS: &[(u8, &str)] = &[
    (0x01, "--log-tcp-sequence"),
    (0x02, "--log-tcp-options"),
    (0x04, "--log-ip-options"),
    (0x08, "--log-uid"),
    (0x20, "--log-macdecode"),
];
const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

fn words(level: u8, flags: u8, prefix: &str) -> Vec<String> {
    let mut w = Vec::new();
    if !prefix.is_empty() {
        w.push("--log-prefix".into());
        w.push(save_string(prefix));
    }
    if level != DEFAULT_LEVEL {
        w.push("--log-level".into());
        w.push(level.to_string());
    }
    for (bit, opt) in FLAGS {
        if flags & bit != 0 {
            w.push((*opt).into());
        }
    }
    w
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    need(NAME, blob, 2 + PREFIX_LEN)?;
    let prefix = Reader::new(&blob[2..])
        .cstr(PREFIX_LEN)
        .map_err(super::truncated(NAME))?;
    Ok(words(blob[0], blob[1], &prefix))
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("log-level", 1),
        ("log-prefix", 1),
        ("log-tcp-sequence", 0),
        ("log-tcp-options", 0),
        ("log-ip-options", 0),
        ("log-uid", 0),
        ("log-macdecode", 0),
    ];
    let (mut level, mut flags, mut prefix) = (DEFAULT_LEVEL, 0u8, String::new());
    for o in scan(NAME, &specs, w)? {
        no_inv(NAME, &o)?;
        match o.name {
            "log-level" => {
                let a = &o.args[0];
                level = match a.parse::<u8>() {
                    Ok(v) if v <= 7 => v,
                    _ => LEVELS
                        .iter()
                        .position(|n| {
                            n.eq_ignore_ascii_case(a)
                                || (a == "panic" && *n == "emerg")
                                || (a == "warn" && *n == "warning")
                        })
                        .map(|p| p as u8)
                        .ok_or_else(|| bad(NAME, format!("bad --log-level `{a}`")))?,
                };
            }
            "log-prefix" => {
                prefix = o.args[0].clone();
                if prefix.len() > PREFIX_LEN - 1 {
                    return Err(bad(NAME, "--log-prefix longer than 29 characters"));
                }
            }
            name => {
                flags |= FLAGS
                    .iter()
                    .find(|(_, n)| &n[2..] == name)
                    .map(|(b, _)| *b)
                    .unwrap_or(0);
            }
        }
    }
    Ok(words(level, flags, &prefix))
}
