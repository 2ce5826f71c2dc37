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

    pub fn from_json(path: &str, bytes: &[u8]) -> Result<Self, BundleError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|source| BundleError::Json {
                path: path.into(),
                source,
            })?;
        let found = v.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if found != FORMAT {
            return Err(BundleError::Format {
                path: path.into(),
                found: found.into(),
            });
        }
        let version = v.get("version").and_then(|f| f.as_u64()).unwrap_or(0);
        if version != u64::from(VERSION) {
            return Err(BundleError::Version {
                path: path.into(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
            });
        }
        let b: Bundle = serde_json::from_value(v).map_err(|source| BundleError::Json {
            path: path.into(),
            source,
        })?;
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
        let bad = text.replace(r#""network": "web""#, r#""network": "nope""#);
        assert!(matches!(
            Bundle::from_json("x", bad.as_bytes()),
            Err(BundleError::Content { .. })
        ));
    }
}
