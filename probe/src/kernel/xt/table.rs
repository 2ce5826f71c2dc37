//! A whole table blob (the answer of `*_SO_GET_ENTRIES`) → canonical `Table`, the way libiptc
//! reads it: a hook entry point or an `ERROR` entry starts a chain, the last entry of every
//! chain is its policy / RETURN footer, the final `ERROR` entry ends the table, jumps are
//! byte offsets of chain starts.
//!
//! [`layout`] cuts the blob into chains (shared with the straight-to-text path of
//! `save.rs`), [`rule`] decodes one entry.

use std::collections::HashMap;
use std::ops::Range;

use super::entry::{self, EXT_HDR, ExtBlob};
use super::sockopt::{NUMHOOKS, TableInfo};
use crate::ext::cache::{Decoded, ExtCache};
use crate::ext::{self, DecodeCtx, ExtKind};
use crate::ruleset::{
    Chain, Counters, ExtBody, Family, IpHeader, Match, Policy, Rule, Table, Target, Undecoded,
    Verdict,
};

const HOOK_NAMES: [&str; NUMHOOKS] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
pub(super) const STANDARD_TARGET: &str = "";
pub(super) const ERROR_TARGET: &str = "ERROR";
/// `XT_FUNCTION_MAXNAMELEN` (`struct xt_error_target.errorname`).
const ERRORNAME_LEN: usize = 30;

// Standard verdicts are stored as -verdict - 1.
pub(super) const V_DROP: i32 = -1;
pub(super) const V_ACCEPT: i32 = -2;
pub(super) const V_QUEUE: i32 = -4;
pub(super) const V_RETURN: i32 = -5;

/// One entry of the blob as walked: its place, its bytes and, when its structure is
/// broken, why (a broken entry swallows the rest of the blob: there is no way to find the
/// next one).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ent<'a> {
    pub offset: usize,
    pub bytes: &'a [u8],
    pub broken: Option<&'a str>,
    /// Where the target starts (checked to lie inside the entry unless broken).
    pub target_offset: usize,
}

impl<'a> Ent<'a> {
    fn target(&self) -> Option<ExtBlob<'a>> {
        if self.broken.is_some() {
            return None;
        }
        entry::ext(self.bytes.get(self.target_offset..)?)
            .ok()
            .map(|(t, _)| t)
    }

    /// Offset just past the entry (where a "continue" verdict points).
    pub fn end(&self) -> usize {
        self.offset + self.bytes.len()
    }
}

/// The entries of a blob, walked by `next_offset`: every well-formed entry, then possibly
/// one broken entry running to the end of the blob. Only offsets are kept (a few bytes per
/// rule); entries are decoded when used.
pub(super) struct Walk<'b> {
    blob: &'b [u8],
    /// Start of every well-formed entry and `target_offset` inside it; then the end of the
    /// last one.
    offsets: Vec<(usize, usize)>,
    broken: Option<String>,
}

impl<'b> Walk<'b> {
    fn new(family: Family, blob: &'b [u8], entries_hint: u32) -> Self {
        let min = entry::entry_size(family);
        // Sized once from GET_INFO's count (bounded by what the blob can hold).
        let cap = (entries_hint as usize).min(blob.len() / (min + EXT_HDR)) + 1;
        let mut offsets = Vec::with_capacity(cap);
        let mut broken = None;
        let mut off = 0;
        while off < blob.len() {
            let rest = &blob[off..];
            let next = match entry::offsets(family, rest) {
                Ok((_, n)) if n < min + EXT_HDR || n > rest.len() => Err(format!(
                    "next_offset {n} out of range ({} bytes left)",
                    rest.len()
                )),
                Ok((t, n)) if t < min || t + EXT_HDR > n => {
                    Err(format!("target_offset {t} outside the entry of {n} bytes"))
                }
                Ok((_, n)) if n % 8 != 0 => Err(format!("next_offset {n} not 8-aligned")),
                Ok((t, n)) => Ok((t, n)),
                Err(e) => Err(e.to_string()),
            };
            match next {
                Ok((t, n)) => {
                    offsets.push((off, t));
                    off += n;
                }
                Err(reason) => {
                    broken = Some(reason);
                    break;
                }
            }
        }
        offsets.push((off, 0));
        Self {
            blob,
            offsets,
            broken,
        }
    }

