//! The consistent snapshot: GETGEN, dumps, GETGEN again; restart when the generation moved,
//! a message carried another generation (`res_id`), or the kernel flagged NLM_F_DUMP_INTR.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::chain::NftChain;
use super::flowtable::NftFlowtable;
use super::generation::decode_genid;
use super::object::NftObject;
use super::rule::NftRule;
use super::set::{NftSet, NftSetElem};
use super::table::NftTable;
use super::{NftError, NftFamily, NftRuleset, ReadOptions, RuleDump};
use crate::kernel::nfnl::{
    NFNL_SUBSYS_NFTABLES, NLM_F_DUMP, NfMsg, NfnlError, NfnlSocket, Request,
};

const MSG_GETTABLE: u16 = 1;
const MSG_GETCHAIN: u16 = 4;
const MSG_GETRULE: u16 = 7;
const MSG_GETSET: u16 = 10;
const MSG_GETSETELEM: u16 = 13;
const MSG_GETGEN: u16 = 16;
const MSG_GETOBJ: u16 = 19;
const MSG_GETFLOWTABLE: u16 = 23;

const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;

const MAX_ATTEMPTS: u32 = 10;

/// Outcome of one attempt.
enum Attempt {
    Done(NftRuleset),
    /// The ruleset changed under us: try again.
    Changed,
    /// An ordered visit's plan refused to start over.
    GiveUp,
}

/// Per-attempt consistency bookkeeping.
struct Consistency {
    res_id: u16,
    stale: bool,
}

impl Consistency {
    fn check(&mut self, m: &NfMsg<'_>) {
        if m.res_id != self.res_id {
            self.stale = true;
        }
    }
}

fn malformed(what: &'static str) -> impl FnOnce(crate::kernel::nfnl::NlaError) -> NfnlError {
    move |e| NfnlError::Malformed {
        what,
        reason: e.to_string(),
    }
}

pub(super) fn genid_only() -> Result<u32, NftError> {
    let mut sock = NfnlSocket::open()?;
    Ok(getgen(&mut sock)?)
}

fn getgen(sock: &mut NfnlSocket) -> Result<u32, NfnlError> {
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETGEN, 0, 0);
    let mut genid = None;
    sock.request("GETGEN", &mut req, false, |m| {
        genid = Some(decode_genid(m.attrs).map_err(malformed("generation"))?);
        Ok(())
    })?;
    genid.ok_or(NfnlError::Malformed {
        what: "GETGEN",
        reason: "no generation message in the reply".into(),
    })
}

pub(super) fn read(opts: &ReadOptions, visit: Visit<'_>) -> Result<NftRuleset, NftError> {
    let mut last_err = None;
    let mut buf_hint = 0;
    for _ in 0..MAX_ATTEMPTS {
        let mut sock = NfnlSocket::open_with(buf_hint)?;
        match attempt(&mut sock, opts, visit, buf_hint) {
            Ok(Attempt::Done(rs)) => return Ok(rs),
            Ok(Attempt::Changed) => {}
            Ok(Attempt::GiveUp) => return Err(NftError::NoRestart),
            // A message did not fit: restart with a buffer that holds it (the partial dump
            // is discarded with the socket).
            Err(e @ NfnlError::Truncated { size, .. }) => {
                buf_hint = buf_hint.max(size);
                last_err = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(match last_err {
        Some(e) => e.into(),
        None => NftError::Unstable {
            attempts: MAX_ATTEMPTS,
        },
    })
}

fn family_nfproto(opts: &ReadOptions) -> u8 {
    opts.family.map(NftFamily::nfproto).unwrap_or(0)
}

fn wanted(opts: &ReadOptions, family: u8, table: &str) -> bool {
    opts.family.is_none_or(|f| f.nfproto() == family)
        && opts.table.as_deref().is_none_or(|t| t == table)
}

/// Called once per chain right after its rules were read (again on a restarted snapshot).
pub type ChainVisitor<'v> = dyn Fn(NftFamily, &str, &mut NftChain) + Sync + 'v;

/// Like [`ChainVisitor`], but handed the chain's rule messages undecoded (the hot paths
/// read them in place); the chain's `rules` stay empty.
pub type RawChainVisitor<'v> = dyn Fn(NftFamily, &str, &NftChain, RawRules<'_>) + Sync + 'v;

/// What to do with the rules of each chain.
#[derive(Clone, Copy)]
pub(super) enum Visit<'v> {
    Decoded(&'v ChainVisitor<'v>),
    Raw(&'v RawChainVisitor<'v>),
    Ordered(&'v OrderedVisit<'v>),
}

/// The raw visitors, as handed to the dump workers.
#[derive(Clone, Copy)]
enum RawVisit<'v> {
    Plain(&'v RawChainVisitor<'v>),
    Ordered(&'v OrderedVisit<'v>),
}

