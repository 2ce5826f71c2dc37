//! A table blob → iptables-save text, entry by entry, without building the `Table`: what
//! `nfprobe ruleset --backend legacy --format save` prints. The same text as
//! `render::table(&table::decode(..))` (the tests below check it on mutated blobs): an
//! entry that does not go the plain way (broken structure, a jump to no chain start, an
//! `ERROR` target inside a chain) is decoded into a `Rule` and rendered from it.
//!
//! Per match and target the rendered text (` -m NAME words`) is remembered by the blob's
//! bytes: rulesets repeat the same blobs thousands of times.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::entry::{self, ExtBlob};
use super::sockopt::TableInfo;
use super::table::{self, ERROR_TARGET, Ent, STANDARD_TARGET, V_ACCEPT, V_DROP, V_QUEUE, V_RETURN};
use crate::ext::cache::{ExtCache, Got};
use crate::ext::{self, DecodeCtx, ExtKind};
use crate::ruleset::{ExtBody, Family, Verdict, render};

/// The text is handed on in pieces of about this size (a whole table's text is never held).
pub const CHUNK: usize = 1 << 16;

/// What is remembered per extension blob: its rendered text and whether it decoded.
struct ExtText {
    text: String,
    decoded: bool,
}

/// Appends the table's text (`*name` to `COMMIT`) to `out`, calling `spill` whenever `out`
/// holds at least [`CHUNK`] bytes (`spill` takes the text out and leaves `out` empty).
/// Returns how many rules could not be fully decoded.
pub fn save_table(
    family: Family,
    name: &str,
    info: &TableInfo,
    blob: &[u8],
    counters: bool,
    out: &mut String,
    spill: &mut dyn FnMut(&mut String),
) -> usize {
    let lay = table::layout(family, name, info, blob);
    out.push('*');
    out.push_str(name);
    out.push('\n');
    for c in &lay.chains {
        render::chain_line(out, &c.chain);
    }
    let mut r = Renderer {
        family,
        counters,
        starts: &lay.starts,
        texts: ExtCache::new(),
        spare: String::new(),
        model: None,
        via_model: 0,
    };
    let mut undecoded = 0;
    for c in &lay.chains {
        for i in c.body.clone() {
            let Some(e) = lay.walk.get(i) else { continue };
            if !r.entry(out, &c.chain.name, &e) {
                undecoded += 1;
            }
            if out.len() >= CHUNK {
                spill(out);
            }
        }
        for t in &c.tail {
            render::rule_line(out, &c.chain.name, t, counters);
            undecoded += usize::from(!t.is_decoded());
        }
    }
    out.push_str("COMMIT\n");
    #[cfg(test)]
    VIA_MODEL.set(VIA_MODEL.get() + r.via_model);
    undecoded
}

#[cfg(test)]
thread_local! {
    /// Entries rendered through the model by this thread (tests check the plain path ran).
    static VIA_MODEL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

struct Renderer<'l> {
    family: Family,
    counters: bool,
    starts: &'l HashMap<usize, String>,
    texts: ExtCache<ExtText>,
    /// The text buffer of the last blob not kept by `texts`, reused for the next one.
    spare: String,
    /// For entries rendered through the model (rare): its extension cache.
    model: Option<ExtCache>,
    /// How many entries went through the model.
    via_model: usize,
}

