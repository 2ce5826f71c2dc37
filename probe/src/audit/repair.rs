//! Where each restored rule goes. Docker inserts per-network rules at the top of their chain
//! and then re-inserts its jumps (DOCKER-USER, the isolation chain) above them; a repair that
//! merely runs `-I CHAIN RULE` puts the rule above those jumps and silently removes network
//! isolation and the admin's DOCKER-USER filter. So each rule is placed by rule number, next
//! to the neighbours Docker gives it (its rank in the chain once Docker has programmed
//! everything, see `Expectation::rank`), within the bounds the order constraints set; and the
//! plan records what the chain held when it was made, so the script can refuse to run on a
//! chain that changed since.
//!
//! Rules out of place (an order constraint broken) are moved: a copy is inserted where it
//! belongs, then the old copy is deleted by number after its text was checked (never `-D` by
//! rule spec: a buggy iptables deletes look-alikes).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::index::KernelIndex;
use super::{Finding, Status, binary_name, text};
use crate::docker::expect::{Blame, Expectation, Op};
use crate::ruleset::{Backend, Family, Rule, render};

/// One chain's repair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainPlan {
    pub family: Family,
    pub table: String,
    pub chain: String,
    /// The iptables binary of the backend holding Docker's rules (`iptables-nft`, ...).
    pub binary: String,
    /// The chain does not exist: create it first (and it must still not exist).
    pub create: bool,
    /// Rules the chain held when the plan was made.
    pub rules_before: usize,
    /// Rules the plan relies on, at their numbers when it was made (`-A CHAIN words`).
    pub checks: Vec<RuleAt>,
    pub steps: Vec<Step>,
    /// Why no safe position exists (then `steps` is empty and nothing is changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Rule number `number` (1-based) reads `text` (as `iptables -S CHAIN N` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleAt {
    pub number: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Step {
    /// `-I CHAIN number ARGS` for expected rule `rule`; `anchor` is the neighbour it goes
    /// after (or, at the top, before), as numbered just before this step.
    Insert {
        number: usize,
        rule: usize,
        args: Vec<String>,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        anchor: Option<RuleAt>,
        /// The anchor is the rule above the new one (false: the one below).
        after: bool,
    },
    /// `-D CHAIN number`, only if the rule there still reads `text`.
    Delete { at: RuleAt, rule: usize },
}

/// One rule of the chain while the plan is made.
#[derive(Clone)]
struct Entry<'a> {
    /// The expected rule it is.
    rule: Option<usize>,
    /// The kernel's rule, or the text of one the plan inserts.
    src: Src<'a>,
    /// Position when the plan was made (None: inserted by the plan).
    orig: Option<usize>,
    /// Out of place: a copy goes where it belongs, then this one is deleted.
    moving: bool,
}

#[derive(Clone)]
enum Src<'a> {
    Kernel(&'a Rule),
    Placed(String),
}

impl Entry<'_> {
    /// `-A CHAIN words` as `iptables -S` prints it; None when nfprobe could not decode it.
    /// Rendered only for the neighbours the script checks (a chain may hold many rules).
    fn text(&self, chain: &str) -> Option<String> {
        match &self.src {
            Src::Kernel(r) => r.is_decoded().then(|| text::spec(chain, r)),
            Src::Placed(t) => Some(t.clone()),
        }
    }
}

type ChainKey = (Family, String, String);

/// Everything the planner reads.
pub(super) struct Input<'a> {
    pub e: &'a Expectation,
    pub canon: &'a [Result<Rule, String>],
    pub idx: &'a KernelIndex<'a>,
    pub backend: Backend,
    pub findings: &'a [Finding],
    /// Index-aligned with `e.rules`: every position of the rule in its chain.
    pub found: &'a [Vec<usize>],
}