/// Chains handed over one at a time in an order the caller chooses, while the rules are
/// dumped (by several threads on big rulesets): a writer can stream them as they come
/// instead of keeping the whole family until the generation check.
pub struct OrderedVisit<'v> {
    /// Called at the start of each attempt with the generation id read first and the tables
    /// (chains without rules): the chains to dump, as (table index, chain index) in `tables`,
    /// in the order to visit them. It may take the sets, objects and flowtables out of the
    /// tables (the read does not need them any more). `None` gives up: the read fails with
    /// [`NftError::NoRestart`] (a writer that already streamed an earlier attempt's output).
    pub plan: &'v PlanFn<'v>,
    /// Called per planned chain with its rule messages, on a dump thread, in parts for a big
    /// chain ([`Turn::part`], [`Turn::is_last`]); several chains may be visited at once, but
    /// [`Turn::wait`] returns in plan order, one chain at a time.
    pub visit: &'v OrderedChainVisitor<'v>,
}

/// See [`OrderedVisit::plan`].
pub type PlanFn<'v> = dyn Fn(u32, &mut [NftTable]) -> Option<Vec<(usize, usize)>> + Sync + 'v;

/// See [`OrderedVisit::visit`].
pub type OrderedChainVisitor<'v> =
    dyn Fn(NftFamily, &str, &NftChain, RawRules<'_>, &Turn<'_>) + Sync + 'v;

/// Hands the chains of an ordered visit over in plan order.
#[derive(Default)]
struct Sequencer {
    /// (position whose turn it is, given up: a dump thread failed)
    state: std::sync::Mutex<(usize, bool)>,
    cv: std::sync::Condvar,
}

impl Sequencer {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until it is `pos`'s turn (true) or the read failed (false).
    fn wait(&self, pos: usize) -> bool {
        let mut st = self.lock();
        while st.0 != pos && !st.1 {
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        !st.1
    }

    /// `pos` is done: the next position's turn (after `pos`'s own turn came).
    fn done(&self, pos: usize) {
        if self.wait(pos) {
            self.lock().0 = pos + 1;
            self.cv.notify_all();
        }
    }

    fn abort(&self) {
        self.lock().1 = true;
        self.cv.notify_all();
    }
}

/// Gives up the ordered visit when a dump thread ends by panicking (the others would wait
/// for its chain forever).
struct AbortOnPanic<'a>(&'a Sequencer);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort();
        }
    }
}

/// One chain's place in an ordered visit.
pub struct Turn<'a> {
    seq: &'a Sequencer,
    pos: usize,
    part: usize,
    last: bool,
}

impl Turn<'_> {
    /// Which part of the chain's messages this is (a big chain comes in parts of about
    /// [`ORDERED_PART`] bytes, in order, from one thread): 0 for the first.
    pub fn part(&self) -> usize {
        self.part
    }

    /// True for the chain's last part (its turn ends when the visitor returns).
    pub fn is_last(&self) -> bool {
        self.last
    }

    /// Blocks until every chain planned before this one was visited: true, this chain's
    /// turn (until the visitor returns); false, the read failed (write nothing).
    pub fn wait(&self) -> bool {
        self.seq.wait(self.pos)
    }

    /// Position of this chain in the plan.
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// The rule messages (attributes after the nfgenmsg) of one chain, in kernel order.
#[derive(Debug, Clone, Copy)]
pub struct RawRules<'a> {
    packed: &'a [u8],
}