    /// Number of entries (a broken one included).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1 + usize::from(self.broken.is_some())
    }

    /// Entry `i` (`i < len()`).
    pub fn get(&self, i: usize) -> Option<Ent<'_>> {
        let &(offset, target_offset) = self.offsets.get(i)?;
        match self.offsets.get(i + 1) {
            Some(&(end, _)) => Some(Ent {
                offset,
                bytes: self.blob.get(offset..end)?,
                broken: None,
                target_offset,
            }),
            None => Some(Ent {
                offset,
                bytes: self.blob.get(offset..)?,
                broken: Some(self.broken.as_deref()?),
                target_offset: 0,
            }),
        }
    }
}

/// One chain as cut from the blob.
pub(super) struct ChainLayout {
    /// Name, kind, policy and counters; `rules` left empty.
    pub chain: Chain,
    /// Indices (into the walk) of its rule entries, footer excluded.
    pub body: Range<usize>,
    /// Rules printed after the entries: an unusable footer, entries outside any chain, a
    /// note that the table blob was cut short.
    pub tail: Vec<Rule>,
}

/// A table cut into chains, in the order iptables-save prints them.
pub(super) struct Layout<'b> {
    pub walk: Walk<'b>,
    pub chains: Vec<ChainLayout>,
    /// Chain name by the offset of its first entry (jump targets).
    pub starts: HashMap<usize, String>,
}

