//! `nfprobe ruleset --format nft` written as it is read: each table's head (objects, sets,
//! flowtables) once the snapshot has them, then its chains one by one in kernel order while
//! the rules are dumped, each chain rendered on the dump thread that read it, rule by rule as
//! its messages come ([`nft_text::chain_head`], [`nft_text::rule_line`]), and dropped once
//! written. Same text as [`nft_text::ruleset_named`] of the whole snapshot; only the sets'
//! elements, the chains' names and one chain's text per dump thread are held.
//!
//! A ruleset changing meanwhile: the first [`HOLD`](super::spool::HOLD) bytes are held and the read starts
//! over; beyond, the text is already out, so the command fails ([`NftStreamError::Changed`]).

use std::sync::{Arc, Mutex};

use thiserror::Error;

use super::nft_text::{self, Ifnames, SetIndex, SetPositions};
use super::spool::{Generations, ReadEnd, Spool};
use crate::kernel::netns::NetnsSpec;
use crate::kernel::nft::chain::F_BINDING;
use crate::kernel::nft::{self, NftChain, NftError, NftFamily, NftRule, NftTable};

#[derive(Debug, Error)]
pub enum NftStreamError {
    #[error(transparent)]
    Nft(#[from] NftError),
    #[error("writing the ruleset text: {0}")]
    Write(#[source] std::io::Error),
    #[error(
        "the nf_tables ruleset changed while it was being written (generation {before}, then \
         {after}): the text printed is incomplete and mixes both; run again"
    )]
    Changed { before: u32, after: u32 },
}

/// What was written: how many `# undecodable` lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub marks: usize,
}

/// Writes every nf_tables table of the namespace (`None`: the current one) to `w` as
/// `nft list ruleset` prints them, with `names` for interface indexes (see the module doc).
pub fn write_ruleset(
    ns: Option<&NetnsSpec>,
    names: &Ifnames,
    w: &mut (dyn std::io::Write + Send),
) -> Result<Written, NftStreamError> {
    let state = Mutex::new(Writer {
        names,
        spool: Spool::new(w),
        tables: Arc::new(Vec::new()),
        positions: Arc::new(Vec::new()),
        slots: Vec::new(),
        table_of: Vec::new(),
        next: 0,
        gens: Generations::default(),
        failed: None,
        marks: 0,
    });
    let plan = |genid: u32, tables: &mut [NftTable]| lock(&state).plan(genid, tables);
    // Rules of chains whose later parts are still coming, by plan position.
    let parts: Mutex<std::collections::HashMap<usize, String>> = Mutex::default();
    let visit =
        |_: NftFamily, _: &str, c: &NftChain, rules: nft::RawRules<'_>, turn: &nft::Turn<'_>| {
            let (tables, positions, ti) = {
                let st = lock(&state);
                (
                    st.tables.clone(),
                    st.positions.clone(),
                    st.table_of.get(turn.position()).copied(),
                )
            };
            let (Some(t), Some(pos)) = (
                ti.and_then(|ti| tables.get(ti)),
                ti.and_then(|ti| positions.get(ti)),
            ) else {
                return;
            };
            let sets = SetIndex::with_positions(t, pos);
            // Rendered rule by rule as the parts come (a big chain comes in parts); the
            // chain's text is written whole in its turn.
            let mut text = if turn.part() == 0 {
                let mut text = String::new();
                nft_text::chain_head(&mut text, t, c);
                text
            } else {
                lock(&parts).remove(&turn.position()).unwrap_or_default()
            };
            let mut malformed = None;
            for msg in rules {
                match NftRule::decode(msg) {
                    Ok(r) => {
                        nft_text::rule_line(&mut text, t, &r.rule, names, &sets);
                    }
                    Err(e) => {
                        malformed.get_or_insert(e);
                    }
                }
            }
            if !turn.is_last() && malformed.is_none() {
                lock(&parts).insert(turn.position(), text);
                return;
            }
            text.push_str("\t}\n");
            if turn.wait() {
                let mut st = lock(&state);
                match malformed {
                    None => st.chain(turn.position(), &text),
                    Some(e) => {
                        st.failed.get_or_insert(Failed::Nft(NftError::Malformed {
                            what: "rule",
                            source: e,
                        }));
                    }
                }
            }
        };
    let read = nft::read_ruleset_ordered(
        ns,
        &nft::ReadOptions::default(),
        &nft::OrderedVisit {
            plan: &plan,
            visit: &visit,
        },
    );
    let st = state.into_inner().unwrap_or_else(|e| e.into_inner());
    st.gens.end(read).map_err(|end| match end {
        ReadEnd::Changed { before, after } => NftStreamError::Changed { before, after },
        ReadEnd::Failed(e) => e.into(),
    })?;
    st.finish()
}

enum Failed {
    Write(std::io::Error),
    Nft(NftError),
}

