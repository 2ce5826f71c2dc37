//! `-m u32` (struct xt_u32 { xt_u32_test tests[11]; u8 ntests; u8 invert; }; each test has
//! 11 {u32 number; u8 nextop} locations, 11 {u32 min, max} values, u8 nnums, nvalues).

use super::opts::{Args, bad, malformed, push_inv, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "u32";
const MAX: usize = 11;
const TEST_SIZE: usize = 180;
const OPS: [&str; 4] = ["&", "<<", ">>", "@"];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Test {
    /// (number, operator applied before it; unused for the first)
    locations: Vec<(u32, u8)>,
    values: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct U32 {
    tests: Vec<Test>,
    invert: bool,
}

impl U32 {
    fn words(&self) -> Vec<String> {
        let mut s = String::from("\"");
        for (i, t) in self.tests.iter().enumerate() {
            if i > 0 {
                s.push_str("&&");
            }
            for (j, (n, op)) in t.locations.iter().enumerate() {
                if j > 0 {
                    s.push_str(OPS.get(usize::from(*op)).copied().unwrap_or(""));
                }
                s.push_str(&format!("{n:#x}"));
            }
            s.push('=');
            let vals: Vec<String> = t
                .values
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        format!("{a:#x}")
                    } else {
                        format!("{a:#x}:{b:#x}")
                    }
                })
                .collect();
            s.push_str(&vals.join(","));
        }
        s.push('"');
        let mut out = Vec::new();
        push_inv(&mut out, self.invert);
        out.push("--u32".into());
        out.push(s);
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, MAX * TEST_SIZE + 4)?;
    let area = tr(NAME, r.bytes(MAX * TEST_SIZE))?;
    let ntests = usize::from(tr(NAME, r.u8())?);
    let invert = tr(NAME, r.u8())? != 0;
    if ntests > MAX {
        return Err(malformed(NAME, blob.len(), format!("{ntests} tests")));
    }
    let mut tests = Vec::new();
    for i in 0..ntests {
        let mut t = Reader::new(&area[i * TEST_SIZE..(i + 1) * TEST_SIZE]);
        let mut locs = Vec::new();
        for _ in 0..MAX {
            let n = tr(NAME, t.u32())?;
            let op = tr(NAME, t.u8())?;
            tr(NAME, t.skip(3))?;
            locs.push((n, op));
        }
        let mut vals = Vec::new();
        for _ in 0..MAX {
            vals.push((tr(NAME, t.u32())?, tr(NAME, t.u32())?));
        }
        let nnums = usize::from(tr(NAME, t.u8())?);
        let nvalues = usize::from(tr(NAME, t.u8())?);
        if nnums > MAX || nvalues > MAX {
            return Err(malformed(NAME, blob.len(), "too many locations or values"));
        }
        locs.truncate(nnums);
        vals.truncate(nvalues);
        tests.push(Test {
            locations: locs,
            values: vals,
        });
    }
    Ok(U32 { tests, invert }.words())
}

/// A `strtoul(.., 0)` number at the start of `s`; returns it and the rest.
fn number(s: &str) -> Result<(u32, &str), ExtError> {
    let s = s.trim_start();
    let (radix, body) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.starts_with('0') && s.len() > 1 {
        (8, &s[1..])
    } else {
        (10, s)
    };
    let end = body
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(body.len());
    if end == 0 && radix != 8 {
        return Err(bad(NAME, format!("not a number at `{s}`")));
    }
    let v = if end == 0 {
        0
    } else {
        u32::from_str_radix(&body[..end], radix)
            .map_err(|_| bad(NAME, format!("number out of range at `{s}`")))?
    };
    Ok((v, &body[end..]))
}

fn parse_spec(spec: &str) -> Result<Vec<Test>, ExtError> {
    let mut tests = Vec::new();
    for tspec in spec.split("&&") {
        let (loc, vals) = tspec
            .split_once('=')
            .ok_or_else(|| bad(NAME, "abrupt end of input after location specifier"))?;
        let mut t = Test::default();
        let (n, mut rest) = number(loc)?;
        t.locations.push((n, 0));
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let (op, r) = if let Some(r) = rest.strip_prefix("<<") {
                (1, r)
            } else if let Some(r) = rest.strip_prefix(">>") {
                (2, r)
            } else if let Some(r) = rest.strip_prefix('&') {
                (0, r)
            } else if let Some(r) = rest.strip_prefix('@') {
                (3, r)
            } else {
                return Err(bad(NAME, "operator expected"));
            };
            let (n, r) = number(r)?;
            t.locations.push((n, op));
            rest = r;
        }
        for v in vals.split(',') {
            let (a, r) = number(v)?;
            let r = r.trim_start();
            let b = match r.strip_prefix(':') {
                Some(r2) => {
                    let (b, rr) = number(r2)?;
                    if !rr.trim().is_empty() {
                        return Err(bad(NAME, "expected \",\" or \"&&\""));
                    }
                    b
                }
                None if r.is_empty() => a,
                None => return Err(bad(NAME, "expected \",\" or \"&&\"")),
            };
            t.values.push((a, b));
        }
        if t.locations.len() > MAX - 1 || t.values.len() > MAX - 1 {
            return Err(bad(NAME, "too many operators or values"));
        }
        tests.push(t);
    }
    if tests.len() > MAX - 1 {
        return Err(bad(NAME, "too many \"&&\"s"));
    }
    Ok(tests)
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut u = None;
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--u32" => {
                u = Some(U32 {
                    tests: parse_spec(a.value(o)?)?,
                    invert: inv,
                })
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(u.ok_or_else(|| bad(NAME, "--u32 is required"))?.words())
}
