//! One xtables entry → canonical `Rule`: the fixed part as iptables-save reads it, the
//! match and target blobs through `crate::ext` (the same decoders as the nf_tables compat
//! expressions), jumps resolved to chain names. Never fails: what cannot be understood is
//! kept in `Rule::undecoded`.

use std::collections::HashMap;

use super::super::compat;
use crate::ext::ExtKind;
use crate::ext::cache::{Blob, ExtCache};
use crate::kernel::xt::entry::{
    self, EntryHead, ExtBlob, IFNAMSIZ, StdVerdict, XtAddr, XtIface, XtTarget,
};
use crate::kernel::xt::layout::Ent;
use crate::ruleset::{
    AddrMatch, Counters, Family, IfaceMatch, IpHeader, Match, ProtoMatch, Rule, Target, Undecoded,
    Verdict,
};

/// The blob as the extension caches name it.
pub(super) fn blob<'a>(kind: ExtKind, family: Family, x: &'a ExtBlob<'_>) -> Blob<'a> {
    Blob {
        kind,
        family,
        name: &x.name,
        rev: x.revision,
        data: x.data,
    }
}

pub(super) fn counters(h: &EntryHead) -> Counters {
    Counters {
        packets: h.packets,
        bytes: h.bytes,
    }
}

/// `-s -d -i -o -p -f` of an entry, as iptables-save prints them.
pub(super) fn ip_header(family: Family, h: &EntryHead) -> IpHeader {
    IpHeader {
        src: addr(family, &h.src),
        dst: addr(family, &h.dst),
        in_iface: iface(&h.in_iface),
        out_iface: iface(&h.out_iface),
        proto: (h.proto != 0).then_some(ProtoMatch {
            // ipt_ip.proto is u16 but only 0..=255 are protocols; keep the low byte.
            proto: h.proto as u8,
            invert: h.proto_invert,
        }),
        fragment: h.fragment,
    }
}

/// `-s`/`-d` as iptables-save decides to print it: IPv4 skips an all-zero address and mask,
/// IPv6 skips a zero-length prefix (whatever the address), both print when inverted.
fn addr(family: Family, a: &XtAddr) -> Option<AddrMatch> {
    let zero_mask = a.mask.is_unspecified();
    let skip = match family {
        Family::Ipv4 => zero_mask && a.addr.is_unspecified() && !a.invert,
        Family::Ipv6 => zero_mask && !a.invert,
    };
    (!skip).then_some(AddrMatch {
        addr: a.addr,
        mask: a.mask,
        invert: a.invert,
    })
}

/// `-i`/`-o` the way iptables-save reads name and mask: bytes under a non-zero mask byte
/// form the name; the name is a prefix (`+`) when the mask ends before a NUL was covered.
fn iface(i: &XtIface) -> Option<IfaceMatch> {
    let (name, mask) = (&i.name, &i.mask);
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
        invert: i.invert,
    })
}

/// A standard target in iptables terms.
pub(super) enum Std<'s> {
    Verdict(Verdict),
    /// `-j CHAIN` (or `-g CHAIN` with the entry's goto flag).
    Chain(&'s str),
    /// A jump to the next entry: no `-j` at all.
    Continue,
}

/// Reads a standard verdict of entry `e`; jumps are resolved through `starts` (chain name
/// by the offset of its first entry). Err: why it is not something iptables prints.
pub(super) fn standard<'s>(
    v: Option<StdVerdict>,
    e: &Ent,
    starts: &'s HashMap<usize, String>,
) -> Result<Std<'s>, String> {
    Ok(match v.ok_or("standard target without a verdict")? {
        StdVerdict::Accept => Std::Verdict(Verdict::Accept),
        StdVerdict::Drop => Std::Verdict(Verdict::Drop),
        StdVerdict::Queue => Std::Verdict(Verdict::Queue),
        StdVerdict::Return => Std::Verdict(Verdict::Return),
        StdVerdict::Offset(off) if off == e.end() => Std::Continue,
        StdVerdict::Offset(off) => match starts.get(&off) {
            Some(c) => Std::Chain(c),
            None => return Err(format!("jump to offset {off}, not a chain start")),
        },
        StdVerdict::Other(v) => return Err(format!("unknown standard verdict {v}")),
    })
}

/// One entry → `Rule`.
pub(super) fn rule(
    family: Family,
    e: &Ent,
    starts: &HashMap<usize, String>,
    cache: &mut ExtCache,
) -> Rule {
    let what = || format!("xt entry at offset {}", e.offset);
    let whole = |reason: String| Rule {
        undecoded: vec![Undecoded {
            what: what(),
            reason,
            raw: e.bytes.to_vec(),
        }],
        ..Rule::default()
    };
    if let Some(reason) = e.broken {
        return whole(reason.to_owned());
    }
    let head = match entry::head(family, e.bytes) {
        Ok(h) => h,
        Err(err) => return whole(err.to_string()),
    };
    let mut rule = Rule {
        ip: ip_header(family, &head),
        counters: Some(counters(&head)),
        ..Rule::default()
    };
    let fail = |rule: &mut Rule, reason: String| {
        rule.undecoded.push(Undecoded {
            what: what(),
            reason,
            raw: e.bytes.to_vec(),
        });
    };

    for m in entry::matches(family, e.bytes, &head) {
        match m {
            Ok(m) => {
                let (name, body) = decoded(ExtKind::Match, family, &m, cache);
                rule.matches.push(Match {
                    name,
                    revision: m.revision,
                    body,
                });
            }
            Err((off, reason)) => {
                fail(&mut rule, format!("match at +{off}: {reason}"));
                return rule;
            }
        }
    }

    let t = match entry::target(e.bytes, &head) {
        Ok(t) => t,
        Err(reason) => {
            fail(&mut rule, format!("target: {reason}"));
            return rule;
        }
    };
    rule.target = match t.target_kind() {
        XtTarget::Standard(v) => match standard(v, e, starts) {
            Ok(Std::Verdict(v)) => Target::Verdict(v),
            Ok(Std::Chain(c)) if head.goto => Target::Goto(c.to_owned()),
            Ok(Std::Chain(c)) => Target::Jump(c.to_owned()),
            Ok(Std::Continue) => Target::None,
            Err(reason) => {
                fail(&mut rule, reason);
                Target::None
            }
        },
        XtTarget::Error => {
            fail(&mut rule, "ERROR target inside a chain".into());
            Target::None
        }
        XtTarget::Ext => {
            let (name, body) = decoded(ExtKind::Target, family, &t, cache);
            Target::Ext {
                name,
                revision: t.revision,
                body,
            }
        }
    };
    rule
}

/// The printed name and the words of a match or target blob (remembered by its bytes for
/// the rest of the table: rulesets repeat the same blobs).
fn decoded(
    kind: ExtKind,
    family: Family,
    x: &ExtBlob,
    cache: &mut ExtCache,
) -> crate::ext::cache::Decoded {
    let id = blob(kind, family, x);
    cache.get(id, || compat::decoded(id, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ifc(name: &str, mask_len: usize) -> Option<IfaceMatch> {
        let mut n = [0u8; 16];
        n[..name.len()].copy_from_slice(name.as_bytes());
        let mut m = [0u8; 16];
        m[..mask_len].fill(0xff);
        iface(&XtIface {
            name: n,
            mask: m,
            invert: false,
        })
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
}
