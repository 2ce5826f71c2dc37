//! Which nf_tables tables are iptables tables, and in which order iptables-nft-save prints
//! them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::chains::chains_in_save_order;
use super::rule::{Scratch, xlate_rule, xlate_rule_msg_text};
use super::text::FragCache;
use crate::kernel::netns::NetnsSpec;
use crate::kernel::nft::{self, NftError, NftFamily, NftRuleset, NftTable, ReadOptions};
use crate::kernel::xt::ipset::IpsetNames;
use crate::ruleset::spool::{Generations, ReadEnd, Spool};
use crate::ruleset::{Backend, Family, Rule, Ruleset, Table, render};

/// iptables-nft 1.8.9 walks its own table array (mangle, security, raw, filter, nat) and
/// prints the ones that exist in the kernel.
pub const IPTABLES_TABLES: [&str; 5] = ["mangle", "security", "raw", "filter", "nat"];

/// The built-in chains iptables-nft creates for a table, with their hooks.
pub(crate) fn builtin_chains(table: &str) -> &'static [&'static str] {
    match table {
        "filter" | "security" => &["INPUT", "FORWARD", "OUTPUT"],
        "nat" => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle" => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw" => &["PREROUTING", "OUTPUT"],
        _ => &[],
    }
}

fn nft_family(f: Family) -> NftFamily {
    match f {
        Family::Ipv4 => NftFamily::Ip,
        Family::Ipv6 => NftFamily::Ip6,
    }
}

/// True when `t` looks like a table iptables-nft manages: an `ip`/`ip6` table with an
/// iptables table name whose base chains all carry iptables built-in names. (This is also
/// what makes `nft` warn "table ip nat is managed by iptables-nft, do not touch!".)
pub fn is_iptables_nft_table(t: &NftTable) -> bool {
    if !matches!(t.family, NftFamily::Ip | NftFamily::Ip6)
        || !IPTABLES_TABLES.contains(&t.name.as_str())
    {
        return false;
    }
    let builtins = builtin_chains(&t.name);
    t.chains
        .iter()
        .filter(|c| c.hook.is_some())
        .all(|c| builtins.contains(&c.name.as_str()))
}

/// The iptables view of one family of an nf_tables snapshot (what `iptables-nft-save` or
/// `ip6tables-nft-save` prints). Tables that are not iptables tables are left out.
pub fn iptables_ruleset(rs: &NftRuleset, family: Family) -> Ruleset {
    assemble(rs, family, &mut |_, c| {
        c.rules.iter().map(|r| xlate_rule(r, family)).collect()
    })
}

/// Reads the kernel and translates in one go, chain by chain while the snapshot is taken, so
/// the raw nf_tables rules never pile up. Same result as
/// `iptables_ruleset(&read_ruleset(..)?, family)`.
pub fn read_iptables_ruleset(ns: Option<&NetnsSpec>, family: Family) -> Result<Ruleset, NftError> {
    let done: Mutex<ByChain<Vec<Rule>>> = Mutex::default();
    let rs = nft::read_ruleset_visit(ns, &read_opts(family), &|_, table, chain| {
        if IPTABLES_TABLES.contains(&table) {
            let rules = std::mem::take(&mut chain.rules)
                .iter()
                .map(|r| xlate_rule(r, family))
                .collect();
            lock(&done).insert(table, &chain.name, rules);
        }
    })?;
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(assemble(&rs, family, &mut |t, c| {
        done.remove(&t.name, &c.name).unwrap_or_default()
    }))
}

