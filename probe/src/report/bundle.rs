//! The bundle `nfprobe collect` writes and `nfprobe check --docker-state` reads
//! (docs/bundle.md): Docker's state, and optionally the kernel's rulesets, the iptables
//! binaries with their claims, and the sysctls. Every section but `docker` may be left out;
//! `check` then reads that part live.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::audit::NftView;
use crate::claims::{Binary, Claim, LieProbe};
use crate::docker::state::DockerState;
use crate::ruleset::Ruleset;

pub const FORMAT: &str = "nfprobe-bundle";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// Always `nfprobe-bundle`.
    pub format: String,
    /// Format version; this build reads 1.
    pub version: u32,
    /// Unix time of collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<u64>,
    /// Free text: host name, ticket number, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub docker: DockerState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iptables: Option<IptablesSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelSection {
    /// One per backend and family (nft/legacy × ipv4/ipv6) that was readable.
    pub rulesets: Vec<Ruleset>,
    /// Docker 29 nftables backend: the docker-bridges tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nft: Option<NftView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IptablesSection {
    pub binaries: Vec<Binary>,
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// Bug probes: `-C` for altered copies of kernel rules (see audit::probe).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<LieProbe>,
}

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("cannot read bundle {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bundle {path} is not valid: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} is not an nfprobe bundle (format `{found}`, expected `{FORMAT}`)")]
    Format { path: String, found: String },
    #[error("bundle {path} has version {found}; this nfprobe reads version {VERSION}")]
    Version { path: String, found: u32 },
    #[error("bundle {path}: {reason}")]
    Content { path: String, reason: String },
}

impl Bundle {
    pub fn new(docker: DockerState) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            collected_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs()),
            host: None,
            docker,
            kernel: None,
            iptables: None,
            sysctls: None,
        }
    }

    /// Parsed straight into the typed bundle, in one pass and without a JSON tree in between
    /// (a tree of a 50k-rule bundle is many times the file). Only when valid JSON does not fit
    /// is the text read again for `format` and `version`, so that a file of another kind or
    /// version is named as such rather than by the first field this version does not expect.
    pub fn from_json(path: &str, bytes: &[u8]) -> Result<Self, BundleError> {
        if !is_object(bytes) {
            return Err(not_object(path, bytes));
        }
        let b = match serde_json::from_slice::<Bundle>(bytes) {
            Ok(b) => b,
            Err(source) => {
                // Bad JSON is named first whatever the header says: no second pass needed.
                if source.is_data() {
                    check_header(path, bytes)?;
                }
                return Err(BundleError::Json {
                    path: path.into(),
                    source,
                });
            }
        };
        if b.format != FORMAT {
            return Err(BundleError::Format {
                path: path.into(),
                found: b.format,
            });
        }
        if b.version != VERSION {
            return Err(BundleError::Version {
                path: path.into(),
                found: b.version,
            });
        }
        for n in &b.docker.networks {
            if n.name.is_empty() {
                return Err(BundleError::Content {
                    path: path.into(),
                    reason: "a network without a name".into(),
                });
            }
        }
        for c in &b.docker.containers {
            for e in &c.endpoints {
                if b.docker.network(&e.network).is_none() {
                    return Err(BundleError::Content {
                        path: path.into(),
                        reason: format!(
                            "container {} is on network `{}`, which the bundle does not list",
                            c.name, e.network
                        ),
                    });
                }
            }
        }
        Ok(b)
    }

    pub fn read(path: &Path) -> Result<Self, BundleError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| BundleError::Read {
            path: p.clone(),
            source,
        })?;
        Self::from_json(&p, &bytes)
    }

    /// [`Self::to_json`]'s text written to `w` as it is serialized (then flushed).
    pub fn write_json(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self).map_err(std::io::Error::other)?;
        w.flush()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// `format` and `version` of a bundle whose body did not parse; every other field is skipped
/// unread.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: serde_json::Value,
    #[serde(default)]
    version: serde_json::Value,
}

