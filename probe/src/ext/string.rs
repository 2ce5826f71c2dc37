//! `-m string`, revisions 0 and 1 (struct xt_string_info { u16 from_offset, to_offset; char
//! algo[16]; char pattern[128]; u8 patlen; u8 invert (v0) / flags (v1); ptr config; }).

use super::opts::{Args, bad, malformed, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "string";
const ALGO_LEN: usize = 16;
const PATTERN_LEN: usize = 128;
const F_INVERT: u8 = 0x01;
const F_ICASE: u8 = 0x02;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct StringMatch {
    from: u16,
    to: u16,
    algo: String,
    pattern: Vec<u8>,
    invert: bool,
    icase: bool,
}

/// C `isprint` in the C locale.
fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

impl StringMatch {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        let p = &self.pattern;
        let hex = p.iter().any(|&b| !printable(b)) || p.last() == Some(&b'\\');
        push_inv(&mut out, self.invert);
        if hex {
            out.push("--hex-string".into());
            let h: String = p.iter().map(|b| format!("{b:02x}")).collect();
            out.push(format!("\"|{h}|\""));
        } else {
            out.push("--string".into());
            let mut s = String::from("\"");
            for &b in p {
                if b == b'"' || b == b'\\' {
                    s.push('\\');
                }
                s.push(char::from(b));
            }
            s.push('"');
            out.push(s);
        }
        out.push("--algo".into());
        out.push(self.algo.clone());
        if self.from != 0 {
            out.push("--from".into());
            out.push(self.from.to_string());
        }
        if self.to != u16::MAX {
            out.push("--to".into());
            out.push(self.to.to_string());
        }
        if self.icase {
            out.push("--icase".into());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    if ctx.revision > 1 {
        return Err(super::opts::unknown_revision(
            ExtKind::Match,
            NAME,
            ctx.revision,
        ));
    }
    let mut r = sized(NAME, blob, 160)?;
    let from = tr(NAME, r.u16())?;
    let to = tr(NAME, r.u16())?;
    let algo = tr(NAME, r.cstr(ALGO_LEN))?;
    let pattern = tr(NAME, r.bytes(PATTERN_LEN))?;
    let patlen = usize::from(tr(NAME, r.u8())?);
    if patlen > PATTERN_LEN {
        return Err(malformed(
            NAME,
            blob.len(),
            format!("pattern length {patlen}"),
        ));
    }
    let fl = tr(NAME, r.u8())?;
    let (invert, icase) = if ctx.revision == 0 {
        (fl != 0, false)
    } else {
        (fl & F_INVERT != 0, fl & F_ICASE != 0)
    };
    Ok(StringMatch {
        from,
        to,
        algo,
        pattern: pattern[..patlen].to_vec(),
        invert,
        icase,
    }
    .words())
}

/// iptables' `parse_hex_string`: text with `|hex hex|` blocks and `\x` literals.
fn parse_hex(s: &str) -> Result<Vec<u8>, ExtError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(bad(NAME, "STRING must contain at least one char"));
    }
    let mut out = Vec::new();
    let (mut i, mut hex) = (0usize, false);
    while i < b.len() {
        if out.len() >= PATTERN_LEN {
            return Err(bad(NAME, format!("STRING too long `{s}`")));
        }
        let mut literal = false;
        if b[i] == b'\\' && !hex {
            literal = true;
        } else if b[i] == b'\\' {
            return Err(bad(NAME, "cannot include literals in hex data"));
        } else if b[i] == b'|' {
            if hex {
                hex = false;
            } else {
                hex = true;
                while b.get(i + 1) == Some(&b' ') {
                    i += 1;
                }
            }
            if i + 1 >= b.len() {
                break;
            }
            i += 1;
        }
        if literal {
            let c = *b
                .get(i + 1)
                .ok_or_else(|| bad(NAME, "bad literal placement at end of string"))?;
            out.push(c);
            i += 2;
        } else if hex {
            if i + 2 >= b.len() {
                return Err(bad(NAME, "invalid hex block"));
            }
            let pair = std::str::from_utf8(&b[i..i + 2])
                .ok()
                .filter(|p| p.bytes().all(|c| c.is_ascii_hexdigit()))
                .ok_or_else(|| bad(NAME, "invalid hex char"))?;
            out.push(u8::from_str_radix(pair, 16).map_err(|_| bad(NAME, "invalid hex char"))?);
            i += if b[i + 2] == b' ' { 3 } else { 2 };
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut m = StringMatch {
        from: 0,
        to: u16::MAX,
        algo: String::new(),
        pattern: Vec::new(),
        invert: false,
        icase: false,
    };
    let mut have_pattern = false;
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--string" | "--hex-string" => {
                let v = a.value(o)?;
                m.pattern = if o == "--string" {
                    if v.len() > PATTERN_LEN {
                        return Err(bad(NAME, format!("STRING too long `{v}`")));
                    }
                    v.as_bytes().to_vec()
                } else {
                    parse_hex(v)?
                };
                m.invert = inv;
                have_pattern = true;
            }
            "--algo" => {
                a.no_invert(inv, o)?;
                let v = a.value(o)?;
                if v.len() >= ALGO_LEN {
                    return Err(bad(NAME, "algorithm name too long"));
                }
                m.algo = v.to_owned();
            }
            "--from" => {
                a.no_invert(inv, o)?;
                m.from = uint(NAME, a.value(o)?, 0, 0xffff)? as u16;
            }
            "--to" => {
                a.no_invert(inv, o)?;
                m.to = uint(NAME, a.value(o)?, 0, 0xffff)? as u16;
            }
            "--icase" => {
                a.no_invert(inv, o)?;
                m.icase = true;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if !have_pattern {
        return Err(bad(NAME, "--string or --hex-string is required"));
    }
    if m.algo.is_empty() {
        return Err(bad(NAME, "--algo is required"));
    }
    Ok(m.words())
}
