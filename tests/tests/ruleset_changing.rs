//! `nfprobe ruleset --format json` and `--format nft` stream big rulesets as they are read
//! (issue 18). While the ruleset keeps changing: a big read has already written part of its
//! text when the change is found, so it must fail (exit 2, saying so on stderr) and leave a
//! text no reader takes for a complete one; a small read is held and read again, so it
//! prints one consistent text or nothing. Real kernel, a private namespace, `nft` changing
//! the ruleset in a loop.

mod xt_support;

use std::fmt::Write as _;
use std::process::{Child, Command, Output, Stdio};

use nfprobe::ruleset::{Backend, Family, json, nft_text, read};
use xt_support::Netns;

/// Rules in the big ruleset: its JSON (about 600 bytes a rule) and its nft text (about 120)
/// are both well past the 4 MiB a streamed read holds before writing.
const BIG: usize = 40_000;

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn load(ns: &Netns, rules: usize) {
    let mut t =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    let chains = (rules / 40).max(1);
    for c in 0..chains {
        let _ = writeln!(t, ":SVC-{c:05} - [0:0]");
    }
    // A big built-in chain too (megabytes of messages and of JSON): read in parts and
    // written in batches.
    for i in 0..rules / 4 {
        let _ = writeln!(
            t,
            "-A FORWARD -s 10.{}.{}.{}/32 -m comment --comment \"fwd-{i}\" -j ACCEPT",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        );
    }
    for i in 0..rules {
        let (a, b) = ((i / 250) % 250, i % 250);
        let _ = writeln!(
            t,
            "-A SVC-{:05} -d 10.96.{a}.{b}/32 -p tcp -m comment --comment \"ns/svc-{i}\" -m tcp --dport {} -j ACCEPT",
            i % chains,
            1024 + i % 60000
        );
    }
    t.push_str("COMMIT\n");
    ok(
        &ns.run("iptables-nft-restore", &[], Some(&t)),
        "iptables-nft-restore",
    );
}

/// `nft` adding and deleting a table in a loop inside `ns` (each a new generation), until
/// dropped.
struct Churn(Child);

impl Churn {
    fn start(ns: &Netns) -> Churn {
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "sh", "-c"])
            .arg("while :; do nft add table ip churn; nft delete table ip churn; done")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prerequisite missing: ip, sh, nft");
        // Let it get going.
        std::thread::sleep(std::time::Duration::from_millis(200));
        Churn(child)
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Exit 0, or 1: read, some rules marked undecodable (`--format nft` marks xt matches it
/// does not translate).
fn read_ok(out: &Output) -> bool {
    matches!(out.status.code(), Some(0 | 1))
}

fn nfprobe(ns: &Netns, format: &str) -> Output {
    let bin = lab::bin_path::nfprobe_bin().expect("the nfprobe binary");
    Command::new(bin)
        .args(["--netns", &ns.name, "ruleset", "--format", format])
        .output()
        .expect("running nfprobe")
}

/// The text is a whole document: JSON that parses, or nft text whose tables are closed.
fn complete(format: &str, text: &[u8]) -> bool {
    match format {
        "json" => serde_json::from_slice::<serde_json::Value>(text).is_ok(),
        _ => {
            let t = String::from_utf8_lossy(text);
            let opened = t.lines().filter(|l| l.starts_with("table ")).count();
            let closed = t.lines().filter(|l| *l == "}").count();
            opened > 0 && opened == closed
        }
    }
}

#[test]
fn a_big_read_of_a_changing_ruleset_fails_clearly() {
    let ns = Netns::new("chg");
    load(&ns, BIG);
    for format in ["json", "nft"] {
        let quiet = nfprobe(&ns, format);
        assert!(
            read_ok(&quiet),
            "{format}: {}",
            String::from_utf8_lossy(&quiet.stderr)
        );
        assert!(
            complete(format, &quiet.stdout),
            "{format}: quiet read incomplete"
        );
        assert!(
            quiet.stdout.len() > 4 << 20,
            "{format}: {} bytes only",
            quiet.stdout.len()
        );
        if format == "json" {
            // The very document of the whole model (chains of every size).
            let rs = read::read(Some(&ns.spec()), Backend::Nft, Family::Ipv4).expect("model");
            let (model, _) = json::write_ruleset(Vec::new(), &rs).expect("model's JSON");
            assert!(
                quiet.stdout == model,
                "the streamed JSON differs from the model's"
            );
        } else {
            // The very text of the whole snapshot's rendering.
            let snap = nfprobe::kernel::nft::read_ruleset(Some(&ns.spec())).expect("snapshot");
            let links = nfprobe::kernel::link::snapshot(Some(&ns.spec())).expect("links");
            let names =
                nft_text::Ifnames::from_pairs(links.links.into_iter().map(|l| (l.ifindex, l.name)));
            let whole = nft_text::ruleset_named(&snap, &names);
            assert!(
                quiet.stdout == whole.as_bytes(),
                "the streamed nft text differs from the whole snapshot's"
            );
        }

        let churn = Churn::start(&ns);
        let busy = nfprobe(&ns, format);
        drop(churn);
        let err = String::from_utf8_lossy(&busy.stderr);
        assert_eq!(busy.status.code(), Some(2), "{format}: {err}");
        assert!(
            err.contains("changed while it was being written") && err.contains("run again"),
            "{format}: {err}"
        );
        assert!(
            !busy.stdout.is_empty() && !complete(format, &busy.stdout),
            "{format}: a read that saw a change printed a complete text ({} bytes)",
            busy.stdout.len()
        );
    }
}

#[test]
fn a_small_read_of_a_changing_ruleset_is_consistent_or_nothing() {
    let ns = Netns::new("chgs");
    load(&ns, 200);
    let _churn = Churn::start(&ns);
    for format in ["json", "nft"] {
        for _ in 0..5 {
            let out = nfprobe(&ns, format);
            let err = String::from_utf8_lossy(&out.stderr);
            if read_ok(&out) {
                assert!(complete(format, &out.stdout), "{format}: incomplete text");
            } else {
                // Read again and again, the ruleset never held still: nothing printed.
                assert_eq!(out.status.code(), Some(2), "{format}: {err}");
                assert!(err.contains("kept changing"), "{format}: {err}");
                assert!(out.stdout.is_empty(), "{format}: printed a partial text");
            }
        }
    }
}