impl RawRules<'_> {
    /// Size of the messages (with a 4-byte header each), to size what is built from them.
    pub fn bytes(&self) -> usize {
        self.packed.len()
    }
}

impl<'a> Iterator for RawRules<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        // Packed by `pack` below: u32 length, bytes; never malformed, but checked anyway.
        let (len, rest) = self.packed.split_first_chunk::<4>()?;
        let len = u32::from_ne_bytes(*len) as usize;
        let msg = rest.get(..len)?;
        self.packed = &rest[len..];
        Some(msg)
    }
}

fn pack(buf: &mut Vec<u8>, msg: &[u8]) {
    // Messages are below the 4 MiB receive bound.
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&msg[..len as usize]);
}

fn attempt(
    sock: &mut NfnlSocket,
    opts: &ReadOptions,
    visit: Visit<'_>,
    buf_hint: usize,
) -> Result<Attempt, NfnlError> {
    let gen_before = getgen(sock)?;
    let mut cons = Consistency {
        res_id: (gen_before & 0xffff) as u16,
        stale: false,
    };
    let mut interrupted = false;
    let fam = family_nfproto(opts);

    // Tables.
    let mut tables: Vec<NftTable> = Vec::new();
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETTABLE, NLM_F_DUMP, fam);
    let st = sock.request("GETTABLE dump", &mut req, true, |m| {
        cons.check(&m);
        let t = NftTable::decode(m.family, m.attrs).map_err(malformed("table"))?;
        if wanted(opts, m.family, &t.name) {
            tables.push(t);
        }
        Ok(())
    })?;
    interrupted |= st.interrupted;
    let index: HashMap<(u8, String), usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| ((t.family.nfproto(), t.name.clone()), i))
        .collect();
    let find = |family: u8, table: &str| index.get(&(family, table.to_owned())).copied();

    // Chains.
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETCHAIN, NLM_F_DUMP, fam);
    let st = sock.request("GETCHAIN dump", &mut req, true, |m| {
        cons.check(&m);
        let c = NftChain::decode(m.attrs).map_err(malformed("chain"))?;
        if let Some(i) = find(m.family, &c.table) {
            tables[i].chains.push(c.chain);
        }
        Ok(())
    })?;
    interrupted |= st.interrupted;

    // Sets, then the elements of each.
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETSET, NLM_F_DUMP, fam);
    let st = sock.request("GETSET dump", &mut req, true, |m| {
        cons.check(&m);
        let s = NftSet::decode(m.attrs).map_err(malformed("set"))?;
        if let Some(i) = find(m.family, &s.table) {
            tables[i].sets.push(s.set);
        }
        Ok(())
    })?;
    interrupted |= st.interrupted;
    // Elements, one dump per set. On big rulesets the kernel's cost per dump grows with the
    // table's number of sets (it finds the set by walking the table's list of sets): the
    // dumps are shared among threads, one socket each, as the rule dumps are.
    let mut elem_work: Vec<(u8, &str, &mut NftSet)> = Vec::new();
    for t in tables.iter_mut() {
        let family = t.family.nfproto();
        if opts
            .elements_of
            .is_some_and(|wanted| !wanted(t.family, &t.name))
        {
            continue;
        }
        for set in t.sets.iter_mut() {
            elem_work.push((family, t.name.as_str(), set));
        }
    }
    let workers = dump_threads(elem_work.len());
    if workers == 1 {
        let (intr, stale) = dump_elements(sock, elem_work.into_iter(), cons.res_id)?;
        interrupted |= intr;
        cons.stale |= stale;
    } else {
        let queue = WorkQueue::new(elem_work);
        let res_id = cons.res_id;
        let results = queue.run(workers, "GETSETELEM dump", |queue| {
            let mut sock = NfnlSocket::open_with(buf_hint)?;
            dump_elements(&mut sock, queue.iter(), res_id)
        });
        for r in results {
            let (intr, stale) = r?;
            interrupted |= intr;
            cons.stale |= stale;
        }
    }

    // Flowtables and objects.
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETFLOWTABLE, NLM_F_DUMP, fam);
    let st = sock.request("GETFLOWTABLE dump", &mut req, true, |m| {
        cons.check(&m);
        let f = NftFlowtable::decode(m.attrs).map_err(malformed("flowtable"))?;
        if let Some(i) = find(m.family, &f.table) {
            tables[i].flowtables.push(f.flowtable);
        }
        Ok(())
    })?;
    interrupted |= st.interrupted;
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETOBJ, NLM_F_DUMP, fam);
    let st = sock.request("GETOBJ dump", &mut req, true, |m| {
        cons.check(&m);
        let o = NftObject::decode(m.attrs).map_err(malformed("object"))?;
        if let Some(i) = find(m.family, &o.table) {
            tables[i].objects.push(o.obj);
        }
        Ok(())
    })?;
    interrupted |= st.interrupted;

    // Rules. Raw visitors need the messages of one chain together: always per chain.
    // An ordered visit's plan says which chains are dumped, in which order.
    let plan = match visit {
        Visit::Ordered(o) => match (o.plan)(gen_before, &mut tables) {
            Some(p) => Some(p),
            None => return Ok(Attempt::GiveUp),
        },
        _ => None,
    };
    let (rule_dump, visit) = match visit {
        Visit::Raw(v) => (RuleDump::PerChain, Err(RawVisit::Plain(v))),
        Visit::Ordered(v) => (RuleDump::PerChain, Err(RawVisit::Ordered(v))),
        Visit::Decoded(v) => (opts.rule_dump, Ok(v)),
    };
    let wanted_chain = |t: &NftTable, c: &NftChain| !matches!(opts.rules_of, Some(wanted) if c.hook.is_none() && !wanted(&t.name, &c.name));
    // Per chain, each worker takes the next chain when it is done with its last (chains
    // differ in size: a fixed split leaves one worker with the big ones); each has its own
    // socket (the kernel does the dump work in the receiving thread, so the cores split it).
    match (rule_dump, visit) {
        (_, Err(visit)) => {
            let tables = &tables;
            let work: Vec<(usize, usize)> = match plan {
                Some(plan) => plan,
                None => tables
                    .iter()
                    .enumerate()
                    .flat_map(|(ti, t)| {
                        t.chains
                            .iter()
                            .enumerate()
                            .filter(move |(_, c)| wanted_chain(t, c))
                            .map(move |(ci, _)| (ti, ci))
                    })
                    .collect(),
            };
            // (position in the visit order, table, chain).
            let work: Vec<(usize, usize, usize)> = work
                .into_iter()
                .enumerate()
                .map(|(pos, (ti, ci))| (pos, ti, ci))
                .collect();
            let workers = dump_threads(work.len());
            let res_id = cons.res_id;
            let seq = &Sequencer::default();
            let results = if workers == 1 {
                vec![dump_chains_raw(
                    sock,
                    tables,
                    work.into_iter(),
                    visit,
                    res_id,
                    seq,
                )]
            } else {
                let queue = WorkQueue::new(work);
                queue.run(workers, "GETRULE dump", |queue| {
                    let _guard = AbortOnPanic(seq);
                    let r = NfnlSocket::open_with(buf_hint).and_then(|mut sock| {
                        dump_chains_raw(&mut sock, tables, queue.iter(), visit, res_id, seq)
                    });
                    if r.is_err() {
                        // The chains this thread took will never be visited.
                        seq.abort();
                    }
                    r
                })
            };
            for r in results {
                let (intr, stale) = r?;
                interrupted |= intr;
                cons.stale |= stale;
            }
        }
        (RuleDump::PerChain, Ok(visit)) => {
            let mut work: Vec<(NftFamily, &str, &mut NftChain)> = Vec::new();
            for t in tables.iter_mut() {
                let keep: Vec<bool> = t.chains.iter().map(|c| wanted_chain(t, c)).collect();
                for (c, keep) in t.chains.iter_mut().zip(keep) {
                    if keep {
                        work.push((t.family, t.name.as_str(), c));
                    }
                }
            }
            let workers = dump_threads(work.len());
            if workers == 1 {
                let st = dump_chains(sock, work.into_iter(), visit, cons.res_id)?;
                interrupted |= st.0;
                cons.stale |= st.1;
            } else {
                let queue = WorkQueue::new(work);
                let res_id = cons.res_id;
                let results = queue.run(workers, "GETRULE dump", |queue| {
                    let mut sock = NfnlSocket::open_with(buf_hint)?;
                    dump_chains(&mut sock, queue.iter(), visit, res_id)
                });
                for r in results {
                    let (intr, stale) = r?;
                    interrupted |= intr;
                    cons.stale |= stale;
                }
            }
        }
        (RuleDump::PerFamily, Ok(visit)) => {
            let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETRULE, NLM_F_DUMP, fam);
            // Remember the last chain looked up: dumps come chain by chain.
            let mut last: Option<(usize, usize)> = None;
            let st = sock.request("GETRULE dump", &mut req, true, |m| {
                cons.check(&m);
                let r = NftRule::decode(m.attrs).map_err(malformed("rule"))?;
                let hit = last.filter(|&(ti, ci)| {
                    tables[ti].family.nfproto() == m.family
                        && tables[ti].name.as_bytes() == r.table
                        && tables[ti].chains[ci].name.as_bytes() == r.chain
                });
                let slot = hit.or_else(|| {
                    let ti = tables.iter().position(|t| {
                        t.family.nfproto() == m.family && t.name.as_bytes() == r.table
                    })?;
                    let ci = tables[ti]
                        .chains
                        .iter()
                        .position(|c| c.name.as_bytes() == r.chain)?;
                    Some((ti, ci))
                });
                if let Some((ti, ci)) = slot {
                    tables[ti].chains[ci].rules.push(r.rule);
                    last = Some((ti, ci));
                }
                Ok(())
            })?;
            interrupted |= st.interrupted;
            for t in tables.iter_mut() {
                for c in t.chains.iter_mut() {
                    visit(t.family, &t.name, c);
                }
            }
        }
    }

    let gen_after = getgen(sock)?;
    if interrupted || cons.stale || gen_before != gen_after {
        log::debug!(
            "nf_tables changed during the snapshot (gen {gen_before} -> {gen_after}, intr {interrupted}, stale res_id {})",
            cons.stale
        );
        return Ok(Attempt::Changed);
    }
    Ok(Attempt::Done(NftRuleset {
        genid: gen_before,
        tables,
    }))
}

