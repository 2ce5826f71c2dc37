//! End to end: the `nfprobe` binary's `--version` and `features` commands, exit codes, and
//! `--netns` (legacy tables are read in the namespace asked for, never created).

use std::process::{Command, Output};

use lab::bin_path::nfprobe_bin;

mod common;
use common::{TestNetns, require_root_and_btf};

fn nfprobe(args: &[&str]) -> Output {
    let bin = nfprobe_bin().unwrap_or_else(|e| panic!("{e}"));
    Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn version_exits_zero() {
    let out = nfprobe(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).trim(),
        format!("nfprobe {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_usage_and_missing_netns_exit_two_with_a_clear_message() {
    let out = nfprobe(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let out = nfprobe(&["--netns", "nfp-surely-absent-netns", "features"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nfp-surely-absent-netns"), "{err}");
    assert_eq!(
        err.matches("No such file").count(),
        1,
        "repeated cause: {err}"
    );
}

#[test]
fn features_reports_this_kernel_and_reads_legacy_tables_per_netns() {
    require_root_and_btf();
    let ns = TestNetns::new("feat");

    // A fresh namespace has no legacy table.
    let out = nfprobe(&["--netns", &ns.name, "features", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["btf"], true, "{v}");
    assert_eq!(v["nf_tables"], true, "{v}");
    assert_eq!(v["ebpf_load"], true, "{v}");
    assert_eq!(v["legacy_ipv4_tables"], serde_json::json!([]), "{v}");

    // Make the legacy `raw` table exist inside our namespace only; nfprobe must see it there.
    let made = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "iptables-legacy",
            "-t",
            "raw",
            "-S",
        ])
        .output()
        .expect("this test needs iptables-legacy (package iptables)");
    assert!(made.status.success(), "{made:?}");
    let out = nfprobe(&["--netns", &ns.name, "features", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["legacy_ipv4_tables"], serde_json::json!(["raw"]), "{v}");

    // Text form: one summary line naming the table.
    let out = nfprobe(&["--netns", &ns.name, "features"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("legacy tables ipv4: raw"), "{text}");
    assert!(text.contains("eBPF load ok"), "{text}");
}

#[test]
fn without_privileges_the_ebpf_failure_names_what_is_needed() {
    require_root_and_btf();
    // Run a copy as `nobody` from a folder it can read (the target dir may sit under /root).
    let dir = std::env::temp_dir().join(format!("nfp-unpriv-{}", std::process::id()));
    struct RemoveDir(std::path::PathBuf);
    impl Drop for RemoveDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    let _guard = RemoveDir(dir.clone());
    let copy = dir.join("nfprobe");
    std::fs::copy(nfprobe_bin().unwrap(), &copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .arg("features")
        .output()
        .expect("this test needs setpriv (package util-linux)");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("eBPF load FAILED"), "{text}");
    assert!(text.contains("permission denied"), "{text}");
    assert!(text.contains("needs root"), "{text}");
}
