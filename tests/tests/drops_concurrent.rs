//! Issue 18 point 4: two `nfprobe drops` at once in the same namespace, and `serve` next to
//! `drops`: each counts every drop exactly (each loads its own programs and maps). The tc
//! counters of the clsact fallback cannot be shared (a filter is found by its program's name):
//! the second says so in one line and counts drops without them, and the first keeps its own.
//!
//! Real binaries, real drops (UDP to a closed port inside a test namespace). Needs root,
//! iproute2, kernel BTF.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use lab::bin_path::nfprobe_bin;
use lab::running::Running;
use nfprobe::kernel::netns::run_in;
use serde_json::Value;

mod common;
use common::{TestNetns, require_root_and_btf};

/// `ip netns exec NS nfprobe ARGS`, once a stderr line contains `ready`.
fn start(ns: &TestNetns, args: &[&str], ready: &str) -> Running {
    let bin = nfprobe_bin().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name]).arg(&bin).args(args);
    let mut r = Running::spawn(cmd);
    r.wait_for(ready);
    r
}

/// SIGTERM, a clean exit, its stdout.
fn stop(mut r: Running) -> String {
    let (status, out) = r.stop();
    assert!(status.success(), "{status}: {}", r.seen.join("\n"));
    out
}

/// NO_SOCKET packets on `lo` in a `drops --json` summary (its last line).
fn no_socket_on_lo(stdout: &str) -> u64 {
    let last = stdout.lines().last().expect("a summary line");
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}"));
    v["drops"]
        .as_array()
        .expect("drops")
        .iter()
        .filter(|r| r["iface"] == "lo" && r["reason"] == "NO_SOCKET")
        .map(|r| r["packets"].as_u64().expect("packets"))
        .sum()
}

const DROPS: [&str; 4] = ["drops", "--json", "--iface", "lo"];
const WATCHING: &str = "nfprobe drops: watching";

#[test]
fn two_drops_at_once_both_count_every_drop() {
    require_root_and_btf();
    let ns = TestNetns::new("cc2");
    for extra in [&[][..], &["--tc"][..]] {
        let args: Vec<&str> = DROPS.iter().chain(extra).copied().collect();
        let a = start(&ns, &args, WATCHING);
        let b = start(&ns, &args, WATCHING);
        // With --tc each has its own tcx links: neither was refused its tc counters (the
        // warnings come before the `watching` line).
        for r in [&a, &b] {
            assert!(
                !r.seen.iter().any(|l| l.contains("no tc counters")),
                "{extra:?}: {}",
                r.seen.join("\n")
            );
        }
        const N: u32 = 41;
        ns.udp_to_closed_port(N);
        std::thread::sleep(Duration::from_millis(300));
        let out_a = stop(a);
        let out_b = stop(b);
        assert_eq!(
            no_socket_on_lo(&out_a),
            u64::from(N),
            "{extra:?} first: {out_a}"
        );
        assert_eq!(
            no_socket_on_lo(&out_b),
            u64::from(N),
            "{extra:?} second: {out_b}"
        );
    }
}

fn filters(ns: &TestNetns, dev: &str) -> String {
    let out = Command::new("tc")
        .args(["-n", &ns.name, "filter", "show", "dev", dev, "ingress"])
        .output()
        .expect("tc (iproute2)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_second_drops_on_clsact_says_it_cannot_share_and_leaves_the_first_alone() {
    require_root_and_btf();
    let ns = TestNetns::new("ccc");
    common::ip(&[
        "-n", &ns.name, "link", "add", "cca", "type", "veth", "peer", "name", "ccb",
    ]);
    common::ip(&["-n", &ns.name, "link", "set", "cca", "up"]);
    common::ip(&["-n", &ns.name, "link", "set", "ccb", "up"]);
    let args = [
        "drops",
        "--json",
        "--tc",
        "--force-clsact",
        "--iface",
        "cca",
    ];
    let a = start(&ns, &args, WATCHING);
    let first = filters(&ns, "cca");
    assert!(first.contains("nfp_tc_in"), "{first}");
    let mut b = start(&ns, &args, WATCHING);
    let line = b.wait_for("no tc counters on cca");
    assert!(
        line.ends_with(&format!(
            "no tc counters on cca: another nfprobe (pid {}) has its tc counters on cca as \
             clsact filters, and two cannot share them (each would remove the other's); this \
             one counts drops there without them",
            a.pid()
        )),
        "{line}"
    );
    let warned = b
        .seen
        .iter()
        .filter(|l| l.contains("no tc counters"))
        .count();
    stop(b);
    assert_eq!(warned, 1, "said once");
    // The first's filters are the same ones, before and after the second ran.
    assert_eq!(filters(&ns, "cca"), first);
    stop(a);
    assert!(!filters(&ns, "cca").contains("nfp_tc"), "left behind");
}

/// GET /metrics from inside `ns`.
fn scrape(ns: &TestNetns, addr: &str) -> String {
    let addr = addr.to_owned();
    run_in(Some(&ns.spec), move || {
        let mut s = TcpStream::connect(&addr).expect("connect to serve");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("response");
        body
    })
    .expect("enter netns")
}

/// The value of `nfprobe_drops_total` for NO_SOCKET on lo.
fn serve_no_socket_on_lo(metrics: &str) -> Option<u64> {
    metrics
        .lines()
        .filter(|l| l.starts_with("nfprobe_drops_total{"))
        .filter(|l| l.contains("interface=\"lo\"") && l.contains("reason=\"NO_SOCKET\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .reduce(|a, b| a + b)
}

#[test]
fn serve_and_drops_at_once_both_count_every_drop() {
    require_root_and_btf();
    let ns = TestNetns::new("ccs");
    let mut serve = start(
        &ns,
        &["serve", "--listen", "127.0.0.1:0", "--iface", "lo"],
        "listening on http://",
    );
    let line = serve.wait_for("listening on http://");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.strip_suffix("/metrics"))
        .expect("address")
        .to_owned();
    // The probe is up once the metrics say so.
    let deadline = Instant::now() + Duration::from_secs(90);
    let up = |m: &str| {
        m.lines().any(|l| {
            l.starts_with("nfprobe_drop_probe_up")
                && l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) == Some(1.0)
        })
    };
    while !up(&scrape(&ns, &addr)) {
        assert!(
            Instant::now() < deadline,
            "serve's drop probe never came up"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let drops = start(&ns, &DROPS, WATCHING);
    const N: u32 = 29;
    ns.udp_to_closed_port(N);
    std::thread::sleep(Duration::from_millis(300));
    let out = stop(drops);
    assert_eq!(no_socket_on_lo(&out), u64::from(N), "{out}");
    // serve reads its counters each second.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = scrape(&ns, &addr);
        let got = serve_no_socket_on_lo(&m);
        if got == Some(u64::from(N)) {
            break;
        }
        let drops: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("nfprobe_drop"))
            .collect();
        assert!(
            Instant::now() < deadline,
            "serve counts {got:?}, not {N}:\n{}",
            drops.join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    stop(serve);
}
