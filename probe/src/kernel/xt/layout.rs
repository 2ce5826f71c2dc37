//! A whole table blob (the answer of `*_SO_GET_ENTRIES`) cut into chains the way libiptc
//! reads it: a hook entry point or an `ERROR` entry starts a chain, the last entry of every
//! chain is its policy / RETURN footer, the final `ERROR` entry ends the table, jumps are
//! byte offsets of chain starts. Only the structure: what the entries mean is
//! `ruleset::xlate::legacy`'s job.

use std::collections::HashMap;
use std::ops::Range;

use super::entry::{self, EXT_HDR, EntryHead, ExtBlob, XtTarget};
use super::sockopt::{NUMHOOKS, TableInfo};
use crate::kernel::family::Family;

/// The names of the netfilter hooks (`NF_INET_PRE_ROUTING` ...), which name the built-in
/// chains.
pub const HOOK_NAMES: [&str; NUMHOOKS] =
    ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

/// One entry of the blob as walked: its place, its bytes and, when its structure is
/// broken, why (a broken entry swallows the rest of the blob: there is no way to find the
/// next one).
#[derive(Debug, Clone, Copy)]
pub struct Ent<'a> {
    pub offset: usize,
    pub bytes: &'a [u8],
    pub broken: Option<&'a str>,
    /// Where the target starts (checked to lie inside the entry unless broken).
    pub target_offset: usize,
}

impl<'a> Ent<'a> {
    /// The target blob, when the entry's structure allows reading it.
    pub fn target(&self) -> Option<ExtBlob<'a>> {
        if self.broken.is_some() {
            return None;
        }
        entry::ext(self.bytes.get(self.target_offset..)?)
            .ok()
            .map(|(t, _)| t)
    }

    /// The fixed part; None for a broken entry or one too short for it.
    pub fn head(&self, family: Family) -> Option<EntryHead> {
        if self.broken.is_some() {
            return None;
        }
        entry::head(family, self.bytes).ok()
    }

    /// Offset just past the entry (where a "continue" verdict points).
    pub fn end(&self) -> usize {
        self.offset + self.bytes.len()
    }
}

/// The entries of a blob, walked by `next_offset`: every well-formed entry, then possibly
/// one broken entry running to the end of the blob. Only offsets are kept (a few bytes per
/// rule); entries are decoded when used.
pub struct Walk<'b> {
    blob: &'b [u8],
    /// Start of every well-formed entry and `target_offset` inside it; then the end of the
    /// last one.
    offsets: Vec<(usize, usize)>,
    broken: Option<String>,
}

impl<'b> Walk<'b> {
    pub fn new(family: Family, blob: &'b [u8], entries_hint: u32) -> Self {
        let min = entry::entry_size(family);
        // Sized once from GET_INFO's count (bounded by what the blob can hold).
        let cap = (entries_hint as usize).min(blob.len() / (min + EXT_HDR)) + 1;
        let mut offsets = Vec::with_capacity(cap);
        let mut broken = None;
        let mut off = 0;
        while off < blob.len() {
            let rest = &blob[off..];
            let next = match entry::offsets(family, rest) {
                Ok((_, n)) if n < min + EXT_HDR || n > rest.len() => Err(format!(
                    "next_offset {n} out of range ({} bytes left)",
                    rest.len()
                )),
                Ok((t, n)) if t < min || t + EXT_HDR > n => {
                    Err(format!("target_offset {t} outside the entry of {n} bytes"))
                }
                Ok((_, n)) if n % 8 != 0 => Err(format!("next_offset {n} not 8-aligned")),
                Ok((t, n)) => Ok((t, n)),
                Err(e) => Err(e.to_string()),
            };
            match next {
                Ok((t, n)) => {
                    offsets.push((off, t));
                    off += n;
                }
                Err(reason) => {
                    broken = Some(reason);
                    break;
                }
            }
        }
        offsets.push((off, 0));
        Self {
            blob,
            offsets,
            broken,
        }
    }

    /// Number of entries (a broken one included).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1 + usize::from(self.broken.is_some())
    }

    /// Whether the blob holds no entry at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` (`i < len()`).
    pub fn get(&self, i: usize) -> Option<Ent<'_>> {
        let &(offset, target_offset) = self.offsets.get(i)?;
        match self.offsets.get(i + 1) {
            Some(&(end, _)) => Some(Ent {
                offset,
                bytes: self.blob.get(offset..end)?,
                broken: None,
                target_offset,
            }),
            None => Some(Ent {
                offset,
                bytes: self.blob.get(offset..)?,
                broken: Some(self.broken.as_deref()?),
                target_offset: 0,
            }),
        }
    }
}

/// One chain as cut from the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XtChain {
    /// The hook's name for a built-in chain, the `ERROR` entry's name for a user chain.
    pub name: String,
    /// The hook (index into [`HOOK_NAMES`]) of a built-in chain.
    pub hook: Option<usize>,
    /// Indices (into the walk) of its entries, the footer (policy / RETURN) included as
    /// the last one.
    pub entries: Range<usize>,
}

/// A table cut into chains, in blob order.
pub struct Layout<'b> {
    pub walk: Walk<'b>,
    pub chains: Vec<XtChain>,
    /// Chain name by the offset of its first entry (where jumps point).
    pub starts: HashMap<usize, String>,
    /// Entries before the first chain start (outside any chain).
    pub orphans: Range<usize>,
    /// Whether the final `ERROR` entry was found (false: the blob is cut short or broken).
    pub ended: bool,
}

