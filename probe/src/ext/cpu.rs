//! `-m cpu` (struct xt_cpu_info { u32 cpu; u32 invert; }).

use super::opts::{Args, bad, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "cpu";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cpu {
    cpu: u32,
    invert: bool,
}

impl Cpu {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.invert);
        out.push("--cpu".into());
        out.push(self.cpu.to_string());
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 8)?;
    let cpu = tr(NAME, r.u32())?;
    let invert = tr(NAME, r.u32())? != 0;
    Ok(Cpu { cpu, invert }.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = None;
    while let Some((invert, o)) = a.next_opt()? {
        match o {
            "--cpu" => {
                let cpu = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
                c = Some(Cpu { cpu, invert });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(c.ok_or_else(|| bad(NAME, "--cpu is required"))?.words())
}
