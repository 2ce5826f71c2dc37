//! One entry point for "the kernel's ruleset of this backend and family", whichever
//! subsystem holds it, and its iptables-save text.

use thiserror::Error;

use super::xlate::{SaveText, legacy};
use super::{Backend, Family, Ruleset};
use crate::kernel::netns::NetnsSpec;
use crate::kernel::{nft, xt};

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("legacy xtables: {0}")]
    Legacy(#[from] xt::XtError),
    #[error("nf_tables: {0}")]
    Nft(#[from] nft::NftError),
    #[error("the namespace's interfaces: {0}")]
    Links(#[from] crate::kernel::link::LinkError),
    #[error("writing the ruleset text: {0}")]
    Write(#[source] std::io::Error),
    #[error(transparent)]
    Changed(super::xlate::JsonError),
}

/// Read the ruleset of `backend`/`family` inside `ns` (None: the current namespace).
pub fn read(
    ns: Option<&NetnsSpec>,
    backend: Backend,
    family: Family,
) -> Result<Ruleset, ReadError> {
    match backend {
        Backend::Legacy => Ok(read_ruleset(ns, family)?),
        Backend::Nft => {
            let snap = nft::read_ruleset(ns)?;
            // `-m set` compat blobs name sets by index: translate inside the namespace so
            // ipset there can name them.
            let rs = crate::kernel::netns::run_in(ns, || {
                super::xlate::with_ipset_names(|| super::xlate::iptables_ruleset(&snap, family))
            })
            .map_err(xt::XtError::from)?;
            Ok(rs)
        }
    }
}

/// The legacy xtables ruleset of one family, read inside `ns` (or the current namespace):
/// the kernel's tables (`kernel::xt`) translated by [`legacy::read_ruleset`]. (This was
/// `kernel::xt::read_ruleset`; same signature.)
pub fn read_ruleset(ns: Option<&NetnsSpec>, family: Family) -> Result<Ruleset, xt::XtError> {
    legacy::read_ruleset(ns, family)
}

/// What `iptables-save` / `ip6tables-save` (`-c` with `counters`) prints for this backend,
/// without its `#` comment lines.
pub fn save_text(
    ns: Option<&NetnsSpec>,
    backend: Backend,
    family: Family,
    counters: bool,
) -> Result<String, ReadError> {
    Ok(save(ns, backend, family, counters)?.to_string())
}

/// [`save_text`] and how many rules could not be fully decoded. nf_tables rules go straight
/// from the netlink messages to text ([`super::xlate::read_iptables_save_text`]).
pub fn save(
    ns: Option<&NetnsSpec>,
    backend: Backend,
    family: Family,
    counters: bool,
) -> Result<SaveText, ReadError> {
    match backend {
        Backend::Nft => Ok(super::xlate::read_iptables_save_text(ns, family, counters)?),
        Backend::Legacy => {
            // Straight from the kernel's blobs to text, in pieces of a few dozen KiB.
            let mut out = SaveText::default();
            out.undecoded = legacy::save_text(ns, family, counters, &mut |s: &mut String| {
                let next = String::with_capacity(legacy::SAVE_CHUNK + 4096);
                out.push(std::mem::replace(s, next));
            })?;
            Ok(out)
        }
    }
}

/// [`save`] written to `w` as it is rendered (legacy: piece by piece while the tables are
/// read, so the whole text is never held). Returns how many rules could not be fully
/// decoded.
pub fn write_save(
    ns: Option<&NetnsSpec>,
    backend: Backend,
    family: Family,
    counters: bool,
    w: &mut (dyn std::io::Write + Send),
) -> Result<usize, ReadError> {
    match backend {
        Backend::Nft => {
            let out = save(ns, backend, family, counters)?;
            out.write_to(&mut &mut *w).map_err(ReadError::Write)?;
            Ok(out.undecoded)
        }
        Backend::Legacy => {
            let mut failed = None;
            let undecoded = legacy::save_text(ns, family, counters, &mut |s: &mut String| {
                if failed.is_none()
                    && let Err(e) = w.write_all(s.as_bytes())
                {
                    failed = Some(e);
                }
                s.clear();
            })?;
            match failed {
                Some(e) => Err(ReadError::Write(e)),
                None => Ok(undecoded),
            }
        }
    }
}

/// `nfprobe ruleset --format json` (docs/ruleset-json.md) written to `w` as it is decoded,
/// table by table and rule by rule, never the whole model (nf_tables: chain by chain while
/// the rules are dumped, see [`super::xlate::write_json`] for what a ruleset changing
/// meanwhile does). Returns how many rules could not be fully decoded. Same text as
/// `serde_json::to_string_pretty` of the model's document.
pub fn write_json(
    ns: Option<&NetnsSpec>,
    backend: Backend,
    family: Family,
    w: &mut (dyn std::io::Write + Send),
) -> Result<usize, ReadError> {
    let written = match backend {
        Backend::Legacy => legacy::write_json(ns, family, w)?,
        Backend::Nft => {
            return super::xlate::write_json(ns, family, w).map_err(|e| match e {
                super::xlate::JsonError::Nft(e) => ReadError::Nft(e),
                super::xlate::JsonError::Write(e) => ReadError::Write(e),
                e => ReadError::Changed(e),
            });
        }
    };
    written.map_err(ReadError::Write)
}
