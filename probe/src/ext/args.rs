//! Shared helpers of the core extensions: scanning command-line words into options (with
//! `!` and getopt_long-style unique prefixes), numbers as `strtoul(.., 0)` reads them, marks,
//! ports, and the error constructors.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::ExtError;
use crate::bytes::Reader;

/// One option as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opt {
    pub name: &'static str,
    pub inv: bool,
    pub args: Vec<String>,
}

pub(crate) fn bad(ext: &str, reason: impl Into<String>) -> ExtError {
    ExtError::BadArgument {
        name: ext.to_owned(),
        reason: reason.into(),
    }
}

pub(crate) fn malformed(ext: &str, len: usize, reason: impl Into<String>) -> ExtError {
    ExtError::Malformed {
        name: ext.to_owned(),
        len,
        reason: reason.into(),
    }
}

/// A reader over `blob` after checking it holds at least `size` bytes (the struct).
pub(crate) fn need<'a>(ext: &str, blob: &'a [u8], size: usize) -> Result<Reader<'a>, ExtError> {
    if blob.len() < size {
        return Err(malformed(
            ext,
            blob.len(),
            format!("shorter than the {size}-byte struct"),
        ));
    }
    Ok(Reader::new(blob))
}

/// Split words into options. `specs` lists `(long name without --, number of arguments)`.
/// Accepts `! --opt`, unique prefixes of long names, `--opt=value`.
pub(crate) fn scan(
    ext: &str,
    specs: &[(&'static str, usize)],
    words: &[String],
) -> Result<Vec<Opt>, ExtError> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut inv = false;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if w == "!" {
            if inv {
                return Err(bad(ext, "double `!`"));
            }
            inv = true;
            continue;
        }
        let Some(body) = w.strip_prefix("--") else {
            return Err(bad(ext, format!("unexpected word `{w}`")));
        };
        let (key, inline) = match body.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (body, None),
        };
        let (name, nargs) = lookup(ext, specs, key)?;
        let mut args = Vec::with_capacity(nargs);
        if let Some(v) = inline {
            args.push(v);
        }
        while args.len() < nargs {
            let Some(a) = words.get(i) else {
                return Err(bad(
                    ext,
                    format!("option `--{name}` needs {nargs} argument(s)"),
                ));
            };
            args.push(a.clone());
            i += 1;
        }
        if args.len() > nargs {
            return Err(bad(ext, format!("option `--{name}` takes no argument")));
        }
        out.push(Opt { name, inv, args });
        inv = false;
    }
    if inv {
        return Err(bad(ext, "trailing `!`"));
    }
    Ok(out)
}

