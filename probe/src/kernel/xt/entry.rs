//! One `ipt_entry` / `ip6t_entry`: the fixed IP header part, offsets, counters, and the
//! `xt_entry_match` / `xt_entry_target` blobs that follow it, as the kernel stores them.
//! Bounds-checked; anything that does not fit is an error for the caller to report.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::bytes::{Reader, Truncated};
use crate::kernel::family::Family;

/// `sizeof(struct ipt_entry)` / `sizeof(struct ip6t_entry)`.
pub fn entry_size(family: Family) -> usize {
    match family {
        Family::Ipv4 => 112,
        Family::Ipv6 => 168,
    }
}

/// `sizeof(struct xt_entry_match)` == `sizeof(struct xt_entry_target)`.
pub const EXT_HDR: usize = 32;
const EXT_NAME_LEN: usize = 29;
/// `IFNAMSIZ`: interface names and masks in the entry.
pub const IFNAMSIZ: usize = 16;

/// The target name of the standard target (verdicts and jumps).
pub const STANDARD_TARGET: &str = "";
/// The target name of the entries that start user chains and end the table.
pub const ERROR_TARGET: &str = "ERROR";
/// `XT_FUNCTION_MAXNAMELEN` (`struct xt_error_target.errorname`).
const ERRORNAME_LEN: usize = 30;

// ipt_ip / ip6t_ip6 flags and inversion bits (same values in both where shared).
const IPT_F_FRAG: u8 = 0x01;
const IPT_F_GOTO: u8 = 0x02;
const IP6T_F_GOTO: u8 = 0x04;
const INV_VIA_IN: u8 = 0x01;
const INV_VIA_OUT: u8 = 0x02;
const INV_SRCIP: u8 = 0x08;
const INV_DSTIP: u8 = 0x10;
const INV_FRAG: u8 = 0x20;
const INV_PROTO: u8 = 0x40;

// Standard verdicts are stored as -verdict - 1.
const V_DROP: i32 = -1;
const V_ACCEPT: i32 = -2;
const V_QUEUE: i32 = -4;
const V_RETURN: i32 = -5;

/// An address with its mask and inversion flag, as stored (all zero: no `-s`/`-d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XtAddr {
    pub addr: IpAddr,
    pub mask: IpAddr,
    pub invert: bool,
}

/// An interface name with its mask and inversion flag, as stored (mask bytes 0xff cover
/// the compared part of the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XtIface {
    pub name: [u8; IFNAMSIZ],
    pub mask: [u8; IFNAMSIZ],
    pub invert: bool,
}

/// The fixed part of an entry (`struct ipt_ip` / `struct ip6t_ip6` and the entry fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHead {
    pub src: XtAddr,
    pub dst: XtAddr,
    pub in_iface: XtIface,
    pub out_iface: XtIface,
    /// Protocol number (0: any); the kernel field is u16, only the low byte is a protocol.
    pub proto: u16,
    pub proto_invert: bool,
    /// IPv4 fragment flag: Some(inverted) when set (never on IPv6).
    pub fragment: Option<bool>,
    /// The standard target's jump is a goto (`-g`).
    pub goto: bool,
    pub target_offset: usize,
    pub next_offset: usize,
    pub packets: u64,
    pub bytes: u64,
}

/// A match or target blob: name, revision, payload (`data[]`, padding included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtBlob<'a> {
    /// Borrowed from the blob (copied only when it is not UTF-8).
    pub name: Cow<'a, str>,
    pub revision: u8,
    pub data: &'a [u8],
}

/// The verdict of a standard target, as the kernel stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdVerdict {
    Accept,
    Drop,
    Queue,
    Return,
    /// A jump (or goto) to the entry at this byte offset of the table blob.
    Offset(usize),
    /// Any other negative value (not a verdict iptables writes).
    Other(i32),
}

/// What a target blob is to the xtables core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XtTarget {
    /// The standard target; None when its data holds no verdict.
    Standard(Option<StdVerdict>),
    /// An `ERROR` target (starts a user chain, or ends the table).
    Error,
    /// An extension target (MASQUERADE, DNAT, ...).
    Ext,
}

