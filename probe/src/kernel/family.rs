//! The address family of an xtables table (`iptables` vs `ip6tables`): which socket,
//! which getsockopt level and which entry layout the kernel uses. The canonical model
//! re-exports it (`crate::ruleset::Family`): a ruleset is of one family too.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// People's words: "IPv4", "IPv6".
impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}
