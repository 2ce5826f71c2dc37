//! Prerequisites: a lab needs root and some programs. Missing ones are a clear error naming
//! them (tests fail with it; they never skip silently).

use anyhow::{Result, bail};

/// Programs every lab needs.
pub const COMMON: &[&str] = &[
    "ip",
    "nsenter",
    "busybox",
    "iptables-nft",
    "iptables-nft-save",
    "iptables-nft-restore",
    "iptables-legacy",
    "iptables-legacy-save",
    "iptables-legacy-restore",
];

/// Extra programs for the real-Docker flavour.
pub const REAL_DOCKER: &[&str] = &[
    "dockerd",
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "docker",
    "tar",
    "iptables-restore-translate",
];

pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no side effects.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        bail!(
            "the lab needs root (network namespaces, iptables in them, dockerd); running as uid {euid}"
        );
    }
    Ok(())
}

/// Find a program in PATH (plus /usr/sbin and /sbin, which a non-login PATH may lack).
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// Fail with the list of missing programs (and the package that brings them).
pub fn require_programs(programs: &[&str]) -> Result<()> {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| which(p).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "the lab needs these programs, not found in PATH: {} \
             (packages: iproute2, util-linux, busybox-static, iptables, docker.io, containerd, runc; \
             `cargo xtask bootstrap` installs them)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Everything the docker28 flavour needs.
pub fn docker28() -> Result<()> {
    require_root()?;
    require_programs(COMMON)
}

/// Everything the docker29-nft flavour needs (nft loads the tables).
pub fn docker29_nft() -> Result<()> {
    require_root()?;
    require_programs(COMMON)?;
    require_programs(&["nft"])
}

/// Everything the real-Docker flavour needs.
pub fn real_docker() -> Result<()> {
    require_root()?;
    require_programs(COMMON)?;
    require_programs(REAL_DOCKER)
}
