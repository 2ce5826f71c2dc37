//! `cargo xtask bootstrap`: everything building and testing need, installed once.
//!
//! 1. Debian packages the tests use (`apt-get update` only when one is missing; needs root then).
//! 2. The nightly toolchain with `rust-src` (the eBPF crate is built with `-Z build-std=core`).
//! 3. bpf-linker built against the nightly toolchain's own libLLVM, so the bitcode rustc emits
//!    and the LLVM that links it are the same version. Skipped when `bpf-linker --version`
//!    runs (its libLLVM resolves).
//! 4. cargo-fuzz, which drives the coverage-guided fuzz targets in fuzz/.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::sh::{self, step};

/// What the tests and benchmarks run. Add here when a test needs another tool.
pub const APT_PACKAGES: &[&str] = &[
    "iptables",
    "nftables",
    "ipset",
    "iproute2",
    "docker.io",
    "busybox-static",
    "curl",
    "bpftool",
    "conntrack",
    "hyperfine",
    "time",
    "util-linux",
    // tests/privileges.rs: proves a refused run made no bpf() object and entered no namespace.
    "strace",
    // `nfprobe serve` tests: a real Prometheus scrapes it; promtool checks deploy/prometheus.
    "prometheus",
];

/// The nightly toolchain the eBPF object is built with, pinned in probe-ebpf/nightly-toolchain
/// (probe/build.rs reads the same file): a newer nightly's LLVM once emitted code the kernel's
/// verifier rejects.
pub fn nightly() -> Result<String> {
    let f = sh::workspace_root().join("probe-ebpf/nightly-toolchain");
    let s = std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
    let s = s.trim();
    if s.is_empty() {
        bail!("{} is empty", f.display());
    }
    Ok(s.to_owned())
}

pub fn run() -> Result<()> {
    let start = Instant::now();
    apt_packages()?;
    nightly_with_rust_src()?;
    bpf_linker()?;
    cargo_fuzz()?;
    step(&format!("bootstrap done in {}", sh::elapsed(start)));
    Ok(())
}

fn installed(pkg: &str) -> bool {
    sh::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]))
        .is_some_and(|s| s.contains("install ok installed"))
}

fn apt_packages() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        step("apt packages: all present");
        return Ok(());
    }
    step(&format!("apt packages missing: {}", missing.join(" ")));
    if !sh::is_root() {
        bail!(
            "installing packages needs root: run `sudo apt-get update && sudo apt-get install -y {}` \
             (or this command as root)",
            missing.join(" ")
        );
    }
    sh::run(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    sh::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    Ok(())
}

fn rustup() -> Command {
    let mut cmd = Command::new("rustup");
    // xtask runs under the stable toolchain; do not let that pin what we ask rustup about.
    cmd.env_remove("RUSTUP_TOOLCHAIN");
    cmd
}

fn nightly_with_rust_src() -> Result<()> {
    let nightly = nightly()?;
    let nightly = nightly.as_str();
    let toolchains = sh::output(rustup().args(["toolchain", "list"])).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with(nightly)) {
        step(&format!(
            "{nightly} toolchain missing: installing it (with rust-src)"
        ));
        sh::run(rustup().args([
            "toolchain",
            "install",
            nightly,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
        ]))
        .context("the eBPF programs need a nightly toolchain")?;
    }
    let components =
        sh::output(rustup().args(["component", "list", "--installed", "--toolchain", nightly]))
            .unwrap_or_default();
    if components.lines().any(|l| l.trim() == "rust-src") {
        step(&format!("{nightly} toolchain with rust-src: present"));
        return Ok(());
    }
    step(&format!("adding rust-src to the {nightly} toolchain"));
    sh::run(rustup().args(["component", "add", "rust-src", "--toolchain", nightly]))
}

