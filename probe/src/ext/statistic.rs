//! `-m statistic` (struct xt_statistic_info): `--mode random --probability P`,
//! `--mode nth --every N [--packet P]`.

use super::args::{bad, need, num, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "statistic";
const MODE_RANDOM: u16 = 0;
const MODE_NTH: u16 = 1;
const INVERT: u16 = 0x1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

struct Statistic {
    mode: u16,
    flags: u16,
    probability: u32,
    every: u32,
    packet: u32,
}

impl Statistic {
    fn words(&self) -> Result<Vec<String>, ExtError> {
        let inv = self.flags & INVERT != 0;
        let mut w = vec!["--mode".to_owned()];
        match self.mode {
            MODE_RANDOM => {
                w.push("random".into());
                if inv {
                    w.push("!".into());
                }
                w.push("--probability".into());
                w.push(format!(
                    "{:.11}",
                    f64::from(self.probability) / 2147483648.0
                ));
            }
            MODE_NTH => {
                w.push("nth".into());
                if inv {
                    w.push("!".into());
                }
                w.push("--every".into());
                w.push(self.every.wrapping_add(1).to_string());
                if self.packet != 0 {
                    w.push("--packet".into());
                    w.push(self.packet.to_string());
                }
            }
            m => return Err(bad(NAME, format!("unknown mode {m}"))),
        }
        Ok(w)
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(NAME)(e);
    let mut r = need(NAME, blob, 16)?;
    let mode = r.u16().map_err(t)?;
    let flags = r.u16().map_err(t)?;
    let a = r.u32().map_err(t)?;
    let b = r.u32().map_err(t)?;
    Statistic {
        mode,
        flags,
        probability: a,
        every: a,
        packet: b,
    }
    .words()
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [("mode", 1), ("probability", 1), ("every", 1), ("packet", 1)];
    let mut s = Statistic {
        mode: u16::MAX,
        flags: 0,
        probability: 0,
        every: 0,
        packet: 0,
    };
    let mut prob = None;
    let mut every = None;
    for o in scan(NAME, &specs, words)? {
        match o.name {
            "mode" => {
                s.mode = match o.args[0].as_str() {
                    "random" => MODE_RANDOM,
                    "nth" => MODE_NTH,
                    m => return Err(bad(NAME, format!("bad mode `{m}`"))),
                }
            }
            "probability" => {
                let p: f64 = o.args[0]
                    .parse()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| bad(NAME, format!("bad probability `{}`", o.args[0])))?;
                prob = Some((2147483648.0 * p).round() as u32);
                if o.inv {
                    s.flags |= INVERT;
                }
            }
            "every" => {
                let e: u32 = num(NAME, &o.args[0])?;
                if e == 0 {
                    return Err(bad(NAME, "--every must be at least 1"));
                }
                every = Some(e - 1);
                if o.inv {
                    s.flags |= INVERT;
                }
            }
            _ => s.packet = num(NAME, &o.args[0])?,
        }
    }
    match s.mode {
        MODE_RANDOM => s.probability = prob.ok_or_else(|| bad(NAME, "--probability missing"))?,
        MODE_NTH => s.every = every.ok_or_else(|| bad(NAME, "--every missing"))?,
        _ => return Err(bad(NAME, "--mode missing")),
    }
    s.words()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_round_trip() {
        let p = parse(
            Family::Ipv4,
            &super::super::args::w(&["--mode", "random", "--probability", "0.25"]),
        )
        .unwrap();
        assert_eq!(p.join(" "), "--mode random --probability 0.25000000000");
    }
}
