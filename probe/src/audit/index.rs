//! The kernel's rules by (backend, family, table, chain), with hash lookups so that 1,000
//! expected rules against a 50,000-rule host cost one pass, not a million comparisons.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::ruleset::{Backend, Family, Rule, Ruleset, Target};

/// Hash of exactly what `Rule`'s semantic equality looks at.
pub fn rule_hash(r: &Rule) -> u64 {
    let mut h = DefaultHasher::new();
    r.ip.hash(&mut h);
    r.matches.len().hash(&mut h);
    for m in &r.matches {
        m.name.hash(&mut h);
        m.body.hash(&mut h);
    }
    match &r.target {
        Target::Ext { name, body, .. } => {
            1u8.hash(&mut h);
            name.hash(&mut h);
            body.hash(&mut h);
        }
        t => {
            0u8.hash(&mut h);
            t.hash(&mut h);
        }
    }
    h.finish()
}

pub struct ChainIndex<'a> {
    pub rules: &'a [Rule],
    pub policy: Option<crate::ruleset::Policy>,
    by_hash: HashMap<u64, Vec<usize>>,
    by_key: Option<HashMap<u64, Vec<usize>>>,
    /// Positions of rules that could not be decoded.
    pub undecoded: Vec<usize>,
}

impl<'a> ChainIndex<'a> {
    fn new(rules: &'a [Rule], policy: Option<crate::ruleset::Policy>) -> Self {
        let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::with_capacity(rules.len());
        let mut undecoded = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.is_decoded() {
                by_hash.entry(rule_hash(r)).or_default().push(i);
            } else {
                undecoded.push(i);
            }
        }
        Self {
            rules,
            policy,
            by_hash,
            by_key: None,
            undecoded,
        }
    }

    /// Every position holding a rule equal to `r`.
    pub fn find_all(&self, r: &Rule) -> Vec<usize> {
        self.by_hash
            .get(&rule_hash(r))
            .map(|v| v.iter().copied().filter(|&i| self.rules[i] == *r).collect())
            .unwrap_or_default()
    }

    /// The first rule that buggy iptables-nft 1.8.11 would take for `r` (same rule with
    /// interface names blanked).
    pub fn lookalike(&mut self, r: &Rule) -> Option<usize> {
        let rules = self.rules;
        let keys = self.by_key.get_or_insert_with(|| {
            let mut m: HashMap<u64, Vec<usize>> = HashMap::new();
            for (i, k) in rules.iter().enumerate() {
                if k.is_decoded() {
                    m.entry(rule_hash(&k.key_ignoring_iface_names()))
                        .or_default()
                        .push(i);
                }
            }
            m
        });
        let key = r.key_ignoring_iface_names();
        keys.get(&rule_hash(&key))?
            .iter()
            .copied()
            .find(|&i| rules[i].key_ignoring_iface_names() == key)
    }

    /// The first rule equal to `r` except for the `-s`/`-d` prefix lengths (the ip6tables-nft
    /// prefix-length lie, reference section e).
    pub fn mask_lookalike(&self, r: &Rule) -> Option<usize> {
        let blank = |x: &Rule| {
            let mut x = x.clone();
            for a in [&mut x.ip.src, &mut x.ip.dst].into_iter().flatten() {
                a.mask = match a.mask {
                    std::net::IpAddr::V4(_) => std::net::Ipv4Addr::BROADCAST.into(),
                    std::net::IpAddr::V6(_) => std::net::Ipv6Addr::from(u128::MAX).into(),
                };
            }
            x
        };
        let want = blank(r);
        self.rules
            .iter()
            .position(|k| k.is_decoded() && blank(k) == want && k != r)
    }
}

pub type ChainKey = (Backend, Family, String, String);

/// Every chain of every ruleset.
pub struct KernelIndex<'a> {
    pub chains: HashMap<ChainKey, ChainIndex<'a>>,
    pub tables: Vec<(Backend, Family, String)>,
}

impl<'a> KernelIndex<'a> {
    pub fn new(rulesets: &'a [Ruleset]) -> Self {
        let mut chains = HashMap::new();
        let mut tables = Vec::new();
        for rs in rulesets {
            for t in &rs.tables {
                tables.push((rs.backend, rs.family, t.name.clone()));
                for c in &t.chains {
                    chains.insert(
                        (rs.backend, rs.family, t.name.clone(), c.name.clone()),
                        ChainIndex::new(&c.rules, c.policy),
                    );
                }
            }
        }
        Self { chains, tables }
    }

    pub fn chain(
        &self,
        b: Backend,
        f: Family,
        table: &str,
        chain: &str,
    ) -> Option<&ChainIndex<'a>> {
        self.chains.get(&(b, f, table.to_owned(), chain.to_owned()))
    }

    pub fn chain_mut(
        &mut self,
        b: Backend,
        f: Family,
        table: &str,
        chain: &str,
    ) -> Option<&mut ChainIndex<'a>> {
        self.chains
            .get_mut(&(b, f, table.to_owned(), chain.to_owned()))
    }

    pub fn has_table(&self, b: Backend, f: Family, table: &str) -> bool {
        self.tables
            .iter()
            .any(|(tb, tf, tn)| *tb == b && *tf == f && tn == table)
    }

    /// Backends holding Docker's chains.
    pub fn docker_backends(&self) -> Vec<Backend> {
        let mut out = Vec::new();
        for b in [Backend::Nft, Backend::Legacy] {
            let has = self.chains.keys().any(|(kb, _, t, c)| {
                *kb == b
                    && (t == "filter" || t == "nat")
                    && (c == "DOCKER" || c == "DOCKER-FORWARD" || c == "DOCKER-USER")
            });
            if has {
                out.push(b);
            }
        }
        out
    }
}
