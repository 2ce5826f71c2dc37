//! `nfprobe ruleset` at the edges: the text equals the live iptables-save through the
//! binary too, and missing namespaces or privileges give a clear error (exit 2).

mod xt_support;

use std::process::Command;

use nfprobe::ruleset::{Backend, Family};
use xt_support::{Netns, live_save};

fn nfprobe(args: &[&str]) -> std::process::Output {
    let bin = lab::bin_path::nfprobe_bin().expect("the nfprobe binary");
    Command::new(bin).args(args).output().unwrap()
}

#[test]
fn binary_output_equals_iptables_save() {
    let ns = Netns::new("cli");
    let out = ns.sh(
        "iptables-legacy -N DOCKER && iptables-legacy -A FORWARD -o docker0 -j DOCKER \
         && iptables-legacy -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT \
         && ip6tables-legacy -t nat -A POSTROUTING -s fd00::/64 ! -o docker0 -j MASQUERADE \
         && iptables-nft -A INPUT -m comment --comment 'nft side' -j ACCEPT",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (backend, b, family, f) in [
        (Backend::Legacy, "legacy", Family::Ipv4, "ipv4"),
        (Backend::Legacy, "legacy", Family::Ipv6, "ipv6"),
        (Backend::Nft, "nft", Family::Ipv4, "ipv4"),
    ] {
        for counters in [false, true] {
            let mut args = vec![
                "--netns",
                &ns.name,
                "ruleset",
                "--backend",
                b,
                "--family",
                f,
            ];
            if counters {
                args.push("--counters");
            }
            let out = nfprobe(&args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                live_save(&ns, backend, family, counters),
                "{b} {f} counters={counters}"
            );
        }
    }
}

#[test]
fn missing_namespace_is_a_clear_error() {
    let out = nfprobe(&[
        "--netns",
        "nfpx-no-such-ns",
        "ruleset",
        "--backend",
        "legacy",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nfpx-no-such-ns") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn no_privileges_is_a_clear_error() {
    let ns = Netns::new("priv");
    let bin = lab::bin_path::nfprobe_bin().expect("the nfprobe binary");
    // setpriv (util-linux) drops to nobody with no capabilities.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin)
        .args(["--netns", &ns.name, "ruleset", "--backend", "legacy"])
        .output()
        .expect("prerequisite missing: setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CAP_SYS_ADMIN") || err.contains("root"),
        "error does not say what is missing: {err}"
    );
}