/// Reads the kernel with `opts` and translates the iptables tables of both families chain by
/// chain while the snapshot is taken (the nf_tables rules of a chain are dropped once
/// translated, unless `keep(family, table)`): the snapshot (rules kept only where asked) and
/// the IPv4 and IPv6 rulesets, the same as `iptables_ruleset(&read_ruleset_with(..)?, f)`.
pub fn read_iptables_rulesets(
    ns: Option<&NetnsSpec>,
    opts: &ReadOptions,
    keep: impl Fn(NftFamily, &str) -> bool + Sync,
) -> Result<(NftRuleset, [Ruleset; 2]), NftError> {
    // (IPv4, IPv6) translated chains.
    let done: [Mutex<ByChain<Vec<Rule>>>; 2] = Default::default();
    let rs = nft::read_ruleset_visit(ns, opts, &|family, table, chain| {
        let slot = match family {
            NftFamily::Ip => Some((0, Family::Ipv4)),
            NftFamily::Ip6 => Some((1, Family::Ipv6)),
            _ => None,
        };
        if let Some((i, f)) = slot
            && IPTABLES_TABLES.contains(&table)
        {
            let rules = chain.rules.iter().map(|r| xlate_rule(r, f)).collect();
            if let Some(d) = done.get(i) {
                lock(d).insert(table, &chain.name, rules);
            }
        }
        if !keep(family, table) {
            chain.rules = Vec::new();
        }
    })?;
    let [v4, v6] = done.map(|d| d.into_inner().unwrap_or_else(|e| e.into_inner()));
    let take = |mut by: ByChain<Vec<Rule>>, family| {
        assemble(&rs, family, &mut |t, c| {
            by.remove(&t.name, &c.name).unwrap_or_default()
        })
    };
    let out = [take(v4, Family::Ipv4), take(v6, Family::Ipv6)];
    Ok((rs, out))
}

/// What `iptables-nft-save` (`-c` with `counters`) prints for `family`, `#` lines aside.
/// See [`read_iptables_save_text`].
pub fn read_iptables_save(
    ns: Option<&NetnsSpec>,
    family: Family,
    counters: bool,
) -> Result<String, NftError> {
    Ok(read_iptables_save_text(ns, family, counters)?.to_string())
}

/// iptables-save text read straight from the kernel, in pieces (one per table head and per
/// chain, in order: megabytes are not copied once more to join them), and how many of its
/// rules could not be fully decoded. Pieces are ranges of a few big buffers (one per dump
/// thread), not one allocation each.
#[derive(Debug, Clone, Default)]
pub struct SaveText {
    bufs: Vec<String>,
    /// The text, in order: (buffer, byte range in it).
    spans: Vec<(usize, std::ops::Range<usize>)>,
    pub undecoded: usize,
}

impl SaveText {
    /// Appends a piece of text.
    pub fn push(&mut self, piece: String) {
        let range = 0..piece.len();
        self.bufs.push(piece);
        self.spans.push((self.bufs.len() - 1, range));
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .filter_map(|(b, r)| self.bufs.get(*b)?.get(r.clone()))
    }

    /// Writes the pieces in order (buffered: pieces are small, the whole can be megabytes).
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
        for p in self.pieces() {
            w.write_all(p.as_bytes())?;
        }
        w.flush()
    }
}

impl std::fmt::Display for SaveText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pieces().try_for_each(|p| f.write_str(p))
    }
}

/// What one dump thread translates with: an extension cache, a scratch rule and the
/// buffer its chains' text goes to (one growing buffer instead of one allocation per chain,
/// which made glibc grow the thread's heap, a syscall, for nearly every chain).
#[derive(Default)]
struct Worker {
    id: usize,
    cache: FragCache,
    scratch: Scratch,
    text: String,
}

/// Where one chain's rules ended up: a range of a worker's text.
struct ChainText {
    worker: usize,
    range: std::ops::Range<usize>,
    undecoded: usize,
}

