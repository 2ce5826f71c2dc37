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
use super::table::{
    self, ERROR_TARGET, Ent, STANDARD_TARGET, V_ACCEPT, V_DROP, V_QUEUE, V_RETURN,
};
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
    undecoded
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
}

impl Renderer<'_> {
    /// One `-A CHAIN ...` line; false when the rule is not fully decoded.
    fn entry(&mut self, out: &mut String, chain: &str, e: &Ent) -> bool {
        let mark = out.len();
        if let Some(decoded) = self.plain(out, chain, e) {
            return decoded;
        }
        out.truncate(mark);
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
        let got = self
            .texts
            .lookup(kind, family, &x.name, x.revision, x.data, || {
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
