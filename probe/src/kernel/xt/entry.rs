//! One `ipt_entry` / `ip6t_entry`: the fixed IP header part, offsets, counters, and the
//! `xt_entry_match` / `xt_entry_target` blobs that follow it. Bounds-checked; anything that
//! does not fit is an error the caller turns into `Undecoded`.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::bytes::{Reader, Truncated};
use crate::ruleset::{AddrMatch, Counters, Family, IfaceMatch, IpHeader, ProtoMatch};

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
const IFNAMSIZ: usize = 16;

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

/// The decoded fixed part of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryHead {
    pub ip: IpHeader,
    pub goto: bool,
    pub target_offset: usize,
    pub next_offset: usize,
    pub counters: Counters,
}

/// A match or target blob: name, revision, payload (`data[]`, padding included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtBlob<'a> {
    /// Borrowed from the blob (copied only when it is not UTF-8).
    pub name: Cow<'a, str>,
    pub revision: u8,
    pub data: &'a [u8],
}

impl ExtBlob<'_> {
    /// The blob as the extension cache names it.
    pub fn blob(&self, kind: crate::ext::ExtKind, family: Family) -> crate::ext::cache::Blob<'_> {
        crate::ext::cache::Blob {
            kind,
            family,
            name: &self.name,
            rev: self.revision,
            data: self.data,
        }
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
    let counters = Counters {
        packets: r.u64()?,
        bytes: r.u64()?,
    };

    let goto = match family {
        Family::Ipv4 => flags & IPT_F_GOTO != 0,
        Family::Ipv6 => flags & IP6T_F_GOTO != 0,
    };
    let ip = IpHeader {
        src: addr(family, src, smsk, invflags & INV_SRCIP != 0),
        dst: addr(family, dst, dmsk, invflags & INV_DSTIP != 0),
        in_iface: iface(&iniface, &iniface_mask, invflags & INV_VIA_IN != 0),
        out_iface: iface(&outiface, &outiface_mask, invflags & INV_VIA_OUT != 0),
        proto: (proto != 0).then_some(ProtoMatch {
            // ipt_ip.proto is u16 but only 0..=255 are protocols; keep the low byte.
            proto: proto as u8,
            invert: invflags & INV_PROTO != 0,
        }),
        fragment: (family == Family::Ipv4 && flags & IPT_F_FRAG != 0)
            .then_some(invflags & INV_FRAG != 0),
    };
    Ok(EntryHead {
        ip,
        goto,
        target_offset,
        next_offset,
        counters,
    })
}

/// `-s`/`-d` as iptables-save decides to print it: IPv4 skips an all-zero address and mask,
/// IPv6 skips a zero-length prefix (whatever the address), both print when inverted.
fn addr(family: Family, addr: IpAddr, mask: IpAddr, invert: bool) -> Option<AddrMatch> {
    let zero_mask = match mask {
        IpAddr::V4(m) => m.is_unspecified(),
        IpAddr::V6(m) => m.is_unspecified(),
    };
    let skip = match family {
        Family::Ipv4 => zero_mask && addr.is_unspecified() && !invert,
        Family::Ipv6 => zero_mask && !invert,
    };
    (!skip).then_some(AddrMatch { addr, mask, invert })
}

/// `-i`/`-o` the way iptables-save reads name and mask: bytes under a non-zero mask byte
/// form the name; the name is a prefix (`+`) when the mask ends before a NUL was covered.
fn iface(name: &[u8; IFNAMSIZ], mask: &[u8; IFNAMSIZ], invert: bool) -> Option<IfaceMatch> {
    if mask[0] == 0 {
        return None;
    }
    let covered = mask.iter().position(|&m| m == 0).unwrap_or(IFNAMSIZ);
    let text: Vec<u8> = name[..covered]
        .iter()
        .copied()
        .filter(|&b| b != 0)
        .collect();
    let wildcard = covered < IFNAMSIZ && name[covered - 1] != 0;
    Some(IfaceMatch {
        name: String::from_utf8_lossy(&text).into_owned(),
        wildcard,
        invert,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ifc(name: &str, mask_len: usize) -> Option<IfaceMatch> {
        let mut n = [0u8; 16];
        n[..name.len()].copy_from_slice(name.as_bytes());
        let mut m = [0u8; 16];
        m[..mask_len].fill(0xff);
        iface(&n, &m, false)
    }

    #[test]
    fn interfaces_like_iptables_save() {
        let exact = ifc("eth0", 5).unwrap();
        assert_eq!((exact.name.as_str(), exact.wildcard), ("eth0", false));
        let wild = ifc("eth+", 3).unwrap();
        assert_eq!((wild.name.as_str(), wild.wildcard), ("eth", true));
        assert!(ifc("+", 0).is_none());
        let full = ifc("abcdefghijklmno", 16).unwrap();
        assert_eq!(
            (full.name.as_str(), full.wildcard),
            ("abcdefghijklmno", false)
        );
    }

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
}