/// A plan for every chain with a missing or out-of-place Docker rule.
pub(super) fn plan(x: &Input<'_>) -> Vec<ChainPlan> {
    let e = x.e;
    // Positions to move, per rule.
    let mut moving: HashSet<(usize, usize)> = HashSet::new();
    for o in &e.order {
        let (fa, fb) = (&x.found[o.first], &x.found[o.then]);
        let (Some(&top_a), Some(&top_b)) = (fa.iter().min(), fb.iter().min()) else {
            continue;
        };
        if top_a < top_b {
            continue;
        }
        match o.blame {
            Blame::Then => moving.extend(fb.iter().filter(|&&p| p < top_a).map(|&p| (o.then, p))),
            Blame::First => moving.extend(fa.iter().filter(|&&p| p > top_b).map(|&p| (o.first, p))),
        }
    }
    let moved: HashSet<usize> = moving.iter().map(|&(m, _)| m).collect();
    let mut chains: BTreeMap<ChainKey, Vec<usize>> = BTreeMap::new();
    for (i, r) in e.rules.iter().enumerate() {
        let missing = matches!(
            x.findings.get(i).map(|f| f.status),
            Some(Status::Missing | Status::MissingCliClaimsPresent)
        ) && x.canon.get(i).is_some_and(|c| c.is_ok());
        if missing || moved.contains(&i) {
            chains
                .entry((r.family, r.table.clone(), r.chain.clone()))
                .or_default();
        }
    }
    // A chain Docker creates that is gone is created even when no rule goes into it yet.
    for c in &e.chains {
        if x.idx
            .chain(x.backend, c.family, &c.table, &c.chain)
            .is_none()
        {
            chains
                .entry((c.family, c.table.clone(), c.chain.clone()))
                .or_default();
        }
    }
    let mut out = Vec::new();
    for (key, _) in chains {
        out.push(chain_plan(x, &key, &moving));
    }
    out
}

