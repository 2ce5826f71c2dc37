//! The guard for a fresh machine: `cargo xtask` must compile and run before `cargo xtask
//! bootstrap` has installed anything (no nightly rust-src, no bpf-linker, no Debian package).
//! It did not once, because xtask linked the probe library, whose build script builds the eBPF
//! object. Two checks: xtask's dependency graph holds no crate with an eBPF build, and xtask
//! builds in a fresh target dir with the eBPF toolchain out of reach.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo binary of the toolchain running this test (not rustup's proxy).
fn cargo() -> PathBuf {
    PathBuf::from(env!("CARGO"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Packages (name only) in xtask's normal and build dependency graph.
fn xtask_graph() -> Vec<String> {
    let out = Command::new(cargo())
        .current_dir(workspace())
        .args([
            "tree",
            "-p",
            "xtask",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Crates whose build needs the eBPF toolchain (nightly rust-src and bpf-linker).
const EBPF_BUILDS: &[&str] = &["probe", "probe-ebpf", "aya-build", "nfprobe-bench"];

#[test]
fn xtask_depends_on_nothing_with_an_ebpf_build() {
    let graph = xtask_graph();
    assert!(graph.iter().any(|p| p == "xtask"), "no xtask in {graph:?}");
    let bad: Vec<&String> = graph
        .iter()
        .filter(|p| EBPF_BUILDS.contains(&p.as_str()))
        .collect();
    assert!(
        bad.is_empty(),
        "xtask must build before bootstrap, but depends on {bad:?}, whose build needs the eBPF \
         toolchain; move the code that needs them to a crate xtask runs after bootstrap (bench/)"
    );
}

/// A throwaway directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        let p = std::env::temp_dir().join(format!("nfprobe-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn xtask_builds_and_runs_with_the_ebpf_toolchain_out_of_reach() {
    let toolchain_bin = cargo()
        .parent()
        .expect("cargo lives in a directory")
        .to_path_buf();
    let target = TempDir::new("fresh-target");
    // rustup puts $CARGO_HOME/bin (bpf-linker, the `+nightly` proxies) first on PATH: an empty
    // CARGO_HOME of our own and a PATH of only this toolchain and the system keep them out of
    // reach. Crate sources come from the real registry cache, offline.
    let home = TempDir::new("fresh-cargo-home");
    let real_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    std::os::unix::fs::symlink(real_home.join("registry"), home.0.join("registry"))
        .expect("link the registry cache");
    let rustup_home = TempDir::new("fresh-rustup-home");
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", toolchain_bin.display());
    let which_linker = Command::new("sh")
        .args(["-c", "command -v bpf-linker"])
        .env("PATH", &path)
        .output()
        .expect("sh runs");
    assert!(
        !which_linker.status.success(),
        "bpf-linker is still on the test's PATH ({path}): the check would prove nothing"
    );
    let out = Command::new(cargo())
        .current_dir(workspace())
        .env_clear()
        .env("PATH", &path)
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("CARGO_HOME", &home.0)
        .env("RUSTUP_HOME", &rustup_home.0)
        .env("CARGO_TARGET_DIR", &target.0)
        .env("RUSTC", toolchain_bin.join("rustc"))
        .args(["run", "--offline", "--quiet", "-p", "xtask", "--", "--help"])
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xtask does not build without the eBPF toolchain (a fresh machine cannot run the \
         README's commands):\n{stderr}"
    );
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("bootstrap"), "xtask --help: {help}");
}