/// Items handed out one at a time to whichever worker asks first.
struct WorkQueue<T> {
    items: Vec<std::sync::Mutex<Option<T>>>,
    next: std::sync::atomic::AtomicUsize,
}

impl<T> WorkQueue<T> {
    fn new(items: Vec<T>) -> Self {
        Self {
            items: items
                .into_iter()
                .map(|i| std::sync::Mutex::new(Some(i)))
                .collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The items not taken yet, each to exactly one caller.
    fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || {
            let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.items
                .get(i)?
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
        })
    }

    /// Runs `work` on `workers` threads sharing this queue; a panicked worker is an error
    /// (`what` names the dump), never a panic of the caller.
    fn run<R: Send>(
        &self,
        workers: usize,
        what: &'static str,
        work: impl Fn(&Self) -> Result<R, NfnlError> + Sync,
    ) -> Vec<Result<R, NfnlError>>
    where
        T: Send,
    {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers).map(|_| s.spawn(|| work(self))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(NfnlError::Malformed {
                            what,
                            reason: "a dump worker thread panicked".into(),
                        })
                    })
                })
                .collect()
        })
    }
}

/// Ordered visits get a chain's messages in parts of about this many bytes: a chain of
/// 100,000 rules is never held whole.
pub const ORDERED_PART: usize = 1 << 20;

