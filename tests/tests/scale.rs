//! At scale, bounded: 100,000 iptables rules in 10,000 chains (nf_tables and legacy xtables)
//! plus a 100,000-element nf_tables set and a 100,000-element ipset, loaded into a private
//! namespace, then read by every command that reads rulesets (`ruleset` in each format and
//! backend, `check --json`, `collect`). Each run's peak RSS (getrusage of the child) must stay
//! under [`BOUND_MIB`]; where the bound comes from: docs/benchmarks.md, "ruleset JSON".
//! Not timed (timings belong to `cargo xtask bench ruleset`).

mod xt_support;

use std::fmt::Write as _;
use std::process::Command;

use xt_support::Netns;

/// Peak RSS bound of one command on this ruleset, MiB. The streamed commands measure 5-75
/// MiB here (docs/benchmarks.md, "ruleset JSON"): the bound is above the largest (`check`,
/// 75 MiB, most of it the legacy table blob the kernel hands over whole) with room for
/// allocator and kernel variation, and far below a whole-model read (the JSON document built
/// from the model took 1,047 MiB at 100k rules). `collect` (328 MiB) is not under it yet.
const BOUND_MIB: u64 = 150;

const RULES: usize = 100_000;
const CHAINS: usize = 10_000;
const SET_ELEMENTS: usize = 100_000;

/// iptables-restore input: `CHAINS` user chains in filter, each jumped to from FORWARD,
/// `RULES` rules in all (Kubernetes-like: comments, compat matches, ports, marks), one of
/// them matching the ipset `big`.
fn restore_input() -> String {
    restore_input_of(RULES, CHAINS)
}

/// [`restore_input`] with `rules` rules in `chains` chains.
fn restore_input_of(rules: usize, chains: usize) -> String {
    let mut t =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for c in 0..chains {
        let _ = writeln!(t, ":SVC-{c:05} - [0:0]");
    }
    let mut n = 0;
    for c in 0..chains {
        let _ = writeln!(
            t,
            "-A FORWARD -m comment --comment \"ns{c}/svc\" -j SVC-{c:05}"
        );
        n += 1;
    }
    let _ = writeln!(t, "-A INPUT -m set --match-set big src -j DROP");
    n += 1;
    let mut i = 0usize;
    while n < rules {
        let c = i % chains;
        let (a, b) = ((i / 250) % 250, i % 250);
        let port = 1024 + (i % 60000);
        let _ = match i % 4 {
            0 => writeln!(
                t,
                "-A SVC-{c:05} -d 10.96.{a}.{b}/32 -p tcp -m comment --comment \"ns{c}/svc-{i}\" -m tcp --dport {port} -j ACCEPT"
            ),
            1 => writeln!(t, "-A SVC-{c:05} -m conntrack --ctstate INVALID -j DROP"),
            2 => writeln!(
                t,
                "-A SVC-{c:05} -i eth0 -o br-{c:08x} -m mark --mark 0x4000/0x4000 -j ACCEPT"
            ),
            _ => writeln!(
                t,
                "-A SVC-{c:05} ! -s 10.244.0.0/16 -p udp -m udp --dport {port} -j RETURN"
            ),
        };
        n += 1;
        i += 1;
    }
    t.push_str("COMMIT\n");
    t
}

