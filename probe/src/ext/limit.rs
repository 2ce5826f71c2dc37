//! `-m limit` (struct xt_rateinfo): `--limit N/unit`, `--limit-burst N`.

use super::args::{bad, need, num, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "limit";
const SCALE: u32 = 10000;
const DEFAULT_BURST: u32 = 5;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

const RATES: &[(&str, u32)] = &[
    ("day", SCALE * 24 * 60 * 60),
    ("hour", SCALE * 60 * 60),
    ("min", SCALE * 60),
    ("sec", SCALE),
];

fn rate(period: u32) -> String {
    if period == 0 {
        return "inf".into();
    }
    let mut i = 1;
    while i < RATES.len() {
        let m = RATES[i].1;
        if period > m || m / period < m % period {
            break;
        }
        i += 1;
    }
    format!("{}/{}", RATES[i - 1].1 / period, RATES[i - 1].0)
}

fn words(avg: u32, burst: u32) -> Vec<String> {
    let mut w = vec!["--limit".to_owned(), rate(avg)];
    if burst != DEFAULT_BURST {
        w.push("--limit-burst".into());
        w.push(burst.to_string());
    }
    w
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = need(NAME, blob, 8)?;
    let avg = r.u32().map_err(truncated(NAME))?;
    let burst = r.u32().map_err(truncated(NAME))?;
    Ok(words(avg, burst))
}

fn parse_rate(s: &str) -> Result<u32, ExtError> {
    let err = || bad(NAME, format!("bad rate `{s}`"));
    let (n, mult) = match s.split_once('/') {
        Some((n, unit)) => {
            let u = unit.to_ascii_lowercase();
            let mult = [
                ("second", 1),
                ("minute", 60),
                ("hour", 3600),
                ("day", 86400),
            ]
            .iter()
            .find(|(name, _)| !u.is_empty() && name.starts_with(&u))
            .map(|(_, m)| *m)
            .ok_or_else(err)?;
            (n, mult)
        }
        None => (s, 1),
    };
    // atoi: leading digits only.
    let digits: String = n
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let r: u64 = digits.parse().map_err(|_| err())?;
    if r == 0 {
        return Err(err());
    }
    let v = u64::from(SCALE) * mult / r;
    if v == 0 {
        return Err(bad(NAME, format!("rate too fast `{s}`")));
    }
    u32::try_from(v).map_err(|_| err())
}

fn parse(_family: Family, words_in: &[String]) -> Result<Vec<String>, ExtError> {
    let mut avg = SCALE * 60 * 60 / 3; // default 3/hour
    let mut burst = DEFAULT_BURST;
    for o in scan(NAME, &[("limit", 1), ("limit-burst", 1)], words_in)? {
        super::args::no_inv(NAME, &o)?;
        if o.name == "limit" {
            avg = parse_rate(&o.args[0])?;
        } else {
            burst = num(NAME, &o.args[0])?;
        }
    }
    Ok(words(avg, burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(rate(parse_rate("3/hour").unwrap()), "3/hour");
        assert_eq!(rate(parse_rate("1/s").unwrap()), "1/sec");
        assert_eq!(rate(parse_rate("60/minute").unwrap()), "1/sec");
        assert_eq!(rate(parse_rate("5").unwrap()), "5/sec");
    }
}
