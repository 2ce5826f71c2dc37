//! `-j ECN` (IPv4; struct ipt_ECN_info { u8 operation; u8 ip_ect; u8 ece:1, cwr:1; }).

use super::opts::{Args, bad, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "ECN";
const OP_IP: u8 = 0x01;
const OP_ECE: u8 = 0x10;
const OP_CWR: u8 = 0x20;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: Some(Family::Ipv4),
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ecn {
    operation: u8,
    ip_ect: u8,
    ece: u8,
    cwr: u8,
}

impl Ecn {
    fn words(&self) -> Vec<String> {
        if self.operation == OP_ECE | OP_CWR && self.ece == 0 && self.cwr == 0 {
            return vec!["--ecn-tcp-remove".into()];
        }
        let mut out = Vec::new();
        if self.operation & OP_ECE != 0 {
            out.push("--ecn-tcp-ece".into());
            out.push(self.ece.to_string());
        }
        if self.operation & OP_CWR != 0 {
            out.push("--ecn-tcp-cwr".into());
            out.push(self.cwr.to_string());
        }
        if self.operation & OP_IP != 0 {
            out.push("--ecn-ip-ect".into());
            out.push(self.ip_ect.to_string());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 3)?;
    let operation = tr(NAME, r.u8())?;
    let ip_ect = tr(NAME, r.u8())?;
    // Bit-fields `ece:1, cwr:1` in the order a little-endian C compiler lays them out.
    let bits = tr(NAME, r.u8())?;
    Ok(Ecn {
        operation,
        ip_ect,
        ece: bits & 1,
        cwr: (bits >> 1) & 1,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut e = Ecn::default();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--ecn-tcp-remove" => {
                e.operation = OP_ECE | OP_CWR;
                e.ece = 0;
                e.cwr = 0;
            }
            "--ecn-tcp-cwr" => {
                e.operation |= OP_CWR;
                e.cwr = uint(NAME, a.value(o)?, 0, 1)? as u8;
            }
            "--ecn-tcp-ece" => {
                e.operation |= OP_ECE;
                e.ece = uint(NAME, a.value(o)?, 0, 1)? as u8;
            }
            "--ecn-ip-ect" => {
                e.operation |= OP_IP;
                e.ip_ect = uint(NAME, a.value(o)?, 0, 3)? as u8;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if e.operation == 0 {
        return Err(bad(NAME, "an option is required"));
    }
    Ok(e.words())
}
