//! `-m rateest` (struct xt_rateest_match_info { char name1[16], name2[16]; u16 flags, mode;
//! u32 bps1, pps1, bps2, pps2; ptr est1, est2; }).

use super::opts::{Args, bad, push_inv, sized, strtoul0, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "rateest";
const NAME_LEN: usize = 16;
const INVERT: u16 = 1 << 0;
const ABS: u16 = 1 << 1;
const REL: u16 = 1 << 2;
const DELTA: u16 = 1 << 3;
const BPS: u16 = 1 << 4;
const PPS: u16 = 1 << 5;
const MODES: [&str; 4] = ["", "eq", "lt", "gt"];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Rateest {
    name1: String,
    name2: String,
    flags: u16,
    mode: u16,
    bps1: u32,
    pps1: u32,
    bps2: u32,
    pps2: u32,
}

/// `rateest_print_rate` (bytes/s in, bits out).
fn rate_str(rate: u32) -> String {
    let t = f64::from(rate) * 8.0;
    if t >= 1000.0 * 1_000_000.0 {
        format!("{:.0}Mbit", t / 1_000_000.0)
    } else if t >= 1_000_000.0 {
        format!("{:.0}Kbit", t / 1000.0)
    } else {
        format!("{t:.0}bit")
    }
}

impl Rateest {
    fn push_mode(&self, out: &mut Vec<String>) -> Result<(), ExtError> {
        push_inv(out, self.flags & INVERT != 0);
        match MODES.get(usize::from(self.mode)) {
            Some(m) if !m.is_empty() => {
                out.push(format!("--rateest-{m}"));
                Ok(())
            }
            // iptables exits here; we report the blob as undecodable instead.
            _ => Err(super::opts::malformed(
                NAME,
                0,
                format!("mode {}", self.mode),
            )),
        }
    }

    fn push_rate(
        &self,
        out: &mut Vec<String>,
        kind: &str,
        r1: String,
        r2: String,
    ) -> Result<(), ExtError> {
        if self.flags & DELTA != 0 {
            out.push(format!("--rateest-{kind}1"));
            out.push(r1);
            self.push_mode(out)?;
            out.push(format!("--rateest-{kind}2"));
        } else {
            self.push_mode(out)?;
            out.push(format!("--rateest-{kind}"));
        }
        if self.flags & (ABS | DELTA) != 0 {
            out.push(r2);
        }
        Ok(())
    }

    fn words(&self) -> Result<Vec<String>, ExtError> {
        let mut out = Vec::new();
        if self.flags & DELTA != 0 {
            out.push("--rateest-delta".into());
        }
        out.push(
            if self.flags & REL != 0 {
                "--rateest1"
            } else {
                "--rateest"
            }
            .into(),
        );
        out.push(self.name1.clone());
        if self.flags & BPS != 0 {
            self.push_rate(&mut out, "bps", rate_str(self.bps1), rate_str(self.bps2))?;
        }
        if self.flags & PPS != 0 {
            self.push_rate(
                &mut out,
                "pps",
                self.pps1.to_string(),
                self.pps2.to_string(),
            )?;
        }
        if self.flags & REL != 0 {
            out.push("--rateest2".into());
            out.push(self.name2.clone());
        }
        Ok(out)
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 72)?;
    Rateest {
        name1: tr(NAME, r.cstr(NAME_LEN))?,
        name2: tr(NAME, r.cstr(NAME_LEN))?,
        flags: tr(NAME, r.u16())?,
        mode: tr(NAME, r.u16())?,
        bps1: tr(NAME, r.u32())?,
        pps1: tr(NAME, r.u32())?,
        bps2: tr(NAME, r.u32())?,
        pps2: tr(NAME, r.u32())?,
    }
    .words()
}

/// `rateest_get_rate`: a number with a bit/byte suffix (bare numbers are bits), in bytes/s.
fn parse_rate(s: &str) -> Result<u32, ExtError> {
    const SUFFIXES: [(&str, f64); 18] = [
        ("bit", 1.),
        ("Kibit", 1024.),
        ("kbit", 1000.),
        ("Mibit", 1024. * 1024.),
        ("mbit", 1_000_000.),
        ("Gibit", 1024. * 1024. * 1024.),
        ("gbit", 1_000_000_000.),
        ("Tibit", 1024. * 1024. * 1024. * 1024.),
        ("tbit", 1_000_000_000_000.),
        ("Bps", 8.),
        ("KiBps", 8. * 1024.),
        ("KBps", 8000.),
        ("MiBps", 8. * 1024. * 1024.),
        ("MBps", 8_000_000.),
        ("GiBps", 8. * 1024. * 1024. * 1024.),
        ("GBps", 8_000_000_000.),
        ("TiBps", 8. * 1024. * 1024. * 1024. * 1024.),
        ("TBps", 8_000_000_000_000.),
    ];
    let err = || bad(NAME, format!("could not parse rate `{s}`"));
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().map_err(|_| err())?;
    let scale = if unit.is_empty() {
        1.0
    } else {
        SUFFIXES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(unit))
            .map(|(_, sc)| *sc)
            .ok_or_else(err)?
    };
    // C converts the double to uint32_t by truncation.
    Ok((v * scale / 8.0) as u32)
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut r = Rateest::default();
    let mut have_mode = false;
    while let Some((inv, o)) = a.next_opt()? {
        if !matches!(o, "--rateest-eq" | "--rateest-lt" | "--rateest-gt") {
            a.no_invert(inv, o)?;
        }
        match o {
            "--rateest1" | "--rateest" => {
                r.name1 = a.value(o)?.chars().take(NAME_LEN - 1).collect()
            }
            "--rateest2" => {
                r.name2 = a.value(o)?.chars().take(NAME_LEN - 1).collect();
                r.flags |= REL;
            }
            "--rateest-bps1" | "--rateest-bps2" | "--rateest-bps" => {
                r.flags |= BPS;
                if let Some(v) = a.optional_value().filter(|v| !v.starts_with('-')) {
                    let rate = parse_rate(v)?;
                    if o == "--rateest-bps1" {
                        r.bps1 = rate;
                    } else {
                        r.bps2 = rate;
                    }
                }
            }
            "--rateest-pps1" | "--rateest-pps2" | "--rateest-pps" => {
                r.flags |= PPS;
                if let Some(v) = a.optional_value().filter(|v| !v.starts_with('-')) {
                    let n = strtoul0(v)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad(NAME, format!("could not parse pps `{v}`")))?;
                    if o == "--rateest-pps1" {
                        r.pps1 = n;
                    } else {
                        r.pps2 = n;
                    }
                }
            }
            "--rateest-delta" => r.flags |= DELTA,
            "--rateest-eq" | "--rateest-lt" | "--rateest-gt" => {
                if have_mode {
                    return Err(bad(NAME, "can't specify lt/gt/eq twice"));
                }
                have_mode = true;
                r.mode = match o {
                    "--rateest-eq" => 1,
                    "--rateest-lt" => 2,
                    _ => 3,
                };
                if inv {
                    r.flags |= INVERT;
                }
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if r.flags & REL == 0 {
        r.flags |= ABS;
    }
    r.words()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_like_printf() {
        assert_eq!(rate_str(625), "5000bit");
        assert_eq!(rate_str(1), "8bit");
        // %.0f rounds exact ties to even, as glibc does.
        assert_eq!(
            rate_str(312_500 / 1000 * 1000 + 312),
            format!("{:.0}Kbit", 312_312.0 * 8.0 / 1000.0)
        );
        assert_eq!(format!("{:.0}", 2.5f64), "2");
    }
}
