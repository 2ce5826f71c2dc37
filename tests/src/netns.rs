//! Named network namespaces (`/run/netns/NAME`) and running programs inside them.
//!
//! Programs are started with `nsenter --net=/run/netns/NAME`, which only switches the network
//! namespace (unlike `ip netns exec`, it does not remount /sys, which containerd needs).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// A lab network namespace, by name. Plain data: creating and deleting are explicit
/// ([`create`], [`delete`]); the lab's teardown deletes every namespace it recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Refer to an existing namespace `/run/netns/NAME`.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        path_of(&self.name)
    }

    /// A `Command` that runs `program` inside this namespace (via nsenter). Add args and run it.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        c
    }

    /// Run `program args...` inside the namespace; error unless it exits 0. Returns stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        cmd::run(self.cmd(program).args(args))
    }

    /// `ip -n NAME args...` (iproute2 enters the namespace itself).
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        cmd::run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// A veth pair: `name` here, its peer `eth0` inside `peer`.
    pub fn veth_into(&self, name: &str, peer: &Netns) -> Result<()> {
        self.ip(&[
            "link",
            "add",
            name,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            peer.name(),
        ])
        .map(|_| ())
    }

    /// Write a sysctl of this namespace, e.g. `("net.ipv4.ip_forward", "1")`.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let file = format!("/proc/sys/{}", key.replace('.', "/"));
        // `sh -c` so that the write happens inside the namespace (per-netns /proc/sys/net).
        self.run(
            "sh",
            &[
                "-c",
                &format!("echo {value} > {file}"),
                "nfprobe-lab-sysctl",
            ],
        )
        .with_context(|| format!("sysctl {key}={value} in netns {}", self.name))?;
        Ok(())
    }

    /// Read a sysctl of this namespace.
    pub fn sysctl_get(&self, key: &str) -> Result<String> {
        let file = format!("/proc/sys/{}", key.replace('.', "/"));
        Ok(self.run("cat", &[&file])?.trim().to_owned())
    }

    /// Whether `/run/netns/NAME` exists.
    pub fn exists(&self) -> bool {
        self.path().exists()
    }
}

/// `/run/netns/NAME`.
pub fn path_of(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// Create `/run/netns/NAME` with loopback up. Fails if it exists already.
pub fn create(name: &str) -> Result<Netns> {
    if path_of(name).exists() {
        bail!("network namespace {name} exists already");
    }
    cmd::run_args("ip", &["netns", "add", name])?;
    let ns = Netns::named(name);
    ns.ip(&["link", "set", "lo", "up"])?;
    Ok(ns)
}

/// Delete `/run/netns/NAME` if present (its interfaces go with it; veth peers too).
pub fn delete(name: &str) -> Result<()> {
    if !path_of(name).exists() {
        return Ok(());
    }
    cmd::run_args("ip", &["netns", "delete", name]).map(|_| ())
}

/// Names of the namespaces in /run/netns whose name starts with `prefix`.
pub fn list(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    let mut v: Vec<String> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Refuse to go on in the init network namespace: `ip netns identify` names the namespace we
/// are in, and is empty in the init one (or any unnamed one).
pub fn ensure_named(ns: &Netns) -> Result<()> {
    let id = ns.run("ip", &["netns", "identify"])?;
    if id.trim() != ns.name() {
        bail!(
            "refusing: inside {} `ip netns identify` says {:?}",
            ns.name(),
            id.trim()
        );
    }
    Ok(())
}
