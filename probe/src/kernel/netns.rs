//! Entering a network namespace for the duration of one closure.
//!
//! `setns(CLONE_NEWNET)` changes only the calling thread, so the closure runs on a fresh thread
//! that enters the namespace and then ends; the caller's thread (and any socket it holds) stays
//! where it was. A socket opened inside the closure stays bound to that namespace for its life.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetnsError {
    #[error("network namespace `{spec}` not found at {path}: {source}")]
    Open {
        spec: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot enter network namespace {path} (needs CAP_SYS_ADMIN): {source}")]
    Enter {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the thread working inside network namespace {path} panicked")]
    Panicked { path: PathBuf },
}

/// Where to run: a name under /run/netns, or a path such as /proc/PID/ns/net.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsSpec {
    pub spec: String,
    pub path: PathBuf,
}

impl NetnsSpec {
    /// `NAME` → /run/netns/NAME; anything containing `/` is taken as a path.
    pub fn parse(spec: &str) -> Self {
        let path = if spec.contains('/') {
            PathBuf::from(spec)
        } else {
            Path::new("/run/netns").join(spec)
        };
        Self {
            spec: spec.to_owned(),
            path,
        }
    }
}

/// Run `f` inside the namespace (or in the current one when `ns` is None).
pub fn run_in<T, F>(ns: Option<&NetnsSpec>, f: F) -> Result<T, NetnsError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let Some(ns) = ns else {
        return Ok(f());
    };
    let file = File::open(&ns.path).map_err(|source| NetnsError::Open {
        spec: ns.spec.clone(),
        path: ns.path.clone(),
        source,
    })?;
    std::thread::scope(|s| {
        let handle = s.spawn(move || {
            // SAFETY: setns on a valid, open namespace fd affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(NetnsError::Enter {
                    path: ns.path.clone(),
                    source: std::io::Error::last_os_error(),
                });
            }
            Ok(f())
        });
        handle.join().unwrap_or_else(|_| {
            Err(NetnsError::Panicked {
                path: ns.path.clone(),
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(
            NetnsSpec::parse("lab1").path,
            PathBuf::from("/run/netns/lab1")
        );
        assert_eq!(
            NetnsSpec::parse("/proc/1/ns/net").path,
            PathBuf::from("/proc/1/ns/net")
        );
    }

    #[test]
    fn missing_namespace_is_a_clear_error() {
        let ns = NetnsSpec::parse("nfprobe-does-not-exist");
        let err = run_in(Some(&ns), || ()).unwrap_err();
        assert!(err.to_string().contains("nfprobe-does-not-exist"), "{err}");
    }
}
