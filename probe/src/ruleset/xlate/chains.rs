//! Chains of one iptables-nft table in `iptables-save` order: the table's built-in chains in
//! iptables order (present or not: iptables-nft-save 1.8.9 shows a missing one as
//! `ACCEPT [0:0]`), then every other chain sorted by name (iptables-nft's cache keeps user
//! chains sorted).

use super::tables::builtin_chains;
use crate::kernel::nft::chain::POLICY_DROP;
use crate::kernel::nft::{NftChain, NftTable};
use crate::ruleset::{Chain, Counters, Policy, Rule};

/// `rules_of` gives the translated rules of a chain (translated now, or earlier while the
/// chain was being read).
pub(super) type RulesOf<'a> = dyn FnMut(&NftTable, &NftChain) -> Vec<Rule> + 'a;

pub(super) fn chains_in_save_order(t: &NftTable, rules_of: &mut RulesOf<'_>) -> Vec<Chain> {
    let builtins = builtin_chains(&t.name);
    let mut out: Vec<Chain> = builtins
        .iter()
        .map(|name| match t.chains.iter().find(|c| c.name == *name) {
            Some(c) => chain(t, c, true, rules_of),
            None => Chain {
                name: (*name).to_owned(),
                builtin: true,
                policy: Some(Policy::Accept),
                counters: Some(Counters::default()),
                rules: Vec::new(),
            },
        })
        .collect();
    let mut user: Vec<&NftChain> = t
        .chains
        .iter()
        .filter(|c| !builtins.contains(&c.name.as_str()))
        .collect();
    user.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    out.extend(user.into_iter().map(|c| chain(t, c, false, rules_of)));
    out
}

fn chain(t: &NftTable, c: &NftChain, builtin: bool, rules_of: &mut RulesOf<'_>) -> Chain {
    Chain {
        name: c.name.clone(),
        builtin,
        policy: builtin.then_some(match c.policy {
            Some(POLICY_DROP) => Policy::Drop,
            _ => Policy::Accept,
        }),
        counters: Some(
            c.counters
                .map(|k| Counters {
                    packets: k.packets,
                    bytes: k.bytes,
                })
                .unwrap_or_default(),
        ),
        rules: rules_of(t, c),
    }
}
