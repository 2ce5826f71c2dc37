//! `log`: log the packet (syslog level or nflog group).

use serde::Serialize;

use super::unknown;
use crate::kernel::nfnl::{NlaError, NlaIter};

const EXPR: &str = "log";
const NFTA_LOG_GROUP: u16 = 1;
const NFTA_LOG_PREFIX: u16 = 2;
const NFTA_LOG_SNAPLEN: u16 = 3;
const NFTA_LOG_QTHRESHOLD: u16 = 4;
const NFTA_LOG_LEVEL: u16 = 5;
const NFTA_LOG_FLAGS: u16 = 6;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Log {
    pub group: Option<u16>,
    pub prefix: Option<String>,
    pub snaplen: Option<u32>,
    pub qthreshold: Option<u16>,
    pub level: Option<u32>,
    pub flags: Option<u32>,
}

impl Log {
    pub fn decode(buf: &[u8]) -> Result<Self, NlaError> {
        let mut group = None;
        let mut prefix = None;
        let mut snaplen = None;
        let mut qthreshold = None;
        let mut level = None;
        let mut flags = None;
        for a in NlaIter::new(buf) {
            let a = a?;
            match a.kind {
                NFTA_LOG_GROUP => group = Some(a.be16()?),
                NFTA_LOG_PREFIX => prefix = Some(a.string()),
                NFTA_LOG_SNAPLEN => snaplen = Some(a.be32()?),
                NFTA_LOG_QTHRESHOLD => qthreshold = Some(a.be16()?),
                NFTA_LOG_LEVEL => level = Some(a.be32()?),
                NFTA_LOG_FLAGS => flags = Some(a.be32()?),
                _ => return Err(unknown(EXPR, &a)),
            }
        }
        Ok(Self {
            group,
            prefix,
            snaplen,
            qthreshold,
            level,
            flags,
        })
    }
}
