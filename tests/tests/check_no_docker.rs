//! `nfprobe check` on a host without Docker says so and exits 0; as soon as a Docker bridge
//! exists (but no Engine API answers), the degraded view expects Docker's rules again.

use std::process::Command;

use lab::bin_path::nfprobe_bin;
use lab::scratch::Scratch;

fn check(ns: &str) -> (i32, String) {
    let bin = nfprobe_bin().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(bin)
        .args([
            "--netns",
            ns,
            "check",
            "--docker-host",
            "unix:///nonexistent/nfprobe-test.sock",
        ])
        .output()
        .expect("run nfprobe");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn no_docker_means_nothing_expected_but_a_docker_bridge_brings_expectations_back() {
    let s = Scratch::new().unwrap_or_else(|e| panic!("{e:#}"));
    let ns = s.netns().name().to_owned();

    let (code, text) = check(&ns);
    assert_eq!(code, 0, "no Docker here must be a clean result:\n{text}");
    assert!(text.contains("no Docker on this host"), "{text}");

    // A docker0 bridge without any of Docker's rules: the degraded view must flag them.
    s.run("ip", &["link", "add", "docker0", "type", "bridge"])
        .unwrap_or_else(|e| panic!("{e:#}"));
    s.run("ip", &["addr", "add", "172.17.0.1/16", "dev", "docker0"])
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (code, text) = check(&ns);
    assert_eq!(
        code, 1,
        "a Docker bridge without Docker's rules is a finding:\n{text}"
    );
    assert!(!text.contains("no Docker on this host"), "{text}");
    assert!(text.contains("docker0"), "{text}");
    s.down().unwrap_or_else(|e| panic!("{e:#}"));
}
