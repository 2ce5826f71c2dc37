//! `-m set` (xt_set_info_match_v1 rev 1/2, _v3 rev 3, _v4 rev 4). The kernel blob holds the
//! set's *index*; its name comes from ipset in the namespace being read, through a resolver
//! the reader installs with [`with_names`] (no resolver: the blob stays undecoded).

use std::cell::RefCell;

use super::args::{bad, need, num, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "set";
const INV_MATCH: u8 = 1;
const RETURN_NOMATCH_V2: u8 = 1 << 7;
const F_SKIP_COUNTER: u32 = 1 << 3;
const F_SKIP_SUBCOUNTER: u32 = 1 << 4;
const F_RETURN_NOMATCH: u32 = 1 << 7;
const OP_EQ: u8 = 1;
const OP_NE: u8 = 2;
const OP_LT: u8 = 3;
const OP_GT: u8 = 4;
const MAXNAMELEN: usize = 32;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

type Resolver<'a> = &'a dyn Fn(u16) -> Option<String>;
type NameFn = Box<dyn Fn(u16) -> Option<String>>;

thread_local! {
    static RESOLVER: RefCell<Option<NameFn>> = const { RefCell::new(None) };
}

/// Run `f` with set indexes resolved to names by `names` (on this thread).
pub fn with_names<T>(names: impl Fn(u16) -> Option<String> + 'static, f: impl FnOnce() -> T) -> T {
    RESOLVER.with(|r| *r.borrow_mut() = Some(Box::new(names)));
    let out = f();
    RESOLVER.with(|r| *r.borrow_mut() = None);
    out
}

pub(crate) fn resolve(index: u16) -> Result<String, ExtError> {
    RESOLVER.with(|r| {
        let r = r.borrow();
        let f: Option<Resolver> = r.as_deref();
        f.and_then(|f| f(index)).ok_or_else(|| {
            bad(
                NAME,
                format!("no name for ipset index {index} (no ipset lookup here)"),
            )
        })
    })
}

#[derive(Default)]
struct SetMatch {
    name: String,
    dim: u8,
    flags: u8,
    v3_flags: u32,
    packets: (u8, u64),
    bytes: (u8, u64),
}

fn counter(w: &mut Vec<String>, c: (u8, u64), what: &str) {
    let (neg, op) = match c.0 {
        OP_EQ => (false, "eq"),
        OP_NE => (true, "eq"),
        OP_LT => (false, "lt"),
        OP_GT => (false, "gt"),
        _ => return,
    };
    if neg {
        w.push("!".into());
    }
    w.push(format!("--{what}-{op}"));
    w.push(c.1.to_string());
}

impl SetMatch {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.flags & INV_MATCH != 0 {
            w.push("!".into());
        }
        w.push("--match-set".into());
        w.push(self.name.clone());
        if self.dim > 0 {
            w.push(
                (1..=self.dim)
                    .map(|i| {
                        if self.flags & (1 << i) != 0 {
                            "src"
                        } else {
                            "dst"
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        if self.flags & RETURN_NOMATCH_V2 != 0 || self.v3_flags & F_RETURN_NOMATCH != 0 {
            w.push("--return-nomatch".into());
        }
        if self.v3_flags & F_SKIP_COUNTER != 0 {
            w.extend(["!".into(), "--update-counters".into()]);
        }
        if self.v3_flags & F_SKIP_SUBCOUNTER != 0 {
            w.extend(["!".into(), "--update-subcounters".into()]);
        }
        counter(&mut w, self.packets, "packets");
        counter(&mut w, self.bytes, "bytes");
        w
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(NAME)(e);
    let size = match ctx.revision {
        1 | 2 => 4,
        3 | 4 => 44,
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Match,
                NAME,
                revision,
            ));
        }
    };
    let mut r = need(NAME, blob, size)?;
    let index = r.u16().map_err(t)?;
    let mut m = SetMatch {
        dim: r.u8().map_err(t)?,
        flags: r.u8().map_err(t)?,
        ..SetMatch::default()
    };
    if ctx.revision == 1 {
        m.flags &= !RETURN_NOMATCH_V2;
    }
    if ctx.revision >= 3 {
        r.skip(4).map_err(t)?;
        let ctr = |r: &mut crate::bytes::Reader| -> Result<(u8, u64), ExtError> {
            // v3: { u8 op; u64 value } ; v4: { u64 value; u8 op } (both 16 bytes).
            if ctx.revision == 3 {
                let op = r.u8().map_err(t)?;
                r.skip(7).map_err(t)?;
                Ok((op, r.u64().map_err(t)?))
            } else {
                let v = r.u64().map_err(t)?;
                let op = r.u8().map_err(t)?;
                r.skip(7).map_err(t)?;
                Ok((op, v))
            }
        };
        m.packets = ctr(&mut r)?;
        m.bytes = ctr(&mut r)?;
        m.v3_flags = r.u32().map_err(t)?;
        // Rev 3+ keep return-nomatch in the flags word, not in the dim flags.
        m.flags &= !RETURN_NOMATCH_V2;
    }
    m.name = resolve(index)?;
    Ok(m.words())
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("match-set", 2),
        ("set", 2),
        ("return-nomatch", 0),
        ("update-counters", 0),
        ("update-subcounters", 0),
        ("packets-eq", 1),
        ("packets-lt", 1),
        ("packets-gt", 1),
        ("bytes-eq", 1),
        ("bytes-lt", 1),
        ("bytes-gt", 1),
    ];
    let mut m = SetMatch::default();
    for o in scan(NAME, &specs, words)? {
        match o.name {
            "match-set" | "set" => {
                if o.args[0].is_empty() || o.args[0].len() >= MAXNAMELEN {
                    return Err(bad(NAME, "bad set name"));
                }
                m.name = o.args[0].clone();
                let dirs: Vec<&str> = o.args[1].split(',').collect();
                if dirs.len() > 6 {
                    return Err(bad(NAME, "too many src/dst flags"));
                }
                m.dim = dirs.len() as u8;
                for (i, d) in dirs.iter().enumerate() {
                    match *d {
                        "src" => m.flags |= 1 << (i + 1),
                        "dst" => {}
                        _ => return Err(bad(NAME, format!("bad flag `{d}`"))),
                    }
                }
                if o.inv {
                    m.flags |= INV_MATCH;
                }
            }
            "return-nomatch" => m.v3_flags |= F_RETURN_NOMATCH,
            "update-counters" if o.inv => m.v3_flags |= F_SKIP_COUNTER,
            "update-subcounters" if o.inv => m.v3_flags |= F_SKIP_SUBCOUNTER,
            "update-counters" | "update-subcounters" => {}
            name => {
                let v: u64 = num(NAME, &o.args[0])?;
                let op = match (name.ends_with("eq"), name.ends_with("lt"), o.inv) {
                    (true, _, false) => OP_EQ,
                    (true, _, true) => OP_NE,
                    (_, true, false) => OP_LT,
                    (false, false, false) => OP_GT,
                    _ => return Err(bad(NAME, format!("--{name} cannot be inverted"))),
                };
                if name.starts_with("packets") {
                    m.packets = (op, v);
                } else {
                    m.bytes = (op, v);
                }
            }
        }
    }
    if m.name.is_empty() {
        return Err(bad(NAME, "--match-set NAME FLAGS is required"));
    }
    Ok(m.words())
}