fn chain_plan(x: &Input<'_>, key: &ChainKey, moving: &HashSet<(usize, usize)>) -> ChainPlan {
    let e = x.e;
    let (family, table, chain) = key;
    let kernel = x.idx.chain(x.backend, *family, table, chain);
    let mut plan = ChainPlan {
        family: *family,
        table: table.clone(),
        chain: chain.clone(),
        binary: binary_name(*family, x.backend),
        // A built-in chain is never created: iptables lists it (empty) even when nf_tables
        // holds no such table yet, and adds the table with the first rule.
        create: kernel.is_none()
            && !matches!(
                chain.as_str(),
                "INPUT" | "FORWARD" | "OUTPUT" | "PREROUTING" | "POSTROUTING"
            ),
        rules_before: kernel.map_or(0, |c| c.rules.len()),
        checks: Vec::new(),
        steps: Vec::new(),
        refused: None,
    };
    let in_chain: Vec<usize> = (0..e.rules.len())
        .filter(|&i| {
            let r = &e.rules[i];
            r.family == *family && r.table == *table && r.chain == *chain
        })
        .collect();
    let mut entries: Vec<Entry> = kernel
        .map(|c| {
            c.rules
                .iter()
                .enumerate()
                .map(|(p, r)| Entry {
                    rule: None,
                    src: Src::Kernel(r),
                    orig: Some(p),
                    moving: false,
                })
                .collect()
        })
        .unwrap_or_default();
    for &i in &in_chain {
        for &p in &x.found[i] {
            if let Some(en) = entries.get_mut(p) {
                en.rule = Some(i);
                en.moving = moving.contains(&(i, p));
            }
        }
    }
    // What goes in: missing rules, and moved rules with no copy left in place; in Docker's
    // order, so each lands after the one placed before it.
    let mut place: Vec<usize> = in_chain
        .iter()
        .copied()
        .filter(|&i| {
            let missing = matches!(
                x.findings.get(i).map(|f| f.status),
                Some(Status::Missing | Status::MissingCliClaimsPresent)
            ) && x.canon.get(i).is_some_and(|c| c.is_ok());
            let moved = entries.iter().any(|en| en.rule == Some(i) && en.moving)
                && !entries.iter().any(|en| en.rule == Some(i) && !en.moving);
            missing || moved
        })
        .collect();
    place.sort_by_key(|&i| (e.rank_of(i), i));
    let pairs: HashSet<(usize, usize)> = e.order.iter().map(|o| (o.first, o.then)).collect();
    let before = |a: usize, b: usize| pairs.contains(&(a, b));
    let mut used: BTreeMap<usize, String> = BTreeMap::new();
    for i in place {
        let rank = e.rank_of(i);
        let live = |en: &Entry| !en.moving && en.rule.is_some();
        let mut lo_all = None;
        let mut hi_all = None;
        let mut lo_c = None;
        let mut hi_c = None;
        for (p, en) in entries.iter().enumerate().filter(|(_, en)| live(en)) {
            let j = en.rule.unwrap_or(usize::MAX);
            if e.rank_of(j) < rank {
                lo_all = Some(p);
            } else if e.rank_of(j) > rank && hi_all.is_none() {
                hi_all = Some(p);
            }
            if before(j, i) {
                lo_c = Some(p);
            }
            if before(i, j) && hi_c.is_none() {
                hi_c = Some(p);
            }
        }
        let want = match (lo_all, hi_all) {
            (Some(l), _) => l + 1,
            (None, Some(h)) => h,
            (None, None) if e.rules[i].op == Op::Append => entries.len(),
            (None, None) => 0,
        };
        let lower = lo_c.map_or(0, |l| l + 1);
        let upper = hi_c.unwrap_or(entries.len());
        if lower > upper {
            plan.refused = Some(format!(
                "no position in {table}/{chain} satisfies Docker's order for `{}` (rules it must follow sit below rules it must precede): restart dockerd, or fix the order by hand",
                e.rules[i].spec()
            ));
            plan.steps.clear();
            return plan;
        }
        let pos = want.clamp(lower, upper);
        // The neighbour the script checks: the rule above (the new one goes after it), or at
        // the top the rule below.
        let above = pos.checked_sub(1).and_then(|p| entries.get(p));
        let (anchor, after) = match (
            above.map(|a| (a, a.text(chain))),
            entries.get(pos).map(|b| (b, b.text(chain))),
        ) {
            (Some((a, Some(t))), _) => (Some((pos - 1, a, t)), true),
            (_, Some((b, Some(t)))) => (Some((pos, b, t)), false),
            (None, None) => (None, true),
            _ => {
                plan.refused = Some(format!(
                    "the rules next to where `{}` belongs in {table}/{chain} could not be decoded, so the script could not check them",
                    e.rules[i].spec()
                ));
                plan.steps.clear();
                return plan;
            }
        };
        let anchor = anchor.map(|(p, en, t)| {
            if let Some(o) = en.orig {
                used.insert(o, t.clone());
            }
            RuleAt {
                number: p + 1,
                text: t,
            }
        });
        let text = match &x.canon[i] {
            Ok(r) => format!("-A {chain} {}", render::rule_text(r)),
            Err(_) => e.rules[i].spec(),
        };
        plan.steps.push(Step::Insert {
            number: pos + 1,
            rule: i,
            args: e.rules[i].args.clone(),
            text: text.clone(),
            anchor,
            after,
        });
        entries.insert(
            pos,
            Entry {
                rule: Some(i),
                src: Src::Placed(text),
                orig: None,
                moving: false,
            },
        );
    }
    // Old copies go last (nothing is ever missing in between), bottom first so the numbers
    // above stay as checked.
    while let Some(p) = entries.iter().rposition(|en| en.moving) {
        let en = entries.remove(p);
        let t = en.text(chain).unwrap_or_default();
        if let Some(o) = en.orig {
            used.insert(o, t.clone());
        }
        plan.steps.push(Step::Delete {
            at: RuleAt {
                number: p + 1,
                text: t,
            },
            rule: en.rule.unwrap_or(usize::MAX),
        });
    }
    plan.checks = used
        .into_iter()
        .map(|(o, text)| RuleAt {
            number: o + 1,
            text,
        })
        .collect();
    plan
}

/// The command of one step (`iptables-nft -w -t filter -I FORWARD 3 ...`).
pub fn command(p: &ChainPlan, s: &Step) -> String {
    match s {
        Step::Insert { number, args, .. } => {
            let args: Vec<String> = args.iter().map(|a| text::shell_quote(a)).collect();
            format!(
                "{} -w -t {} -I {} {number} {}",
                p.binary,
                p.table,
                p.chain,
                args.join(" ")
            )
        }
        Step::Delete { at, .. } => {
            format!(
                "{} -w -t {} -D {} {}",
                p.binary, p.table, p.chain, at.number
            )
        }
    }
}

#[cfg(test)]
mod tests;
