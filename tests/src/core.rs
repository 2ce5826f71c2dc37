//! What both lab flavours share: the state record, the namespaces, processes, the external client,
//! connectivity probes and teardown (explicit, or on drop).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};

use crate::names::{self, LAB_ROOT};
use crate::net::{self, Outcome};
use crate::netns::{self, Netns};
use crate::state::{LabState, ProcRecord};
use crate::teardown;
use crate::topology::{Client, Flavour, Network, PublishedPort, Topology};

/// Where a probe starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vantage {
    /// The external client netns (plays a remote user).
    Client,
    /// The host netns (plays `curl 127.0.0.1:PORT` on the Docker host).
    Host,
    /// Any netns by name.
    Netns(String),
}

/// The external client link: fixed addresses, they live only inside the lab's own namespaces.
pub const CLIENT_HOST_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// Host-side interface name of the client link.
pub const CLIENT_HOST_IF: &str = "ext0";

/// `Deref<Target = LabCore>` for a flavour's `Lab` (a struct with a `core` field), so every
/// flavour has the common accessors and probes.
macro_rules! deref_to_core {
    ($lab:ty) => {
        impl std::ops::Deref for $lab {
            type Target = $crate::core::LabCore;
            fn deref(&self) -> &$crate::core::LabCore {
                &self.core
            }
        }
    };
}
pub(crate) use deref_to_core;

/// A lab's common part. Torn down on drop unless [`LabCore::persist`] was called.
#[derive(Debug)]
pub struct LabCore {
    state: LabState,
    armed: bool,
}

