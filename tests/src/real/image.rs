//! The offline busybox image: /bin/busybox from busybox-static plus applet symlinks, imported
//! with `docker import` (no registry is reachable).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::{Docker, IMAGE};
use crate::cmd;

const APPLETS: &[&str] = &[
    "sh", "httpd", "nc", "cat", "echo", "mkdir", "ls", "sleep", "ip", "ps", "wget", "kill",
];

/// Build the rootfs tar under `work` and import it as [`IMAGE`].
pub fn import(docker: &Docker, work: &Path) -> Result<()> {
    let busybox = crate::prereq::which("busybox").context("busybox (busybox-static) not found")?;
    let root = work.join("rootfs");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::create_dir_all(root.join("tmp"))?;
    std::fs::create_dir_all(root.join("www"))?;
    std::fs::write(root.join("www/index.html"), "nfprobe-lab\n")?;
    std::fs::copy(&busybox, bin.join("busybox"))
        .with_context(|| format!("copying {}", busybox.display()))?;
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", bin.join(a))?;
    }
    let tar = work.join("image.tar");
    cmd::run(
        Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    )?;
    let tar_s = tar.to_string_lossy().into_owned();
    docker.run(&["import", "-c", "CMD [\"/bin/sh\"]", &tar_s, IMAGE])?;
    Ok(())
}