impl<'a> ExtBlob<'a> {
    /// What this blob is when it sits at the target position.
    pub fn target_kind(&self) -> XtTarget {
        match self.name.as_ref() {
            STANDARD_TARGET => XtTarget::Standard(self.data.get(..4).map(|v| {
                match i32::from_ne_bytes([v[0], v[1], v[2], v[3]]) {
                    V_ACCEPT => StdVerdict::Accept,
                    V_DROP => StdVerdict::Drop,
                    V_QUEUE => StdVerdict::Queue,
                    V_RETURN => StdVerdict::Return,
                    v => match usize::try_from(v) {
                        Ok(off) => StdVerdict::Offset(off),
                        Err(_) => StdVerdict::Other(v),
                    },
                }
            })),
            ERROR_TARGET => XtTarget::Error,
            _ => XtTarget::Ext,
        }
    }

    /// The chain name an `ERROR` target carries (empty when unreadable).
    pub fn error_name(&self) -> String {
        Reader::new(self.data)
            .cstr(ERRORNAME_LEN)
            .unwrap_or_default()
    }
}

/// `target_offset` and `next_offset` of the entry at the start of `buf`, without decoding
/// the rest of its fixed part (same errors as [`head`]).
pub fn offsets(family: Family, buf: &[u8]) -> Result<(usize, usize), Truncated> {
    // Where the two u16 sit in `struct ipt_entry` / `struct ip6t_entry`.
    let at = match family {
        Family::Ipv4 => 88,
        Family::Ipv6 => 140,
    };
    if buf.len() < entry_size(family) {
        return head(family, buf).map(|h| (h.target_offset, h.next_offset));
    }
    let mut r = Reader::new(buf);
    r.skip(at)?;
    Ok((r.u16()? as usize, r.u16()? as usize))
}

/// Decode the fixed part at the start of `buf` (which holds at least the whole entry).
pub fn head(family: Family, buf: &[u8]) -> Result<EntryHead, Truncated> {
    let mut r = Reader::new(buf);
    let (src, dst, smsk, dmsk) = match family {
        Family::Ipv4 => {
            let mut a = || r.array::<4>().map(|b| IpAddr::V4(Ipv4Addr::from(b)));
            (a()?, a()?, a()?, a()?)
        }
        Family::Ipv6 => {
            let mut a = || r.array::<16>().map(|b| IpAddr::V6(Ipv6Addr::from(b)));
            (a()?, a()?, a()?, a()?)
        }
    };
    let iniface = r.array::<IFNAMSIZ>()?;
    let outiface = r.array::<IFNAMSIZ>()?;
    let iniface_mask = r.array::<IFNAMSIZ>()?;
    let outiface_mask = r.array::<IFNAMSIZ>()?;
    let proto = r.u16()?;
    let (flags, invflags) = match family {
        Family::Ipv4 => (r.u8()?, r.u8()?),
        Family::Ipv6 => {
            let _tos = r.u8()?;
            let f = (r.u8()?, r.u8()?);
            r.align(4)?;
            f
        }
    };
    let _nfcache = r.u32()?;
    let target_offset = r.u16()? as usize;
    let next_offset = r.u16()? as usize;
    let _comefrom = r.u32()?;
    r.align(8)?;
    let packets = r.u64()?;
    let bytes = r.u64()?;

    let goto = match family {
        Family::Ipv4 => flags & IPT_F_GOTO != 0,
        Family::Ipv6 => flags & IP6T_F_GOTO != 0,
    };
    Ok(EntryHead {
        src: XtAddr {
            addr: src,
            mask: smsk,
            invert: invflags & INV_SRCIP != 0,
        },
        dst: XtAddr {
            addr: dst,
            mask: dmsk,
            invert: invflags & INV_DSTIP != 0,
        },
        in_iface: XtIface {
            name: iniface,
            mask: iniface_mask,
            invert: invflags & INV_VIA_IN != 0,
        },
        out_iface: XtIface {
            name: outiface,
            mask: outiface_mask,
            invert: invflags & INV_VIA_OUT != 0,
        },
        proto,
        proto_invert: invflags & INV_PROTO != 0,
        fragment: (family == Family::Ipv4 && flags & IPT_F_FRAG != 0)
            .then_some(invflags & INV_FRAG != 0),
        goto,
        target_offset,
        next_offset,
        packets,
        bytes,
    })
}