/// Cut the blob into chains and read their footers (policies and counters of built-in
/// chains). Never fails: whatever cannot be understood becomes `Undecoded` tail rules.
pub(super) fn layout<'b>(
    family: Family,
    name: &str,
    info: &TableInfo,
    blob: &'b [u8],
) -> Layout<'b> {
    let walk = Walk::new(family, blob, info.num_entries);
    let hook_at = |off: usize| {
        (0..NUMHOOKS)
            .find(|&h| info.valid_hooks & (1 << h) != 0 && info.hook_entry[h] as usize == off)
    };

    // Pass 1: cut the entry list into chains and learn where each chain starts. A chain's
    // entries are consecutive: (name, builtin, first entry index, end index).
    let mut cut: Vec<(String, bool, usize, usize)> = Vec::new();
    let mut starts: HashMap<usize, String> = HashMap::new();
    let mut orphans: Range<usize> = 0..0;
    let mut ended = false;
    for i in 0..walk.len() {
        let Some(e) = walk.get(i) else { break };
        let target = e.target();
        let is_error = target.as_ref().is_some_and(|t| t.name == ERROR_TARGET);
        if is_error && e.end() == blob.len() {
            ended = true;
            break;
        }
        if is_error {
            let cname = target
                .and_then(|t| crate::bytes::Reader::new(t.data).cstr(ERRORNAME_LEN).ok())
                .unwrap_or_default();
            starts.insert(e.end(), cname.clone());
            cut.push((cname, false, i + 1, i + 1));
            continue;
        }
        if let Some(h) = hook_at(e.offset) {
            starts.insert(e.offset, HOOK_NAMES[h].to_owned());
            cut.push((HOOK_NAMES[h].to_owned(), true, i, i));
        }
        match cut.last_mut() {
            Some(c) => c.3 = i + 1,
            None => orphans.end = i + 1,
        }
    }

    // Pass 2: split off the footers.
    let mut out: Vec<ChainLayout> = Vec::with_capacity(cut.len());
    let mut cache = ExtCache::new();
    for (cname, builtin, first, end) in cut {
        let mut policy = None;
        let mut counters = None;
        let mut tail = Vec::new();
        let footer = (first < end).then(|| walk.get(end - 1)).flatten();
        if let Some(f) = footer {
            let fr = rule(family, &f, &starts, &mut cache);
            if builtin {
                policy = match fr.target {
                    Target::Verdict(Verdict::Accept) => Some(Policy::Accept),
                    Target::Verdict(Verdict::Drop) => Some(Policy::Drop),
                    _ => None,
                };
                counters = Some(entry_counters(family, &f).unwrap_or_default());
                if policy.is_none() {
                    // The kernel only accepts ACCEPT/DROP policies; show anything else.
                    tail.push(undecodable_footer(
                        family,
                        &f,
                        "built-in chain footer is not an ACCEPT/DROP policy",
                    ));
                }
            } else if !(matches!(fr.target, Target::Verdict(Verdict::Return))
                && fr.matches.is_empty()
                && fr.undecoded.is_empty()
                && fr.ip == IpHeader::default())
            {
                tail.push(undecodable_footer(
                    family,
                    &f,
                    "user chain does not end with an unconditional RETURN",
                ));
            }
        }
        out.push(ChainLayout {
            chain: Chain {
                name: cname,
                builtin,
                policy,
                counters: if builtin {
                    counters.or(Some(Counters::default()))
                } else {
                    None
                },
                rules: Vec::new(),
            },
            body: first..end.saturating_sub(1).max(first),
            tail,
        });
    }
    if !orphans.is_empty() || !ended {
        let mut rules: Vec<Rule> = orphans
            .filter_map(|i| walk.get(i))
            .map(|e| undecodable_footer(family, &e, "entry outside any chain"))
            .collect();
        if !ended {
            rules.push(Rule {
                undecoded: vec![Undecoded {
                    what: format!("{name} table"),
                    reason: "no final ERROR entry: table blob truncated or malformed".into(),
                    raw: Vec::new(),
                }],
                ..Rule::default()
            });
        }
        match out.last_mut() {
            Some(c) => c.tail.extend(rules),
            None => out.push(ChainLayout {
                chain: Chain {
                    name: "(undecodable)".into(),
                    builtin: false,
                    policy: None,
                    counters: None,
                    rules: Vec::new(),
                },
                body: 0..0,
                tail: rules,
            }),
        }
    }

    // iptables-save (libiptc) lists built-in chains in blob order, user chains by name.
    let (builtins, mut users): (Vec<ChainLayout>, Vec<ChainLayout>) =
        out.into_iter().partition(|c| c.chain.builtin);
    users.sort_by(|a, b| a.chain.name.as_bytes().cmp(b.chain.name.as_bytes()));
    let mut chains = builtins;
    chains.extend(users);
    Layout {
        walk,
        chains,
        starts,
    }
}

/// Decode a table. Never fails: whatever cannot be understood becomes `Undecoded` parts of
/// rules (or a pseudo-rule when the entry structure itself is broken).
pub fn decode(family: Family, name: &str, info: &TableInfo, blob: &[u8]) -> Table {
    let Layout {
        walk,
        chains,
        starts,
    } = layout(family, name, info, blob);
    let mut cache = ExtCache::new();
    let chains = chains
        .into_iter()
        .map(|c| {
            let mut chain = c.chain;
            chain.rules = c
                .body
                .filter_map(|i| walk.get(i))
                .map(|e| rule(family, &e, &starts, &mut cache))
                .collect();
            chain.rules.extend(c.tail);
            chain
        })
        .collect();
    Table {
        name: name.to_owned(),
        chains,
    }
}

fn entry_counters(family: Family, e: &Ent) -> Option<Counters> {
    if e.broken.is_some() {
        return None;
    }
    entry::head(family, e.bytes).ok().map(|h| h.counters)
}

fn undecodable_footer(family: Family, e: &Ent, reason: &str) -> Rule {
    Rule {
        counters: entry_counters(family, e),
        undecoded: vec![Undecoded {
            what: format!("xt entry at offset {}", e.offset),
            reason: reason.to_owned(),
            raw: e.bytes.to_vec(),
        }],
        ..Rule::default()
    }
}