/// Below this many chains one socket is enough.
const PARALLEL_MIN_CHAINS: usize = 64;
const MAX_WORKERS: usize = 4;

/// Dumps the rules of each chain (one GETRULE per chain), decodes them and visits the
/// chain. Returns whether a dump was interrupted and whether a message carried another
/// generation than `res_id`.
fn dump_chains<'w>(
    sock: &mut NfnlSocket,
    work: impl Iterator<Item = (NftFamily, &'w str, &'w mut NftChain)>,
    visit: &ChainVisitor<'_>,
    res_id: u16,
) -> Result<(bool, bool), NfnlError> {
    let mut req = Request::default();
    let mut interrupted = false;
    let mut stale = false;
    for (family, table, c) in work {
        req.reset(
            NFNL_SUBSYS_NFTABLES,
            MSG_GETRULE,
            NLM_F_DUMP,
            family.nfproto(),
        );
        req.attr_str(NFTA_RULE_TABLE, table)
            .attr_str(NFTA_RULE_CHAIN, &c.name);
        let st = sock.request("GETRULE dump", &mut req, true, |m| {
            stale |= m.res_id != res_id;
            let r = NftRule::decode(m.attrs).map_err(malformed("rule"))?;
            if r.chain == c.name.as_bytes() && r.table == table.as_bytes() {
                c.rules.push(r.rule);
            }
            Ok(())
        })?;
        interrupted |= st.interrupted;
        // Hand the chain over while its rules are fresh (callers can translate and drop
        // them chain by chain: flat memory).
        visit(family, table, c);
    }
    Ok((interrupted, stale))
}

