//! Ruleset changes, as they happen: nf_tables notifications (`NFT_MSG_NEWGEN`, no polling)
//! and, for legacy xtables which sends none, a cheap poll of each table's entry count and
//! size (`GET_INFO`, no entries copied). Each change is recorded in the exporter's state and
//! handed to the checker.

use std::sync::mpsc::Sender;
use std::time::Duration;

use thiserror::Error;

use super::encode::{Exporter, unix_now};
use crate::kernel::netns::{self, NetnsError, NetnsSpec};
use crate::kernel::nfnl::NfnlError;
use crate::kernel::nftmon::{Batch, NftSubscriber};
use crate::kernel::{nft, xt};
use crate::ruleset::Family;

/// How long one wait for notifications lasts, and so how often legacy tables are polled
/// and the stop flag is looked at.
pub const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Error)]
pub enum WatchError {
    #[error("subscribing to nf_tables ruleset changes: {0}")]
    Subscribe(#[source] NfnlError),
    #[error("waiting for nf_tables ruleset changes: {0}")]
    Wait(#[source] NfnlError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    NfTables,
    Xtables,
}

type XtState = Vec<(Family, String, xt::TableInfo)>;

fn xt_state() -> XtState {
    let mut out = Vec::new();
    for family in [Family::Ipv4, Family::Ipv6] {
        match xt::table_infos_here(family) {
            Ok(v) => out.extend(v.into_iter().map(|(n, i)| (family, n, i))),
            // A table removed between the names and GET_INFO: seen as a change next round.
            Err(e) => log::debug!("polling legacy {family} tables: {e}"),
        }
    }
    out
}

/// Watch the ruleset of `ns` until `stop()`; sends a [`Change`] per detected change (the
/// receiver decides how to coalesce them). Runs on a thread inside the namespace.
pub fn run(
    ns: Option<&NetnsSpec>,
    exporter: &Exporter,
    tx: &Sender<Change>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), WatchError> {
    netns::run_in(ns, || watch_here(exporter, tx, stop))?
}

fn watch_here(
    exporter: &Exporter,
    tx: &Sender<Change>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), WatchError> {
    // Subscribe before reading the generation: a change in between is then not missed.
    let mut sub = NftSubscriber::open().map_err(WatchError::Subscribe)?;
    match nft::read_genid(None) {
        Ok(g) => exporter.state().ruleset.generation = Some(g),
        Err(e) => log::warn!("reading the nf_tables generation: {e}"),
    }
    let mut xt_prev = xt_state();
    while !stop() {
        let batch: Batch = sub.wait(POLL).map_err(WatchError::Wait)?;
        let xt_now = xt_state();
        let xt_changed = xt_now != xt_prev;
        xt_prev = xt_now;
        let mut st = exporter.state();
        st.beat("ruleset watch");
        if batch.overrun {
            st.ruleset.notifications_lost += 1;
        }
        let nft_changed = !batch.generations.is_empty() || batch.overrun;
        if nft_changed {
            let last = batch.generations.last();
            if let Some(g) = last {
                st.ruleset.generation = Some(g.id);
                log::info!(
                    "nf_tables ruleset changed: generation {}{}",
                    g.id,
                    match (&g.process, g.pid) {
                        (Some(p), Some(pid)) => format!(" by {p} (pid {pid})"),
                        (Some(p), None) => format!(" by {p}"),
                        _ => String::new(),
                    }
                );
            } else if let Ok(g) = nft::read_genid(None) {
                st.ruleset.generation = Some(g);
            }
            *st.ruleset.changes.entry("nf_tables").or_default() +=
                batch.generations.len().max(1) as u64;
        }
        if xt_changed {
            log::info!("legacy xtables ruleset changed");
            *st.ruleset.changes.entry("xtables").or_default() += 1;
        }
        if nft_changed || xt_changed {
            st.ruleset.last_change = Some(unix_now());
        }
        drop(st);
        // The checker gone means we are stopping.
        if nft_changed && tx.send(Change::NfTables).is_err() {
            break;
        }
        if xt_changed && tx.send(Change::Xtables).is_err() {
            break;
        }
    }
    Ok(())
}
