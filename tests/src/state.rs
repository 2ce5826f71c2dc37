//! A lab's record of what it created, kept in `/run/nfprobe-lab/<name>/state.json` and rewritten
//! after every step, so that teardown (in this process or in `cargo xtask lab down`) finds
//! everything, even after a half-finished `up`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::names::LAB_ROOT;
use crate::topology::{Flavour, Topology};

/// A process the lab started, identified by pid AND start time (so a reused pid is never killed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat (clock ticks since boot).
    pub start_time: u64,
    /// What it is, e.g. "dockerd", "httpd c0".
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    pub name: String,
    pub flavour: Flavour,
    /// The lab's private folder (`/run/nfprobe-lab/<name>`); everything on disk lives below it.
    pub dir: PathBuf,
    /// The process that created the lab.
    pub owner_pid: u32,
    /// Handed over to `cargo xtask lab down` ([`crate::LabCore::persist`]).
    pub persistent: bool,
    pub created_unix: u64,
    /// Network namespaces (names under /run/netns), in creation order.
    pub netns: Vec<String>,
    pub procs: Vec<ProcRecord>,
    /// cgroup parent given to dockerd (a folder under each /sys/fs/cgroup hierarchy).
    pub cgroup_parent: Option<String>,
    /// Folders outside `dir` the lab had to create (removed at teardown if empty).
    #[serde(default)]
    pub created_outside: Vec<PathBuf>,
    /// Filled in once `up` has built the topology.
    pub topology: Option<Topology>,
    /// docker28 flavour: the Docker state the lab plays (see `docker28::DockerState`).
    pub docker_state: Option<crate::docker28::DockerState>,
    /// docker28 flavour: rules deleted on purpose, as `-t TABLE -A CHAIN ...` lines.
    pub removed_rules: Vec<String>,
}

impl LabState {
    pub fn file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Write state.json (atomically: write a temp file, then rename).
    pub fn save(&self) -> Result<()> {
        let tmp = self.dir.join("state.json.tmp");
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, self.file())
            .with_context(|| format!("renaming {}", tmp.display()))?;
        Ok(())
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let file = dir.join("state.json");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))
    }

    /// Whether the creating process still runs (a lab whose owner died and that is not
    /// persistent is stale: the owner's teardown never ran).
    pub fn owner_alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.owner_pid)).exists()
    }

    /// A human summary: what `cargo xtask lab up|status` prints.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "lab {} ({}), folder {}, owner pid {}{}\n",
            self.name,
            self.flavour,
            self.dir.display(),
            self.owner_pid,
            if self.persistent {
                " (persistent)"
            } else if self.owner_alive() {
                ""
            } else {
                " (STALE: owner gone)"
            }
        );
        s += &format!("  netns: {}\n", self.netns.join(" "));
        for p in &self.procs {
            s += &format!("  process {} {}\n", p.pid, p.what);
        }
        if let Some(t) = &self.topology {
            s += &format!(
                "  host netns {} (iptables backend {}, userland-proxy {})\n",
                t.host_netns,
                t.backend,
                if t.userland_proxy { "on" } else { "off" }
            );
            s += &format!(
                "  client netns {}: {} -> host {} via {}\n",
                t.client.netns, t.client.addr, t.client.host_addr, t.client.host_if
            );
            if let Some(sock) = &t.docker_socket {
                s += &format!(
                    "  docker socket {} (DOCKER_HOST=unix://{0})\n",
                    sock.display()
                );
            }
            for n in &t.networks {
                s += &format!(
                    "  network {} bridge {} subnet {} gateway {}\n",
                    n.name, n.bridge, n.subnet, n.gateway
                );
                for c in &n.containers {
                    let ports: Vec<String> = c
                        .ports
                        .iter()
                        .map(|p| format!("{}->{}/{}", p.host_port, p.container_port, p.proto))
                        .collect();
                    s += &format!(
                        "    container {} {} {}{}\n",
                        c.name,
                        c.ip,
                        ports.join(" "),
                        c.netns
                            .as_ref()
                            .map(|n| format!(" (netns {n})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        for r in &self.removed_rules {
            s += &format!("  removed on purpose: {r}\n");
        }
        s
    }
}

/// Every lab folder under /run/nfprobe-lab that has a readable state.json.
pub fn list_all() -> Vec<LabState> {
    let Ok(dir) = std::fs::read_dir(LAB_ROOT) else {
        return Vec::new();
    };
    let mut v: Vec<LabState> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| LabState::load(&e.path()).ok())
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The state of lab `name`.
pub fn find(name: &str) -> Result<LabState> {
    LabState::load(&Path::new(LAB_ROOT).join(name))
}
