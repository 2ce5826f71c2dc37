//! `ct`: load (or set) conntrack state: state, mark, status, direction, addresses, ...

use serde::Serialize;

use super::{missing, reg, unknown};
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "ct";
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFTA_CT_DIRECTION: u16 = 3;
const NFTA_CT_SREG: u16 = 4;

pub const KEY_STATE: u32 = 0;
pub const KEY_DIRECTION: u32 = 1;
pub const KEY_STATUS: u32 = 2;
pub const KEY_MARK: u32 = 3;

/// nft's name of a ct key.
pub fn key_name(key: u32) -> Option<&'static str> {
    const NAMES: [&str; 24] = [
        "state",
        "direction",
        "status",
        "mark",
        "secmark",
        "expiration",
        "helper",
        "l3proto",
        "saddr",
        "daddr",
        "protocol",
        "proto-src",
        "proto-dst",
        "label",
        "packets",
        "bytes",
        "avgpkt",
        "zone",
        "event",
        "ip saddr",
        "ip daddr",
        "ip6 saddr",
        "ip6 daddr",
        "id",
    ];
    NAMES.get(usize::try_from(key).ok()?).copied()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ct {
    pub dreg: Option<u32>,
    pub key: u32,
    pub direction: Option<u8>,
    pub sreg: Option<u32>,
}

impl Ct {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut dreg = None;
        let mut key = None;
        let mut direction = None;
        let mut sreg = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_CT_DREG => dreg = Some(reg(&a)?),
                NFTA_CT_KEY => key = Some(a.be32()?),
                NFTA_CT_DIRECTION => direction = Some(a.u8()?),
                NFTA_CT_SREG => sreg = Some(reg(&a)?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            dreg,
            key: key.ok_or_else(|| missing(EXPR, "NFTA_CT_KEY"))?,
            direction,
            sreg,
        })
    }
}
