//! One entry point for "the kernel's ruleset of this backend and family", whichever
//! subsystem holds it, and its iptables-save text.

use thiserror::Error;

use super::xlate::SaveText;
use super::{Backend, Family, Ruleset};
use crate::kernel::netns::NetnsSpec;
use crate::kernel::{nft, xt};

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("legacy xtables: {0}")]
    Legacy(#[from] xt::XtError),
    #[error("nf_tables: {0}")]
    Nft(#[from] nft::NftError),
    #[error("writing the ruleset text: {0}")]
    Write(#[source] std::io::Error),
}

/// Read the ruleset of `backend`/`family` inside `ns` (None: the current namespace).
pub fn read(
    ns: Option<&NetnsSpec>,
    backend: Backend,
    family: Family,
) -> Result<Ruleset, ReadError> {
    match backend {
        Backend::Legacy => Ok(xt::read_ruleset(ns, family)?),
        Backend::Nft => {
            let snap = nft::read_ruleset(ns)?;
            // `-m set` compat blobs name sets by index: translate inside the namespace so
            // ipset there can name them.
            let rs = crate::kernel::netns::run_in(ns, || {
                let ipset = xt::ipset::IpsetNames::open().ok();
                let resolve = move |i: u16| ipset.as_ref().and_then(|s| s.name(i));
                crate::ext::set::with_names(resolve, || {
                    super::xlate::iptables_ruleset(&snap, family)
                })
            })
            .map_err(xt::XtError::from)?;
            Ok(rs)
        }
    }
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
            out.undecoded = xt::save_text(ns, family, counters, &mut |s: &mut String| {
                let next = String::with_capacity(xt::SAVE_CHUNK + 4096);
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
            let undecoded = xt::save_text(ns, family, counters, &mut |s: &mut String| {
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
