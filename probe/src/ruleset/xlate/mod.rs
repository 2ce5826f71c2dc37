//! nf_tables tables written by iptables-nft → the canonical model, the way iptables-nft 1.8.9
//! itself reads them back for `iptables-save`: native expressions (interfaces, addresses,
//! protocol, fragment, tcp/udp ports and flags, mark, limit, NFLOG) turn into the same header
//! fields and extension blobs iptables-nft would rebuild, xt compat `match`/`target` blobs go
//! through `crate::ext`, and anything else is kept in `Rule::undecoded`, never dropped.
//!
//! Entry points: [`read_iptables_ruleset`] (read + translate chain by chain: flat memory) and
//! [`iptables_ruleset`] (translate a snapshot already read); [`read_iptables_save`] streams
//! straight to `iptables-save` text (the least memory).

mod chains;
mod compat;
mod header;
mod native;
mod ports;
mod rule;
mod tables;
mod text;

pub use crate::ext::cache::ExtCache;
pub use rule::{Scratch, xlate_rule, xlate_rule_msg, xlate_rule_msg_into, xlate_rule_msg_text};
pub use tables::{
    IPTABLES_TABLES, SaveText, iptables_ruleset, is_iptables_nft_table, read_iptables_ruleset,
    read_iptables_save, read_iptables_save_text,
};
pub use text::{Frag, FragCache, RuleText};
