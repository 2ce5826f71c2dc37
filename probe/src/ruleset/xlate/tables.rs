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

/// The nf_tables rule messages of the iptables tables of `family`, read chain by chain
/// (packed: u32 length, bytes), with the snapshot they belong to (its generation checked,
/// its chains without rules). [`write_json`] turns them into the JSON document.
pub struct RawIptables {
    rs: NftRuleset,
    family: Family,
    msgs: ByChain<Vec<u8>>,
}

/// Reads the kernel's iptables-nft tables of `family` keeping only the rule messages (about
/// the size of the netlink dump, several times less than the model).
pub fn read_iptables_raw(ns: Option<&NetnsSpec>, family: Family) -> Result<RawIptables, NftError> {
    let done: Mutex<ByChain<Vec<u8>>> = Mutex::default();
    let rs = nft::read_ruleset_raw(ns, &read_opts(family), &|_, table, chain, rules| {
        if !IPTABLES_TABLES.contains(&table) {
            return;
        }
        let mut packed = Vec::with_capacity(rules.bytes());
        for msg in rules {
            packed.extend_from_slice(&(msg.len() as u32).to_ne_bytes());
            packed.extend_from_slice(msg);
        }
        lock(&done).insert(table, &chain.name, packed);
    })?;
    Ok(RawIptables {
        rs,
        family,
        msgs: done.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// Writes `raw` as `nfprobe ruleset --format json` prints it, translating rule by rule in
/// save order (each chain's messages are dropped once written). Run it where `-m set`
/// indexes can be named (the namespace read). Returns how many rules were not fully decoded.
pub fn write_json(raw: RawIptables, w: &mut dyn std::io::Write) -> std::io::Result<usize> {
    let RawIptables {
        rs,
        family,
        mut msgs,
    } = raw;
    let skeleton = assemble(&rs, family, &mut |_, _| Vec::new());
    let mut s = crate::ruleset::json::JsonStream::new(
        std::io::BufWriter::with_capacity(1 << 16, w),
        skeleton.backend,
        skeleton.family,
        skeleton.genid,
    )?;
    let mut cache = super::ExtCache::new();
    let mut scratch = Scratch::default();
    for t in &skeleton.tables {
        s.table()?;
        for c in &t.chains {
            s.chain(c)?;
            let packed = msgs.remove(&t.name, &c.name).unwrap_or_default();
            let mut rest = packed.as_slice();
            while let Some((len, tail)) = rest.split_first_chunk::<4>() {
                let len = u32::from_ne_bytes(*len) as usize;
                let Some(msg) = tail.get(..len) else { break };
                rest = &tail[len..];
                let r = super::xlate_rule_msg_into(msg, family, Some(&mut cache), &mut scratch);
                s.rule(r)?;
            }
            s.end_chain()?;
        }
        s.end_table(&t.name)?;
    }
    let (mut w, undecoded) = s.finish()?;
    std::io::Write::flush(&mut w)?;
    Ok(undecoded)
}
