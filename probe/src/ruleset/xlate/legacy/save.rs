//! A legacy table blob → iptables-save text, entry by entry, without building the `Table`:
//! what `nfprobe ruleset --backend legacy --format save` prints. The same text as
//! `render::table(&table::decode(..))` (the tests check it on mutated blobs): an entry that
//! does not go the plain way (broken structure, a jump to no chain start, an `ERROR` target
//! inside a chain) is decoded into a `Rule` and rendered from it.
//!
//! Per match and target the rendered text (` -m NAME words`) is remembered by the blob's
//! bytes in the same text cache the nf_tables save path uses.

use std::collections::HashMap;

use super::rule::{self, Std, blob, ip_header};
use super::table;
use crate::ext::ExtKind;
use crate::ext::cache::ExtCache;
use crate::kernel::xt::TableInfo;
use crate::kernel::xt::entry::{self, XtTarget};
use crate::kernel::xt::layout::Ent;
use crate::ruleset::xlate::compat;
use crate::ruleset::xlate::text::FragCache;
use crate::ruleset::{Family, render};

/// The text is handed on in pieces of about this size (a whole table's text is never held).
pub const CHUNK: usize = 1 << 16;

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
    let cut = table::cut(family, name, info, blob);
    out.push('*');
    out.push_str(name);
    out.push('\n');
    for c in &cut.chains {
        render::chain_line(out, &c.chain);
    }
    let mut r = Renderer {
        family,
        counters,
        starts: &cut.starts,
        texts: FragCache::default(),
        model: None,
        via_model: 0,
    };
    let mut undecoded = 0;
    for c in &cut.chains {
        for i in c.body.clone() {
            let Some(e) = cut.walk.get(i) else { continue };
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
    pub(super) static VIA_MODEL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

struct Renderer<'l> {
    family: Family,
    counters: bool,
    starts: &'l HashMap<usize, String>,
    texts: FragCache,
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
        let rule = rule::rule(self.family, e, self.starts, cache);
        render::rule_line(out, chain, &rule, self.counters);
        rule.is_decoded()
    }

    /// The line of an entry whose structure is sound (what `render::rule_line` prints for
    /// `rule::rule`); None when it is not.
    fn plain(&mut self, out: &mut String, chain: &str, e: &Ent) -> Option<bool> {
        let family = self.family;
        let head = e.head(family)?;
        let k = self.counters.then(|| rule::counters(&head));
        render::line_start(out, chain, k);
        render::header(out, &ip_header(family, &head));
        let mut decoded = true;
        for m in entry::matches(family, e.bytes, &head) {
            let m = m.ok()?;
            decoded &= !compat::ext_text(
                &mut self.texts,
                out,
                blob(ExtKind::Match, family, &m),
                false,
            );
        }
        let t = entry::target(e.bytes, &head).ok()?;
        match t.target_kind() {
            XtTarget::Standard(v) => match rule::standard(v, e, self.starts).ok()? {
                Std::Verdict(v) => {
                    out.push_str(" -j ");
                    out.push_str(render::verdict_name(v));
                }
                Std::Chain(c) => {
                    out.push_str(if head.goto { " -g " } else { " -j " });
                    out.push_str(c);
                }
                Std::Continue => {}
            },
            XtTarget::Error => return None,
            XtTarget::Ext => {
                decoded &= !compat::ext_text(
                    &mut self.texts,
                    out,
                    blob(ExtKind::Target, family, &t),
                    false,
                );
            }
        }
        out.push('\n');
        Some(decoded)
    }
}
