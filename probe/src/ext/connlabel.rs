//! `-m connlabel` (struct xt_connlabel_mtinfo { u16 bit; u16 options; }). Label names come
//! from /etc/xtables/connlabel.conf when it exists, as libnetfilter_conntrack reads it.

use std::sync::OnceLock;

use super::opts::{Args, bad, push_inv, sized, strtoul0, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "connlabel";
const CONF: &str = "/etc/xtables/connlabel.conf";
const OP_INVERT: u16 = 1;
const OP_SET: u16 = 2;
const MAXBIT: u64 = 127;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

fn labels() -> &'static [(u16, String)] {
    static MAP: OnceLock<Vec<(u16, String)>> = OnceLock::new();
    MAP.get_or_init(|| {
        std::fs::read_to_string(CONF)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                if l.starts_with('#') {
                    return None;
                }
                let (n, name) = l.split_once(char::is_whitespace)?;
                Some((n.parse().ok()?, name.trim().to_owned()))
            })
            .collect()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Connlabel {
    bit: u16,
    options: u16,
}

impl Connlabel {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.options & OP_INVERT != 0);
        out.push("--label".into());
        let name = labels()
            .iter()
            .find(|(b, n)| *b == self.bit && !n.is_empty())
            .map_or_else(|| self.bit.to_string(), |(_, n)| n.clone());
        // Always double-quoted, without escaping, as iptables prints it.
        out.push(format!("\"{name}\""));
        if self.options & OP_SET != 0 {
            out.push("--set".into());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 4)?;
    Ok(Connlabel {
        bit: tr(NAME, r.u16())?,
        options: tr(NAME, r.u16())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = Connlabel { bit: 0, options: 0 };
    let mut have = false;
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--label" => {
                let v = a.value(o)?;
                let bit = match labels().iter().find(|(_, n)| n == v) {
                    Some((b, _)) => u64::from(*b),
                    None => strtoul0(v)
                        .filter(|b| *b <= MAXBIT)
                        .ok_or_else(|| bad(NAME, format!("label `{v}` not found")))?,
                };
                c.bit = bit as u16;
                if inv {
                    c.options |= OP_INVERT;
                }
                have = true;
            }
            "--set" => {
                a.no_invert(inv, o)?;
                c.options |= OP_SET;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if !have {
        return Err(bad(NAME, "--label is required"));
    }
    Ok(c.words())
}
