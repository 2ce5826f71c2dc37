//! Running commands loudly, and the paths every task needs.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Print a step header.
pub fn step(what: &str) {
    eprintln!("xtask: {what}");
}

fn show(cmd: &Command) -> String {
    let mut s = String::new();
    // PATH is always ours (cargo's bin dir in front): not worth a screenful.
    for (k, v) in cmd.get_envs().filter(|(k, _)| *k != "PATH") {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run `cmd` with inherited stdio; fail unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed: {status}", show(cmd));
    }
    Ok(())
}

/// Run `cmd` with inherited stdio and return its status.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    eprintln!("+ {}", show(cmd));
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", show(cmd)))?;
    let secs = start.elapsed().as_secs_f64();
    if secs >= 1.0 {
        eprintln!("  ({secs:.1}s)");
    }
    Ok(status)
}

/// Run quietly and capture stdout; None when the program is missing or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The workspace root (xtask's parent directory). `cargo run` sets CARGO_MANIFEST_DIR at run
/// time too: prefer it, so an xtask binary reused from another checkout (a shared target dir)
/// still works on the checkout it was started from.
pub fn workspace_root() -> PathBuf {
    let here = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// The cargo target directory: `$CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `$CARGO_HOME` or `~/.cargo`.
pub fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"))
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Set by `cargo xtask test`: every cargo it runs builds without incremental state.
static ONE_SHOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Builds from here on are one-shot (a whole-suite run, as in CI): incremental state would
/// only double the target dir's size (5 of 10 GB), and a CI run once ran out of disk on it.
/// A `CARGO_INCREMENTAL` the user set wins.
pub fn one_shot_builds() {
    ONE_SHOT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A `cargo` command run in the workspace, with cargo's install dir (bpf-linker) on PATH.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd.env("PATH", path_with_cargo_bin());
    if ONE_SHOT.load(std::sync::atomic::Ordering::Relaxed)
        && std::env::var_os("CARGO_INCREMENTAL").is_none()
    {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

/// Free bytes on the filesystem holding `path` (`df`), None when df cannot tell.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let out = output(Command::new("df").arg("-Pk").arg(path))?;
    let line = out.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// Where `cargo install` puts binaries: `$CARGO_INSTALL_ROOT/bin` or `$CARGO_HOME/bin`.
pub fn cargo_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_INSTALL_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(cargo_home)
        .join("bin")
}

/// PATH with cargo's install dir in front (where `cargo install` puts bpf-linker).
pub fn path_with_cargo_bin() -> std::ffi::OsString {
    let bin = cargo_bin_dir();
    let mut parts = vec![bin.clone()];
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path).filter(|p| *p != bin));
    }
    std::env::join_paths(parts).unwrap_or_default()
}

pub fn is_root() -> bool {
    // /proc/self/status "Uid: real effective ..." without unsafe or libc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Seconds since `start`, for the timing summary.
pub fn elapsed(start: Instant) -> String {
    format!("{:.1}s", start.elapsed().as_secs_f64())
}
