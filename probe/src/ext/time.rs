//! `-m time` (struct xt_time_info { u32 date_start, date_stop, daytime_start, daytime_stop,
//! monthdays_match; u8 weekdays_match; u8 flags; }). Dates print in UTC, and an unset stop
//! date (INT_MAX) still prints as 2038-01-19T03:14:07, as iptables 1.8.9 does.

use super::opts::{Args, bad, sized, strtoul0, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "time";
const LOCAL_TZ: u8 = 1;
const CONTIGUOUS: u8 = 2;
const ALL_MONTHDAYS: u32 = 0xffff_fffe;
const ALL_WEEKDAYS: u8 = 0xfe;
const MAX_DAYTIME: u32 = 24 * 60 * 60 - 1;
const WEEKDAYS: [&str; 8] = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Time {
    date_start: u32,
    date_stop: u32,
    daytime_start: u32,
    daytime_stop: u32,
    monthdays: u32,
    weekdays: u8,
    flags: u8,
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn date_str(t: u32) -> String {
    let t = i64::from(t);
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

fn hms(t: u32) -> String {
    format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
}

impl Time {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.daytime_start != 0 || self.daytime_stop != MAX_DAYTIME {
            out.push("--timestart".into());
            out.push(hms(self.daytime_start));
            out.push("--timestop".into());
            out.push(hms(self.daytime_stop));
        }
        if self.monthdays != ALL_MONTHDAYS {
            out.push("--monthdays".into());
            let days: Vec<String> = (1..=31)
                .filter(|i| self.monthdays & (1 << i) != 0)
                .map(|i: u32| i.to_string())
                .collect();
            out.push(days.join(","));
        }
        if self.weekdays != ALL_WEEKDAYS {
            out.push("--weekdays".into());
            let days: Vec<&str> = (1..=7)
                .filter(|i| self.weekdays & (1 << i) != 0)
                .map(|i| WEEKDAYS[i])
                .collect();
            out.push(days.join(","));
        }
        for (opt, d) in [
            ("--datestart", self.date_start),
            ("--datestop", self.date_stop),
        ] {
            if d != 0 {
                out.push(opt.into());
                out.push(date_str(d));
            }
        }
        if self.flags & LOCAL_TZ != 0 {
            out.push("--kerneltz".into());
        }
        if self.flags & CONTIGUOUS != 0 {
            out.push("--contiguous".into());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 24)?;
    Ok(Time {
        date_start: tr(NAME, r.u32())?,
        date_stop: tr(NAME, r.u32())?,
        daytime_start: tr(NAME, r.u32())?,
        daytime_stop: tr(NAME, r.u32())?,
        monthdays: tr(NAME, r.u32())?,
        weekdays: tr(NAME, r.u8())?,
        flags: tr(NAME, r.u8())?,
    }
    .words())
}

/// `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`, UTC.
fn parse_date(s: &str) -> Result<u32, ExtError> {
    let err = || {
        bad(
            NAME,
            format!("invalid date `{s}`, should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]"),
        )
    };
    let (date, clock) = match s.split_once('T') {
        Some((d, c)) => (d, Some(c)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let num = |x: Option<&str>, lo: u64, hi: u64, def: u64| -> Result<u64, ExtError> {
        match x {
            None => Ok(def),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(err),
        }
    };
    let year = num(dp.next(), 1970, 2038, 1970)?;
    let month = num(dp.next(), 0, 12, 1)?;
    let day = num(dp.next(), 0, 31, 1)?;
    if dp.next().is_some() {
        return Err(err());
    }
    let (mut h, mut mi, mut se) = (0, 0, 0);
    if let Some(c) = clock {
        let mut cp = c.split(':');
        h = num(cp.next(), 0, 23, 0)?;
        mi = num(cp.next(), 0, 59, 0)?;
        se = num(cp.next(), 0, 59, 0)?;
        if cp.next().is_some() {
            return Err(err());
        }
    }
    // mktime normalises month 0 / day 0 backwards, as days_from_civil does for day 0.
    let (y, m) = if month == 0 {
        (year as i64 - 1, 12)
    } else {
        (year as i64, month as u32)
    };
    let days = days_from_civil(y, m, 1) + day as i64 - 1;
    let t = days * 86_400 + (h * 3600 + mi * 60 + se) as i64;
    u32::try_from(t).map_err(|_| err())
}

fn parse_daytime(s: &str) -> Result<u32, ExtError> {
    let err = || bad(NAME, format!("invalid time `{s}`, should be hh:mm[:ss]"));
    let mut p = s.split(':');
    let h: u32 = p
        .next()
        .and_then(|x| x.parse().ok())
        .filter(|h| *h <= 23)
        .ok_or_else(err)?;
    let m: u32 = p
        .next()
        .and_then(|x| x.parse().ok())
        .filter(|m| *m <= 59)
        .ok_or_else(err)?;
    let sec: u32 = match p.next() {
        None => 0,
        Some(x) => x.parse().ok().filter(|s| *s <= 59).ok_or_else(err)?,
    };
    if p.next().is_some() {
        return Err(err());
    }
    Ok(h * 3600 + m * 60 + sec)
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut t = Time {
        date_start: 0,
        date_stop: i32::MAX as u32,
        daytime_start: 0,
        daytime_stop: MAX_DAYTIME,
        monthdays: ALL_MONTHDAYS,
        weekdays: ALL_WEEKDAYS,
        flags: 0,
    };
    while let Some((inv, o)) = a.next_opt()? {
        if !matches!(o, "--monthdays" | "--weekdays") {
            a.no_invert(inv, o)?;
        }
        match o {
            "--datestart" => t.date_start = parse_date(a.value(o)?)?,
            "--datestop" => t.date_stop = parse_date(a.value(o)?)?,
            "--timestart" => t.daytime_start = parse_daytime(a.value(o)?)?,
            "--timestop" => t.daytime_stop = parse_daytime(a.value(o)?)?,
            "--contiguous" => t.flags |= CONTIGUOUS,
            "--kerneltz" | "--localtz" => t.flags |= LOCAL_TZ,
            "--utc" => {}
            "--monthdays" => {
                let mut m = 0u32;
                for d in a.value(o)?.split(',') {
                    let i = strtoul0(d).filter(|i| *i <= 31).ok_or_else(|| {
                        bad(NAME, format!("{d} is not a valid day for --monthdays"))
                    })?;
                    m |= 1 << i;
                }
                t.monthdays = if inv { m ^ ALL_MONTHDAYS } else { m };
            }
            "--weekdays" => {
                let mut m = 0u8;
                for d in a.value(o)?.split(',') {
                    if let Some(i) = strtoul0(d) {
                        if i == 0 || i > 7 {
                            return Err(bad(NAME, format!("{d} is not a valid day specifier")));
                        }
                        m |= 1 << i;
                        continue;
                    }
                    let pre: String = d.chars().take(2).collect();
                    let i = (1..8)
                        .find(|&i| pre.len() == 2 && WEEKDAYS[i].starts_with(&pre))
                        .ok_or_else(|| bad(NAME, format!("{d} is not a valid day specifier")))?;
                    m |= 1 << i;
                }
                t.weekdays = if inv { m ^ ALL_WEEKDAYS } else { m };
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if t.flags & CONTIGUOUS != 0 && t.daytime_stop >= t.daytime_start {
        return Err(bad(
            NAME,
            "--contiguous only makes sense when stoptime is smaller than starttime",
        ));
    }
    Ok(t.words())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(date_str(i32::MAX as u32), "2038-01-19T03:14:07");
        assert_eq!(
            parse_date("2001-02-03T04:05:06").map(date_str).unwrap(),
            "2001-02-03T04:05:06"
        );
        assert_eq!(
            parse_date("2020").map(date_str).unwrap(),
            "2020-01-01T00:00:00"
        );
    }
}