impl Renderer<'_> {
    /// One `-A CHAIN ...` line; false when the rule is not fully decoded.
    fn entry(&mut self, out: &mut String, chain: &str, e: &Ent) -> bool {
        let mark = out.len();
        if let Some(decoded) = self.plain(out, chain, e) {
            return decoded;
        }
        out.truncate(mark);
        self.via_model += 1;
        let cache = self.model.get_or_insert_with(ExtCache::new);
        let rule = table::rule(self.family, e, self.starts, cache);
        render::rule_line(out, chain, &rule, self.counters);
        rule.is_decoded()
    }

    /// The line of an entry whose structure is sound (what `render::rule_line` prints for
    /// `table::rule`); None when it is not.
    fn plain(&mut self, out: &mut String, chain: &str, e: &Ent) -> Option<bool> {
        if e.broken.is_some() {
            return None;
        }
        let head = entry::head(self.family, e.bytes).ok()?;
        if self.counters {
            let k = head.counters;
            let _ = write!(out, "[{}:{}] ", k.packets, k.bytes);
        }
        out.push_str("-A ");
        out.push_str(chain);
        render::header(out, &head.ip);
        let mut decoded = true;
        let mut off = entry::entry_size(self.family);
        while off < head.target_offset {
            let (m, size) = entry::ext(e.bytes.get(off..head.target_offset)?).ok()?;
            decoded &= self.ext(out, ExtKind::Match, &m);
            off += size;
        }
        let (t, _) = entry::ext(e.bytes.get(head.target_offset..)?).ok()?;
        match t.name.as_ref() {
            STANDARD_TARGET => {
                let v = t.data.get(..4)?;
                let verdict = match i32::from_ne_bytes([v[0], v[1], v[2], v[3]]) {
                    V_ACCEPT => Some(Verdict::Accept),
                    V_DROP => Some(Verdict::Drop),
                    V_QUEUE => Some(Verdict::Queue),
                    V_RETURN => Some(Verdict::Return),
                    v if v >= 0 && v as usize == e.end() => None,
                    v if v >= 0 => {
                        let c = self.starts.get(&(v as usize))?;
                        out.push_str(if head.goto { " -g " } else { " -j " });
                        out.push_str(c);
                        None
                    }
                    _ => return None,
                };
                if let Some(v) = verdict {
                    out.push_str(" -j ");
                    out.push_str(render::verdict_name(v));
                }
            }
            ERROR_TARGET => return None,
            _ => decoded &= self.ext(out, ExtKind::Target, &t),
        }
        out.push('\n');
        Some(decoded)
    }

    /// ` -m NAME words` / ` -j NAME words` of a blob; false when it did not decode.
    fn ext(&mut self, out: &mut String, kind: ExtKind, x: &ExtBlob) -> bool {
        let family = self.family;
        let spare = &mut self.spare;
        let got = self.texts.lookup(x.blob(kind, family), || {
            let mut text = std::mem::take(spare);
            text.clear();
            let decoded = ext_text(&mut text, kind, family, x);
            ExtText { text, decoded }
        });
        match got {
            Got::Cached(t) => {
                out.push_str(&t.text);
                t.decoded
            }
            Got::Fresh(t) => {
                out.push_str(&t.text);
                self.spare = t.text;
                t.decoded
            }
        }
    }
}

