//! Chains of one iptables-nft table in `iptables-save` order: base chains by hook number,
//! then user chains sorted by name (iptables-nft's cache keeps them sorted).

use super::rule::xlate_rule;
use crate::kernel::nft::NftTable;
use crate::kernel::nft::chain::POLICY_DROP;
use crate::ruleset::{Chain, Counters, Family, Policy};

pub(super) fn chains_in_save_order(t: &NftTable, family: Family) -> Vec<Chain> {
    let mut base: Vec<_> = t.chains.iter().filter(|c| c.hook.is_some()).collect();
    base.sort_by_key(|c| c.hook.as_ref().map(|h| (h.hooknum, h.priority)));
    let mut user: Vec<_> = t.chains.iter().filter(|c| c.hook.is_none()).collect();
    user.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    base.into_iter()
        .chain(user)
        .map(|c| {
            let builtin = c.hook.is_some();
            Chain {
                name: c.name.clone(),
                builtin,
                policy: builtin.then(|| match c.policy {
                    Some(POLICY_DROP) => Policy::Drop,
                    _ => Policy::Accept,
                }),
                counters: c.counters.map(|k| Counters {
                    packets: k.packets,
                    bytes: k.bytes,
                }),
                rules: c.rules.iter().map(|r| xlate_rule(r, family)).collect(),
            }
        })
        .collect()
}