/// One entry → `Rule`.
pub(super) fn rule(
    family: Family,
    e: &Ent,
    starts: &HashMap<usize, String>,
    cache: &mut ExtCache,
) -> Rule {
    let what = || format!("xt entry at offset {}", e.offset);
    let whole = |reason: String| Rule {
        undecoded: vec![Undecoded {
            what: what(),
            reason,
            raw: e.bytes.to_vec(),
        }],
        ..Rule::default()
    };
    if let Some(reason) = e.broken {
        return whole(reason.to_owned());
    }
    let head = match entry::head(family, e.bytes) {
        Ok(h) => h,
        Err(err) => return whole(err.to_string()),
    };
    let mut rule = Rule {
        ip: head.ip,
        counters: Some(head.counters),
        ..Rule::default()
    };
    let fail = |rule: &mut Rule, reason: String| {
        rule.undecoded.push(Undecoded {
            what: what(),
            reason,
            raw: e.bytes.to_vec(),
        });
    };

    // Matches sit between the fixed part and the target.
    let mut off = entry::entry_size(family);
    while off < head.target_offset {
        match entry::ext(e.bytes.get(off..head.target_offset).unwrap_or_default()) {
            Ok((m, size)) => {
                rule.matches.push(ext_match(family, &m, cache));
                off += size;
            }
            Err(reason) => {
                fail(&mut rule, format!("match at +{off}: {reason}"));
                return rule;
            }
        }
    }

    let t = match entry::ext(e.bytes.get(head.target_offset..).unwrap_or_default()) {
        Ok((t, _)) => t,
        Err(reason) => {
            fail(&mut rule, format!("target: {reason}"));
            return rule;
        }
    };
    rule.target = match t.name.as_ref() {
        STANDARD_TARGET => {
            let Some(v) = t.data.get(..4) else {
                fail(&mut rule, "standard target without a verdict".into());
                return rule;
            };
            let v = i32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
            match v {
                V_ACCEPT => Target::Verdict(Verdict::Accept),
                V_DROP => Target::Verdict(Verdict::Drop),
                V_QUEUE => Target::Verdict(Verdict::Queue),
                V_RETURN => Target::Verdict(Verdict::Return),
                v if v >= 0 && v as usize == e.end() => Target::None,
                v if v >= 0 => match starts.get(&(v as usize)) {
                    Some(c) if head.goto => Target::Goto(c.clone()),
                    Some(c) => Target::Jump(c.clone()),
                    None => {
                        fail(&mut rule, format!("jump to offset {v}, not a chain start"));
                        Target::None
                    }
                },
                v => {
                    fail(&mut rule, format!("unknown standard verdict {v}"));
                    Target::None
                }
            }
        }
        ERROR_TARGET => {
            fail(&mut rule, "ERROR target inside a chain".into());
            Target::None
        }
        _ => {
            let (name, body) = decoded(ExtKind::Target, family, &t, cache);
            Target::Ext {
                name,
                revision: t.revision,
                body,
            }
        }
    };
    rule
}

fn ext_match(family: Family, m: &ExtBlob, cache: &mut ExtCache) -> Match {
    let (name, body) = decoded(ExtKind::Match, family, m, cache);
    Match {
        name,
        revision: m.revision,
        body,
    }
}