/// The nightly toolchain's `lib/libLLVM.so.<ver>`: (path, ver, major).
fn nightly_libllvm() -> Result<(PathBuf, String, u32)> {
    let sysroot = sh::output(Command::new("rustc").env_remove("RUSTUP_TOOLCHAIN").args([
        &format!("+{}", nightly()?),
        "--print",
        "sysroot",
    ]))
    .context("`rustc +NIGHTLY --print sysroot` failed")?;
    let lib = Path::new(sysroot.trim()).join("lib");
    let entries = std::fs::read_dir(&lib).with_context(|| format!("listing {}", lib.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(ver) = name.strip_prefix("libLLVM.so.") {
            let major = ver
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .with_context(|| format!("cannot read the LLVM major version from {name}"))?;
            return Ok((entry.path(), ver.to_owned(), major));
        }
    }
    bail!("no libLLVM.so.<version> in {}", lib.display())
}

fn bpf_linker_works() -> bool {
    sh::output(
        Command::new("bpf-linker")
            .arg("--version")
            .env("PATH", sh::path_with_cargo_bin()),
    )
    .is_some()
}

fn bpf_linker() -> Result<()> {
    if bpf_linker_works() {
        step("bpf-linker: present and its libLLVM resolves");
        return Ok(());
    }
    let (libllvm, ver, major) = nightly_libllvm()?;
    // bpf-linker's build looks for <prefix>/lib/libLLVM.so; its RUNPATH then points there.
    let prefix = sh::home().join(".cache/nfprobe/llvm");
    let lib = prefix.join("lib");
    step(&format!(
        "building bpf-linker against the nightly toolchain's LLVM {ver} (via {})",
        lib.display()
    ));
    std::fs::create_dir_all(&lib).with_context(|| format!("creating {}", lib.display()))?;
    // Only this version's links: an older bpf-linker must fail --version, not load stale LLVM.
    for entry in std::fs::read_dir(&lib)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("libLLVM") {
            std::fs::remove_file(entry.path())?;
        }
    }
    for name in ["libLLVM.so".to_owned(), format!("libLLVM.so.{ver}")] {
        std::os::unix::fs::symlink(&libllvm, lib.join(&name))
            .with_context(|| format!("linking {name} -> {}", libllvm.display()))?;
    }
    sh::run(
        Command::new("cargo")
            .env_remove("RUSTUP_TOOLCHAIN")
            // A shared target dir would keep bpf-linker's build around in the project's.
            .env_remove("CARGO_TARGET_DIR")
            .env("LLVM_PREFIX", &prefix)
            .args([
                &format!("+{}", nightly()?),
                "install",
                "bpf-linker",
                // Only reached when the installed one does not run (built against an LLVM
                // that is gone): without --force cargo keeps it as "already installed".
                "--force",
                "--locked",
                "--no-default-features",
                "--features",
                &format!("llvm-{major}"),
            ]),
    )?;
    if !bpf_linker_works() {
        bail!(
            "bpf-linker was installed into {} but `bpf-linker --version` still fails",
            sh::cargo_bin_dir().display()
        );
    }
    Ok(())
}

/// cargo-fuzz (libFuzzer driver) for `cargo xtask fuzz` and the short fuzz runs of the tests.
fn cargo_fuzz() -> Result<()> {
    let works = sh::output(
        Command::new("cargo")
            .env("PATH", sh::path_with_cargo_bin())
            .args(["fuzz", "--version"]),
    )
    .is_some();
    if works {
        step("cargo-fuzz: present");
        return Ok(());
    }
    step("installing cargo-fuzz");
    sh::run(Command::new("cargo").env_remove("CARGO_TARGET_DIR").args([
        "install",
        "cargo-fuzz",
        "--locked",
    ]))
}

/// For `build`: fail early and clearly when bootstrap has not run.
pub fn require_bpf_linker() -> Result<()> {
    if bpf_linker_works() {
        Ok(())
    } else {
        bail!("bpf-linker is missing or broken: run `cargo xtask bootstrap` first")
    }
}