impl LabCore {
    /// Start a lab record: a fresh name and its private folder.
    pub(crate) fn begin(flavour: Flavour) -> Result<Self> {
        crate::prereq::require_root()?;
        std::fs::create_dir_all(LAB_ROOT).with_context(|| format!("creating {LAB_ROOT}"))?;
        // A reused pid could meet a stale lab's name: take the next counter then (create_dir
        // fails on an existing folder, so two labs never share one).
        let (name, dir) = loop {
            let name = names::lab_name();
            let dir = Path::new(LAB_ROOT).join(&name);
            match std::fs::create_dir(&dir) {
                Ok(()) if netns::list(&format!("{name}-")).is_empty() => break (name, dir),
                Ok(()) => {
                    let _ = std::fs::remove_dir(&dir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
            }
        };
        let state = LabState {
            name,
            flavour,
            dir,
            owner_pid: std::process::id(),
            persistent: false,
            created_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            netns: Vec::new(),
            procs: Vec::new(),
            cgroup_parent: None,
            created_outside: Vec::new(),
            topology: None,
            docker_state: None,
            removed_rules: Vec::new(),
        };
        state.save()?;
        Ok(Self { state, armed: true })
    }

    pub(crate) fn state_mut(&mut self) -> &mut LabState {
        &mut self.state
    }

    pub(crate) fn save(&self) -> Result<()> {
        self.state.save()
    }

    /// Create netns `<lab>-<suffix>` and record it.
    pub(crate) fn add_netns(&mut self, suffix: &str) -> Result<Netns> {
        let name = format!("{}-{suffix}", self.state.name);
        // Record first: if creation half-fails, teardown still tries to delete it.
        self.state.netns.push(name.clone());
        self.save()?;
        netns::create(&name)
    }

    /// Start `program args` in the background inside `ns` (own process group, output to
    /// `<dir>/<log>.log`), and record its pid.
    pub(crate) fn spawn(
        &mut self,
        ns: &Netns,
        what: &str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<u32> {
        let log_path = self
            .state
            .dir
            .join(format!("{}.log", what.replace([' ', '/'], "_")));
        let log = File::create(&log_path)?;
        let mut cmd = ns.cmd(program);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", crate::cmd::describe(&cmd)))?;
        let pid = child.id();
        // nsenter execs the program (no fork for --net), so this pid is the program's.
        let start_time = teardown::start_time(pid).unwrap_or(0);
        self.state.procs.push(ProcRecord {
            pid,
            start_time,
            what: what.to_owned(),
        });
        self.save()?;
        Ok(pid)
    }

    /// Create the external client netns `<lab>-cli` with a veth to `host`: the host side is
    /// [`CLIENT_HOST_IF`] with [`CLIENT_HOST_ADDR`]/24, the client has [`CLIENT_ADDR`]/24 and a
    /// default route via the host.
    pub(crate) fn add_client(&mut self, host: &Netns) -> Result<Client> {
        let cli = self.add_netns("cli")?;
        host.veth_into(CLIENT_HOST_IF, &cli)?;
        host.ip(&[
            "addr",
            "add",
            &format!("{CLIENT_HOST_ADDR}/24"),
            "dev",
            CLIENT_HOST_IF,
        ])?;
        host.ip(&["link", "set", CLIENT_HOST_IF, "up"])?;
        cli.ip(&["addr", "add", &format!("{CLIENT_ADDR}/24"), "dev", "eth0"])?;
        cli.ip(&["link", "set", "eth0", "up"])?;
        cli.ip(&[
            "route",
            "add",
            "default",
            "via",
            &CLIENT_HOST_ADDR.to_string(),
        ])?;
        Ok(Client {
            netns: cli.name().to_owned(),
            addr: CLIENT_ADDR,
            host_addr: CLIENT_HOST_ADDR,
            host_if: CLIENT_HOST_IF.to_owned(),
        })
    }

    pub(crate) fn set_topology(&mut self, t: Topology) -> Result<()> {
        self.state.topology = Some(t);
        self.save()
    }

    // ---- accessors ----

    /// Unique lab name (`nfl<pid>-<n>`); every netns of the lab starts with it.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The lab's private folder under /run/nfprobe-lab.
    pub fn dir(&self) -> &Path {
        &self.state.dir
    }

    pub fn state(&self) -> &LabState {
        &self.state
    }

    /// The topology; present once `up` returned.
    pub fn topology(&self) -> &Topology {
        // `up` sets it before handing the lab out; an empty one would only be seen mid-`up`.
        self.state
            .topology
            .as_ref()
            .unwrap_or_else(|| unreachable!("lab topology is set by up()"))
    }

    /// The netns playing the Docker host.
    pub fn host_netns(&self) -> Netns {
        Netns::named(&self.topology().host_netns)
    }

    /// `/run/netns/<host netns>`: what `nfprobe --netns` takes.
    pub fn host_netns_path(&self) -> PathBuf {
        self.host_netns().path()
    }

    /// The external client netns.
    pub fn client_netns(&self) -> Netns {
        Netns::named(&self.topology().client.netns)
    }

    /// The host's address on the client link: where the client sends its requests.
    pub fn host_addr_for_client(&self) -> Ipv4Addr {
        self.topology().client.host_addr
    }

    /// Networks in creation order.
    pub fn networks(&self) -> &[Network] {
        &self.topology().networks
    }

    /// Every published port of every container, in network order.
    pub fn published_ports(&self) -> Vec<PublishedPort> {
        self.networks()
            .iter()
            .flat_map(|n| n.containers.iter())
            .flat_map(|c| c.ports.iter().copied())
            .collect()
    }

    /// The real flavour's dockerd API socket.
    pub fn docker_socket(&self) -> Option<&Path> {
        self.topology().docker_socket.as_deref()
    }

    // ---- doing things inside the lab ----

    /// Run `program args` in the host netns; error unless it exits 0. Returns stdout.
    pub fn run_in_host(&self, program: &str, args: &[&str]) -> Result<String> {
        self.host_netns().run(program, args)
    }

    /// Run `program args` in the client netns.
    pub fn run_in_client(&self, program: &str, args: &[&str]) -> Result<String> {
        self.client_netns().run(program, args)
    }

    /// `iptables-save` of the host netns, for the lab's backend (nft: `iptables-save`,
    /// legacy: `iptables-legacy-save`).
    pub fn iptables_save(&self) -> Result<String> {
        let prog = match self.topology().backend.as_str() {
            "legacy" => "iptables-legacy-save",
            _ => "iptables-nft-save",
        };
        self.run_in_host(prog, &[])
    }

    /// `iptables-save` of the host netns for a given backend ("nft" or "legacy").
    pub fn iptables_save_backend(&self, backend: &str) -> Result<String> {
        let prog = match backend {
            "legacy" => "iptables-legacy-save",
            "nft" => "iptables-nft-save",
            other => return Err(anyhow!("unknown iptables backend {other:?}")),
        };
        self.run_in_host(prog, &[])
    }

    fn vantage_path(&self, v: &Vantage) -> PathBuf {
        match v {
            Vantage::Client => self.client_netns().path(),
            Vantage::Host => self.host_netns().path(),
            Vantage::Netns(n) => netns::path_of(n),
        }
    }

    /// HTTP GET `addr` from a vantage point, bounded by `timeout`.
    pub fn http(&self, from: &Vantage, addr: SocketAddr, timeout: Duration) -> Outcome {
        net::http_get(&self.vantage_path(from), addr, timeout)
    }

    /// `n` TCP connects from the external client to the host's `port`, each given up before
    /// the SYN would be retransmitted (so each sends exactly one SYN); how many timed out.
    pub fn syns_from_client(&self, port: u16, n: u32) -> u32 {
        let addr = SocketAddr::V4(SocketAddrV4::new(self.host_addr_for_client(), port));
        (0..n)
            .filter(|_| {
                self.tcp(&Vantage::Client, addr, Duration::from_millis(300))
                    .is_timeout()
            })
            .count() as u32
    }

    /// TCP connect to `addr` from a vantage point.
    pub fn tcp(&self, from: &Vantage, addr: SocketAddr, timeout: Duration) -> Outcome {
        net::tcp_connect(&self.vantage_path(from), addr, timeout)
    }

    /// HTTP GET `host_addr_for_client():port` from the external client (a remote user's curl).
    pub fn http_from_client(&self, port: u16, timeout: Duration) -> Outcome {
        let addr = SocketAddr::V4(SocketAddrV4::new(self.host_addr_for_client(), port));
        self.http(&Vantage::Client, addr, timeout)
    }

    /// HTTP GET `127.0.0.1:port` in the host netns (`curl localhost:PORT` on the Docker host).
    pub fn http_from_host(&self, port: u16, timeout: Duration) -> Outcome {
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        self.http(&Vantage::Host, addr, timeout)
    }

    // ---- ending ----

    /// Tear the lab down now; errors name what could not be removed.
    pub fn down(mut self) -> Result<()> {
        self.armed = false;
        teardown::teardown(&self.state)
    }

    /// Keep the lab after this process ends (for `cargo xtask lab up`): marks the state
    /// persistent and disarms the drop guard. `cargo xtask lab down NAME` removes it.
    pub fn persist(mut self) -> Result<LabState> {
        self.armed = false;
        self.state.persistent = true;
        self.state.save()?;
        Ok(self.state.clone())
    }
}

impl Drop for LabCore {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = teardown::teardown(&self.state)
        {
            eprintln!("nfprobe lab: {e:#}");
        }
    }
}

/// Tear down every lab whose owner process is gone and that was not persisted (left behind by a
/// test binary that was killed). Returns the names removed.
pub fn cleanup_stale() -> Vec<String> {
    let mut done = Vec::new();
    for st in crate::state::list_all() {
        if !st.persistent && !st.owner_alive() {
            if let Err(e) = teardown::teardown(&st) {
                eprintln!("nfprobe lab: {e:#}");
            }
            done.push(st.name);
        }
    }
    done
}