/// [`dump_chains`] for raw visitors: each chain's messages are packed (one buffer reused for
/// every chain) and handed over undecoded; `work` holds (table, chain) indexes into
/// `tables`.
fn dump_chains_raw(
    sock: &mut NfnlSocket,
    tables: &[NftTable],
    work: impl Iterator<Item = (usize, usize, usize)>,
    visit: RawVisit<'_>,
    res_id: u16,
    seq: &Sequencer,
) -> Result<(bool, bool), NfnlError> {
    let mut req = Request::default();
    let mut interrupted = false;
    let mut stale = false;
    let mut packed = Vec::new();
    for (pos, ti, ci) in work {
        let (Some(t), Some(c)) = (
            tables.get(ti),
            tables.get(ti).and_then(|t| t.chains.get(ci)),
        ) else {
            // Not a chain of the snapshot (a plan's mistake): its turn passes.
            if let RawVisit::Ordered(_) = visit {
                seq.done(pos);
            }
            continue;
        };
        req.reset(
            NFNL_SUBSYS_NFTABLES,
            MSG_GETRULE,
            NLM_F_DUMP,
            t.family.nfproto(),
        );
        req.attr_str(NFTA_RULE_TABLE, &t.name)
            .attr_str(NFTA_RULE_CHAIN, &c.name);
        packed.clear();
        // Ordered visits get a big chain in parts (of ORDERED_PART bytes of messages).
        let mut part = 0;
        let st = sock.request("GETRULE dump", &mut req, true, |m| {
            stale |= m.res_id != res_id;
            let (tn, ch) = super::rule::routing(m.attrs).map_err(malformed("rule"))?;
            if ch == c.name.as_bytes() && tn == t.name.as_bytes() {
                pack(&mut packed, m.attrs);
                if let RawVisit::Ordered(o) = visit
                    && packed.len() >= ORDERED_PART
                {
                    let turn = Turn {
                        seq,
                        pos,
                        part,
                        last: false,
                    };
                    (o.visit)(t.family, &t.name, c, RawRules { packed: &packed }, &turn);
                    part += 1;
                    packed.clear();
                }
            }
            Ok(())
        })?;
        interrupted |= st.interrupted;
        let rules = RawRules { packed: &packed };
        match visit {
            RawVisit::Plain(visit) => visit(t.family, &t.name, c, rules),
            RawVisit::Ordered(o) => {
                let turn = Turn {
                    seq,
                    pos,
                    part,
                    last: true,
                };
                (o.visit)(t.family, &t.name, c, rules, &turn);
                seq.done(pos);
            }
        }
    }
    Ok((interrupted, stale))
}