/// An nf_tables table of its own with a 100k-element set and a rule using it.
fn nft_set_input() -> String {
    let mut t =
        String::from("table inet scale {\n  set big {\n    type ipv4_addr\n    elements = { ");
    for i in 0..SET_ELEMENTS {
        if i > 0 {
            t.push_str(", ");
        }
        let _ = write!(t, "10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
    }
    t.push_str(" }\n  }\n  chain input {\n    type filter hook input priority 0; policy accept;\n    ip saddr @big drop\n  }\n}\n");
    t
}

fn ipset_input() -> String {
    let mut t = format!("create big hash:ip maxelem {}\n", SET_ELEMENTS * 2);
    for i in 0..SET_ELEMENTS {
        let _ = writeln!(t, "add big 10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
    }
    t
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs nfprobe with `args` (stdout discarded) and returns its exit code and peak RSS (KiB),
/// from the getrusage of the waited child (/usr/bin/time reads the same wait4 rusage).
fn peak(args: &[&str]) -> (i32, u64, String) {
    let bin = lab::bin_path::nfprobe_bin().expect("the nfprobe binary");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "maxrss=%M"])
        .arg(bin)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()
        .expect("prerequisite missing: /usr/bin/time (apt-get install time)");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("maxrss="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss from /usr/bin/time: {err}"));
    // /usr/bin/time passes the child's exit code on.
    (out.status.code().unwrap_or(-1), rss, err)
}

/// The namespace with the whole scale ruleset loaded (checked to hold all its rules).
fn loaded() -> Netns {
    let ns = Netns::new("scale");
    ok(
        &ns.run("ipset", &["restore"], Some(&ipset_input())),
        "ipset restore",
    );
    let rules = restore_input();
    ok(
        &ns.run("iptables-nft-restore", &[], Some(&rules)),
        "iptables-nft-restore",
    );
    ok(
        &ns.run("iptables-legacy-restore", &[], Some(&rules)),
        "iptables-legacy-restore",
    );
    ok(
        &ns.run("nft", &["-f", "-"], Some(&nft_set_input())),
        "nft -f",
    );
    // The rules are really there (the reads below are not reading an empty ruleset).
    for save in ["iptables-legacy-save", "iptables-nft-save"] {
        let out = ns.run(save, &[], None);
        ok(&out, save);
        let lines = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("-A "))
            .count();
        assert_eq!(lines, RULES, "{save}");
    }
    ns
}

/// Runs each `nfprobe ARGS` in `ns` and asserts its peak RSS is under [`BOUND_MIB`].
/// `{ns}` in ARGS is the namespace, `{out}` a scratch file (checked to be written).
fn assert_bounded(ns: &Netns, runs: &[&[&str]]) {
    let dir = std::env::temp_dir().join(format!("nfpx-scale-{}-{}", std::process::id(), ns.name));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("out.json");
    let out_s = out_file.to_string_lossy().into_owned();
    let mut report = String::new();
    let mut over = Vec::new();
    for args in runs {
        let args: Vec<&str> = args
            .iter()
            .map(|a| match *a {
                "{ns}" => ns.name.as_str(),
                "{out}" => out_s.as_str(),
                a => a,
            })
            .collect();
        let (code, kib, err) = peak(&args);
        let what = args[2..].join(" ");
        assert!(
            code == 0 || code == 1,
            "`nfprobe {what}` failed (exit {code}): {err}"
        );
        let _ = writeln!(report, "{what}: {:.1} MiB", kib as f64 / 1024.0);
        if kib > BOUND_MIB * 1024 {
            over.push(what);
        }
    }
    eprintln!("{report}");
    let wrote = runs.iter().any(|a| a.contains(&"{out}"));
    let len = std::fs::metadata(&out_file).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!wrote || len > 0, "nothing written to the output file");
    assert!(
        over.is_empty(),
        "peak RSS above {BOUND_MIB} MiB for {over:?}:\n{report}"
    );
}

const NO_DOCKER: &str = "unix:///nonexistent/nfprobe-scale.sock";

#[test]
fn ruleset_and_check_stay_bounded_at_100k_rules() {
    let ns = loaded();
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for backend in ["nft", "legacy"] {
        for family in ["ipv4", "ipv6"] {
            for format in ["save", "json"] {
                runs.push(vec![
                    "--netns",
                    "{ns}",
                    "ruleset",
                    "--backend",
                    backend,
                    "--family",
                    family,
                    "--format",
                    format,
                ]);
            }
        }
    }
    runs.push(vec![
        "--netns",
        "{ns}",
        "check",
        "--json",
        "--docker-host",
        NO_DOCKER,
    ]);
    let runs: Vec<&[&str]> = runs.iter().map(Vec::as_slice).collect();
    assert_bounded(&ns, &runs);
}

