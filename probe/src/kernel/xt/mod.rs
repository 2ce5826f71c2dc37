//! Legacy xtables (ip_tables / ip6_tables) read through getsockopt: each table's info and
//! entry blob as the kernel hands them over, and typed, bounds-checked views of them
//! ([`layout`]: chains, entries, hook offsets, jumps as offsets; [`entry`]: an entry's
//! fixed part, counters and borrowed match/target blobs). What the entries mean in
//! iptables terms is `ruleset::xlate::legacy`'s job.
//!
//! Read-only and side-effect free: the table list comes from /proc/net/ip{,6}_tables_names
//! of the namespace being read, and only listed tables are asked for (asking for an absent
//! table makes the kernel create it).

pub mod entry;
pub mod ipset;
pub mod layout;
pub mod sockopt;
#[cfg(test)]
pub(crate) mod testutil;

use std::io;

use thiserror::Error;

use crate::kernel::family::Family;
use crate::kernel::netns::{NetnsError, NetnsSpec, run_in};

pub use sockopt::{NUMHOOKS, TableInfo};

/// How often INFO+ENTRIES is retried when the table changes between the two calls.
const MAX_ATTEMPTS: usize = 16;

#[derive(Debug, Error)]
pub enum XtError {
    #[error("cannot read {path}: {source}")]
    Names {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot open a raw {family} socket for ip_tables (needs root / CAP_NET_RAW+CAP_NET_ADMIN): {source}"
    )]
    Socket {
        family: Family,
        #[source]
        source: io::Error,
    },
    #[error("reading legacy table `{table}` ({family}) failed{hint}: {source}")]
    Read {
        table: String,
        family: Family,
        hint: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("legacy table `{table}` kept changing while being read ({attempts} attempts)")]
    Unstable { table: String, attempts: usize },
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

fn names_path(family: Family) -> &'static str {
    // thread-self: /proc/self/net follows the thread group leader's namespace, not the
    // namespace this (possibly setns'd) thread is in.
    match family {
        Family::Ipv4 => "/proc/thread-self/net/ip_tables_names",
        Family::Ipv6 => "/proc/thread-self/net/ip6_tables_names",
    }
}

/// Tables that exist in the current thread's namespace, in the order iptables-save uses
/// (the file's order). No file (module not loaded) means no tables.
pub fn table_names(family: Family) -> Result<Vec<String>, XtError> {
    let path = names_path(family);
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(XtError::Names { path, source }),
    }
}

/// `GET_INFO` (entry count, size, hook offsets) of every existing table of the family in the
/// current thread's namespace: one getsockopt per table, no entries copied. Adding or deleting
/// a rule changes the count and size, so comparing two answers is a cheap change detector
/// for legacy xtables, which sends no notifications.
pub fn table_infos_here(family: Family) -> Result<Vec<(String, TableInfo)>, XtError> {
    let names = table_names(family)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let sock =
        sockopt::XtSocket::open(family).map_err(|source| XtError::Socket { family, source })?;
    names
        .into_iter()
        .map(|name| match sock.info(&name) {
            Ok(info) => Ok((name, info)),
            Err(source) => Err(XtError::Read {
                table: name,
                family,
                hint: "",
                source,
            }),
        })
        .collect()
}

/// Reads the tables of the family in the current thread's namespace one at a time, handing
/// each table's name, info and entry blob to `visit` (one blob in memory at a time).
pub fn visit_blobs_here(
    family: Family,
    visit: &mut dyn FnMut(&str, &TableInfo, &[u8]),
) -> Result<(), XtError> {
    let names = table_names(family)?;
    if names.is_empty() {
        return Ok(());
    }
    let sock =
        sockopt::XtSocket::open(family).map_err(|source| XtError::Socket { family, source })?;
    // One buffer for every table's answer.
    let mut answer = Vec::new();
    for name in &names {
        let info = snapshot(&sock, family, name, &mut answer)?;
        let blob = answer.get(sockopt::GET_ENTRIES_HDR..).unwrap_or_default();
        visit(name, &info, blob);
    }
    Ok(())
}

/// The entry blob of every existing table of the family inside `ns`, as the kernel hands
/// them over (for tests comparing the two decoding paths on live tables).
pub fn read_blobs(
    ns: Option<&NetnsSpec>,
    family: Family,
) -> Result<Vec<(String, TableInfo, Vec<u8>)>, XtError> {
    run_in(ns, || {
        let mut out = Vec::new();
        visit_blobs_here(family, &mut |name, info, blob| {
            out.push((name.to_owned(), *info, blob.to_vec()))
        })?;
        Ok(out)
    })?
}

/// INFO then ENTRIES (into `answer`), retried while the table changes size in between
/// (`EAGAIN`).
fn snapshot(
    sock: &sockopt::XtSocket,
    family: Family,
    name: &str,
    answer: &mut Vec<u8>,
) -> Result<TableInfo, XtError> {
    let err = |source: io::Error| XtError::Read {
        table: name.to_owned(),
        family,
        hint: match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => " (needs root / CAP_NET_ADMIN)",
            _ => "",
        },
        source,
    };
    for _ in 0..MAX_ATTEMPTS {
        let info = sock.info(name).map_err(err)?;
        match sock.entries_into(name, info.size, answer) {
            Ok(()) => return Ok(info),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err(err(e)),
        }
    }
    Err(XtError::Unstable {
        table: name.to_owned(),
        attempts: MAX_ATTEMPTS,
    })
}
