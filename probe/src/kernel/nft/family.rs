//! nf_tables address families (`NFPROTO_*` in the nfgenmsg).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NftFamily {
    Inet,
    Ip,
    Arp,
    Netdev,
    Bridge,
    Ip6,
    /// A family number this build does not know.
    Other(u8),
}

impl NftFamily {
    pub const ALL: [NftFamily; 6] = [
        NftFamily::Ip,
        NftFamily::Ip6,
        NftFamily::Inet,
        NftFamily::Arp,
        NftFamily::Bridge,
        NftFamily::Netdev,
    ];

    pub fn from_nfproto(p: u8) -> Self {
        match p {
            1 => NftFamily::Inet,
            2 => NftFamily::Ip,
            3 => NftFamily::Arp,
            5 => NftFamily::Netdev,
            7 => NftFamily::Bridge,
            10 => NftFamily::Ip6,
            other => NftFamily::Other(other),
        }
    }

    pub fn nfproto(self) -> u8 {
        match self {
            NftFamily::Inet => 1,
            NftFamily::Ip => 2,
            NftFamily::Arp => 3,
            NftFamily::Netdev => 5,
            NftFamily::Bridge => 7,
            NftFamily::Ip6 => 10,
            NftFamily::Other(p) => p,
        }
    }

    /// The word `nft` uses (`table ip filter`).
    pub fn name(self) -> &'static str {
        match self {
            NftFamily::Inet => "inet",
            NftFamily::Ip => "ip",
            NftFamily::Arp => "arp",
            NftFamily::Netdev => "netdev",
            NftFamily::Bridge => "bridge",
            NftFamily::Ip6 => "ip6",
            NftFamily::Other(_) => "unknown",
        }
    }
}