/// The iptables-save text of `family`, read, translated and rendered chain by chain on the
/// dump threads while the snapshot is taken, each rule straight from its netlink message
/// ([`xlate_rule_msg_text`]): only the text is kept, so memory stays near the size of the output.
/// Same text as rendering `iptables_ruleset(&read_ruleset(..)?, family)`.
pub fn read_iptables_save_text(
    ns: Option<&NetnsSpec>,
    family: Family,
    counters: bool,
) -> Result<SaveText, NftError> {
    let done: Mutex<ByChain<ChainText>> = Mutex::default();
    // `-m set` blobs name sets by index: ask ipset in the namespace (opened by the first
    // dump thread, which runs there; the socket is shared by all of them).
    let ipset: OnceLock<Option<Arc<IpsetNames>>> = OnceLock::new();
    // One worker state per dump thread at a time, for this read only.
    let workers: Mutex<Vec<Worker>> = Mutex::default();
    let made = std::sync::atomic::AtomicUsize::new(0);
    let rs = nft::read_ruleset_raw(ns, &read_opts(family), &|_, table, chain, rules| {
        if !IPTABLES_TABLES.contains(&table) {
            return;
        }
        let names = ipset
            .get_or_init(|| IpsetNames::open().ok().map(Arc::new))
            .clone();
        let resolve = move |i: u16| names.as_ref().and_then(|s| s.name(i));
        let mut w = lock(&workers).pop().unwrap_or_else(|| Worker {
            id: made.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            // Grows by doubling (realloc of a big block: cheap).
            text: String::with_capacity(1 << 18),
            ..Worker::default()
        });
        let start = w.text.len();
        let undecoded = crate::ext::set::with_names(resolve, || {
            let mut undecoded = 0;
            for msg in rules {
                let (r, text) = xlate_rule_msg_text(msg, family, &mut w.cache, &mut w.scratch);
                undecoded += usize::from(!r.is_decoded() || !text.is_decoded());
                render::rule_line_text(&mut w.text, &chain.name, r, text, counters);
            }
            undecoded
        });
        let text = ChainText {
            worker: w.id,
            range: start..w.text.len(),
            undecoded,
        };
        lock(&workers).push(w);
        lock(&done).insert(table, &chain.name, text);
    })?;
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    // The workers' buffers first (buffer i = worker i), then the pieces in order.
    let mut bufs = vec![String::new(); made.into_inner()];
    for w in workers.into_inner().unwrap_or_else(|e| e.into_inner()) {
        if let Some(b) = bufs.get_mut(w.id) {
            *b = w.text;
        }
    }
    let mut out = SaveText {
        bufs,
        ..SaveText::default()
    };
    // Table and chain lines come from the renderer itself (rules left empty), then each
    // chain's rule text in the same order.
    let skeleton = assemble(&rs, family, &mut |_, _| Vec::new());
    for t in &skeleton.tables {
        let mut head = String::new();
        render::table(&mut head, t, counters);
        head.truncate(head.strip_suffix("COMMIT\n").unwrap_or(&head).len());
        out.push(head);
        for c in &t.chains {
            if let Some(chain) = done.remove(&t.name, &c.name) {
                out.spans.push((chain.worker, chain.range));
                out.undecoded += chain.undecoded;
            }
        }
        out.push("COMMIT\n".into());
    }
    Ok(out)
}

/// What was made of each chain of the iptables tables while they were read, until the
/// tables are put together in save order.
struct ByChain<T> {
    /// One map per table of [`IPTABLES_TABLES`], by chain name.
    tables: [HashMap<String, T>; IPTABLES_TABLES.len()],
}

impl<T> Default for ByChain<T> {
    fn default() -> Self {
        Self {
            tables: Default::default(),
        }
    }
}

impl<T> ByChain<T> {
    fn insert(&mut self, table: &str, chain: &str, v: T) {
        if let Some(m) = self.table(table) {
            m.insert(chain.to_owned(), v);
        }
    }

    fn remove(&mut self, table: &str, chain: &str) -> Option<T> {
        self.table(table)?.remove(chain)
    }

    fn table(&mut self, name: &str) -> Option<&mut HashMap<String, T>> {
        let i = IPTABLES_TABLES.iter().position(|t| *t == name)?;
        self.tables.get_mut(i)
    }
}

