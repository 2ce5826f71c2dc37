//! `-j NFQUEUE`, revisions 0-3 (struct xt_NFQ_info{,_v1,_v2,_v3}: u16 queuenum; u16
//! queues_total; u16 bypass/flags).

use super::opts::{Args, bad, range, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "NFQUEUE";
const F_BYPASS: u16 = 0x01;
const F_CPU_FANOUT: u16 = 0x02;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Nfqueue {
    num: u16,
    total: u16,
    flags: u16,
}

impl Nfqueue {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.total > 1 {
            let last = u32::from(self.total) + u32::from(self.num) - 1;
            out.push("--queue-balance".into());
            out.push(format!("{}:{last}", self.num));
        } else {
            out.push("--queue-num".into());
            out.push(self.num.to_string());
        }
        if self.flags & F_BYPASS != 0 {
            out.push("--queue-bypass".into());
        }
        if self.flags & F_CPU_FANOUT != 0 {
            out.push("--queue-cpu-fanout".into());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let size = match ctx.revision {
        0 => 2,
        1 => 4,
        2 | 3 => 6,
        rev => return Err(super::opts::unknown_revision(ExtKind::Target, NAME, rev)),
    };
    let mut r = sized(NAME, blob, size)?;
    let num = tr(NAME, r.u16())?;
    let total = if ctx.revision >= 1 {
        tr(NAME, r.u16())?
    } else {
        1
    };
    let mut flags = if ctx.revision >= 2 {
        tr(NAME, r.u16())?
    } else {
        0
    };
    if ctx.revision == 2 {
        flags &= F_BYPASS;
    }
    Ok(Nfqueue { num, total, flags }.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut q = Nfqueue {
        num: 0,
        total: 1,
        flags: 0,
    };
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--queue-num" => q.num = uint(NAME, a.value(o)?, 0, 0xffff)? as u16,
            "--queue-balance" => {
                let v = a.value(o)?;
                if !v.contains(':') {
                    return Err(bad(NAME, format!("bad range `{v}`")));
                }
                let (lo, hi) = range(NAME, v, 0, 0xfffe)?;
                if lo >= hi {
                    return Err(bad(NAME, format!("{lo} should be less than {hi}")));
                }
                q.num = lo as u16;
                q.total = (hi - lo + 1) as u16;
            }
            "--queue-bypass" => q.flags |= F_BYPASS,
            "--queue-cpu-fanout" => q.flags |= F_CPU_FANOUT,
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(q.words())
}