/// Renders a blob the way `render::rule_spec` prints `table::rule`'s match or target.
fn ext_text(text: &mut String, kind: ExtKind, family: Family, x: &ExtBlob) -> bool {
    let ctx = DecodeCtx {
        family,
        revision: x.revision,
    };
    text.push_str(match kind {
        ExtKind::Match => " -m ",
        ExtKind::Target => " -j ",
    });
    text.push_str(ext::save_name_ref(kind, &x.name, &ctx, x.data));
    match ext::decode(kind, &x.name, &ctx, x.data) {
        Ok(words) => {
            render::body(text, &ExtBody::Decoded(words));
            true
        }
        Err(err) => {
            log::debug!("{kind} {} rev {}: {err}", x.name, x.revision);
            render::body(text, &ExtBody::Raw(x.data.to_vec()));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::EXT_HDR;
    use super::super::sockopt::NUMHOOKS;
    use super::*;

    /// `xt_entry_match` / `xt_entry_target`: header, then `data` padded to 8 bytes.
    fn ext_blob(name: &str, rev: u8, data: &[u8]) -> Vec<u8> {
        let size = (EXT_HDR + data.len()).div_ceil(8) * 8;
        let mut b = vec![0u8; size];
        b[..2].copy_from_slice(&(size as u16).to_ne_bytes());
        b[2..2 + name.len()].copy_from_slice(name.as_bytes());
        b[31] = rev;
        b[EXT_HDR..EXT_HDR + data.len()].copy_from_slice(data);
        b
    }

    fn verdict(v: i32) -> Vec<u8> {
        ext_blob(STANDARD_TARGET, 0, &v.to_ne_bytes())
    }

    fn comment(text: &str) -> Vec<u8> {
        let mut c = [0u8; 256];
        c[..text.len()].copy_from_slice(text.as_bytes());
        ext_blob("comment", 0, &c)
    }

    /// Fixed part of an entry: (offset of flags, of target_offset, of counters).
    fn layout(family: Family) -> (usize, usize, usize) {
        match family {
            Family::Ipv4 => (82, 88, 96),
            Family::Ipv6 => (131, 140, 152),
        }
    }

    #[derive(Default)]
    struct Spec {
        src8: bool,
        in_eth: bool,
        tcp: bool,
        goto: bool,
        counters: (u64, u64),
    }

    fn entry(family: Family, spec: &Spec, matches: &[Vec<u8>], target: &[u8]) -> Vec<u8> {
        let size = entry::entry_size(family);
        let (flags_at, toff_at, cnt_at) = layout(family);
        let mut b = vec![0u8; size];
        if spec.src8 {
            b[0] = 10; // src 10.0.0.0 / 10::
            let (m, n) = match family {
                Family::Ipv4 => (8, 1),
                Family::Ipv6 => (32, 2),
            };
            b[m..m + n].fill(0xff);
        }
        if spec.in_eth {
            let (name, mask) = match family {
                Family::Ipv4 => (16, 48),
                Family::Ipv6 => (64, 96),
            };
            b[name..name + 3].copy_from_slice(b"eth");
            b[mask..mask + 3].fill(0xff);
        }
        if spec.tcp {
            b[flags_at - 2] = 6;
        }
        if spec.goto {
            b[flags_at] = match family {
                Family::Ipv4 => 0x02,
                Family::Ipv6 => 0x04,
            };
        }
        for m in matches {
            b.extend_from_slice(m);
        }
        let toff = b.len();
        b.extend_from_slice(target);
        let next = b.len();
        b[toff_at..toff_at + 2].copy_from_slice(&(toff as u16).to_ne_bytes());
        b[toff_at + 2..toff_at + 4].copy_from_slice(&(next as u16).to_ne_bytes());
        b[cnt_at..cnt_at + 8].copy_from_slice(&spec.counters.0.to_ne_bytes());
        b[cnt_at + 8..cnt_at + 16].copy_from_slice(&spec.counters.1.to_ne_bytes());
        b
    }

    fn error(family: Family, name: &str) -> Vec<u8> {
        let mut t = [0u8; 30];
        t[..name.len()].copy_from_slice(name.as_bytes());
        entry(
            family,
            &Spec::default(),
            &[],
            &ext_blob(ERROR_TARGET, 0, &t),
        )
    }

    /// filter with INPUT (DROP policy, `extra` plain rules, then a mix: matches with
    /// comments, an unknown match, an unknown target, a jump and a goto to user chains),
    /// FORWARD, OUTPUT, and user chains X (an `-i eth+` rule) and A (empty), listed
    /// after X in the blob.
    fn table(family: Family, extra: usize) -> (TableInfo, Vec<u8>) {
        let mut info = TableInfo {
            valid_hooks: 0b1110,
            hook_entry: [0; NUMHOOKS],
            underflow: [0; NUMHOOKS],
            num_entries: 0,
            size: 0,
        };
        let mut blob = Vec::new();
        info.hook_entry[1] = 0;
        let mut tcp = [0u8; 12];
        tcp[2..4].copy_from_slice(&u16::MAX.to_ne_bytes()); // sports 0:65535
        tcp[4..6].copy_from_slice(&80u16.to_ne_bytes());
        tcp[6..8].copy_from_slice(&80u16.to_ne_bytes());
        let tcp = ext_blob("tcp", 0, &tcp);
        let spec = |counters| Spec {
            src8: true,
            tcp: true,
            counters,
            ..Spec::default()
        };
        for i in 0..extra {
            let c = comment(&format!("rule {i} {}", "x".repeat(150)));
            blob.extend(entry(
                family,
                &spec((1, 2)),
                &[c, tcp.clone()],
                &verdict(V_ACCEPT),
            ));
        }
        for _ in 0..3 {
            // The same comment three times (a cache hit); jumps patched below.
            blob.extend(entry(
                family,
                &spec((3, 4)),
                &[comment("a b"), tcp.clone()],
                &verdict(0),
            ));
        }
        // Jumps are patched once X's offset is known: remember where their verdicts sit.
        let mut patch = Vec::new();
        let mut off = 0;
        while off < blob.len() {
            let (_, toff_at, _) = layout(family);
            let t = u16::from_ne_bytes([blob[off + toff_at], blob[off + toff_at + 1]]) as usize;
            let n = u16::from_ne_bytes([blob[off + toff_at + 2], blob[off + toff_at + 3]]) as usize;
            let v = off + t + EXT_HDR;
            if i32::from_ne_bytes(blob[v..v + 4].try_into().unwrap()) == 0 {
                patch.push(v);
            }
            off += n;
        }
        blob.extend(entry(
            family,
            &Spec::default(),
            &[ext_blob("nosuchmatch", 0, &[1, 2, 3, 4])],
            &verdict(V_ACCEPT),
        ));
        blob.extend(entry(
            family,
            &Spec::default(),
            &[comment("unknown target")],
            &ext_blob("NOSUCH", 1, &[9; 8]),
        ));
        let goto_at = blob.len();
        blob.extend(entry(
            family,
            &Spec {
                goto: true,
                ..Spec::default()
            },
            &[],
            &verdict(0),
        ));
        patch.push(goto_at + entry::entry_size(family) + EXT_HDR);
        info.underflow[1] = blob.len() as u32;
        blob.extend(entry(
            family,
            &Spec {
                counters: (5, 500),
                ..Spec::default()
            },
            &[],
            &verdict(V_DROP),
        ));
        for h in [2, 3] {
            info.hook_entry[h] = blob.len() as u32;
            info.underflow[h] = blob.len() as u32;
            blob.extend(entry(family, &Spec::default(), &[], &verdict(V_ACCEPT)));
        }
        blob.extend(error(family, "X"));
        let x_start = blob.len() as i32;
        let eth = Spec {
            in_eth: true,
            ..Spec::default()
        };
        blob.extend(entry(family, &eth, &[], &verdict(V_RETURN)));
        blob.extend(entry(family, &Spec::default(), &[], &verdict(V_RETURN)));
        blob.extend(error(family, "A"));
        blob.extend(entry(family, &Spec::default(), &[], &verdict(V_RETURN)));
        blob.extend(error(family, ERROR_TARGET));
        for v in patch {
            blob[v..v + 4].copy_from_slice(&x_start.to_ne_bytes());
        }
        info.size = blob.len() as u32;
        (info, blob)
    }

    /// Both paths on one blob: same text, same undecodable count.
    fn same(family: Family, info: &TableInfo, blob: &[u8]) {
        for counters in [false, true] {
            let t = table::decode(family, "filter", info, blob);
            let mut want = String::new();
            render::table(&mut want, &t, counters);
            let (got, n) = super::super::save_table_text(family, "filter", info, blob, counters);
            assert_eq!(got, want, "{family:?} counters={counters}");
            assert_eq!(n, t.undecoded_rules(), "{family:?} counters={counters}");
        }
    }

    #[test]
    fn plain_path_prints_what_the_model_prints() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let (info, blob) = table(family, 0);
            VIA_MODEL.set(0);
            same(family, &info, &blob);
            assert_eq!(
                VIA_MODEL.get(),
                0,
                "every entry of a sound blob goes the plain way"
            );
            let (text, n) = super::super::save_table_text(family, "filter", &info, &blob, false);
            assert_eq!(n, 2, "{text}");
            if family == Family::Ipv4 {
                let want = "*filter\n\
                    :INPUT DROP [5:500]\n\
                    :FORWARD ACCEPT [0:0]\n\
                    :OUTPUT ACCEPT [0:0]\n\
                    :A - [0:0]\n\
                    :X - [0:0]\n\
                    -A INPUT -s 10.0.0.0/8 -p tcp -m comment --comment \"a b\" -m tcp --dport 80 -j X\n\
                    -A INPUT -s 10.0.0.0/8 -p tcp -m comment --comment \"a b\" -m tcp --dport 80 -j X\n\
                    -A INPUT -s 10.0.0.0/8 -p tcp -m comment --comment \"a b\" -m tcp --dport 80 -j X\n\
                    -A INPUT -m nosuchmatch [undecoded 0x0102030400000000] -j ACCEPT\n\
                    -A INPUT -m comment --comment \"unknown target\" -j NOSUCH [undecoded 0x0909090909090909]\n\
                    -A INPUT -g X\n\
                    -A X -i eth+ -j RETURN\n\
                    COMMIT\n";
                assert_eq!(text, want);
            }
        }
    }

    #[test]
    fn mutated_blobs_print_the_same_both_ways() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let (info, blob) = table(family, 0);
            for n in 0..blob.len() {
                same(family, &info, &blob[..n]);
            }
            for i in 0..blob.len() {
                for x in [0xffu8, 0x01] {
                    let mut b = blob.clone();
                    b[i] ^= x;
                    same(family, &info, &b);
                }
            }
            // Hook offsets that point nowhere or into the middle of entries.
            for h in 0..NUMHOOKS {
                for off in [0u32, 8, 112, 168, info.size, u32::MAX] {
                    let mut i = info;
                    i.valid_hooks |= 1 << h;
                    i.hook_entry[h] = off;
                    same(family, &i, &blob);
                }
            }
        }
    }

    #[test]
    fn text_is_handed_on_in_whole_lines() {
        let (info, blob) = table(Family::Ipv4, 2000);
        let mut pieces = Vec::new();
        let mut out = String::new();
        save_table(
            Family::Ipv4,
            "filter",
            &info,
            &blob,
            true,
            &mut out,
            &mut |s| pieces.push(std::mem::take(s)),
        );
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        assert!(pieces.iter().all(|p| p.len() >= CHUNK && p.ends_with('\n')));
        pieces.push(out);
        let t = table::decode(Family::Ipv4, "filter", &info, &blob);
        let mut want = String::new();
        render::table(&mut want, &t, true);
        assert_eq!(pieces.concat(), want);
    }
}
