//! Legacy xtables (ip_tables / ip6_tables) read through getsockopt, decoded into the
//! canonical model.
//!
//! Read-only and side-effect free: the table list comes from /proc/net/ip{,6}_tables_names
//! of the namespace being read, and only listed tables are asked for (asking for an absent
//! table makes the kernel create it).

mod entry;
pub mod ipset;
mod sockopt;
mod table;

use std::io;

use thiserror::Error;

use crate::kernel::netns::{NetnsError, NetnsSpec, run_in};
use crate::ruleset::{Backend, Family, Ruleset, Table};

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
        "cannot open a raw {family:?} socket for ip_tables (needs root / CAP_NET_RAW+CAP_NET_ADMIN): {source}"
    )]
    Socket {
        family: Family,
        #[source]
        source: io::Error,
    },
    #[error("reading legacy table `{table}` ({family:?}) failed{hint}: {source}")]
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
        for name in &names {
            let table = {
                let (info, answer) = snapshot(&sock, family, name)?;
                let blob = answer.get(sockopt::GET_ENTRIES_HDR..).unwrap_or_default();
                table::decode(family, name, &info, blob)
            };
            visit(table);
        }
        Ok(())
    })
}

/// [`visit_tables_here`] inside `ns` (or the current namespace).
pub fn visit_tables(
    ns: Option<&NetnsSpec>,
    family: Family,
    visit: &mut (dyn FnMut(Table) + Send),
) -> Result<(), XtError> {
    run_in(ns, || visit_tables_here(family, visit))?
}

/// INFO then ENTRIES, retried while the table changes size in between (`EAGAIN`).
fn snapshot(
    sock: &sockopt::XtSocket,
    family: Family,
    name: &str,
) -> Result<(TableInfo, Vec<u8>), XtError> {
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
        match sock.entries(name, info.size) {
            Ok(blob) => return Ok((info, blob)),
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
