//! The `iptables-1.8.11-bug-model` wrapper: a readable bash script (tests/assets/) that wraps the
//! real iptables-nft and models the 1.8.11 `-C`/`-D` comparison that ignores interface names.
//! See the script's header for exactly what it models.
//!
//! Standalone use: run [`script_path`] (as `iptables`) inside a lab netns; or point a PATH at
//! [`install_bin_dir`] so that `iptables` and `ip6tables` resolve to it (that is what the real
//! Docker lab does with `faulty_iptables`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// File name of the wrapper.
pub const SCRIPT_NAME: &str = "iptables-1.8.11-bug-model";

/// Absolute path of the wrapper script in the source tree.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(SCRIPT_NAME)
}

/// Make `dir` a folder whose `iptables` and `ip6tables` are the bug model (symlinks; the
/// script picks the family from the name it is called by), plus the script itself under its
/// own name and `ip6tables-1.8.11-bug-model`. Returns `dir`.
pub fn install_bin_dir(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let script = script_path();
    if !script.is_file() {
        anyhow::bail!("bug-model script missing at {}", script.display());
    }
    for name in [
        "iptables",
        "ip6tables",
        SCRIPT_NAME,
        "ip6tables-1.8.11-bug-model",
    ] {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&script, &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }
    Ok(dir.to_path_buf())
}
