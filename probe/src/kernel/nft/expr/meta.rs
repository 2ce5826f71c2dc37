//! `meta`: load (or set) packet metadata: interface names, mark, l4proto, ...

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{Fixed, NlaError, NlaIter};

const EXPR: &str = "meta";
const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
const NFTA_META_SREG: u16 = 3;

pub const KEY_LEN: u32 = 0;
pub const KEY_PROTOCOL: u32 = 1;
pub const KEY_PRIORITY: u32 = 2;
pub const KEY_MARK: u32 = 3;
pub const KEY_IIF: u32 = 4;
pub const KEY_OIF: u32 = 5;
pub const KEY_IIFNAME: u32 = 6;
pub const KEY_OIFNAME: u32 = 7;
pub const KEY_IIFTYPE: u32 = 8;
pub const KEY_OIFTYPE: u32 = 9;
pub const KEY_SKUID: u32 = 10;
pub const KEY_SKGID: u32 = 11;
pub const KEY_NFTRACE: u32 = 12;
pub const KEY_NFPROTO: u32 = 15;
pub const KEY_L4PROTO: u32 = 16;
pub const KEY_BRI_IIFNAME: u32 = 17;
pub const KEY_BRI_OIFNAME: u32 = 18;
pub const KEY_PKTTYPE: u32 = 19;

/// nft's name of a meta key.
pub fn key_name(key: u32) -> Option<&'static str> {
    const NAMES: [&str; 36] = [
        "length",
        "protocol",
        "priority",
        "mark",
        "iif",
        "oif",
        "iifname",
        "oifname",
        "iiftype",
        "oiftype",
        "skuid",
        "skgid",
        "nftrace",
        "rtclassid",
        "secmark",
        "nfproto",
        "l4proto",
        "ibrname",
        "obrname",
        "pkttype",
        "cpu",
        "iifgroup",
        "oifgroup",
        "cgroup",
        "random",
        "ipsec",
        "iifkind",
        "oifkind",
        "ibrpvid",
        "ibrvproto",
        "time",
        "day",
        "hour",
        "sdif",
        "sdifname",
        "broute",
    ];
    NAMES.get(usize::try_from(key).ok()?).copied()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub dreg: Option<u32>,
    pub key: u32,
    pub sreg: Option<u32>,
}

impl Meta {
    /// The kernel's layout (`nft_meta_get_dump` / `nft_meta_set_dump`: KEY, then DREG or
    /// SREG) read at fixed offsets; `None` for any other, where [`Meta::decode`] decides (on
    /// this one both agree).
    #[inline]
    pub fn decode_kernel(buf: &[u8]) -> Option<Self> {
        let mut f = Fixed::new(buf);
        let key = f.be32(NFTA_META_KEY)?;
        let m = match f.peek_kind()? {
            NFTA_META_DREG => Self {
                dreg: Some(f.be32(NFTA_META_DREG)?),
                key,
                sreg: None,
            },
            NFTA_META_SREG => Self {
                dreg: None,
                key,
                sreg: Some(f.be32(NFTA_META_SREG)?),
            },
            _ => return None,
        };
        f.end().then_some(m)
    }

    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut key = None;
        let mut sreg = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_META_DREG => dreg = Some(reg(&a)?),
                NFTA_META_KEY => key = Some(a.be32()?),
                NFTA_META_SREG => sreg = Some(reg(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg,
            key: key.ok_or_else(|| missing(EXPR, "NFTA_META_KEY"))?,
            sreg,
        })
    }
}
