//! Builds `probe-ebpf` for the BPF target with the nightly toolchain (aya-build), so that
//! `src/kernel/ebpf.rs` can embed the object and `nfprobe` stays one file to copy.
//!
//! `AYA_BUILD_SKIP=1` (for `cargo check`/clippy on machines without bpf-linker) writes an empty
//! placeholder instead; loading it then fails with a message that says how to build for real.

use std::path::PathBuf;

/// Name of the eBPF binary target, hence of the object aya-build copies into OUT_DIR.
const EBPF_PACKAGE: &str = "probe-ebpf";

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or_else(|| anyhow::anyhow!("probe/ has no parent directory"))?;
    let ebpf_dir = workspace.join(EBPF_PACKAGE);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    // aya-build reruns us when probe-ebpf/ changes; the shared types and pins matter too.
    for dep in ["probe-common", "Cargo.lock", "probe-ebpf/nightly-toolchain"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dep).display());
    }
    println!("cargo:rerun-if-changed=build.rs");

    // For `nfprobe --version`: which toolchain built the eBPF object.
    // The eBPF object is built with one pinned nightly (probe-ebpf/nightly-toolchain, which
    // bootstrap installs): a newer nightly's LLVM once emitted code the kernel's verifier
    // rejects ("pointer arithmetic with <<= operator prohibited").
    let nightly = std::fs::read_to_string(ebpf_dir.join("nightly-toolchain"))?
        .trim()
        .to_owned();
    println!(
        "cargo:rustc-env=NFPROBE_EBPF_TOOLCHAIN={}",
        ebpf_toolchain(&nightly).unwrap_or_else(|| format!("{nightly} (version unknown)"))
    );

    if skip_requested() {
        // aya-build itself prints the "skipping" warning and reruns us when the variable changes.
        std::fs::write(out_dir.join(EBPF_PACKAGE), b"")?;
    }

    // aya-build forwards every line the sub-cargo prints on stderr as a cargo warning;
    // a quiet sub-cargo keeps that to real compiler diagnostics. Single-threaded here.
    // SAFETY: no other thread exists yet in this build script.
    unsafe { std::env::set_var("CARGO_TERM_QUIET", "true") };

    let root_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("workspace path is not UTF-8"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: EBPF_PACKAGE,
            root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(&nightly),
    )
}

/// `rustc 1.97.0-nightly (e50aa6fba 2026-05-19)`, as the pinned toolchain reports it.
fn ebpf_toolchain(nightly: &str) -> Option<String> {
    let out = std::process::Command::new("rustup")
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["run", nightly, "rustc", "--version"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn skip_requested() -> bool {
    std::env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}