/// Cut the blob into chains. Never fails: what does not fit shows as orphans, a broken
/// last entry of the walk, or `ended == false`.
pub fn layout<'b>(family: Family, info: &TableInfo, blob: &'b [u8]) -> Layout<'b> {
    let walk = Walk::new(family, blob, info.num_entries);
    let hook_at = |off: usize| {
        (0..NUMHOOKS)
            .find(|&h| info.valid_hooks & (1 << h) != 0 && info.hook_entry[h] as usize == off)
    };
    // A chain's entries are consecutive.
    let mut chains: Vec<XtChain> = Vec::new();
    let mut starts: HashMap<usize, String> = HashMap::new();
    let mut orphans: Range<usize> = 0..0;
    let mut ended = false;
    for i in 0..walk.len() {
        let Some(e) = walk.get(i) else { break };
        let target = e.target();
        let is_error = target
            .as_ref()
            .is_some_and(|t| t.target_kind() == XtTarget::Error);
        if is_error && e.end() == blob.len() {
            ended = true;
            break;
        }
        if let Some(t) = target.filter(|_| is_error) {
            let name = t.error_name();
            starts.insert(e.end(), name.clone());
            chains.push(XtChain {
                name,
                hook: None,
                entries: i + 1..i + 1,
            });
            continue;
        }
        if let Some(h) = hook_at(e.offset) {
            starts.insert(e.offset, HOOK_NAMES[h].to_owned());
            chains.push(XtChain {
                name: HOOK_NAMES[h].to_owned(),
                hook: Some(h),
                entries: i..i,
            });
        }
        match chains.last_mut() {
            Some(c) => c.entries.end = i + 1,
            None => orphans.end = i + 1,
        }
    }
    Layout {
        walk,
        chains,
        starts,
        orphans,
        ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::xt::testutil::{Spec, V_ACCEPT, V_DROP, V_RETURN, entry, error, verdict};

    /// filter: INPUT (a jump to X, then its DROP policy), FORWARD, OUTPUT, X (RETURN).
    fn table() -> (TableInfo, Vec<u8>, usize) {
        let f = Family::Ipv4;
        let mut info = TableInfo {
            valid_hooks: 0b1110,
            hook_entry: [0; NUMHOOKS],
            underflow: [0; NUMHOOKS],
            num_entries: 7,
            size: 0,
        };
        let plain = Spec::default();
        let mut blob = entry(f, &plain, &[], &verdict(0)); // jump, patched below
        info.underflow[1] = blob.len() as u32;
        blob.extend(entry(f, &plain, &[], &verdict(V_DROP)));
        for h in [2, 3] {
            info.hook_entry[h] = blob.len() as u32;
            info.underflow[h] = blob.len() as u32;
            blob.extend(entry(f, &plain, &[], &verdict(V_ACCEPT)));
        }
        blob.extend(error(f, "X"));
        let x = blob.len();
        blob.extend(entry(f, &plain, &[], &verdict(V_RETURN)));
        blob.extend(error(f, "ERROR"));
        let v = entry::entry_size(f) + EXT_HDR;
        blob[v..v + 4].copy_from_slice(&(x as i32).to_ne_bytes());
        info.size = blob.len() as u32;
        (info, blob, x)
    }

    #[test]
    fn cuts_chains_at_hooks_and_error_entries() {
        let (info, blob, x) = table();
        let l = layout(Family::Ipv4, &info, &blob);
        let chains: Vec<_> = l
            .chains
            .iter()
            .map(|c| (c.name.as_str(), c.hook, c.entries.clone()))
            .collect();
        assert_eq!(
            chains,
            [
                ("INPUT", Some(1), 0..2),
                ("FORWARD", Some(2), 2..3),
                ("OUTPUT", Some(3), 3..4),
                ("X", None, 5..6),
            ]
        );
        assert!(l.ended && l.orphans.is_empty());
        assert_eq!(l.starts.get(&x).map(String::as_str), Some("X"));
        // The jump is an offset, and it is X's start.
        let first = l.walk.get(0).unwrap();
        let t = first.target().unwrap();
        assert_eq!(
            t.target_kind(),
            XtTarget::Standard(Some(entry::StdVerdict::Offset(x)))
        );
        let head = first.head(Family::Ipv4).unwrap();
        assert_eq!((head.packets, head.bytes, head.goto), (0, 0, false));
    }

    #[test]
    fn what_does_not_fit_shows() {
        let (info, blob, _) = table();
        // Cut short: no final ERROR entry, and the last entry is broken.
        let l = layout(Family::Ipv4, &info, &blob[..blob.len() - 8]);
        assert!(!l.ended);
        assert!(l.walk.get(l.walk.len() - 1).unwrap().broken.is_some());
        // INPUT's hook pointing past its first entry: that entry is outside any chain.
        let mut moved = info;
        moved.hook_entry[1] = moved.underflow[1];
        let l = layout(Family::Ipv4, &moved, &blob);
        assert_eq!(l.orphans, 0..1);
        assert_eq!(l.chains[0].entries, 1..2);
        // Every prefix and every flipped byte: no panic.
        for n in 0..blob.len() {
            let _ = layout(Family::Ipv4, &info, &blob[..n]);
        }
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0xff;
            let _ = layout(Family::Ipv4, &info, &b);
            let _ = layout(Family::Ipv6, &info, &b);
        }
    }
}