/// Decode one `xt_entry_match`/`xt_entry_target` header at the start of `buf`; returns the
/// blob and its total size (`match_size`/`target_size`).
pub fn ext(buf: &[u8]) -> Result<(ExtBlob<'_>, usize), String> {
    let mut r = Reader::new(buf);
    let size = r.u16().map_err(|e| e.to_string())? as usize;
    let name = r.bytes(EXT_NAME_LEN).map_err(|e| e.to_string())?;
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    // Same text as `Reader::cstr`, borrowed: this runs for every match of every rule.
    let name = match std::str::from_utf8(name) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(name),
    };
    let revision = r.u8().map_err(|e| e.to_string())?;
    if size < EXT_HDR || size > buf.len() {
        return Err(format!(
            "extension `{name}` claims {size} bytes, {} available",
            buf.len()
        ));
    }
    Ok((
        ExtBlob {
            name,
            revision,
            data: &buf[EXT_HDR..size],
        },
        size,
    ))
}

/// The match blobs of an entry (`bytes`, whose fixed part is `head`), in order; after an
/// error (a match that does not fit: its offset in the entry and why) nothing more.
pub fn matches<'a>(
    family: Family,
    bytes: &'a [u8],
    head: &EntryHead,
) -> impl Iterator<Item = Result<ExtBlob<'a>, (usize, String)>> {
    let end = head.target_offset;
    let mut off = entry_size(family);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || off >= end {
            return None;
        }
        match ext(bytes.get(off..end).unwrap_or_default()) {
            Ok((m, size)) => {
                off += size;
                Some(Ok(m))
            }
            Err(reason) => {
                failed = true;
                Some(Err((off, reason)))
            }
        }
    })
}

/// The target blob of an entry (`bytes`, whose fixed part is `head`).
pub fn target<'a>(bytes: &'a [u8], head: &EntryHead) -> Result<ExtBlob<'a>, String> {
    ext(bytes.get(head.target_offset..).unwrap_or_default()).map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_entries_are_errors() {
        assert!(head(Family::Ipv4, &[0u8; 111]).is_err());
        assert!(head(Family::Ipv6, &[0u8; 167]).is_err());
        assert!(head(Family::Ipv4, &[0u8; 112]).is_ok());
        assert!(head(Family::Ipv6, &[0u8; 168]).is_ok());
        assert!(ext(&[0u8; 31]).is_err());
        let mut b = [0u8; 40];
        b[0] = 48;
        assert!(ext(&b).is_err());
        b[0] = 40;
        assert_eq!(ext(&b).unwrap().1, 40);
    }

    #[test]
    fn offsets_match_the_head() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let n = entry_size(family);
            let mut b = vec![0u8; n + 8];
            for (i, x) in b.iter_mut().enumerate() {
                *x = i as u8;
            }
            let h = head(family, &b).unwrap();
            assert_eq!(
                offsets(family, &b).unwrap(),
                (h.target_offset, h.next_offset)
            );
            assert_eq!(
                offsets(family, &b[..n - 1]).unwrap_err(),
                head(family, &b[..n - 1]).unwrap_err()
            );
        }
    }

    #[test]
    fn standard_targets_are_verdicts_or_offsets() {
        let t = |name: &'static str, data: &'static [u8]| ExtBlob {
            name: name.into(),
            revision: 0,
            data,
        };
        let v = |n: i32| n.to_ne_bytes();
        let cases: [([u8; 4], StdVerdict); 6] = [
            (v(-1), StdVerdict::Drop),
            (v(-2), StdVerdict::Accept),
            (v(-4), StdVerdict::Queue),
            (v(-5), StdVerdict::Return),
            (v(312), StdVerdict::Offset(312)),
            (v(-3), StdVerdict::Other(-3)),
        ];
        for (bytes, want) in cases {
            let data: &'static [u8] = Box::leak(Box::new(bytes));
            assert_eq!(
                t(STANDARD_TARGET, data).target_kind(),
                XtTarget::Standard(Some(want))
            );
        }
        assert_eq!(t("", &[1, 2]).target_kind(), XtTarget::Standard(None));
        assert_eq!(t("ERROR", b"X\0").target_kind(), XtTarget::Error);
        let mut name = [0u8; 32];
        name[..6].copy_from_slice(b"DOCKER");
        let data: &'static [u8] = Box::leak(Box::new(name));
        assert_eq!(t("ERROR", data).error_name(), "DOCKER");
        // Shorter than `errorname`: no name rather than a read past the blob.
        assert_eq!(t("ERROR", b"DOCKER\0\0").error_name(), "");
        assert_eq!(t("MASQUERADE", &[]).target_kind(), XtTarget::Ext);
    }
}
