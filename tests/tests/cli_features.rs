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
fn completions_are_valid_shell_and_know_the_commands() {
    let out = nfprobe(&["completions", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let script = stdout(&out);
    for cmd in ["check", "ruleset", "drops", "collect", "features"] {
        assert!(script.contains(cmd), "bash completion lacks `{cmd}`");
    }
    let dir = std::env::temp_dir().join(format!("nfprobe-completion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("nfprobe.bash");
    std::fs::write(&file, &script).expect("write completion");
    // Sourcing it in a real bash defines the completion function.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(". {} && complete -p nfprobe", file.display()))
        .output()
        .expect("bash runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(check.status.success(), "{check:?}");
    assert!(stdout(&check).contains("_nfprobe"), "{check:?}");
    for shell in ["zsh", "fish"] {
        let out = nfprobe(&["completions", shell]);
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{shell}: {out:?}"
        );
    }
    let bad = nfprobe(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}

#[test]
fn man_page_is_roff_with_every_command() {
    let out = nfprobe(&["man"]);
    assert!(out.status.success(), "{out:?}");
    let page = stdout(&out);
    assert!(page.contains(".TH nfprobe 1"), "{page}");
    for cmd in [
        "check",
        "ruleset",
        "drops",
        "collect",
        "features",
        "completions",
    ] {
        assert!(page.contains(cmd), "man page lacks `{cmd}`");
    }
}

#[test]
fn version_exits_zero() {
    let out = nfprobe(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("nfprobe {}", env!("CARGO_PKG_VERSION")).as_str())
    );
    // The eBPF object's build is named: the binary under test carries the real object.
    let obj = lines.next().unwrap_or_default();
    assert!(
        obj.starts_with("eBPF object: ")
            && obj.contains(" bytes, fnv1a64 ")
            && obj.contains("nightly"),
        "--version does not name the eBPF object's build: {text}"
    );
    // -V stays the one-line version scripts parse.
    let short = nfprobe(&["-V"]);
    assert_eq!(
        stdout(&short).trim(),
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
    ns.make_legacy_table("raw");
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
    // And which commands it would refuse, in the words they would use.
    assert!(
        text.contains(
            "cannot run here: drops needs CAP_BPF (or CAP_SYS_ADMIN) to load its eBPF programs"
        ),
        "{text}"
    );
    assert!(
        text.contains("cannot run here: ruleset needs CAP_NET_ADMIN to read the firewall"),
        "{text}"
    );
}
