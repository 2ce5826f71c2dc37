//! `-m dscp` (struct xt_dscp_info { u8 dscp; u8 invert; }); `--dscp-class` is parsed to the
//! class's DSCP value, which is what the kernel keeps and iptables-save prints.

use super::opts::{Args, bad, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "dscp";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

/// DiffServ class names `--dscp-class` accepts (iptables' dscp_helper.c table).
pub(crate) fn class_value(name: &str) -> Option<u8> {
    const CLASSES: &[(&str, u8)] = &[
        ("CS0", 0x00),
        ("CS1", 0x08),
        ("CS2", 0x10),
        ("CS3", 0x18),
        ("CS4", 0x20),
        ("CS5", 0x28),
        ("CS6", 0x30),
        ("CS7", 0x38),
        ("BE", 0x00),
        ("AF11", 0x0a),
        ("AF12", 0x0c),
        ("AF13", 0x0e),
        ("AF21", 0x12),
        ("AF22", 0x14),
        ("AF23", 0x16),
        ("AF31", 0x1a),
        ("AF32", 0x1c),
        ("AF33", 0x1e),
        ("AF41", 0x22),
        ("AF42", 0x24),
        ("AF43", 0x26),
        ("EF", 0x2e),
    ];
    CLASSES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dscp {
    dscp: u8,
    invert: bool,
}

impl Dscp {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.invert);
        out.push("--dscp".into());
        out.push(format!("{:#04x}", self.dscp));
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 2)?;
    let dscp = tr(NAME, r.u8())?;
    let invert = tr(NAME, r.u8())? != 0;
    Ok(Dscp { dscp, invert }.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut d = None;
    while let Some((invert, o)) = a.next_opt()? {
        let dscp = match o {
            "--dscp" => uint(NAME, a.value(o)?, 0, 0x3f)? as u8,
            "--dscp-class" => {
                let v = a.value(o)?;
                class_value(v).ok_or_else(|| bad(NAME, format!("unknown DSCP class `{v}`")))?
            }
            _ => return Err(a.unknown(o)),
        };
        if d.is_some() {
            return Err(bad(NAME, "only one of --dscp/--dscp-class"));
        }
        d = Some(Dscp { dscp, invert });
    }
    Ok(
        d.ok_or_else(|| bad(NAME, "--dscp or --dscp-class is required"))?
            .words(),
    )
}
