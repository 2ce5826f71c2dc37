//! nf_tables tables written by iptables-nft → the canonical model, the way iptables-nft 1.8.9
//! itself reads them back for `iptables-save`: native expressions (interfaces, addresses,
//! protocol, fragment, tcp/udp ports and flags, mark, limit, NFLOG) turn into the same header
//! fields and extension blobs iptables-nft would rebuild, xt compat `match`/`target` blobs go
//! through `crate::ext`, and anything else is kept in `Rule::undecoded`, never dropped.
//!
//! Entry points: [`read_iptables_ruleset`] (read + translate chain by chain: flat memory) and
//! [`iptables_ruleset`] (translate a snapshot already read); [`read_iptables_save`] streams
//! straight to `iptables-save` text (the least memory).
//!
//! [`legacy`] is the same for legacy xtables tables (entry blobs read by `kernel::xt`),
//! sharing the extension decoding, the text cache and the renderer.

mod chains;
mod compat;
#[cfg(test)]
mod frame_tests;
mod header;
pub mod legacy;
mod native;
mod ports;
mod rule;
mod tables;
mod text;

pub use crate::ext::cache::ExtCache;
pub use rule::{Scratch, xlate_rule, xlate_rule_msg, xlate_rule_msg_into, xlate_rule_msg_text};
pub use tables::{
    IPTABLES_TABLES, JsonError, SaveText, iptables_ruleset, is_iptables_nft_table,
    read_iptables_ruleset, read_iptables_rulesets, read_iptables_save, read_iptables_save_text,
    write_json,
};
pub use text::{Frag, FragCache, RuleText};

/// Runs `f` with `-m set` blobs' set indexes resolved to names by ipset in the current
/// thread's namespace (asked only when a set blob is decoded).
pub(crate) fn with_ipset_names<T>(f: impl FnOnce() -> T) -> T {
    let ipset = std::cell::OnceCell::new();
    let resolve = move |i: u16| {
        ipset
            .get_or_init(|| crate::kernel::xt::ipset::IpsetNames::open().ok())
            .as_ref()
            .and_then(|s| s.name(i))
    };
    crate::ext::set::with_names(resolve, f)
}