fn lookup(
    ext: &str,
    specs: &[(&'static str, usize)],
    key: &str,
) -> Result<(&'static str, usize), ExtError> {
    if let Some(&(n, a)) = specs.iter().find(|(n, _)| *n == key) {
        return Ok((n, a));
    }
    let cands: Vec<_> = specs.iter().filter(|(n, _)| n.starts_with(key)).collect();
    match cands.as_slice() {
        [(n, a)] if !key.is_empty() => Ok((*n, *a)),
        [] | [_] => Err(bad(ext, format!("unknown option `--{key}`"))),
        _ => Err(bad(ext, format!("ambiguous option `--{key}`"))),
    }
}

/// Rejects `!` on an option that cannot be inverted.
pub(crate) fn no_inv(ext: &str, o: &Opt) -> Result<(), ExtError> {
    if o.inv {
        return Err(bad(ext, format!("`--{}` cannot be inverted", o.name)));
    }
    Ok(())
}

/// An unsigned number as `strtoumax(s, .., 0)`: decimal, `0x` hex, leading-0 octal.
pub(crate) fn num_u64(s: &str) -> Option<u64> {
    let t = s.trim_start();
    if t.starts_with('-') || t.is_empty() {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

pub(crate) fn num<T: TryFrom<u64>>(ext: &str, s: &str) -> Result<T, ExtError> {
    num_u64(s)
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| bad(ext, format!("bad number `{s}`")))
}

/// `0xMARK` or `0xMARK/0xMASK` as xtables_print_mark_mask writes it.
pub(crate) fn mark_mask(mark: u32, mask: u32) -> String {
    if mask == u32::MAX {
        format!("{mark:#x}")
    } else {
        format!("{mark:#x}/{mask:#x}")
    }
}

/// `MARK[/MASK]`, mask defaulting to all ones.
pub(crate) fn parse_mark_mask(ext: &str, s: &str) -> Result<(u32, u32), ExtError> {
    match s.split_once('/') {
        Some((m, k)) => Ok((num(ext, m)?, num(ext, k)?)),
        None => Ok((num(ext, s)?, u32::MAX)),
    }
}

/// A port as xtables_parse_port reads it: a number, else a service name of /etc/services.
pub(crate) fn port(ext: &str, s: &str, proto: &str) -> Result<u16, ExtError> {
    if let Some(v) = num_u64(s) {
        return u16::try_from(v).map_err(|_| bad(ext, format!("port `{s}` out of range")));
    }
    services()
        .get(&(s.to_owned(), proto.to_owned()))
        .copied()
        .ok_or_else(|| bad(ext, format!("invalid port/service `{s}`")))
}

/// `A[:B]` port range; `A:` means A..65535, `:B` means 0..B.
pub(crate) fn port_range(ext: &str, s: &str, proto: &str) -> Result<(u16, u16), ExtError> {
    match s.split_once(':') {
        Some((a, b)) => {
            let lo = if a.is_empty() {
                0
            } else {
                port(ext, a, proto)?
            };
            let hi = if b.is_empty() {
                u16::MAX
            } else {
                port(ext, b, proto)?
            };
            if lo > hi {
                return Err(bad(ext, format!("invalid port range `{s}`")));
            }
            Ok((lo, hi))
        }
        None => {
            let p = port(ext, s, proto)?;
            Ok((p, p))
        }
    }
}

fn services() -> &'static HashMap<(String, String), u16> {
    static S: OnceLock<HashMap<(String, String), u16>> = OnceLock::new();
    S.get_or_init(|| {
        let mut m = HashMap::new();
        let text = std::fs::read_to_string("/etc/services").unwrap_or_default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            let (Some(name), Some(pp)) = (w.next(), w.next()) else {
                continue;
            };
            let Some((p, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(p) = p.parse::<u16>() else { continue };
            for n in std::iter::once(name).chain(w) {
                m.entry((n.to_owned(), proto.to_owned())).or_insert(p);
            }
        }
        m
    })
}

/// Push `!` when inverted (iptables-save prints it as its own word before the option).
pub(crate) fn push_inv(words: &mut impl super::words::WordSink, inv: bool) {
    if inv {
        words.word("!");
    }
}

/// Words from a literal list (tests).
#[cfg(test)]
pub(crate) fn w(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        w(v)
    }

    #[test]
    fn scanning() {
        let specs = [("dport", 1), ("sport", 1), ("syn", 0), ("tcp-flags", 2)];
        let o = scan(
            "t",
            &specs,
            &s(&["!", "--dp", "80", "--syn", "--tcp-flags", "A", "B"]),
        )
        .unwrap();
        assert_eq!(o.len(), 3);
        assert!(o[0].inv && o[0].name == "dport" && o[0].args == ["80"]);
        assert!(scan("t", &specs, &s(&["--port", "1"])).is_err());
        assert!(scan("t", &specs, &s(&["--dport"])).is_err());
        assert!(scan("t", &specs, &s(&["--dport", "1", "!"])).is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(num_u64("0x10"), Some(16));
        assert_eq!(num_u64("010"), Some(8));
        assert_eq!(num_u64("0"), Some(0));
        assert_eq!(num_u64("-1"), None);
        assert_eq!(mark_mask(1, u32::MAX), "0x1");
        assert_eq!(mark_mask(0, 0xff), "0x0/0xff");
    }
}
