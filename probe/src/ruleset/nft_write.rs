//! `nfprobe ruleset --format nft` on big rulesets: each chain's rules are decoded and
//! rendered on the dump thread that read them, right after their dump (the messages are
//! never kept, the rules never held as a model), then the text is written table by table.
//! Same text as [`super::nft_text::ruleset_named`] on the whole snapshot.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use super::nft_text::{self, Ifnames, MARK, SetIndex, SetPositions};
use super::read::ReadError;
use crate::kernel::netns::NetnsSpec;
use crate::kernel::nft::{self, NftRule, NftTable, RawRules, ReadOptions};

/// The rendered text of one chain block and how many of its rules are marked undecodable.
struct ChainText {
    text: String,
    marks: usize,
}

/// Reads every nf_tables table of the namespace and writes it to `w` as `nft list ruleset`
/// prints it, with the namespace's interface names. Returns how many lines are marked
/// undecodable ([`nft_text::MARK`]).
pub fn write_nft(ns: Option<&NetnsSpec>, w: &mut dyn Write) -> Result<usize, ReadError> {
    // nft prints `iif`/`oif` as the interface's name in the namespace read.
    let links = crate::kernel::link::snapshot(ns)?;
    let names = Ifnames::from_pairs(links.links.into_iter().map(|l| (l.ifindex, l.name)));
    let chains: Mutex<HashMap<(usize, usize), ChainText>> = Mutex::default();
    // Set positions by name, per table, built once by the first thread that needs them
    // (keyed by the table's set list too: a restarted snapshot has new lists).
    let positions: Mutex<HashMap<usize, (usize, Arc<SetPositions>)>> = Mutex::default();
    let rs = nft::read_ruleset_raw_tables(ns, &ReadOptions::default(), &|ti, t, ci, rules| {
        let key = t.sets.as_ptr() as usize ^ t.sets.len();
        let pos = {
            let mut p = positions.lock().unwrap_or_else(|e| e.into_inner());
            let e = p
                .entry(ti)
                .or_insert_with(|| (key, Arc::new(SetIndex::positions(t))));
            if e.0 != key {
                *e = (key, Arc::new(SetIndex::positions(t)));
            }
            Arc::clone(&e.1)
        };
        let text = chain_text(t, ci, rules, &names, &SetIndex::with_positions(t, &pos));
        chains
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((ti, ci), text);
    })?;
    let mut chains = chains.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut marks = 0;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, w);
    let mut head = String::new();
    for (ti, t) in rs.tables.iter().enumerate() {
        head.clear();
        let mut delim = nft_text::table_head(&mut head, t, &names);
        marks += nft_text::undecodable_marks(&head);
        out.write_all(head.as_bytes()).map_err(ReadError::Write)?;
        for (ci, c) in t.chains.iter().enumerate() {
            if !nft_text::printed_chain(c) {
                continue;
            }
            out.write_all(delim.as_bytes()).map_err(ReadError::Write)?;
            delim = "\n";
            match chains.remove(&(ti, ci)) {
                Some(c) => {
                    marks += c.marks;
                    out.write_all(c.text.as_bytes()).map_err(ReadError::Write)?;
                }
                None => {
                    // Every chain is dumped; kept in case a read ever skips one.
                    head.clear();
                    nft_text::chain_head(&mut head, t, c);
                    head.push_str("\t\t");
                    head.push_str(MARK);
                    head.push_str(" rules: not read by nfprobe\n\t}\n");
                    marks += 1;
                    out.write_all(head.as_bytes()).map_err(ReadError::Write)?;
                }
            }
        }
        out.write_all(b"}\n").map_err(ReadError::Write)?;
    }
    out.flush().map_err(ReadError::Write)?;
    Ok(marks)
}

/// One chain block: its head, each rule decoded and rendered, its end.
fn chain_text(
    t: &NftTable,
    ci: usize,
    rules: RawRules<'_>,
    names: &Ifnames,
    sets: &SetIndex<'_>,
) -> ChainText {
    let mut text = String::with_capacity(rules.bytes() / 2 + 64);
    let mut marks = 0;
    if let Some(c) = t.chains.get(ci) {
        nft_text::chain_head(&mut text, t, c);
    }
    for m in rules {
        match NftRule::decode(m) {
            Ok(r) => marks += usize::from(nft_text::rule_line(&mut text, t, &r.rule, names, sets)),
            // The dump already matched the rule's table and chain: not seen in practice.
            Err(e) => {
                text.push_str("\t\t");
                text.push_str(MARK);
                text.push_str(" rule: the kernel's message did not decode (");
                text.push_str(&e.to_string());
                text.push_str(")\n");
                marks += 1;
            }
        }
    }
    text.push_str("\t}\n");
    ChainText { text, marks }
}
