//! Rule and chain-policy packet counters before and after one attempt: which rules and
//! policies took the attempt's packets. Nothing is added to the ruleset (no rule, trace or log
//! target): iptables-nft rules carry a counter expression and base chains count their policy
//! verdicts; legacy entries always carry counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::ruleset::{Backend, Family, Policy, Ruleset, Target, Verdict, render};

/// One counter of one rule or chain policy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    backend: Backend,
    family: Family,
    table: String,
    chain: String,
    /// Position in the chain; None: the chain's policy.
    index: Option<usize>,
}

#[derive(Debug, Clone)]
struct Value {
    /// Netfilter hooks whose built-in chains reach this chain (directly or through jumps).
    hooks: Vec<&'static str>,
    packets: u64,
    /// `-A CHAIN ...` for a rule.
    rule: Option<String>,
    policy: Option<Policy>,
    /// The rule ends the packet's walk with DROP or REJECT (or is a DROP policy).
    drops: bool,
}

/// The counters of every rule and policy of some rulesets, and their nf_tables generations.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    counters: BTreeMap<Key, Value>,
    genids: Vec<(Family, Option<u32>)>,
}

/// A counter that moved during an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// `nf_tables` or `legacy xtables`.
    pub backend: String,
    /// `IPv4` / `IPv6`.
    pub family: String,
    pub table: String,
    pub chain: String,
    /// The rule (`-A CHAIN ...`); absent for a chain policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The chain policy (`ACCEPT`/`DROP`) when this is the policy's counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The packets it took during the attempt.
    pub packets: u64,
    /// It ends a packet's walk with DROP/REJECT (a DROP rule or policy).
    pub drops: bool,
}

impl Moved {
    /// "the FORWARD policy DROP (filter, nf_tables IPv4)" / "rule `-A ...` (nat, ...)".
    pub fn describe(&self) -> String {
        let place = format!("{}, {} {}", self.table, self.backend, self.family);
        match (&self.policy, &self.rule) {
            (Some(p), _) => format!("the {} policy {p} ({place})", self.chain),
            (None, Some(r)) => format!("rule `{r}` ({place})"),
            (None, None) => format!("chain {} ({place})", self.chain),
        }
    }
}

fn drops(t: &Target) -> bool {
    match t {
        Target::Verdict(Verdict::Drop) => true,
        Target::Ext { name, .. } => name == "REJECT",
        _ => false,
    }
}

/// The hook a built-in chain hangs on (iptables' names).
fn hook_of(chain: &str) -> Option<&'static str> {
    Some(match chain {
        "PREROUTING" => "PREROUTING",
        "INPUT" => "INPUT",
        "FORWARD" => "FORWARD",
        "OUTPUT" => "OUTPUT",
        "POSTROUTING" => "POSTROUTING",
        _ => return None,
    })
}

/// For each chain of a table, the hooks whose built-in chains reach it through jumps/gotos.
fn reachability(t: &crate::ruleset::Table) -> HashMap<String, Vec<&'static str>> {
    let mut out: HashMap<String, BTreeSet<&'static str>> = HashMap::new();
    for c in &t.chains {
        let Some(h) = c.builtin.then(|| hook_of(&c.name)).flatten() else {
            continue;
        };
        let mut stack = vec![c.name.clone()];
        let mut seen = BTreeSet::new();
        while let Some(name) = stack.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            out.entry(name.clone()).or_default().insert(h);
            let Some(chain) = t.chains.iter().find(|x| x.name == name) else {
                continue;
            };
            for r in &chain.rules {
                if let Target::Jump(to) | Target::Goto(to) = &r.target {
                    stack.push(to.clone());
                }
            }
        }
    }
    out.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