/// Dumps the elements of each set (one GETSETELEM per set). Returns whether a dump was
/// interrupted and whether a message carried another generation than `res_id`.
fn dump_elements<'w>(
    sock: &mut NfnlSocket,
    work: impl Iterator<Item = (u8, &'w str, &'w mut NftSet)>,
    res_id: u16,
) -> Result<(bool, bool), NfnlError> {
    let mut req = Request::default();
    let mut interrupted = false;
    let mut stale = false;
    for (family, table, set) in work {
        req.reset(NFNL_SUBSYS_NFTABLES, MSG_GETSETELEM, NLM_F_DUMP, family);
        req.attr_str(NFTA_SET_ELEM_LIST_TABLE, table)
            .attr_str(NFTA_SET_ELEM_LIST_SET, &set.name);
        let st = sock.request("GETSETELEM dump", &mut req, true, |m| {
            stale |= m.res_id != res_id;
            let e = NftSetElem::decode_msg(m.attrs).map_err(malformed("set element"))?;
            if e.set == set.name && e.table == table {
                set.elements.extend(e.elements);
            }
            Ok(())
        })?;
        interrupted |= st.interrupted;
    }
    Ok((interrupted, stale))
}

/// What a bare rule dump received (the benchmark's floor: no decoding at all).
#[derive(Debug, Clone, Copy, Default)]
pub struct BareDumpStats {
    pub messages: usize,
    pub elapsed: Duration,
}

/// How many dump threads a per-chain read of `chains` chains uses (one socket each).
pub fn dump_threads(chains: usize) -> usize {
    if chains >= PARALLEL_MIN_CHAINS {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_WORKERS)
    } else {
        1
    }
}

/// Dumps the rules of `family` and only counts the messages: one GETRULE per family, or one
/// per chain (the chain list is dumped first, untimed work included). With `parallel`, the
/// per-chain dumps are handed out one by one to as many threads, one socket each, as a real
/// read uses ([`dump_threads`]): the same trick, so the floor stays fair.
pub fn bare_rule_dump(
    family: NftFamily,
    per_chain: bool,
    parallel: bool,
) -> Result<BareDumpStats, NftError> {
    let mut sock = NfnlSocket::open()?;
    let fam = family.nfproto();
    let start = Instant::now();
    let mut messages = 0;
    if per_chain {
        // Only names are kept: (table, chain) pairs.
        let mut names: Vec<(String, String)> = Vec::new();
        let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETCHAIN, NLM_F_DUMP, fam);
        sock.request("GETCHAIN dump", &mut req, true, |m| {
            let c = NftChain::decode(m.attrs).map_err(malformed("chain"))?;
            names.push((c.table, c.chain.name));
            Ok(())
        })?;
        let threads = if parallel {
            dump_threads(names.len())
        } else {
            1
        };
        let bare = |sock: &mut NfnlSocket, share: &mut dyn Iterator<Item = &(String, String)>| {
            let mut n = 0;
            let mut req = Request::default();
            for (t, c) in share {
                req.reset(NFNL_SUBSYS_NFTABLES, MSG_GETRULE, NLM_F_DUMP, fam);
                req.attr_str(NFTA_RULE_TABLE, t)
                    .attr_str(NFTA_RULE_CHAIN, c);
                n += sock
                    .request("GETRULE dump", &mut req, true, |_| Ok(()))?
                    .messages;
            }
            Ok::<usize, NfnlError>(n)
        };
        if threads == 1 {
            messages += bare(&mut sock, &mut names.iter())?;
        } else {
            // Shared the way a real read shares them ([`WorkQueue`]).
            let queue = WorkQueue::new(names.iter().collect());
            let bare = &bare;
            let counts = queue.run(threads, "GETRULE dump", |queue| {
                let mut sock = NfnlSocket::open()?;
                bare(&mut sock, &mut queue.iter())
            });
            for c in counts {
                messages += c?;
            }
        }
    } else {
        let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETRULE, NLM_F_DUMP, fam);
        messages += sock
            .request("GETRULE dump", &mut req, true, |_| Ok(()))?
            .messages;
    }
    Ok(BareDumpStats {
        messages,
        elapsed: start.elapsed(),
    })
}