/// The printed name and the words of a match or target blob (remembered by its bytes for
/// the rest of the table: rulesets repeat the same blobs).
fn decoded(kind: ExtKind, family: Family, x: &ExtBlob, cache: &mut ExtCache) -> Decoded {
    let ctx = DecodeCtx {
        family,
        revision: x.revision,
    };
    cache.get(x.blob(kind, family), || {
        let body = match ext::decode(kind, &x.name, &ctx, x.data) {
            Ok(words) => ExtBody::Decoded(words),
            Err(err) => {
                log::debug!("{kind} {} rev {}: {err}", x.name, x.revision);
                ExtBody::Raw(x.data.to_vec())
            }
        };
        (ext::save_name(kind, &x.name, &ctx, x.data), body)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: usize = 112; // sizeof(struct ipt_entry)

    fn entry(target: &[u8], tname: &str, counters: (u64, u64)) -> Vec<u8> {
        let tsize = (EXT_HDR + target.len()).div_ceil(8) * 8;
        let mut b = vec![0u8; E + tsize];
        b[88..90].copy_from_slice(&(E as u16).to_ne_bytes());
        b[90..92].copy_from_slice(&((E + tsize) as u16).to_ne_bytes());
        b[96..104].copy_from_slice(&counters.0.to_ne_bytes());
        b[104..112].copy_from_slice(&counters.1.to_ne_bytes());
        b[E..E + 2].copy_from_slice(&(tsize as u16).to_ne_bytes());
        b[E + 2..E + 2 + tname.len()].copy_from_slice(tname.as_bytes());
        b[E + EXT_HDR..E + EXT_HDR + target.len()].copy_from_slice(target);
        b
    }

    fn verdict(v: i32) -> Vec<u8> {
        entry(&v.to_ne_bytes(), "", (0, 0))
    }

    fn error(name: &str) -> Vec<u8> {
        let mut t = [0u8; 30];
        t[..name.len()].copy_from_slice(name.as_bytes());
        entry(&t, "ERROR", (0, 0))
    }

    /// filter: INPUT (jump to X, policy DROP), FORWARD, OUTPUT, user chain X (RETURN).
    fn table() -> (TableInfo, Vec<u8>) {
        let mut blob = Vec::new();
        let mut info = TableInfo {
            valid_hooks: 0b1110,
            hook_entry: [0; NUMHOOKS],
            underflow: [0; NUMHOOKS],
            num_entries: 0,
            size: 0,
        };
        // INPUT: rule jumping to X, then policy.
        info.hook_entry[1] = blob.len() as u32;
        let jump_at = blob.len();
        blob.extend(verdict(0)); // patched below
        info.underflow[1] = blob.len() as u32;
        blob.extend(entry(&V_DROP.to_ne_bytes(), "", (5, 500)));
        for h in [2, 3] {
            info.hook_entry[h] = blob.len() as u32;
            info.underflow[h] = blob.len() as u32;
            blob.extend(verdict(V_ACCEPT));
        }
        blob.extend(error("X"));
        let x_start = blob.len() as i32;
        blob.extend(verdict(V_RETURN));
        blob.extend(error("ERROR"));
        let v = jump_at + E + EXT_HDR;
        blob[v..v + 4].copy_from_slice(&x_start.to_ne_bytes());
        info.size = blob.len() as u32;
        (info, blob)
    }

    #[test]
    fn decodes_chains_policies_jumps() {
        let (info, blob) = table();
        let t = decode(Family::Ipv4, "filter", &info, &blob);
        let names: Vec<_> = t.chains.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["INPUT", "FORWARD", "OUTPUT", "X"]);
        assert_eq!(t.chains[0].policy, Some(Policy::Drop));
        assert_eq!(
            t.chains[0].counters,
            Some(Counters {
                packets: 5,
                bytes: 500
            })
        );
        assert_eq!(t.chains[0].rules[0].target, Target::Jump("X".into()));
        assert!(t.chains[3].rules.is_empty());
    }

    #[test]
    fn malformed_blobs_never_panic() {
        let (info, blob) = table();
        for n in 0..blob.len() {
            let t = decode(Family::Ipv4, "filter", &info, &blob[..n]);
            // A truncated table is never silently complete.
            let undecoded = t
                .chains
                .iter()
                .flat_map(|c| &c.rules)
                .any(|r| !r.is_decoded());
            assert!(undecoded || n == 0, "truncation at {n} went unnoticed");
        }
        for i in 0..blob.len() {
            for x in [0xffu8, 0x01, 0x80] {
                let mut b = blob.clone();
                b[i] ^= x;
                let _ = decode(Family::Ipv4, "filter", &info, &b);
                let _ = decode(Family::Ipv6, "filter", &info, &b);
            }
        }
    }
}
