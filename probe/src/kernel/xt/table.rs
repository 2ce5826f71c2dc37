//! A whole table blob (the answer of `*_SO_GET_ENTRIES`) → canonical `Table`, the way libiptc
//! reads it: a hook entry point or an `ERROR` entry starts a chain, the last entry of every
//! chain is its policy / RETURN footer, the final `ERROR` entry ends the table, jumps are
//! byte offsets of chain starts.

use std::collections::HashMap;

use super::entry::{self, EXT_HDR, EntryHead, ExtBlob};
use super::sockopt::{NUMHOOKS, TableInfo};
use crate::ext::cache::{Decoded, ExtCache};
use crate::ext::{self, DecodeCtx, ExtKind};
use crate::ruleset::{
    Chain, Counters, ExtBody, Family, IpHeader, Match, Policy, Rule, Table, Target, Undecoded,
    Verdict,
};

const HOOK_NAMES: [&str; NUMHOOKS] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
const STANDARD_TARGET: &str = "";
const ERROR_TARGET: &str = "ERROR";
/// `XT_FUNCTION_MAXNAMELEN` (`struct xt_error_target.errorname`).
const ERRORNAME_LEN: usize = 30;

// Standard verdicts are stored as -verdict - 1.
const V_DROP: i32 = -1;
const V_ACCEPT: i32 = -2;
const V_QUEUE: i32 = -4;
const V_RETURN: i32 = -5;

/// One entry of the blob as walked: its place and what its header said.
struct RawEntry<'a> {
    offset: usize,
    bytes: &'a [u8],
    head: Result<EntryHead, String>,
}

impl RawEntry<'_> {
    fn target(&self) -> Option<ExtBlob<'_>> {
        let h = self.head.as_ref().ok()?;
        entry::ext(self.bytes.get(h.target_offset..)?)
            .ok()
            .map(|(t, _)| t)
    }
}

/// Walk the entries by `next_offset`; a structurally broken entry swallows the rest of the
/// blob (there is no way to find the next one) and is kept as an undecodable entry.
fn walk(family: Family, blob: &[u8]) -> Vec<RawEntry<'_>> {
    let min = entry::entry_size(family);
    let mut out = Vec::new();
    let mut off = 0;
    while off < blob.len() {
        let rest = &blob[off..];
        let head = entry::head(family, rest).map_err(|e| e.to_string());
        let next = match &head {
            Ok(h) if h.next_offset < min + EXT_HDR || h.next_offset > rest.len() => Err(format!(
                "next_offset {} out of range ({} bytes left)",
                h.next_offset,
                rest.len()
            )),
            Ok(h) if h.target_offset < min || h.target_offset + EXT_HDR > h.next_offset => {
                Err(format!(
                    "target_offset {} outside the entry of {} bytes",
                    h.target_offset, h.next_offset
                ))
            }
            Ok(h) if h.next_offset % 8 != 0 => {
                Err(format!("next_offset {} not 8-aligned", h.next_offset))
            }
            Ok(h) => Ok(h.next_offset),
            Err(e) => Err(e.clone()),
        };
        match next {
            Ok(n) => {
                out.push(RawEntry {
                    offset: off,
                    bytes: &rest[..n],
                    head,
                });
                off += n;
            }
            Err(reason) => {
                out.push(RawEntry {
                    offset: off,
                    bytes: rest,
                    head: Err(reason),
                });
                break;
            }
        }
    }
    out
}

struct ChainBuild<'a> {
    name: String,
    builtin: bool,
    entries: Vec<&'a RawEntry<'a>>,
}

