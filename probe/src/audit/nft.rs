//! Docker 29 `firewall-backend: nftables`: the expected `docker-bridges` objects
//! (`docker::expect::nft29`) against the tables the kernel holds, rule by rule per chain,
//! element by element per verdict map, in the order that decides behaviour.
//!
//! Rules are compared in `nft29::canonical` form (the renderer's `nft list` text without
//! counters and comments), so a rule restored by hand with other spelling but the same
//! meaning is fine. There are no CLI claims: Docker does not run `iptables -C` here.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::host::problem;
use super::{Finding, HostFinding, Status};
use crate::docker::expect::Expectation;
use crate::docker::expect::nft29::{
    self, NftExpected, NftItem, TABLE, canonical, nft_command, nft_family, order_matters,
};
use crate::kernel::nft::{NftFamily, NftRuleset};
use crate::ruleset::{Family, nft_text};

/// The `docker-bridges` tables as the kernel holds them (also the bundle's `kernel.nft`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NftView {
    pub tables: Vec<NftTableView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NftTableView {
    pub family: Family,
    pub name: String,
    #[serde(default)]
    pub chains: Vec<NftChainView>,
    #[serde(default)]
    pub maps: Vec<NftMapView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NftChainView {
    pub name: String,
    /// Base chains: `type filter hook forward priority filter` words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<nft29::BaseChain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default)]
    pub rules: Vec<NftRuleView>,
    /// Bundles from nfprobe before rule-by-rule nft checks held only rule comments; such a
    /// view cannot be compared (read, never written).
    #[serde(default, skip_serializing)]
    pub comments: Option<Vec<Option<String>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NftRuleView {
    pub handle: u64,
    /// The rule as `nft list` prints it (nfprobe's renderer).
    pub text: String,
    /// False when some expression could not be decoded (the text shows it as `[raw ...]`).
    pub decoded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NftMapView {
    pub name: String,
    /// Elements as `nft list` prints them: `"docker0" : jump filter-forward-in__docker0`.
    #[serde(default)]
    pub elements: Vec<String>,
    /// Why nfprobe cannot print this map exactly (then `elements` is empty and nothing about
    /// its elements can be told: they are undecodable, never missing or extra).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undecodable: Option<String>,
}

/// The view of every `docker-bridges` table of an nf_tables snapshot (None: no such table).
pub fn view_of(snap: &NftRuleset) -> Option<NftView> {
    let tables: Vec<NftTableView> = snap
        .tables
        .iter()
        .filter(|t| t.name == TABLE)
        .filter_map(|t| {
            let family = match t.family {
                NftFamily::Ip => Family::Ipv4,
                NftFamily::Ip6 => Family::Ipv6,
                _ => return None,
            };
            let sets = nft_text::SetIndex::new(t);
            let chains = t
                .chains
                .iter()
                .map(|c| NftChainView {
                    name: c.name.clone(),
                    base: c.hook.as_ref().map(|h| nft29::BaseChain {
                        chain_type: c.chain_type.clone().unwrap_or_else(|| "filter".into()),
                        hook: nft_text::hook_name(t.family, h.hooknum),
                        priority: nft_text::prio_str(t.family, h.hooknum, h.priority),
                    }),
                    policy: c.hook.as_ref().map(|_| {
                        if c.policy == Some(crate::kernel::nft::chain::POLICY_DROP) {
                            "drop".into()
                        } else {
                            "accept".into()
                        }
                    }),
                    comments: None,
                    rules: c
                        .rules
                        .iter()
                        .map(|r| {
                            // The same rendering as `ruleset --format nft`: a rule it cannot
                            // print exactly is its undecodable mark, never a guess.
                            let rendered = nft_text::rule_statements_indexed(
                                t,
                                r,
                                &nft_text::Ifnames::default(),
                                &sets,
                            );
                            NftRuleView {
                                handle: r.handle,
                                decoded: rendered.is_ok(),
                                text: rendered.unwrap_or_else(|why| {
                                    format!("{} rule: {why}", nft_text::MARK)
                                }),
                            }
                        })
                        .collect(),
                })
                .collect();
            let maps = t
                .sets
                .iter()
                .filter(|s| s.flags & crate::kernel::nft::set::F_ANONYMOUS == 0)
                .map(|s| match nft_text::elements(s) {
                    Ok(elements) => NftMapView {
                        name: s.name.clone(),
                        elements,
                        undecodable: None,
                    },
                    Err(why) => NftMapView {
                        name: s.name.clone(),
                        elements: Vec::new(),
                        undecodable: Some(why),
                    },
                })
                .collect();
            Some(NftTableView {
                family,
                name: t.name.clone(),
                chains,
                maps,
            })
        })
        .collect();
    (!tables.is_empty()).then_some(NftView { tables })
}

/// Findings (one per expected rule and map element, plus `extra` kernel objects) and host
/// findings (missing tables, chains, maps; base chains on the wrong hook).
pub fn audit(e: &Expectation, view: Option<&NftView>) -> (Vec<Finding>, Vec<HostFinding>) {
    let mut findings = Vec::new();
    let mut host = Vec::new();
    if e.nft.is_empty() {
        return (findings, host);
    }
    let empty = NftView::default();
    let view = view.unwrap_or(&empty);
    if view
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .any(|c| c.comments.is_some())
    {
        host.push(problem(
            "nft_view_old",
            "the bundle's docker-bridges tables hold only rule comments (written by an older nfprobe): collect it again to compare Docker's nftables rules".into(),
            None,
        ));
        return (findings, host);
    }
    let mut families: Vec<Family> = e.nft.iter().map(|x| x.family).collect();
    families.dedup();
    for family in families {
        let table = view
            .tables
            .iter()
            .find(|t| t.family == family && t.name == TABLE);
        let expected: Vec<&NftExpected> = e.nft.iter().filter(|x| x.family == family).collect();
        audit_table(family, &expected, table, &mut findings, &mut host);
    }
    (findings, host)
}

fn finding(x: &NftExpected, rule: String) -> Finding {
    Finding::expected(
        x.network.clone(),
        x.bridge.clone(),
        x.family,
        TABLE.into(),
        x.chain.clone(),
        rule,
        x.what.clone(),
    )
}

fn extra(family: Family, chain: &str, rule: String, what: String, decoded: bool) -> Finding {
    Finding::unexplained(
        family,
        TABLE.into(),
        chain.into(),
        rule,
        what,
        decoded,
        "in Docker's table but nothing Docker 29 should have explains it (a removed network's leftover, a setting nfprobe does not model, or added by hand)",
    )
}

fn audit_table(
    family: Family,
    expected: &[&NftExpected],
    table: Option<&NftTableView>,
    findings: &mut Vec<Finding>,
    host: &mut Vec<HostFinding>,
) {
    let fam = nft_family(family);
    if table.is_none() {
        host.push(problem(
            "nft_table_missing",
            format!(
                "table {fam} {TABLE} does not exist: none of Docker's {family} rules are in the kernel"
            ),
            Some("systemctl restart docker   # dockerd re-creates its docker-bridges tables at start".into()),
        ));
    }
    let chain_of = |name: &str| table.and_then(|t| t.chains.iter().find(|c| c.name == name));
    let map_of = |name: &str| table.and_then(|t| t.maps.iter().find(|m| m.name == name));

    // Chains and maps: host findings when absent or hooked wrongly.
    for x in expected {
        match &x.item {
            NftItem::Chain { base } => match chain_of(&x.chain) {
                None if table.is_some() => host.push(problem(
                    "chain_missing",
                    format!(
                        "{fam} {TABLE} chain {} does not exist: every rule Docker puts there is missing ({})",
                        x.chain, x.effect
                    ),
                    Some(x.create_command()),
                )),
                Some(c)
                    if !match (&c.base, base) {
                        (Some(a), Some(b)) => a.same(b),
                        (None, None) => true,
                        _ => false,
                    } =>
                {
                    host.push(problem(
                    "nft_chain_hook",
                    format!(
                        "{fam} {TABLE} chain {} is {} instead of {}: {}",
                        x.chain,
                        hook_text(c.base.as_ref()),
                        hook_text(base.as_ref()),
                        x.effect
                    ),
                    Some(format!(
                        "{}   # after: nft delete chain {fam} {TABLE} {} (or restart dockerd)",
                        x.create_command(),
                        x.chain
                    )),
                    ))
                }
                _ => {}
            },
            NftItem::Map if table.is_some() && map_of(&x.chain).is_none() => host.push(problem(
                "nft_map_missing",
                format!(
                    "{fam} {TABLE} verdict map {} does not exist: {}",
                    x.chain, x.effect
                ),
                Some(x.create_command()),
            )),
            _ => {}
        }
    }

    // Map elements: key and verdict must both match.
    let mut used_elems: HashSet<(String, String)> = HashSet::new();
    for x in expected {
        let NftItem::Element { key, verdict } = &x.item else {
            continue;
        };
        let want = format!("\"{key}\" : {verdict}");
        let mut f = finding(x, format!("element {} {want}", x.chain));
        if let Some(why) = map_of(&x.chain).and_then(|m| m.undecodable.as_ref()) {
            f.status = Status::Undecodable;
            f.detail = Some(format!("map {} cannot be read exactly: {why}", x.chain));
            findings.push(f);
            continue;
        }
        let have = map_of(&x.chain).is_some_and(|m| m.elements.iter().any(|el| el_eq(el, &want)));
        if have {
            used_elems.insert((x.chain.clone(), norm_ws(&want)));
        } else {
            f.status = Status::Missing;
            f.effect = Some(x.effect.clone());
            f.fix = Some(x.create_command());
            if let Some(other) = map_of(&x.chain).and_then(|m| {
                m.elements
                    .iter()
                    .find(|el| el.starts_with(&format!("\"{key}\" ")))
            }) {
                f.detail = Some(format!("the map holds {other} instead"));
            }
        }
        findings.push(f);
    }

    // Rules, chain by chain, in Docker's order.
    let mut chains: Vec<&str> = Vec::new();
    for x in expected {
        if matches!(x.item, NftItem::Rule { .. }) && !chains.contains(&x.chain.as_str()) {
            chains.push(&x.chain);
        }
    }
    let mut explained_chains: HashSet<&str> = HashSet::new();
    for name in chains {
        explained_chains.insert(name);
        let rules: Vec<(&NftExpected, &str)> = expected
            .iter()
            .filter(|x| x.chain == name)
            .filter_map(|x| match &x.item {
                NftItem::Rule { rule } => Some((*x, rule.as_str())),
                _ => None,
            })
            .collect();
        audit_chain(family, name, &rules, chain_of(name), findings);
    }

    // Whatever else the table holds.
    let Some(t) = table else {
        return;
    };
    for c in &t.chains {
        if explained_chains.contains(c.name.as_str()) {
            continue;
        }
        // Chains without expected rules (empty ones Docker made, or leftovers): every rule
        // in them is extra.
        for (p, r) in c.rules.iter().enumerate() {
            findings.push(extra(
                family,
                &c.name,
                r.text.clone(),
                format!("rule {} of {fam} {TABLE} {}", p + 1, c.name),
                r.decoded,
            ));
        }
    }
    for m in &t.maps {
        for el in &m.elements {
            if !used_elems.contains(&(m.name.clone(), norm_ws(el))) {
                findings.push(extra(
                    family,
                    &m.name,
                    format!("element {} {el}", m.name),
                    format!("element of {fam} {TABLE} map {}", m.name),
                    true,
                ));
            }
        }
    }
}

fn hook_text(b: Option<&nft29::BaseChain>) -> String {
    match b {
        Some(b) => format!(
            "type {} hook {} priority {}",
            b.chain_type, b.hook, b.priority
        ),
        None => "a regular chain".into(),
    }
}

fn norm_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn el_eq(a: &str, b: &str) -> bool {
    norm_ws(a) == norm_ws(b)
}

/// One chain: each expected rule found (first unused kernel rule with the same canonical
/// form), missing, or below a rule it must precede; unexplained kernel rules are extra.
fn audit_chain(
    family: Family,
    chain: &str,
    rules: &[(&NftExpected, &str)],
    kernel: Option<&NftChainView>,
    findings: &mut Vec<Finding>,
) {
    let fam = nft_family(family);
    let krules: &[NftRuleView] = kernel.map_or(&[], |c| c.rules.as_slice());
    let kkeys: Vec<String> = krules.iter().map(|r| canonical(&r.text)).collect();
    let undecoded = krules.iter().filter(|r| !r.decoded).count();
    let mut used = vec![false; krules.len()];
    let mut pos: Vec<Option<usize>> = Vec::with_capacity(rules.len());
    for (_, rule) in rules {
        let key = canonical(rule);
        let p = (0..krules.len()).find(|&j| !used[j] && kkeys[j] == key);
        if let Some(j) = p {
            used[j] = true;
        }
        pos.push(p);
    }
    let base = findings.len();
    for (i, (x, rule)) in rules.iter().enumerate() {
        let mut f = finding(x, (*rule).to_owned());
        if pos[i].is_none() {
            f.effect = Some(x.effect.clone());
            f.fix = Some(position_fix(family, chain, rule, rules, &pos, krules, i));
            if kernel.is_none() {
                f.status = Status::Missing;
                f.detail = Some(format!("chain {chain} does not exist"));
            } else if undecoded > 0 {
                f.status = Status::Undecodable;
                f.detail = Some(format!(
                    "not among the decoded rules, but {undecoded} rule(s) of this chain could not be decoded"
                ));
            } else {
                f.status = Status::Missing;
            }
        }
        findings.push(f);
    }
    // Order: `first` must sit above `then` when they end a packet's walk differently.
    for i in 0..rules.len() {
        for k in i + 1..rules.len() {
            let (Some(a), Some(b)) = (pos[i], pos[k]) else {
                continue;
            };
            if a < b || !order_matters(rules[i].1, rules[k].1) {
                continue;
            }
            let f = &mut findings[base + i];
            if f.status != Status::Ok {
                continue;
            }
            f.status = Status::WrongOrder;
            f.effect = Some(format!(
                "sits below `{}`, which decides first: {}",
                rules[k].1, rules[i].0.effect
            ));
            f.detail = Some(format!(
                "rule {} of the chain (handle {}), below rule {} (handle {})",
                a + 1,
                krules[a].handle,
                b + 1,
                krules[b].handle
            ));
            f.fix = Some(format!(
                "{} && {}",
                nft_command(&format!(
                    "insert rule {fam} {TABLE} {chain} handle {} {}",
                    krules[b].handle, rules[i].1
                )),
                nft_command(&format!(
                    "delete rule {fam} {TABLE} {chain} handle {}",
                    krules[a].handle
                ))
            ));
        }
    }
    for (j, r) in krules.iter().enumerate() {
        if !used[j] {
            findings.push(extra(
                family,
                chain,
                r.text.clone(),
                format!("rule {} of {fam} {TABLE} {chain}", j + 1),
                r.decoded,
            ));
        }
    }
}

/// `nft insert rule ... handle H` before the next expected rule that is present, else `nft
/// add rule ... handle H` after the previous one, else append.
fn position_fix(
    family: Family,
    chain: &str,
    rule: &str,
    rules: &[(&NftExpected, &str)],
    pos: &[Option<usize>],
    krules: &[NftRuleView],
    i: usize,
) -> String {
    let fam = nft_family(family);
    if let Some(p) = (i + 1..rules.len()).find_map(|k| pos[k]) {
        return nft_command(&format!(
            "insert rule {fam} {TABLE} {chain} handle {} {rule}",
            krules[p].handle
        ));
    }
    if let Some(p) = (0..i).rev().find_map(|k| pos[k]) {
        return nft_command(&format!(
            "add rule {fam} {TABLE} {chain} handle {} {rule}",
            krules[p].handle
        ));
    }
    nft_command(&format!("add rule {fam} {TABLE} {chain} {rule}"))
}

#[cfg(test)]
mod tests;