fn read_opts(family: Family) -> ReadOptions {
    ReadOptions {
        family: Some(nft_family(family)),
        // Other tables' sets are never looked at here.
        elements_of: Some(|_, t| IPTABLES_TABLES.contains(&t)),
        ..ReadOptions::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn assemble(rs: &NftRuleset, family: Family, rules_of: &mut super::chains::RulesOf<'_>) -> Ruleset {
    let nf = nft_family(family);
    let tables = IPTABLES_TABLES
        .iter()
        .filter_map(|name| rs.table(nf, name))
        .filter(|t| is_iptables_nft_table(t))
        .map(|t| Table {
            name: t.name.clone(),
            chains: chains_in_save_order(t, rules_of),
        })
        .collect();
    Ruleset {
        backend: Backend::Nft,
        family,
        genid: Some(rs.genid),
        tables,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error(transparent)]
    Nft(#[from] NftError),
    #[error("writing the ruleset text: {0}")]
    Write(#[source] std::io::Error),
    #[error(
        "the nf_tables ruleset changed while it was being written (generation {before}, then \
         {after}): the JSON printed is incomplete (its document is not closed); run again"
    )]
    Changed { before: u32, after: u32 },
}

/// `nfprobe ruleset --format json` of the iptables-nft tables of `family`, written to `w`
/// chain by chain in save order while the rules are dumped (translated on the dump threads;
/// each thread holds one chain's messages and text at a time). The document starts with the
/// generation read first; the snapshot's checks (generation before and after, each message's
/// generation, interrupted dumps) confirm it at the end. Until [`HOLD`](crate::ruleset::spool::HOLD) bytes the text
/// is held and a changed ruleset is read again; beyond, it is already written, so a change
/// is an error and the document is left unclosed (no JSON reader takes it for a complete
/// one). Returns how many rules were not fully decoded.
pub fn write_json(
    ns: Option<&NetnsSpec>,
    family: Family,
    w: &mut (dyn std::io::Write + Send),
) -> Result<usize, JsonError> {
    let state = Mutex::new(JsonWriter {
        family,
        stream: None,
        spool: Some(Spool::new(w)),
        skeleton: Vec::new(),
        slots: Vec::new(),
        next: 0,
        gens: Generations::default(),
        failed: None,
        open: false,
    });
    let ipset: OnceLock<Option<Arc<IpsetNames>>> = OnceLock::new();
    let workers: Mutex<Vec<JsonWorker>> = Mutex::default();
    let plan = |genid: u32, tables: &mut [NftTable]| lock(&state).plan(genid, tables);
    let visit = |_: NftFamily,
                 _: &str,
                 _: &nft::NftChain,
                 rules: nft::RawRules<'_>,
                 turn: &nft::Turn<'_>| {
        let names = ipset
            .get_or_init(|| IpsetNames::open().ok().map(Arc::new))
            .clone();
        let resolve = move |i: u16| names.as_ref().and_then(|s| s.name(i));
        let mut wk = lock(&workers).pop().unwrap_or_default();
        crate::ext::set::with_names(resolve, || {
            // Up to JSON_AHEAD bytes are rendered before the chain's turn; the rest of a
            // bigger chain (and its later parts) rendered and written batch by batch in it.
            let mut rest = rules;
            let mut st = if turn.part() == 0 {
                wk.text.clear();
                let ahead = render_rules(&mut wk, &mut rest, family);
                if !turn.wait() {
                    return;
                }
                let mut st = lock(&state);
                if let Err(e) = ahead {
                    return st.fail(e);
                }
                st.begin(turn.position(), &wk.text);
                st
            } else {
                // The chain's turn since its first part.
                if !turn.wait() {
                    return;
                }
                let st = lock(&state);
                wk.text.resume(st.chain_rules());
                st
            };
            loop {
                wk.text.next_batch();
                if let Err(e) = render_rules(&mut wk, &mut rest, family) {
                    st.fail(e);
                    break;
                }
                if wk.text.bytes() == 0 {
                    break;
                }
                st.more(&wk.text);
            }
            if turn.is_last() {
                st.end();
            }
        });
        lock(&workers).push(wk);
    };
    let read = nft::read_ruleset_ordered(
        ns,
        &read_opts(family),
        &nft::OrderedVisit {
            plan: &plan,
            visit: &visit,
        },
    );
    let st = state.into_inner().unwrap_or_else(|e| e.into_inner());
    st.gens.end(read).map_err(|end| match end {
        ReadEnd::Changed { before, after } => JsonError::Changed { before, after },
        ReadEnd::Failed(e) => e.into(),
    })?;
    st.finish()
}

/// Text of one chain rendered at a time (a dump thread's share: bounded whatever the
/// chain's size).
const JSON_AHEAD: usize = 1 << 20;

/// Translates and renders rules of `rest` into `wk.text` until it holds [`JSON_AHEAD`]
/// bytes or the chain ends.
fn render_rules(
    wk: &mut JsonWorker,
    rest: &mut nft::RawRules<'_>,
    family: Family,
) -> std::io::Result<()> {
    while wk.text.bytes() < JSON_AHEAD {
        let Some(msg) = rest.next() else { break };
        let r = super::xlate_rule_msg_into(msg, family, Some(&mut wk.cache), &mut wk.scratch);
        wk.text.rule(r)?;
    }
    Ok(())
}

/// What each dump thread translates with.
#[derive(Default)]
struct JsonWorker {
    cache: super::ExtCache,
    scratch: Scratch,
    text: crate::ruleset::json::RulesText,
}

/// One step of the document, in order.
enum Slot {
    Table,
    /// (table, chain in it, position in the dump plan: None for a built-in chain the kernel
    /// does not have, printed empty)
    Chain(usize, usize, Option<usize>),
    EndTable(usize),
}

/// The streamed document of one attempt.
struct JsonWriter<'w> {
    family: Family,
    stream: Option<crate::ruleset::json::JsonStream<Spool<'w>>>,
    /// The writer when no attempt has started the document.
    spool: Option<Spool<'w>>,
    /// The tables in save order, chains without rules.
    skeleton: Vec<Table>,
    slots: Vec<Slot>,
    /// The next slot to write.
    next: usize,
    /// The document's generation, and one refused because its start was already out.
    gens: Generations,
    failed: Option<std::io::Error>,
    /// A chain's head is written, its rules are coming.
    open: bool,
}