/// Whether the text starts as a JSON object (a bundle always does; serde would also read a
/// struct from an array).
fn is_object(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{')
}

/// Not a JSON object: bad JSON, or some other JSON file.
fn not_object(path: &str, bytes: &[u8]) -> BundleError {
    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Ok(_) => BundleError::Format {
            path: path.into(),
            found: String::new(),
        },
        Err(source) => BundleError::Json {
            path: path.into(),
            source,
        },
    }
}

/// The errors the tree-first reader gave first: bad JSON, then another kind of file, then
/// another version.
fn check_header(path: &str, bytes: &[u8]) -> Result<(), BundleError> {
    let h = serde_json::from_slice::<Header>(bytes).map_err(|source| BundleError::Json {
        path: path.into(),
        source,
    })?;
    let found = h.format.as_str().unwrap_or("");
    if found != FORMAT {
        return Err(BundleError::Format {
            path: path.into(),
            found: found.into(),
        });
    }
    let version = h.version.as_u64().unwrap_or(0);
    if version != u64::from(VERSION) {
        return Err(BundleError::Version {
            path: path.into(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_minimal_bundle() {
        let text = r#"{
          "format": "nfprobe-bundle", "version": 1,
          "docker": {
            "engine_version": "28.0.1",
            "daemon": {"userland-proxy": false},
            "networks": [{"name": "web", "id": "0123456789abcdef0123", "subnets": [{"subnet": "172.18.0.0/16"}]}],
            "containers": [{"name": "c1", "endpoints": [{"network": "web", "ipv4": "172.18.0.2"}],
                            "ports": [{"host_port": 8080, "container_port": 80}]}]
          }
        }"#;
        let b = Bundle::from_json("x", text.as_bytes()).unwrap();
        assert!(!b.docker.daemon.userland_proxy);
        assert!(b.docker.daemon.iptables);
        assert_eq!(b.docker.networks[0].bridge(), "br-0123456789ab");
        assert!(b.docker.networks[0].icc);
        let again = Bundle::from_json("x", b.to_json().as_bytes()).unwrap();
        assert_eq!(again, b);
        assert!(matches!(
            Bundle::from_json("x", br#"{"format":"x","version":1}"#),
            Err(BundleError::Format { .. })
        ));
        assert!(matches!(
            Bundle::from_json("x", br#"{"format":"nfprobe-bundle","version":9}"#),
            Err(BundleError::Version { .. })
        ));
        // Whichever comes first in the file, bad JSON is named first, then another kind of
        // file, then another version, then a body this version cannot read.
        assert!(matches!(
            Bundle::from_json("x", br#"{"docker": 1, "format":"x","version":1"#),
            Err(BundleError::Json { .. })
        ));
        assert!(matches!(
            Bundle::from_json("x", br#"["nfprobe-bundle", 1"#),
            Err(BundleError::Json { .. })
        ));
        for other in [
            &br#" 42"#[..],
            br#"["nfprobe-bundle", 1]"#,
            br#"{"docker": 1}"#,
        ] {
            assert!(
                matches!(
                    Bundle::from_json("x", other),
                    Err(BundleError::Format { .. })
                ),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        assert!(matches!(
            Bundle::from_json(
                "x",
                br#"{"docker": 1, "version": 9, "format":"nfprobe-bundle"}"#
            ),
            Err(BundleError::Version { .. })
        ));
        assert!(matches!(
            Bundle::from_json(
                "x",
                br#"{"format":"nfprobe-bundle","version":4294967297,"docker":{}}"#
            ),
            Err(BundleError::Version {
                found: u32::MAX,
                ..
            })
        ));
        assert!(matches!(
            Bundle::from_json(
                "x",
                br#"{"docker": 1, "version": 1, "format":"nfprobe-bundle"}"#
            ),
            Err(BundleError::Json { .. })
        ));
        let bad = text.replace(r#""network": "web""#, r#""network": "nope""#);
        assert!(matches!(
            Bundle::from_json("x", bad.as_bytes()),
            Err(BundleError::Content { .. })
        ));
    }
}