/// Decode a table. Never fails: whatever cannot be understood becomes `Undecoded` parts of
/// rules (or a pseudo-rule when the entry structure itself is broken).
pub fn decode(family: Family, name: &str, info: &TableInfo, blob: &[u8]) -> Table {
    let entries = walk(family, blob);
    let hook_at = |off: usize| {
        (0..NUMHOOKS)
            .find(|&h| info.valid_hooks & (1 << h) != 0 && info.hook_entry[h] as usize == off)
    };

    // Pass 1: cut the entry list into chains and learn where each chain starts.
    let mut chains: Vec<ChainBuild> = Vec::new();
    let mut starts: HashMap<usize, String> = HashMap::new();
    let mut orphans: Vec<&RawEntry> = Vec::new();
    let mut ended = false;
    for e in &entries {
        let head_ok = e.head.is_ok();
        let tname = e.target().map(|t| t.name);
        if head_ok
            && e.offset + e.bytes.len() == blob.len()
            && tname.as_deref() == Some(ERROR_TARGET)
        {
            ended = true;
            break;
        }
        if tname.as_deref() == Some(ERROR_TARGET) {
            let cname = e
                .target()
                .and_then(|t| crate::bytes::Reader::new(t.data).cstr(ERRORNAME_LEN).ok())
                .unwrap_or_default();
            starts.insert(e.offset + e.bytes.len(), cname.clone());
            chains.push(ChainBuild {
                name: cname,
                builtin: false,
                entries: Vec::new(),
            });
            continue;
        }
        if let Some(h) = hook_at(e.offset) {
            starts.insert(e.offset, HOOK_NAMES[h].to_owned());
            chains.push(ChainBuild {
                name: HOOK_NAMES[h].to_owned(),
                builtin: true,
                entries: Vec::new(),
            });
        }
        match chains.last_mut() {
            Some(c) => c.entries.push(e),
            None => orphans.push(e),
        }
    }

    // Pass 2: decode rules, split off footers.
    let mut out: Vec<Chain> = Vec::with_capacity(chains.len());
    let mut cache = ExtCache::new();
    for c in chains {
        let mut ents = c.entries;
        let footer = ents.pop();
        let mut policy = None;
        let mut counters = None;
        let mut rules: Vec<Rule> = ents
            .iter()
            .map(|e| rule(family, e, &starts, &mut cache))
            .collect();
        if let Some(f) = footer {
            let fr = rule(family, f, &starts, &mut cache);
            if c.builtin {
                policy = match fr.target {
                    Target::Verdict(Verdict::Accept) => Some(Policy::Accept),
                    Target::Verdict(Verdict::Drop) => Some(Policy::Drop),
                    _ => None,
                };
                counters = Some(f.head.as_ref().map(|h| h.counters).unwrap_or_default());
                if policy.is_none() {
                    // The kernel only accepts ACCEPT/DROP policies; show anything else.
                    rules.push(undecodable_footer(
                        f,
                        "built-in chain footer is not an ACCEPT/DROP policy",
                    ));
                }
            } else if !(matches!(fr.target, Target::Verdict(Verdict::Return))
                && fr.matches.is_empty()
                && fr.undecoded.is_empty()
                && fr.ip == IpHeader::default())
            {
                rules.push(undecodable_footer(
                    f,
                    "user chain does not end with an unconditional RETURN",
                ));
            }
        }
        out.push(Chain {
            name: c.name,
            builtin: c.builtin,
            policy,
            counters: if c.builtin {
                counters.or(Some(Counters::default()))
            } else {
                None
            },
            rules,
        });
    }
    if !orphans.is_empty() || !ended {
        let mut rules: Vec<Rule> = orphans
            .iter()
            .map(|e| undecodable_footer(e, "entry outside any chain"))
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
            Some(c) => c.rules.extend(rules),
            None => out.push(Chain {
                name: "(undecodable)".into(),
                builtin: false,
                policy: None,
                counters: None,
                rules,
            }),
        }
    }

    // iptables-save (libiptc) lists built-in chains in blob order, user chains by name.
    let (builtins, mut users): (Vec<Chain>, Vec<Chain>) = out.into_iter().partition(|c| c.builtin);
    users.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut chains = builtins;
    chains.extend(users);
    Table {
        name: name.to_owned(),
        chains,
    }
}

fn undecodable_footer(e: &RawEntry, reason: &str) -> Rule {
    Rule {
        counters: e.head.as_ref().ok().map(|h| h.counters),
        undecoded: vec![Undecoded {
            what: format!("xt entry at offset {}", e.offset),
            reason: reason.to_owned(),
            raw: e.bytes.to_vec(),
        }],
        ..Rule::default()
    }
}

/// One entry → `Rule`.
fn rule(
    family: Family,
    e: &RawEntry,
    starts: &HashMap<usize, String>,
    cache: &mut ExtCache,
) -> Rule {
    let what = || format!("xt entry at offset {}", e.offset);
    let head = match &e.head {
        Ok(h) => h,
        Err(reason) => {
            return Rule {
                undecoded: vec![Undecoded {
                    what: what(),
                    reason: reason.clone(),
                    raw: e.bytes.to_vec(),
                }],
                ..Rule::default()
            };
        }
    };
    let mut rule = Rule {
        ip: head.ip.clone(),
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
        match entry::ext(&e.bytes[off..head.target_offset]) {
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

    let t = match entry::ext(&e.bytes[head.target_offset..]) {
        Ok((t, _)) => t,
        Err(reason) => {
            fail(&mut rule, format!("target: {reason}"));
            return rule;
        }
    };
    rule.target = match t.name.as_str() {
        STANDARD_TARGET => {
            let Some(v) = t.data.get(..4) else {
                fail(&mut rule, "standard target without a verdict".into());
                return rule;
            };
            let v = i32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
            let next = e.offset + e.bytes.len();
            match v {
                V_ACCEPT => Target::Verdict(Verdict::Accept),
                V_DROP => Target::Verdict(Verdict::Drop),
                V_QUEUE => Target::Verdict(Verdict::Queue),
                V_RETURN => Target::Verdict(Verdict::Return),
                v if v >= 0 && v as usize == next => Target::None,
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
    cache.get(kind, family, &x.name, x.revision, x.data, || {
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
