//! `-j RATEEST` (struct xt_rateest_target_info { char name[16]; s8 interval; u8 ewma_log;
//! ptr est; }): the times are stored as log2 steps and printed back as `250.0ms`-style.

use super::opts::{Args, bad, malformed, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "RATEEST";
const NAME_LEN: usize = 16;
const UNITS_PER_SEC: f64 = 1_000_000.0;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rateest {
    name: String,
    interval: i8,
    ewma_log: u8,
}

/// iptables' `RATEEST_print_time` (microseconds in).
pub(crate) fn time_str(us: u64) -> String {
    let t = us as f64;
    if t >= UNITS_PER_SEC {
        format!("{:.1}s", t / UNITS_PER_SEC)
    } else if t >= UNITS_PER_SEC / 1000.0 {
        format!("{:.1}ms", t / (UNITS_PER_SEC / 1000.0))
    } else {
        format!("{us}us")
    }
}

/// `250ms`, `1.5s`, `100us`, or a bare number of microseconds.
fn parse_time(s: &str) -> Result<f64, ExtError> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-' || c == 'e'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let t: f64 = num
        .parse()
        .map_err(|_| bad(NAME, format!("bad time value `{s}`")))?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" => 1.0,
        "s" | "sec" | "secs" => UNITS_PER_SEC,
        "ms" | "msec" | "msecs" => UNITS_PER_SEC / 1000.0,
        "us" | "usec" | "usecs" => 1.0,
        _ => return Err(bad(NAME, format!("bad time value `{s}`"))),
    };
    // Stored in an unsigned int by iptables.
    Ok((t * mult).trunc())
}

impl Rateest {
    fn words(&self) -> Result<Vec<String>, ExtError> {
        let shift = i32::from(self.interval) + 2;
        if !(0..=20).contains(&shift) || self.ewma_log >= 32 {
            return Err(malformed(NAME, 0, "interval/ewma_log out of range"));
        }
        // iptables computes these in unsigned int.
        let interval = ((1_000_000u64 << shift) / 4) as u32;
        let ewma = interval.wrapping_mul(1u32 << self.ewma_log);
        Ok(vec![
            "--rateest-name".into(),
            self.name.clone(),
            "--rateest-interval".into(),
            time_str(interval.into()),
            "--rateest-ewmalog".into(),
            time_str(ewma.into()),
        ])
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 32)?;
    let name = tr(NAME, r.cstr(NAME_LEN))?;
    let interval = tr(NAME, r.u8())? as i8;
    let ewma_log = tr(NAME, r.u8())?;
    Rateest {
        name,
        interval,
        ewma_log,
    }
    .words()
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let (mut name, mut interval, mut ewma) = (None, None, None);
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = a.value(o)?;
        match o {
            "--rateest-name" => {
                if v.len() >= NAME_LEN {
                    return Err(bad(NAME, "name too long"));
                }
                name = Some(v.to_owned());
            }
            "--rateest-interval" => interval = Some(parse_time(v)?),
            "--rateest-ewmalog" => ewma = Some(parse_time(v)?),
            _ => return Err(a.unknown(o)),
        }
    }
    let name = name.ok_or_else(|| bad(NAME, "--rateest-name is required"))?;
    let iv = interval.ok_or_else(|| bad(NAME, "--rateest-interval is required"))?;
    let ew = ewma.ok_or_else(|| bad(NAME, "--rateest-ewmalog is required"))?;
    // The same search iptables' final check does.
    let mut i = 0i32;
    while i <= 5 && iv > f64::from(1u32 << i) * (UNITS_PER_SEC / 4.0) {
        i += 1;
    }
    if i > 5 {
        return Err(bad(NAME, "interval value is too large"));
    }
    let mut e = 1u32;
    while e < 32 {
        let w = 1.0 - 1.0 / f64::from(1u32 << e.min(31));
        if iv / (-w.ln()) > ew {
            break;
        }
        e += 1;
    }
    e -= 1;
    if e == 0 || e >= 31 {
        return Err(bad(NAME, "ewmalog value is out of range"));
    }
    Rateest {
        name,
        interval: (i - 2) as i8,
        ewma_log: e as u8,
    }
    .words()
}