impl Snapshot {
    pub fn of(rulesets: &[Ruleset]) -> Self {
        let mut counters = BTreeMap::new();
        let mut genids = Vec::new();
        for rs in rulesets {
            if rs.backend == Backend::Nft {
                genids.push((rs.family, rs.genid));
            }
            for t in &rs.tables {
                let reach = reachability(t);
                for c in &t.chains {
                    let hooks = reach.get(&c.name).cloned().unwrap_or_default();
                    let key = |index| Key {
                        backend: rs.backend,
                        family: rs.family,
                        table: t.name.clone(),
                        chain: c.name.clone(),
                        index,
                    };
                    if let (Some(p), Some(k)) = (c.policy, c.counters) {
                        counters.insert(
                            key(None),
                            Value {
                                hooks: hooks.clone(),
                                packets: k.packets,
                                rule: None,
                                policy: Some(p),
                                drops: p == Policy::Drop,
                            },
                        );
                    }
                    for (i, r) in c.rules.iter().enumerate() {
                        if let Some(k) = r.counters {
                            counters.insert(
                                key(Some(i)),
                                Value {
                                    hooks: hooks.clone(),
                                    packets: k.packets,
                                    rule: Some(format!("-A {} {}", c.name, render::rule_text(r))),
                                    policy: None,
                                    drops: drops(&r.target),
                                },
                            );
                        }
                    }
                }
            }
        }
        Snapshot { counters, genids }
    }

    /// nf_tables generation ids (per family) of the snapshot.
    pub fn genids(&self) -> &[(Family, Option<u32>)] {
        &self.genids
    }

    /// Counters that grew from `before` to `self`, in chains reached from one of `hooks` (the
    /// attempt's path; empty: any). A rule that appeared or vanished (the ruleset changed) is
    /// not a delta: the caller sees the generation change instead.
    pub fn moved_since(&self, before: &Snapshot, hooks: &[&str]) -> Vec<Moved> {
        let mut out = Vec::new();
        for (k, v) in &self.counters {
            if !hooks.is_empty() && !v.hooks.iter().any(|h| hooks.contains(h)) {
                continue;
            }
            let Some(b) = before.counters.get(k) else {
                continue;
            };
            if b.rule != v.rule || v.packets <= b.packets {
                continue;
            }
            out.push(Moved {
                backend: k.backend.to_string(),
                family: k.family.to_string(),
                table: k.table.clone(),
                chain: k.chain.clone(),
                rule: v.rule.clone(),
                policy: v.policy.map(|p| match p {
                    Policy::Accept => "ACCEPT".to_owned(),
                    Policy::Drop => "DROP".to_owned(),
                }),
                packets: v.packets - b.packets,
                drops: v.drops,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{Chain, Counters, Rule, Table};

    fn rs(policy_packets: u64, rule_packets: u64) -> Ruleset {
        Ruleset {
            backend: Backend::Nft,
            family: Family::Ipv4,
            genid: Some(7),
            tables: vec![Table {
                name: "filter".into(),
                chains: vec![Chain {
                    name: "FORWARD".into(),
                    builtin: true,
                    policy: Some(Policy::Drop),
                    counters: Some(Counters {
                        packets: policy_packets,
                        bytes: 0,
                    }),
                    rules: vec![Rule {
                        target: Target::Jump("DOCKER-USER".into()),
                        counters: Some(Counters {
                            packets: rule_packets,
                            bytes: 0,
                        }),
                        ..Rule::default()
                    }],
                }],
            }],
        }
    }

    #[test]
    fn only_counters_that_grew_are_reported_with_their_place() {
        let before = Snapshot::of(&[rs(10, 5)]);
        let after = Snapshot::of(&[rs(12, 7)]);
        let m = after.moved_since(&before, &[]);
        assert_eq!(after.moved_since(&before, &["FORWARD"]).len(), 2);
        assert!(after.moved_since(&before, &["OUTPUT", "INPUT"]).is_empty());
        assert_eq!(m.len(), 2, "{m:?}");
        let policy = m.iter().find(|m| m.policy.is_some()).unwrap();
        assert_eq!(policy.packets, 2);
        assert!(policy.drops);
        assert_eq!(
            policy.describe(),
            "the FORWARD policy DROP (filter, nf_tables IPv4)"
        );
        let rule = m.iter().find(|m| m.rule.is_some()).unwrap();
        assert_eq!(rule.rule.as_deref(), Some("-A FORWARD -j DOCKER-USER"));
        assert!(!rule.drops);
        assert!(
            Snapshot::of(&[rs(12, 7)])
                .moved_since(&after, &[])
                .is_empty()
        );
        assert_eq!(after.genids(), &[(Family::Ipv4, Some(7))]);
    }
}