/// The floor of a ruleset with sets: what any reader must ask for, received and dropped.
/// The chain and set lists of `family`, then one GETSETELEM dump per set (anonymous sets
/// included: their elements are printed inline) and one GETRULE dump per chain; with
/// `parallel`, shared among as many threads, one socket each, as a real read uses
/// ([`dump_threads`]; sets first, then chains, as a real read does).
pub fn bare_full_dump(family: NftFamily, parallel: bool) -> Result<BareDumpStats, NftError> {
    let mut sock = NfnlSocket::open()?;
    let fam = family.nfproto();
    let start = Instant::now();
    let mut chains: Vec<(String, String)> = Vec::new();
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETCHAIN, NLM_F_DUMP, fam);
    sock.request("GETCHAIN dump", &mut req, true, |m| {
        let c = NftChain::decode(m.attrs).map_err(malformed("chain"))?;
        chains.push((c.table, c.chain.name));
        Ok(())
    })?;
    let mut sets: Vec<(String, String)> = Vec::new();
    let mut req = Request::new(NFNL_SUBSYS_NFTABLES, MSG_GETSET, NLM_F_DUMP, fam);
    sock.request("GETSET dump", &mut req, true, |m| {
        let s = NftSet::decode(m.attrs).map_err(malformed("set"))?;
        sets.push((s.table, s.set.name));
        Ok(())
    })?;
    let dump = |sock: &mut NfnlSocket,
                share: &mut dyn Iterator<Item = (u16, &(String, String))>| {
        let mut n = 0;
        let mut req = Request::default();
        for (msg, (t, name)) in share {
            req.reset(NFNL_SUBSYS_NFTABLES, msg, NLM_F_DUMP, fam);
            let (what, t_attr, n_attr) = if msg == MSG_GETSETELEM {
                (
                    "GETSETELEM dump",
                    NFTA_SET_ELEM_LIST_TABLE,
                    NFTA_SET_ELEM_LIST_SET,
                )
            } else {
                ("GETRULE dump", NFTA_RULE_TABLE, NFTA_RULE_CHAIN)
            };
            req.attr_str(t_attr, t).attr_str(n_attr, name);
            n += sock.request(what, &mut req, true, |_| Ok(()))?.messages;
        }
        Ok::<usize, NfnlError>(n)
    };
    let work: Vec<(u16, &(String, String))> = sets
        .iter()
        .map(|s| (MSG_GETSETELEM, s))
        .chain(chains.iter().map(|c| (MSG_GETRULE, c)))
        .collect();
    let threads = if parallel {
        dump_threads(work.len())
    } else {
        1
    };
    let mut messages = 0;
    if threads == 1 {
        messages += dump(&mut sock, &mut work.into_iter())?;
    } else {
        let queue = WorkQueue::new(work);
        let dump = &dump;
        for c in queue.run(threads, "bare dump", |queue| {
            let mut sock = NfnlSocket::open()?;
            dump(&mut sock, &mut queue.iter())
        }) {
            messages += c?;
        }
    }
    Ok(BareDumpStats {
        messages,
        elapsed: start.elapsed(),
    })
}
