//! `-j TCPOPTSTRIP` (struct xt_tcpoptstrip_target_info { u32 strip_bmap[8]; }); iptables-save
//! prints the options numerically.

use super::opts::{Args, bad, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "TCPOPTSTRIP";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Strip {
    bmap: [u32; 8],
}

impl Strip {
    fn test(&self, i: usize) -> bool {
        self.bmap[i >> 5] & (1 << (i & 31)) != 0
    }

    fn words(&self) -> Vec<String> {
        let list: Vec<String> = (0..256)
            .filter(|&i| self.test(i))
            .map(|i| i.to_string())
            .collect();
        if list.is_empty() {
            return Vec::new();
        }
        vec!["--strip-options".into(), list.join(",")]
    }
}

fn option_value(s: &str) -> Result<usize, ExtError> {
    const NAMES: &[(&str, usize)] = &[
        ("wscale", 3),
        ("mss", 2),
        ("sack-permitted", 4),
        ("sack", 5),
        ("timestamp", 8),
        ("md5", 19),
    ];
    let v = match NAMES.iter().find(|(n, _)| *n == s) {
        Some(&(_, v)) => v,
        None => uint(NAME, s, 0, 255)? as usize,
    };
    if v < 2 {
        return Err(bad(NAME, "option value may not be 0 or 1"));
    }
    Ok(v)
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 32)?;
    let mut s = Strip::default();
    for w in &mut s.bmap {
        *w = tr(NAME, r.u32())?;
    }
    Ok(s.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut s = Strip::default();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--strip-options" => {
                for item in a.value(o)?.split(',') {
                    let i = option_value(item)?;
                    if s.test(i) {
                        return Err(bad(NAME, format!("option `{item}` already specified")));
                    }
                    s.bmap[i >> 5] |= 1 << (i & 31);
                }
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(s.words())
}
