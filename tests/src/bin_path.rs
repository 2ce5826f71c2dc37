//! Where the `nfprobe` binary under test is, for end-to-end tests that run it.
//!
//! Order: `$NFPROBE_BIN`; the profile directory this test binary was built into
//! (`<target>/<profile>/deps/<test>` → `<target>/<profile>/nfprobe`); then
//! `$CARGO_TARGET_DIR` or the workspace's `target/`, debug before release.

use std::path::{Path, PathBuf};

pub const BIN_NAME: &str = "nfprobe";

/// Path of the built `nfprobe`, or a message saying where it was looked for and how to build it.
pub fn nfprobe_bin() -> Result<PathBuf, String> {
    let candidates = candidates();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "the nfprobe binary is not built (looked at: {}); run `cargo xtask build` or \
                 `cargo build -p probe`, or set NFPROBE_BIN",
                tried.join(", ")
            )
        })
}

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("NFPROBE_BIN") {
        out.push(PathBuf::from(p));
        return out;
    }
    if let Ok(exe) = std::env::current_exe() {
        // <target>/<profile>/deps/<test-binary>
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            out.push(profile_dir.join(BIN_NAME));
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    for profile in ["debug", "release"] {
        out.push(target.join(profile).join(BIN_NAME));
    }
    out
}

/// The workspace root (the parent of this crate's directory), fixed at compile time.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_start_next_to_this_test_binary() {
        let c = candidates();
        assert!(!c.is_empty());
        if std::env::var_os("NFPROBE_BIN").is_none() {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap();
            assert_eq!(c[0], profile_dir.join(BIN_NAME));
        }
        assert!(workspace_root().join("Cargo.toml").is_file());
    }
}
