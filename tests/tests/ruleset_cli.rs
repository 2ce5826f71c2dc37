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

/// `--format nft` prints the whole nf_tables ruleset exactly as `nft list ruleset` does:
/// the nft_text corpus (Docker-29-like nftables tables and general rules) plus an
/// iptables-nft table of native expressions, loaded into a private namespace.
#[test]
fn format_nft_equals_nft_list_ruleset() {
    let ns = Netns::new("clinft");
    let corpus = include_str!("../../probe/tests/data/nft_corpus.nft");
    let load = ns.run("nft", &["-f", "-"], Some(corpus));
    assert!(
        load.status.success(),
        "nft -f: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    // Native expressions only: nft 1.0.6 prints xt compat matches through libxtables'
    // translations, which nft_text does not model yet.
    let ipt = ns.sh("iptables-nft -A INPUT -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT");
    assert!(
        ipt.status.success(),
        "{}",
        String::from_utf8_lossy(&ipt.stderr)
    );
    let want = ns.run("nft", &["list", "ruleset"], None);
    assert!(want.status.success());
    let want = String::from_utf8_lossy(&want.stdout).into_owned();
    assert!(want.lines().count() > 20, "corpus did not load: {want}");
    let out = nfprobe(&["--netns", &ns.name, "ruleset", "--format", "nft"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = String::from_utf8_lossy(&out.stdout);
    if ours != want {
        let mut report = String::new();
        for (i, (a, b)) in want.lines().zip(ours.lines()).enumerate() {
            if a != b {
                report.push_str(&format!("line {}:\n  nft: {a}\n  us : {b}\n", i + 1));
            }
        }
        panic!(
            "--format nft differs from `nft list ruleset` ({} vs {} lines):\n{report}",
            want.lines().count(),
            ours.lines().count()
        );
    }
}

#[test]
fn format_nft_with_legacy_backend_is_a_clear_error() {
    let out = nfprobe(&["ruleset", "--backend", "legacy", "--format", "nft"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--format nft needs --backend nft"), "{err}");
}

/// Issue 17's cases, printed exactly: ct helper, ct expectation and synproxy objects (and
/// their references), a counter object with a comment, `iif "lo"` by name, icmpv6 type 143,
/// anonymous maps in dnat/snat (with a concatenation), netdev chains on one device and on two.
#[test]
fn format_nft_prints_issue17_constructs_exactly() {
    let ns = Netns::new("clin17");
    let link = ns.sh("ip link add d0 type veth peer name d1");
    assert!(link.status.success(), "{link:?}");
    let corpus = include_str!("../../probe/tests/data/nft_issue17.nft");
    let load = ns.run("nft", &["-f", "-"], Some(corpus));
    assert!(
        load.status.success(),
        "nft -f: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    let want = ns.run("nft", &["list", "ruleset"], None);
    let want = String::from_utf8_lossy(&want.stdout).into_owned();
    assert!(want.contains("mld2-listener-report"), "{want}");
    let out = nfprobe(&["--netns", &ns.name, "ruleset", "--format", "nft"]);
    let ours = String::from_utf8_lossy(&out.stdout);
    assert_eq!(ours, want, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{out:?}");
}

/// What nfprobe cannot print exactly (here a `ct timeout` object, whose state timeouts it
/// does not model, and a rule using it) is one `# undecodable` line in its place, never a
/// partial block, and the command exits 1 as for the save format.
#[test]
fn format_nft_marks_what_it_cannot_render_and_exits_1() {
    let ns = Netns::new("clinftu");
    let corpus = "table inet t {\n  ct timeout to1 { protocol tcp; l3proto ip; policy = { established: 100, close: 5 }; }\n  chain c { type filter hook input priority 0; tcp dport 22 accept; ct timeout set \"to1\"; }\n}\n";
    let load = ns.run("nft", &["-f", "-"], Some(corpus));
    assert!(load.status.success(), "{load:?}");
    let want =
        String::from_utf8_lossy(&ns.run("nft", &["list", "ruleset"], None).stdout).into_owned();
    let out = nfprobe(&["--netns", &ns.name, "ruleset", "--format", "nft"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let ours = String::from_utf8_lossy(&out.stdout);
    assert!(
        ours.contains("\t# undecodable ct timeout object \"to1\""),
        "{ours}"
    );
    // Everything else is nft's text; the object's block is gone, not half printed.
    assert!(!ours.contains("policy = {"), "{ours}");
    assert!(ours.contains("\t\ttcp dport 22 accept\n"), "{ours}");
    assert!(want.contains("\t\tct timeout set \"to1\"\n"), "{want}");
    assert!(
        ours.contains("\t\tct timeout set \"to1\"\n"),
        "a reference to the object is printable: {ours}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not be rendered exactly"), "{err}");
}