/// One step of the text, in order.
enum Slot {
    /// A table's head (`table ... {` and everything before its chains).
    Head(String),
    /// A chain planned at this position; `delim`: a blank line before it.
    Chain {
        pos: usize,
        delim: bool,
    },
    End,
}

struct Writer<'w, 'n> {
    names: &'n Ifnames,
    spool: Spool<'w>,
    /// This attempt's tables without their chains (what rendering a chain looks up).
    tables: Arc<Vec<NftTable>>,
    /// Their sets' positions by name (one index per table, shared by the dump threads).
    positions: Arc<Vec<SetPositions>>,
    slots: Vec<Slot>,
    /// Table (index in `tables`) of each planned chain.
    table_of: Vec<usize>,
    next: usize,
    gens: Generations,
    failed: Option<Failed>,
    marks: usize,
}

impl Writer<'_, '_> {
    fn plan(&mut self, genid: u32, snap: &mut [NftTable]) -> Option<Vec<(usize, usize)>> {
        if self.spool.streaming() {
            // Part of an earlier generation is out: it cannot be taken back.
            self.gens.refused = Some(genid);
            return None;
        }
        self.spool.restart();
        self.gens.writing = genid;
        self.next = 0;
        self.failed = None;
        self.marks = 0;
        self.slots.clear();
        self.table_of.clear();
        let mut tables = Vec::with_capacity(snap.len());
        let mut plan = Vec::new();
        for (ti, t) in snap.iter_mut().enumerate() {
            // The table without its chains: what its head and its rules need.
            let chains = std::mem::take(&mut t.chains);
            let mut own = NftTable {
                sets: std::mem::take(&mut t.sets),
                objects: std::mem::take(&mut t.objects),
                flowtables: std::mem::take(&mut t.flowtables),
                ..t.clone()
            };
            t.chains = chains;
            let mut head = String::new();
            nft_text::table_named(&mut head, &own, self.names);
            head.truncate(head.strip_suffix("}\n").unwrap_or(&head).len());
            // `table_named` puts a blank line between the head's items and the chains.
            let mut delim = !own.objects.is_empty()
                || own
                    .sets
                    .iter()
                    .any(|s| s.flags & nft::set::F_ANONYMOUS == 0)
                || !own.flowtables.is_empty();
            self.slots.push(Slot::Head(head));
            for (ci, c) in t.chains.iter().enumerate() {
                if c.flags & F_BINDING != 0 {
                    continue;
                }
                self.slots.push(Slot::Chain {
                    pos: plan.len(),
                    delim,
                });
                plan.push((ti, ci));
                self.table_of.push(tables.len());
                delim = true;
            }
            self.slots.push(Slot::End);
            own.chains = Vec::new();
            tables.push(own);
        }
        self.positions = Arc::new(tables.iter().map(SetIndex::positions).collect());
        self.tables = Arc::new(tables);
        Some(plan)
    }

    /// Writes the text up to the chain planned at `pos`, that chain as `text`.
    fn chain(&mut self, pos: usize, text: &str) {
        if let Err(e) = self.write_until(Some((pos, text))) {
            self.failed.get_or_insert(Failed::Write(e));
        }
    }

    fn write_until(&mut self, chain: Option<(usize, &str)>) -> std::io::Result<()> {
        use std::io::Write as _;
        if self.failed.is_some() {
            return Ok(());
        }
        while let Some(slot) = self.slots.get(self.next) {
            match slot {
                Slot::Head(h) => {
                    self.marks += nft_text::undecodable_marks(h);
                    self.spool.write_all(h.as_bytes())?;
                }
                Slot::End => self.spool.write_all(b"}\n")?,
                Slot::Chain { pos, delim } => {
                    let Some((want, text)) = chain.filter(|(want, _)| want == pos) else {
                        // Every planned chain is visited in order: only a failed read ends
                        // up here, and its text is not finished anyway.
                        return Ok(());
                    };
                    debug_assert_eq!(*pos, want);
                    if *delim {
                        self.spool.write_all(b"\n")?;
                    }
                    self.marks += nft_text::undecodable_marks(text);
                    self.spool.write_all(text.as_bytes())?;
                    self.next += 1;
                    return Ok(());
                }
            }
            self.next += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Written, NftStreamError> {
        if self.failed.is_none()
            && let Err(e) = self.write_until(None)
        {
            self.failed = Some(Failed::Write(e));
        }
        match self.failed {
            Some(Failed::Write(e)) => return Err(NftStreamError::Write(e)),
            Some(Failed::Nft(e)) => return Err(NftStreamError::Nft(e)),
            None => {}
        }
        if self.next < self.slots.len() {
            return Err(NftStreamError::Write(std::io::Error::other(
                "a chain of the plan was not read",
            )));
        }
        self.spool.finish().map_err(NftStreamError::Write)?;
        Ok(Written { marks: self.marks })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
