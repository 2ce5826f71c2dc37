//! A legacy table (its chains as `kernel::xt::layout` cut them) → canonical `Table`:
//! built-in chains get their policy and counters from their footer entry, user chains must
//! end with an unconditional RETURN, and the chains are put in the order iptables-save
//! prints them. Whatever does not fit becomes `Undecoded` rules, never an error.

use std::collections::HashMap;
use std::ops::Range;

use super::rule::{self, counters};
use crate::ext::cache::ExtCache;
use crate::kernel::xt::TableInfo;
use crate::kernel::xt::layout::{self, Ent, Walk};
use crate::ruleset::{
    Chain, Counters, Family, IpHeader, Policy, Rule, Table, Target, Undecoded, Verdict,
};

/// One chain ready to print.
pub(super) struct ChainCut {
    /// Name, kind, policy and counters; `rules` left empty.
    pub chain: Chain,
    /// Indices (into the walk) of its rule entries, footer excluded.
    pub body: Range<usize>,
    /// Rules printed after the entries: an unusable footer, entries outside any chain, a
    /// note that the table blob was cut short.
    pub tail: Vec<Rule>,
}

/// A table's chains, in the order iptables-save prints them.
pub(super) struct Cut<'b> {
    pub walk: Walk<'b>,
    pub chains: Vec<ChainCut>,
    /// Chain name by the offset of its first entry (jump targets).
    pub starts: HashMap<usize, String>,
}

/// The chains of a table blob with their footers read (policies and counters of built-in
/// chains). Never fails.
pub(super) fn cut<'b>(family: Family, name: &str, info: &TableInfo, blob: &'b [u8]) -> Cut<'b> {
    let lay = layout::layout(family, info, blob);
    let (walk, starts) = (lay.walk, lay.starts);
    let mut out: Vec<ChainCut> = Vec::with_capacity(lay.chains.len());
    let mut cache = ExtCache::new();
    for c in lay.chains {
        let builtin = c.hook.is_some();
        let (first, end) = (c.entries.start, c.entries.end);
        let mut policy = None;
        let mut counters = None;
        let mut tail = Vec::new();
        let footer = (first < end).then(|| walk.get(end - 1)).flatten();
        if let Some(f) = footer {
            let fr = rule::rule(family, &f, &starts, &mut cache);
            if builtin {
                policy = match fr.target {
                    Target::Verdict(Verdict::Accept) => Some(Policy::Accept),
                    Target::Verdict(Verdict::Drop) => Some(Policy::Drop),
                    _ => None,
                };
                counters = Some(entry_counters(family, &f).unwrap_or_default());
                if policy.is_none() {
                    // The kernel only accepts ACCEPT/DROP policies; show anything else.
                    tail.push(undecodable_entry(
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
                tail.push(undecodable_entry(
                    family,
                    &f,
                    "user chain does not end with an unconditional RETURN",
                ));
            }
        }
        out.push(ChainCut {
            chain: Chain {
                name: c.name,
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
    if !lay.orphans.is_empty() || !lay.ended {
        let mut rules: Vec<Rule> = lay
            .orphans
            .filter_map(|i| walk.get(i))
            .map(|e| undecodable_entry(family, &e, "entry outside any chain"))
            .collect();
        if !lay.ended {
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
            None => out.push(ChainCut {
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
    let (builtins, mut users): (Vec<ChainCut>, Vec<ChainCut>) =
        out.into_iter().partition(|c| c.chain.builtin);
    users.sort_by(|a, b| a.chain.name.as_bytes().cmp(b.chain.name.as_bytes()));
    let mut chains = builtins;
    chains.extend(users);
    Cut {
        walk,
        chains,
        starts,
    }
}

/// Decode a table. Never fails: whatever cannot be understood becomes `Undecoded` parts of
/// rules (or a pseudo-rule when the entry structure itself is broken).
pub fn decode(family: Family, name: &str, info: &TableInfo, blob: &[u8]) -> Table {
    let Cut {
        walk,
        chains,
        starts,
    } = cut(family, name, info, blob);
    let mut cache = ExtCache::new();
    let chains = chains
        .into_iter()
        .map(|c| {
            let mut chain = c.chain;
            chain.rules = c
                .body
                .filter_map(|i| walk.get(i))
                .map(|e| rule::rule(family, &e, &starts, &mut cache))
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
    e.head(family).map(|h| counters(&h))
}

fn undecodable_entry(family: Family, e: &Ent, reason: &str) -> Rule {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::xt::NUMHOOKS;
    use crate::kernel::xt::entry::EXT_HDR;
    use crate::kernel::xt::testutil::{Spec, V_ACCEPT, V_DROP, V_RETURN, entry, error, verdict};

    const E: usize = 112; // sizeof(struct ipt_entry)

    /// filter: INPUT (jump to X, policy DROP), FORWARD, OUTPUT, user chain X (RETURN).
    fn table() -> (TableInfo, Vec<u8>) {
        let f = Family::Ipv4;
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
        blob.extend(entry(f, &Default::default(), &[], &verdict(0))); // patched below
        info.underflow[1] = blob.len() as u32;
        let policy = Spec {
            counters: (5, 500),
            ..Default::default()
        };
        blob.extend(entry(f, &policy, &[], &verdict(V_DROP)));
        for h in [2, 3] {
            info.hook_entry[h] = blob.len() as u32;
            info.underflow[h] = blob.len() as u32;
            blob.extend(entry(f, &Default::default(), &[], &verdict(V_ACCEPT)));
        }
        blob.extend(error(f, "X"));
        let x_start = blob.len() as i32;
        blob.extend(entry(f, &Default::default(), &[], &verdict(V_RETURN)));
        blob.extend(error(f, "ERROR"));
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