/// `collect` keeps the model of every rule of every ruleset for the bundle (328 MiB here):
/// not bounded yet (issue 18). `--format nft` streams chain by chain (tests below).
#[test]
#[ignore = "issue 18: collect still holds the whole model of every ruleset"]
fn collect_stays_bounded_at_100k_rules() {
    let ns = loaded();
    assert_bounded(
        &ns,
        &[&[
            "--netns",
            "{ns}",
            "collect",
            "--docker-host",
            NO_DOCKER,
            "-o",
            "{out}",
        ]],
    );
}

#[test]
fn nft_text_stays_bounded_at_100k_rules() {
    let ns = loaded();
    assert_bounded(&ns, &[&["--netns", "{ns}", "ruleset", "--format", "nft"]]);
}

/// Growth bound of the streamed nf_tables reads: peak RSS at 100k rules / 10k chains within
/// this factor of the same command's at 50k rules / 5k chains (both with the 100k-element
/// set). Nothing is held per rule (one chain part of 1 MiB per dump thread, 1 MiB of text
/// ahead, the first 4 MiB of output); what still grows is per chain (the snapshot's chain
/// list and the writer's plan, about 700 bytes a chain): measured 1.19x-1.22x for JSON and
/// 1.04x for nft text against the 1.2x target (docs/benchmarks.md, "scale"). Holding the
/// rules (or their text) gives 1.6x and more: this bound catches that.
const GROWTH: f64 = 1.3;

/// `ruleset --format json` and `--format nft` on an nf_tables host: twice the rules, (nearly)
/// the same peak RSS. `check --json` is measured too (bounded, not flat: see below).
#[test]
fn ruleset_json_nft_and_check_scale_flat() {
    let small = loaded_nft_with_ipset(RULES / 2, CHAINS / 2);
    let big = loaded_nft_with_ipset(RULES, CHAINS);
    // (args, growth asserted). `check` keeps the model of every rule of the built-in chains
    // and Docker's (what the audit compares), and FORWARD holds one jump per chain here: it
    // grows with them (reported, bounded by BOUND_MIB only).
    let runs: [(&[&str], bool); 3] = [
        (&["ruleset", "--format", "json"], true),
        (&["ruleset", "--format", "nft"], true),
        (&["check", "--json", "--docker-host", NO_DOCKER], false),
    ];
    let mut report = String::new();
    let mut over = Vec::new();
    for (args, flat) in runs {
        let mut kib = [0u64; 2];
        for (i, ns) in [&small, &big].into_iter().enumerate() {
            let mut a = vec!["--netns", ns.name.as_str()];
            a.extend_from_slice(args);
            let (code, k, err) = peak(&a);
            assert!(
                code == 0 || code == 1,
                "`nfprobe {}` failed (exit {code}): {err}",
                a.join(" ")
            );
            kib[i] = k;
        }
        let what = args.join(" ");
        let ratio = kib[1] as f64 / kib[0] as f64;
        let _ = writeln!(
            report,
            "{what}: {:.1} MiB at {}k rules, {:.1} MiB at {}k ({ratio:.2}x)",
            kib[0] as f64 / 1024.0,
            RULES / 2000,
            kib[1] as f64 / 1024.0,
            RULES / 1000
        );
        if (flat && ratio > GROWTH) || kib[1] > BOUND_MIB * 1024 {
            over.push(what);
        }
    }
    eprintln!("{report}");
    assert!(
        over.is_empty(),
        "peak RSS grows more than {GROWTH}x with the ruleset (or is above {BOUND_MIB} MiB) for {over:?}:\n{report}"
    );
}

/// A namespace with `rules` iptables-nft rules in `chains` chains (one matching the big
/// ipset), the ipset and the big nf_tables set: no legacy rules.
fn loaded_nft_with_ipset(rules: usize, chains: usize) -> Netns {
    let ns = Netns::new("scalef");
    ok(
        &ns.run("ipset", &["restore"], Some(&ipset_input())),
        "ipset restore",
    );
    ok(
        &ns.run(
            "iptables-nft-restore",
            &[],
            Some(&restore_input_of(rules, chains)),
        ),
        "iptables-nft-restore",
    );
    ok(
        &ns.run("nft", &["-f", "-"], Some(&nft_set_input())),
        "nft -f",
    );
    ns
}