impl JsonWriter<'_> {
    /// The dump plan of an attempt: the chains of the iptables tables in save order.
    fn plan(&mut self, genid: u32, tables: &mut [NftTable]) -> Option<Vec<(usize, usize)>> {
        let mut spool = match (self.stream.take(), self.spool.take()) {
            (Some(s), _) => s.into_inner(),
            (None, Some(s)) => s,
            (None, None) => return None,
        };
        if spool.streaming() {
            // Part of an earlier generation is out: it cannot be taken back.
            self.stream = None;
            self.spool = Some(spool);
            self.gens.refused = Some(genid);
            return None;
        }
        spool.restart();
        self.gens.writing = genid;
        self.next = 0;
        self.failed = None;
        self.open = false;
        self.skeleton.clear();
        self.slots.clear();
        let nf = nft_family(self.family);
        let mut plan = Vec::new();
        for name in IPTABLES_TABLES {
            let Some((ti_nft, t)) = tables
                .iter()
                .enumerate()
                .find(|(_, t)| t.family == nf && t.name == name)
            else {
                continue;
            };
            if !is_iptables_nft_table(t) {
                continue;
            }
            let by_name: HashMap<&str, usize> = t
                .chains
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.as_str(), i))
                .collect();
            let chains = chains_in_save_order(t, &mut |_, _| Vec::new());
            let ti = self.skeleton.len();
            self.slots.push(Slot::Table);
            for (ci, c) in chains.iter().enumerate() {
                let pos = by_name.get(c.name.as_str()).map(|&nci| {
                    plan.push((ti_nft, nci));
                    plan.len() - 1
                });
                self.slots.push(Slot::Chain(ti, ci, pos));
            }
            self.slots.push(Slot::EndTable(ti));
            self.skeleton.push(Table {
                name: t.name.clone(),
                chains,
            });
        }
        match crate::ruleset::json::JsonStream::new(spool, Backend::Nft, self.family, Some(genid)) {
            Ok(s) => self.stream = Some(s),
            // Only a held buffer was written to: cannot fail.
            Err(e) => self.failed = Some(e),
        }
        Some(plan)
    }

    /// Writes the document up to the chain at plan position `pos`, that chain's head and
    /// its first `rules`; more with [`Self::more`], then [`Self::end`].
    fn begin(&mut self, pos: usize, rules: &crate::ruleset::json::RulesText) {
        let r = self.write_until(Some(pos), Some(rules));
        self.check(r);
    }

    /// Rules written in the chain begun.
    fn chain_rules(&self) -> usize {
        self.stream.as_ref().map_or(0, |s| s.chain_rules())
    }

    /// More rules of the chain begun.
    fn more(&mut self, rules: &crate::ruleset::json::RulesText) {
        if !self.open || self.failed.is_some() {
            return;
        }
        if let Some(s) = self.stream.as_mut() {
            let r = s.rules(rules);
            self.check(r);
        }
    }

    /// Ends the chain begun.
    fn end(&mut self) {
        if !std::mem::take(&mut self.open) {
            return;
        }
        self.next += 1;
        if self.failed.is_none()
            && let Some(s) = self.stream.as_mut()
        {
            let r = s.end_chain();
            self.check(r);
        }
    }

    fn fail(&mut self, e: std::io::Error) {
        self.failed.get_or_insert(e);
    }

    fn check(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.fail(e);
        }
    }

    /// Writes slots until the chain planned at `pos` (with `rules`) or, with None, to the end.
    fn write_until(
        &mut self,
        pos: Option<usize>,
        rules: Option<&crate::ruleset::json::RulesText>,
    ) -> std::io::Result<()> {
        if self.failed.is_some() {
            return Ok(());
        }
        let Some(s) = self.stream.as_mut() else {
            return Ok(());
        };
        while let Some(slot) = self.slots.get(self.next) {
            match *slot {
                Slot::Table => s.table()?,
                Slot::EndTable(ti) => {
                    let name = self.skeleton.get(ti).map_or("", |t| t.name.as_str());
                    s.end_table(name)?;
                }
                Slot::Chain(ti, ci, p) => {
                    if pos.is_some() && p.is_some_and(|p| Some(p) > pos) {
                        // Not this chain's turn yet (cannot happen: visits come in order).
                        return Ok(());
                    }
                    let Some(c) = self.skeleton.get(ti).and_then(|t| t.chains.get(ci)) else {
                        self.next += 1;
                        continue;
                    };
                    s.chain(c)?;
                    if pos.is_some() && p == pos {
                        // Left open for the chain's other batches ([`Self::end`]).
                        if let Some(rules) = rules {
                            s.rules(rules)?;
                        }
                        self.open = true;
                        return Ok(());
                    }
                    s.end_chain()?;
                    self.next += 1;
                    continue;
                }
            }
            self.next += 1;
        }
        Ok(())
    }

    /// After a confirmed read: the rest of the document, written out.
    fn finish(mut self) -> Result<usize, JsonError> {
        let r = self.write_until(None, None);
        self.check(r);
        if let Some(e) = self.failed {
            return Err(JsonError::Write(e));
        }
        let Some(s) = self.stream else {
            return Err(JsonError::Write(std::io::Error::other(
                "no document was started",
            )));
        };
        let (mut spool, undecoded) = s.finish().map_err(JsonError::Write)?;
        spool.finish().map_err(JsonError::Write)?;
        Ok(undecoded)
    }
}
