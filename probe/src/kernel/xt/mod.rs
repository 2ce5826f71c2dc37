//! Legacy xtables (ip_tables / ip6_tables) read through getsockopt, decoded into the
//! canonical model.
//!
//! Read-only and side-effect free: the table list comes from /proc/net/ip{,6}_tables_names
//! of the namespace being read, and only listed tables are asked for (asking for an absent
//! table makes the kernel create it).

mod entry;
pub mod ipset;
mod save;
pub mod sockopt;
mod table;

use std::io;

use thiserror::Error;

use crate::kernel::netns::{NetnsError, NetnsSpec, run_in};
use crate::ruleset::{Backend, Family, Ruleset, Table};

pub use save::CHUNK as SAVE_CHUNK;
pub use sockopt::TableInfo;

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

/// Read and decode every existing table of the family in the current thread's namespace.
pub fn read_tables_here(family: Family) -> Result<Vec<Table>, XtError> {
    let mut out = Vec::new();
    visit_tables_here(family, &mut |t| out.push(t))?;
    Ok(out)
}

/// Reads and decodes the tables one at a time, handing each to `visit` as soon as it is
/// decoded (its kernel blob already freed): a caller that only renders keeps one table in
/// memory at a time.
pub fn visit_tables_here(family: Family, visit: &mut dyn FnMut(Table)) -> Result<(), XtError> {
    visit_blobs_here(family, &mut |name, info, blob| {
        visit(table::decode(family, name, info, blob))
    })
}

/// Reads the tables one at a time, handing each table's entry blob to `visit` (one blob in
/// memory at a time).
fn visit_blobs_here(
    family: Family,
    visit: &mut dyn FnMut(&str, &TableInfo, &[u8]),
) -> Result<(), XtError> {
    let names = table_names(family)?;
    if names.is_empty() {
        return Ok(());
    }
    let sock =
        sockopt::XtSocket::open(family).map_err(|source| XtError::Socket { family, source })?;
    // `-m set` blobs name sets by index; resolve them while still in this namespace.
    let ipset = ipset::IpsetNames::open().ok();
    let resolve = move |i: u16| ipset.as_ref().and_then(|s| s.name(i));
    crate::ext::set::with_names(resolve, || {
        // One buffer for every table's answer.
        let mut answer = Vec::new();
        for name in &names {
            let info = snapshot(&sock, family, name, &mut answer)?;
            let blob = answer.get(sockopt::GET_ENTRIES_HDR..).unwrap_or_default();
            visit(name, &info, blob);
        }
        Ok(())
    })
}

/// The iptables-save text (`-c` with `counters`) of every table of the family inside `ns`
/// (or the current namespace), rendered entry by entry straight from the kernel's blobs:
/// handed to `spill` in pieces of about [`SAVE_CHUNK`] bytes, each ending with a line;
/// `spill` takes the text out of the buffer (leaves it empty). Returns how many rules could
/// not be fully decoded. Same text as rendering [`read_ruleset`].
pub fn save_text(
    ns: Option<&NetnsSpec>,
    family: Family,
    counters: bool,
    spill: &mut (dyn FnMut(&mut String) + Send),
) -> Result<usize, XtError> {
    run_in(ns, || {
        let mut out = String::with_capacity(save::CHUNK + 4096);
        let mut undecoded = 0;
        visit_blobs_here(family, &mut |name, info, blob| {
            undecoded += save::save_table(family, name, info, blob, counters, &mut out, spill);
        })?;
        if !out.is_empty() {
            spill(&mut out);
        }
        Ok(undecoded)
    })?
}

/// One table blob as [`save_text`] renders it (for tests and fuzzing): the text and the
/// number of rules not fully decoded.
pub fn save_table_text(
    family: Family,
    name: &str,
    info: &TableInfo,
    blob: &[u8],
    counters: bool,
) -> (String, usize) {
    let mut text = String::new();
    let mut pieces = String::new();
    let n = save::save_table(family, name, info, blob, counters, &mut text, &mut |s| {
        pieces.push_str(s);
        s.clear();
    });
    pieces.push_str(&text);
    (pieces, n)
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

/// [`visit_tables_here`] inside `ns` (or the current namespace).
pub fn visit_tables(
    ns: Option<&NetnsSpec>,
    family: Family,
    visit: &mut (dyn FnMut(Table) + Send),
) -> Result<(), XtError> {
    run_in(ns, || visit_tables_here(family, visit))?
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

/// The legacy ruleset of one family, read inside `ns` (or the current namespace).
pub fn read_ruleset(ns: Option<&NetnsSpec>, family: Family) -> Result<Ruleset, XtError> {
    let tables = run_in(ns, || read_tables_here(family))??;
    Ok(Ruleset {
        backend: Backend::Legacy,
        family,
        genid: None,
        tables,
    })
}

/// Decode a table blob as returned by `*_SO_GET_ENTRIES` (for tests and fuzzing).
pub fn decode_table(family: Family, name: &str, info: &TableInfo, blob: &[u8]) -> Table {
    table::decode(family, name, info, blob)
}
