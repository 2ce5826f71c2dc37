//! `-m hashlimit`, revisions 1-3 (struct xt_hashlimit_mtinfo1/2/3: a name and a
//! hashlimit_cfg1/2/3). Everything is normalised to the revision-3 config, as iptables'
//! `cfg_copy` does, and printed like `hashlimit_mt_save`.

use super::opts::{Args, bad, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "hashlimit";
const H_DIP: u32 = 1 << 0;
const H_DPT: u32 = 1 << 1;
const H_SIP: u32 = 1 << 2;
const H_SPT: u32 = 1 << 3;
const INVERT: u32 = 1 << 4;
const BYTES: u32 = 1 << 5;
const RATE_MATCH: u32 = 1 << 6;
const SCALE_V1: u64 = 10_000;
const SCALE_V2: u64 = 1_000_000;
const BYTE_SHIFT: u32 = 4;
const GCINTERVAL: u32 = 1000;
const BYTE_EXPIRE: u32 = 15;
const BYTE_EXPIRE_BURST: u32 = 60;
const BURST_MAX: u64 = 1_000_000;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Cfg {
    name: String,
    avg: u64,
    burst: u64,
    mode: u32,
    size: u32,
    max: u32,
    gc_interval: u32,
    expire: u32,
    interval: u32,
    srcmask: u8,
    dstmask: u8,
}

fn cost_to_bytes(cost: u64) -> u64 {
    let r = u64::from(u32::MAX)
        .checked_div(cost)
        .unwrap_or(u64::from(u32::MAX));
    r.wrapping_sub(1) << BYTE_SHIFT
}

fn bytes_to_cost(bytes: u64) -> u64 {
    let r = (bytes >> BYTE_SHIFT) as u32;
    u64::from(u32::MAX) / (u64::from(r) + 1)
}

const UNITS: [(&str, u64); 3] = [("m", 1024 * 1024), ("k", 1024), ("", 1)];

/// `print_rate`: the words and the default expire (msec) the rate implies.
fn rate_str(period: u64, revision: u8) -> (String, u64) {
    let scale = if revision == 1 { SCALE_V1 } else { SCALE_V2 };
    let rates = [
        ("day", scale * 24 * 60 * 60),
        ("hour", scale * 60 * 60),
        ("min", scale * 60),
        ("sec", scale),
    ];
    if period == 0 {
        return ("inf".into(), 0);
    }
    let mut i = 1;
    while i < rates.len() {
        if period > rates[i].1 || rates[i].1 / period < rates[i].1 % period {
            break;
        }
        i += 1;
    }
    let (name, mult) = rates[i - 1];
    (format!("{}/{name}", mult / period), mult / scale * 1000)
}

impl Cfg {
    fn words(&self, family: Family, revision: u8) -> Vec<String> {
        let dmask = match family {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        };
        let mut out = vec![if self.mode & INVERT != 0 {
            "--hashlimit-above".to_owned()
        } else {
            "--hashlimit-upto".to_owned()
        }];
        let quantum: u64;
        if self.mode & BYTES != 0 {
            let mut r = cost_to_bytes(self.avg);
            let mut i = 0;
            while i < UNITS.len() - 1 {
                if r >= UNITS[i].1 && bytes_to_cost(r & !(UNITS[i].1 - 1)) == self.avg {
                    break;
                }
                i += 1;
            }
            out.push(format!("{}{}b/s", r / UNITS[i].1, UNITS[i].0));
            if self.burst == 0 {
                quantum = u64::from(BYTE_EXPIRE) * 1000;
            } else {
                r = r.wrapping_mul(self.burst);
                let mut i = 0;
                while i < UNITS.len() - 1 && r < UNITS[i].1 {
                    i += 1;
                }
                out.push("--hashlimit-burst".into());
                out.push(format!("{}{}b", r / UNITS[i].1, UNITS[i].0));
                quantum = u64::from(BYTE_EXPIRE_BURST) * 1000;
            }
        } else {
            let (w, q) = rate_str(self.avg, revision);
            out.push(w);
            quantum = q;
            out.push("--hashlimit-burst".into());
            out.push(self.burst.to_string());
        }
        if self.mode & (H_SIP | H_SPT | H_DIP | H_DPT) != 0 {
            out.push("--hashlimit-mode".into());
            let modes: Vec<&str> = [
                (H_SIP, "srcip"),
                (H_SPT, "srcport"),
                (H_DIP, "dstip"),
                (H_DPT, "dstport"),
            ]
            .iter()
            .filter(|(b, _)| self.mode & b != 0)
            .map(|(_, n)| *n)
            .collect();
            out.push(modes.join(","));
        }
        out.push("--hashlimit-name".into());
        out.push(self.name.clone());
        let mut put = |cond: bool, opt: &str, v: String| {
            if cond {
                out.push(opt.into());
                out.push(v);
            }
        };
        put(
            self.size != 0,
            "--hashlimit-htable-size",
            self.size.to_string(),
        );
        put(
            self.max != 0,
            "--hashlimit-htable-max",
            self.max.to_string(),
        );
        put(
            self.gc_interval != GCINTERVAL,
            "--hashlimit-htable-gcinterval",
            self.gc_interval.to_string(),
        );
        // iptables compares against a uint32_t quantum.
        put(
            u64::from(self.expire) != quantum & u64::from(u32::MAX),
            "--hashlimit-htable-expire",
            self.expire.to_string(),
        );
        put(
            self.srcmask != dmask,
            "--hashlimit-srcmask",
            self.srcmask.to_string(),
        );
        put(
            self.dstmask != dmask,
            "--hashlimit-dstmask",
            self.dstmask.to_string(),
        );
        if revision == 3 && self.mode & RATE_MATCH != 0 {
            out.push("--hashlimit-rate-match".into());
            if self.interval != 1 {
                out.push("--hashlimit-rate-interval".into());
                out.push(self.interval.to_string());
            }
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let (size, name_len) = match ctx.revision {
        1 => (56, 16),
        2 => (304, 255),
        3 => (312, 255),
        rev => return Err(super::opts::unknown_revision(ExtKind::Match, NAME, rev)),
    };
    let mut r = sized(NAME, blob, size)?;
    let mut c = Cfg {
        name: tr(NAME, r.cstr(name_len))?,
        ..Cfg::default()
    };
    if ctx.revision == 1 {
        c.mode = tr(NAME, r.u32())?;
        c.avg = tr(NAME, r.u32())?.into();
        c.burst = tr(NAME, r.u32())?.into();
    } else {
        tr(NAME, r.align(8))?;
        c.avg = tr(NAME, r.u64())?;
        c.burst = tr(NAME, r.u64())?;
        c.mode = tr(NAME, r.u32())?;
    }
    c.size = tr(NAME, r.u32())?;
    c.max = tr(NAME, r.u32())?;
    c.gc_interval = tr(NAME, r.u32())?;
    c.expire = tr(NAME, r.u32())?;
    if ctx.revision == 3 {
        c.interval = tr(NAME, r.u32())?;
    }
    c.srcmask = tr(NAME, r.u8())?;
    c.dstmask = tr(NAME, r.u8())?;
    Ok(c.words(ctx.family, ctx.revision))
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let dmask: u8 = match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    };
    let mut c = Cfg {
        burst: 5,
        gc_interval: GCINTERVAL,
        srcmask: dmask,
        dstmask: dmask,
        ..Cfg::default()
    };
    let mut a = Args::new(NAME, words);
    let (mut mult, mut have_rate, mut have_name) = (1u64, false, false);
    let (mut have_burst, mut have_expire, mut rate_match) = (false, false, false);
    while let Some((inv, o)) = a.next_opt()? {
        let v = if matches!(o, "--hashlimit-rate-match") {
            ""
        } else {
            a.value(o)?
        };
        match o {
            "--hashlimit-upto" | "--hashlimit-above" | "--hashlimit" => {
                if (o == "--hashlimit-above") != inv {
                    c.mode |= INVERT;
                }
                if let Some(cost) = parse_bytes(v)? {
                    c.avg = cost;
                    c.mode |= BYTES;
                    mult = u64::from(BYTE_EXPIRE);
                } else {
                    let (avg, m) = parse_rate(v)?;
                    c.avg = avg;
                    mult = m;
                }
                have_rate = true;
                continue;
            }
            _ => a.no_invert(inv, o)?,
        }
        match o {
            "--hashlimit-burst" => {
                c.burst = parse_burst(v)?;
                have_burst = true;
            }
            "--hashlimit-mode" => {
                for t in v.split([',', '|']).filter(|t| !t.is_empty()) {
                    c.mode |= match t {
                        "dstip" => H_DIP,
                        "srcip" => H_SIP,
                        "srcport" => H_SPT,
                        "dstport" => H_DPT,
                        _ => return Err(bad(NAME, format!("bad --hashlimit-mode `{v}`"))),
                    };
                }
            }
            "--hashlimit-name" => {
                if v.len() >= 255 {
                    return Err(bad(NAME, "name too long"));
                }
                c.name = v.to_owned();
                have_name = true;
            }
            "--hashlimit-htable-size" => c.size = uint(NAME, v, 0, u32::MAX.into())? as u32,
            "--hashlimit-htable-max" => c.max = uint(NAME, v, 0, u32::MAX.into())? as u32,
            "--hashlimit-htable-gcinterval" => {
                c.gc_interval = uint(NAME, v, 0, u32::MAX.into())? as u32
            }
            "--hashlimit-htable-expire" => {
                c.expire = uint(NAME, v, 0, u32::MAX.into())? as u32;
                have_expire = true;
            }
            "--hashlimit-srcmask" => c.srcmask = uint(NAME, v, 0, dmask.into())? as u8,
            "--hashlimit-dstmask" => c.dstmask = uint(NAME, v, 0, dmask.into())? as u8,
            "--hashlimit-rate-match" => {
                c.mode |= RATE_MATCH;
                rate_match = true;
            }
            "--hashlimit-rate-interval" => {
                let n: i64 = v.trim().parse().unwrap_or(0);
                if n <= 0 || n > i64::from(u32::MAX) {
                    return Err(bad(NAME, format!("bad --hashlimit-rate-interval `{v}`")));
                }
                c.interval = n as u32;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if !have_rate {
        return Err(bad(
            NAME,
            "you have to specify --hashlimit-upto or --hashlimit-above",
        ));
    }
    if !have_name {
        return Err(bad(NAME, "--hashlimit-name is required"));
    }
    if !have_expire {
        c.expire = (mult * 1000) as u32;
    }
    if c.mode & BYTES != 0 {
        let mut burst = 0;
        if have_burst {
            let unit = cost_to_bytes(c.avg);
            if c.burst < unit {
                return Err(bad(NAME, format!("burst cannot be smaller than {unit}b")));
            }
            burst = c.burst / unit + u64::from(!c.burst.is_multiple_of(unit));
            if !have_expire {
                c.expire = BYTE_EXPIRE_BURST * 1000;
            }
        }
        c.burst = burst;
    } else if c.burst > BURST_MAX {
        return Err(bad(NAME, "--hashlimit-burst out of range"));
    }
    if rate_match {
        if c.mode & BYTES == 0 {
            c.avg /= mult;
        }
        if c.interval == 0 {
            c.interval = if c.mode & BYTES != 0 { 1 } else { mult as u32 };
        }
    }
    Ok(c.words(family, 3))
}

fn parse_burst(s: &str) -> Result<u64, ExtError> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    let v = uint(NAME, digits, 1, u64::MAX)?;
    if suffix.is_empty() && v > BURST_MAX {
        return Err(bad(NAME, "--hashlimit-burst out of range"));
    }
    let factor = match suffix.chars().next() {
        Some('m') => 1024 * 1024,
        Some('k') => 1024,
        _ => 1,
    };
    v.checked_mul(factor)
        .ok_or_else(|| bad(NAME, "--hashlimit-burst too large"))
}

/// `NUM[k|m]b/s` as a cost, or None when `s` is not a byte rate.
fn parse_bytes(s: &str) -> Result<Option<u64>, ExtError> {
    let Some(pos) = s.find("b/s") else {
        return Ok(None);
    };
    if pos == 0 {
        return Ok(None);
    }
    let num: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let r: u64 = num.parse().unwrap_or(0);
    if r == 0 {
        return Ok(None);
    }
    let factor = match s.as_bytes()[pos - 1] {
        b'm' => 1024 * 1024,
        b'k' => 1024,
        _ => 1,
    };
    let cost = bytes_to_cost(r.saturating_mul(factor));
    if cost == 0 {
        return Err(bad(NAME, format!("rate too high `{s}`")));
    }
    Ok(Some(cost))
}

/// `NUM[/second|minute|hour|day]` (unit prefixes allowed) → (avg, seconds per unit).
fn parse_rate(s: &str) -> Result<(u64, u64), ExtError> {
    let err = || bad(NAME, format!("bad rate `{s}`"));
    let mut mult = 1;
    if let Some((_, unit)) = s.split_once('/') {
        if unit.is_empty() {
            return Err(err());
        }
        let u = unit.to_ascii_lowercase();
        mult = if "second".starts_with(&u) {
            1
        } else if "minute".starts_with(&u) {
            60
        } else if "hour".starts_with(&u) {
            3600
        } else if "day".starts_with(&u) {
            86_400
        } else {
            return Err(err());
        };
    }
    let num: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let r: u64 = num.parse().map_err(|_| err())?;
    if r == 0 {
        return Err(err());
    }
    let avg = SCALE_V2 * mult / r;
    if avg == 0 {
        return Err(bad(NAME, format!("rate too fast `{s}`")));
    }
    Ok((avg, mult))
}
