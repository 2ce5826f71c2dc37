//! `-m ecn` (struct xt_ecn_info { u8 operation; u8 invert; u8 ip_ect; u8 tcp_ect; }).

use super::opts::{Args, bad, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "ecn";
const OP_IP: u8 = 0x01;
const OP_ECE: u8 = 0x10;
const OP_CWR: u8 = 0x20;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ecn {
    operation: u8,
    invert: u8,
    ip_ect: u8,
}

impl Ecn {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.operation & OP_ECE != 0 {
            push_inv(&mut out, self.invert & OP_ECE != 0);
            out.push("--ecn-tcp-ece".into());
        }
        if self.operation & OP_CWR != 0 {
            push_inv(&mut out, self.invert & OP_CWR != 0);
            out.push("--ecn-tcp-cwr".into());
        }
        if self.operation & OP_IP != 0 {
            push_inv(&mut out, self.invert & OP_IP != 0);
            out.push("--ecn-ip-ect".into());
            out.push(self.ip_ect.to_string());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 4)?;
    Ok(Ecn {
        operation: tr(NAME, r.u8())?,
        invert: tr(NAME, r.u8())?,
        ip_ect: tr(NAME, r.u8())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut e = Ecn::default();
    while let Some((inv, o)) = a.next_opt()? {
        let bit = match o {
            "--ecn-tcp-cwr" => OP_CWR,
            "--ecn-tcp-ece" => OP_ECE,
            "--ecn-ip-ect" => {
                e.ip_ect = uint(NAME, a.value(o)?, 0, 3)? as u8;
                OP_IP
            }
            _ => return Err(a.unknown(o)),
        };
        e.operation |= bit;
        if inv {
            e.invert |= bit;
        }
    }
    if e.operation == 0 {
        return Err(bad(NAME, "some option required"));
    }
    Ok(e.words())
}
