//! Issue 18 point 4: without a capability or kernel feature, each command says in one line
//! which one is missing, what it was needed for and what still works, exits 2, and changes
//! nothing on the host.
//!
//! The real binary runs under `setpriv` (util-linux) with one capability taken out of its
//! bounding set (CAP_SYS_ADMIN too where the kernel accepts it instead), under `unshare --user`
//! (capabilities of a user namespace of its own), and with `NFPROBE_BTF_PATH` /
//! `NFPROBE_DROP_TRACEPOINT` pointing at a BTF or tracepoint that is not there. Every refused
//! run is traced by strace: it made no bpf() object (map, program, link) and entered no
//! namespace. Needs root, iproute2, util-linux, strace, iptables, kernel BTF.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::bin_path::nfprobe_bin;

mod common;
use common::{TestNetns, require_root_and_btf};

/// What a refused `drops` leaves working here (CAP_SYSLOG and the drop probe's capabilities
/// are not needed by the firewall readers).
const DROPS_STILL: &str =
    "still works here: ruleset, check, collect, prove --dry-run, serve without drop counters";

/// One run of nfprobe and what it did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// strace's record of bpf(), setns() and unshare() calls.
    trace: String,
}

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        // Unique per call: the tests of this binary run at the same time.
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("nfp-privs-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the process is limited.
enum Limit<'a> {
    /// `setpriv --inh-caps=-all --bounding-set=-a,-b`.
    Drop(&'a [&'a str]),
    /// `unshare --user --map-root-user` (with `--net` when true: a network namespace of its
    /// own user namespace).
    UserNs { own_net: bool },
    /// Full root.
    None,
}

/// Run nfprobe (inside `ns` when given, entered by `ip netns exec` before the limits apply)
/// under strace, with `limit`, `env` and `args`.
fn run(ns: Option<&TestNetns>, limit: Limit<'_>, env: &[(&str, &str)], args: &[&str]) -> Run {
    let bin = nfprobe_bin().unwrap_or_else(|e| panic!("{e}"));
    let scratch = Scratch::new("trace");
    let trace_file = scratch.0.join("strace.out");
    let mut argv: Vec<String> = Vec::new();
    if let Some(ns) = ns {
        argv.extend(["ip", "netns", "exec", &ns.name].map(String::from));
    }
    argv.extend(["strace", "-f", "-qq", "-e", "trace=bpf,setns,unshare", "-o"].map(String::from));
    argv.push(trace_file.display().to_string());
    match limit {
        Limit::Drop(caps) => {
            let set: Vec<String> = caps.iter().map(|c| format!("-{c}")).collect();
            argv.extend(["setpriv", "--inh-caps=-all"].map(String::from));
            argv.push(format!("--bounding-set={}", set.join(",")));
        }
        Limit::UserNs { own_net } => {
            argv.extend(["unshare", "--user", "--map-root-user"].map(String::from));
            if own_net {
                argv.push("--net".into());
            }
        }
        Limit::None => {}
    }
    argv.push(bin.display().to_string());
    argv.extend(args.iter().map(|s| s.to_string()));
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {argv:?} (needs iproute2, strace, util-linux): {e}")
        });
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        trace: std::fs::read_to_string(&trace_file).unwrap_or_default(),
    }
}

/// Refused: exactly one line on stderr, exit 2, nothing on stdout, and no bpf() object made
/// nor namespace entered by nfprobe.
fn assert_refused(r: &Run, line: &str) {
    assert_eq!(r.code, Some(2), "{r:#?}");
    assert_eq!(r.stderr, format!("nfprobe: error: {line}\n"), "{r:#?}");
    assert_eq!(r.stdout, "", "{r:#?}");
    assert_touched_nothing(r);
}

fn assert_touched_nothing(r: &Run) {
    for call in [
        "BPF_MAP_CREATE",
        "BPF_PROG_LOAD",
        "BPF_LINK_CREATE",
        "BPF_RAW_TRACEPOINT_OPEN",
        "BPF_OBJ_PIN",
        "setns(",
    ] {
        assert!(
            !r.trace.contains(call),
            "a refused run called {call}:\n{}",
            r.trace
        );
    }
}

/// The interfaces of `ns` with their qdiscs, and what /sys/fs/bpf holds: what a drop probe
/// could leave behind.
fn host_state(ns: &TestNetns) -> (String, Vec<String>) {
    let tc = Command::new("tc")
        .args(["-n", &ns.name, "qdisc", "show"])
        .output()
        .expect("tc (iproute2)");
    let mut pinned: Vec<String> = std::fs::read_dir("/sys/fs/bpf")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    pinned.sort();
    (String::from_utf8_lossy(&tc.stdout).into_owned(), pinned)
}

/// A namespace with a veth pair (the drop probe's --iface target and tc hook point).
fn netns_with_veth(tag: &str) -> TestNetns {
    let ns = TestNetns::new(tag);
    common::ip(&[
        "-n", &ns.name, "link", "add", "pva", "type", "veth", "peer", "name", "pvb",
    ]);
    common::ip(&["-n", &ns.name, "link", "set", "pva", "up"]);
    common::ip(&["-n", &ns.name, "link", "set", "pvb", "up"]);
    ns
}

/// kernel.kptr_restrict=0 with perf_event_paranoid <= 1 shows kernel addresses to everyone.
fn kallsyms_open_to_all() -> bool {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
    };
    read("/proc/sys/kernel/kptr_restrict") == Some(0)
        && read("/proc/sys/kernel/perf_event_paranoid").is_some_and(|p| p <= 1)
}

#[test]
fn drops_names_each_missing_capability_and_leaves_nothing_behind() {
    require_root_and_btf();
    let ns = netns_with_veth("pdr");
    let before = host_state(&ns);
    let drops = ["drops", "--iface", "pva", "--duration", "1"];

    // CAP_SYS_ADMIN still stands in for CAP_BPF and CAP_PERFMON, so each goes with it.
    let r = run(Some(&ns), Limit::Drop(&["bpf", "sys_admin"]), &[], &drops);
    assert_refused(
        &r,
        &format!(
            "drops needs CAP_BPF (or CAP_SYS_ADMIN) to load its eBPF programs, and this \
             process lacks it; {DROPS_STILL}"
        ),
    );
    let r = run(
        Some(&ns),
        Limit::Drop(&["perfmon", "sys_admin"]),
        &[],
        &drops,
    );
    assert_refused(
        &r,
        &format!(
            "drops needs CAP_PERFMON (or CAP_SYS_ADMIN) to attach its eBPF program to the \
             kernel's drop tracepoint, and this process lacks it; {DROPS_STILL}"
        ),
    );
    let r = run(Some(&ns), Limit::Drop(&["syslog"]), &[], &drops);
    if kallsyms_open_to_all() {
        assert_eq!(r.code, Some(0), "kallsyms is open to all here: {r:#?}");
    } else {
        assert_refused(
            &r,
            &format!(
                "drops needs CAP_SYSLOG to read kernel addresses from /proc/kallsyms, and this \
                 process lacks it; {DROPS_STILL}"
            ),
        );
    }
    let tc = ["drops", "--tc", "--iface", "pva", "--duration", "1"];
    let r = run(
        Some(&ns),
        Limit::Drop(&["net_admin", "sys_admin"]),
        &[],
        &tc,
    );
    assert_refused(
        &r,
        "drops needs CAP_NET_ADMIN (or CAP_SYS_ADMIN) to attach the tc counters (--tc), and \
         this process lacks it; still works here: drops without --tc",
    );
    // Without only CAP_BPF (CAP_SYS_ADMIN kept) the kernel still lets it run: the up-front
    // check must not refuse what works.
    let r = run(Some(&ns), Limit::Drop(&["bpf"]), &[], &drops);
    assert_eq!(r.code, Some(0), "{r:#?}");
    assert!(r.stdout.contains("pva"), "{r:#?}");
    // The trace sees what a working run does (so its silence above means something).
    assert!(r.trace.contains("BPF_PROG_LOAD"), "{}", r.trace);
    assert_eq!(host_state(&ns), before, "something was left behind");
}

#[test]
fn firewall_readers_name_cap_net_admin_and_write_nothing() {
    require_root_and_btf();
    let ns = TestNetns::new("pfw");
    let scratch = Scratch::new("collect");
    let bundle = scratch.0.join("bundle.json");
    let bundle_arg = bundle.display().to_string();
    for (name, args) in [
        ("ruleset", vec!["ruleset"]),
        ("check", vec!["check"]),
        ("collect", vec!["collect", "--output", &bundle_arg]),
        ("serve", vec!["serve", "--listen", "127.0.0.1:0"]),
    ] {
        let r = run(Some(&ns), Limit::Drop(&["net_admin"]), &[], &args);
        assert_refused(
            &r,
            &format!(
                "{name} needs CAP_NET_ADMIN to read the firewall (nf_tables netlink, legacy \
                 tables), and this process lacks it; still works here: drops"
            ),
        );
    }
    assert!(
        !bundle.exists(),
        "a refused collect wrote {}",
        bundle.display()
    );
    // With CAP_NET_ADMIN it works.
    let r = run(Some(&ns), Limit::None, &[], &["ruleset"]);
    assert_eq!(r.code, Some(0), "{r:#?}");

    // A bundle with the kernel's sections needs no privilege to be checked: not refused up
    // front. One with Docker's state only makes check read the firewall live, and the
    // kernel's refusal is named in the same words.
    let r = run(
        Some(&ns),
        Limit::None,
        &[],
        &["collect", "--output", &bundle_arg],
    );
    assert_eq!(r.code, Some(0), "{r:#?}");
    let r = run(
        Some(&ns),
        Limit::Drop(&["net_admin"]),
        &[],
        &["check", "--docker-state", &bundle_arg],
    );
    assert!(matches!(r.code, Some(0 | 1)), "{r:#?}");
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("bundle JSON");
    for section in ["kernel", "iptables", "sysctls"] {
        b.as_object_mut().expect("object").remove(section);
    }
    let docker_only = scratch.0.join("docker-only.json");
    std::fs::write(&docker_only, b.to_string()).expect("write");
    let docker_only_arg = docker_only.display().to_string();
    let r = run(
        Some(&ns),
        Limit::Drop(&["net_admin"]),
        &[],
        &["check", "--docker-state", &docker_only_arg],
    );
    assert_refused(
        &r,
        "check needs CAP_NET_ADMIN to read the firewall (nf_tables netlink, legacy tables), and \
         this process lacks it; still works here: drops",
    );
}

#[test]
fn prove_names_what_its_drop_probe_lacks() {
    require_root_and_btf();
    if kallsyms_open_to_all() {
        return;
    }
    let ns = TestNetns::new("ppr");
    let r = run(Some(&ns), Limit::Drop(&["syslog"]), &[], &["prove"]);
    assert_refused(
        &r,
        &format!(
            "prove needs CAP_SYSLOG to read kernel addresses from /proc/kallsyms, and this \
             process lacks it; {DROPS_STILL}"
        ),
    );
}

#[test]
fn netns_without_cap_sys_admin_points_inside_the_namespace() {
    require_root_and_btf();
    let ns = netns_with_veth("pns");
    for (name, args) in [
        ("ruleset", vec!["--netns", &ns.name, "ruleset"]),
        ("features", vec!["--netns", &ns.name, "features"]),
        (
            "drops",
            vec![
                "--netns",
                &ns.name,
                "drops",
                "--iface",
                "pva",
                "--duration",
                "1",
            ],
        ),
    ] {
        // From the init namespace: setns is what needs CAP_SYS_ADMIN.
        let r = run(None, Limit::Drop(&["sys_admin"]), &[], &args);
        assert_refused(
            &r,
            &format!(
                "{name} needs CAP_SYS_ADMIN to enter another network namespace (--netns), and \
                 this process lacks it; without --netns it works: run it inside the namespace \
                 (ip netns exec NAME nfprobe {name} ...)"
            ),
        );
    }
}

#[test]
fn legacy_tables_without_cap_net_raw_name_it_from_the_kernels_refusal() {
    require_root_and_btf();
    let ns = TestNetns::new("prw");
    // A legacy table to read.
    ns.make_legacy_table("raw");
    // Not checked up front (only hosts with legacy tables need it): the kernel's EPERM on
    // the raw socket is what is translated.
    let r = run(
        Some(&ns),
        Limit::Drop(&["net_raw"]),
        &[],
        &["ruleset", "--backend", "legacy"],
    );
    assert_refused(
        &r,
        "ruleset needs CAP_NET_RAW to open the socket legacy ip_tables are read through, and \
         this process lacks it; still works here: drops",
    );
}

#[test]
fn in_a_user_namespace_capabilities_that_do_not_reach_the_kernel_are_named() {
    require_root_and_btf();
    let ns = netns_with_veth("pun");
    // The namespace belongs to the initial user namespace: its firewall is out of reach.
    let r = run(
        Some(&ns),
        Limit::UserNs { own_net: false },
        &[],
        &["ruleset"],
    );
    assert_refused(
        &r,
        "ruleset needs CAP_NET_ADMIN to read the firewall (nf_tables netlink, legacy tables), \
         and this process holds it only inside a user namespace of its own (a rootless or \
         unprivileged container), which the kernel does not accept for this; of nfprobe only \
         `features` works here (run it as root)",
    );
    let r = run(
        Some(&ns),
        Limit::UserNs { own_net: false },
        &[],
        &["drops", "--iface", "pva", "--duration", "1"],
    );
    assert_refused(
        &r,
        "drops needs CAP_BPF (or CAP_SYS_ADMIN) to load its eBPF programs, CAP_PERFMON (or \
         CAP_SYS_ADMIN) to attach its eBPF program to the kernel's drop tracepoint and \
         CAP_SYSLOG to read kernel addresses from /proc/kallsyms, and this process holds them \
         only inside a user namespace of its own (a rootless or unprivileged container), which \
         the kernel does not accept for this; of nfprobe only `features` works here (run it \
         as root)",
    );
    // With a network namespace of its own the firewall there is readable; entering the test
    // namespace is refused by the kernel (EPERM from setns, capabilities present) and named.
    let r = run(None, Limit::UserNs { own_net: true }, &[], &["ruleset"]);
    assert_eq!(r.code, Some(0), "{r:#?}");
    let r = run(
        None,
        Limit::UserNs { own_net: true },
        &[],
        &["--netns", &ns.name, "ruleset"],
    );
    assert_eq!(r.code, Some(2), "{r:#?}");
    assert_eq!(
        r.stderr,
        format!(
            "nfprobe: error: ruleset: the kernel refused to enter network namespace \
             /run/netns/{}: this process runs in a user namespace of its own (a rootless or \
             unprivileged container), and that network namespace belongs to another; without \
             --netns it works: run it inside the namespace (ip netns exec NAME nfprobe ruleset \
             ...)\n",
            ns.name
        ),
        "{r:#?}"
    );
}

#[test]
fn without_btf_drops_says_so_and_the_rest_still_works() {
    require_root_and_btf();
    let ns = netns_with_veth("pbt");
    let before = host_state(&ns);
    let scratch = Scratch::new("btf");
    let empty = scratch.0.join("empty");
    std::fs::write(&empty, b"").expect("empty file");
    let garbage = scratch.0.join("garbage");
    std::fs::write(&garbage, [b'x'; 64]).expect("garbage file");
    let drops = ["drops", "--iface", "pva", "--duration", "1"];
    for (file, why) in [
        (&empty, format!("{} is empty", empty.display())),
        (&garbage, "not a BTF blob (magic 0x7878)".to_owned()),
    ] {
        let path = file.display().to_string();
        let r = run(
            Some(&ns),
            Limit::None,
            &[("NFPROBE_BTF_PATH", &path)],
            &drops,
        );
        assert_refused(
            &r,
            &format!(
                "drops: the kernel's BTF cannot be read ({why}); drops needs BTF (a kernel built \
                 with CONFIG_DEBUG_INFO_BTF); {DROPS_STILL}"
            ),
        );
        // What it says still works does.
        let r = run(
            Some(&ns),
            Limit::None,
            &[("NFPROBE_BTF_PATH", &path)],
            &["ruleset"],
        );
        assert_eq!(r.code, Some(0), "{r:#?}");
    }
    let path = empty.display().to_string();
    let r = run(
        Some(&ns),
        Limit::None,
        &[("NFPROBE_BTF_PATH", &path)],
        &["features", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("features JSON");
    assert_eq!(v["btf"], serde_json::json!(false), "{v}");
    assert_eq!(host_state(&ns), before, "something was left behind");
    // Hidden from --help.
    let help = run(None, Limit::None, &[], &["--help"]);
    assert!(!help.stdout.contains("BTF_PATH"), "{}", help.stdout);
}

#[test]
fn without_the_tracepoint_drops_says_so() {
    require_root_and_btf();
    let ns = netns_with_veth("ptp");
    let before = host_state(&ns);
    let r = run(
        Some(&ns),
        Limit::None,
        &[("NFPROBE_DROP_TRACEPOINT", "nfprobe_no_such")],
        &["drops", "--iface", "pva", "--duration", "1"],
    );
    assert_refused(
        &r,
        &format!(
            "drops: the kernel has no tracepoint skb:nfprobe_no_such (its BTF lacks \
             btf_trace_nfprobe_no_such), where drops counts the kernel's drops; {DROPS_STILL}"
        ),
    );
    assert_eq!(host_state(&ns), before, "something was left behind");
}

#[test]
fn as_nobody_drops_names_all_it_lacks() {
    require_root_and_btf();
    // A copy `nobody` can run (the target dir may sit under /root).
    let scratch = Scratch::new("nobody");
    let copy = scratch.0.join("nfprobe");
    std::fs::copy(nfprobe_bin().unwrap_or_else(|e| panic!("{e}")), &copy).expect("copy");
    use std::os::unix::fs::PermissionsExt;
    for p in [&scratch.0, &copy] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // The other tests fork while the copy is being written: a child may hold its write fd
    // for a moment, and exec then fails with ETXTBSY. Try again then.
    let mut tries = 0;
    let out = loop {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&copy)
            .arg("drops")
            .output()
            .expect("this test needs setpriv (package util-linux)");
        tries += 1;
        if !String::from_utf8_lossy(&out.stderr).contains("Text file busy") || tries == 50 {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let syslog = if kallsyms_open_to_all() {
        ""
    } else {
        " and CAP_SYSLOG to read kernel addresses from /proc/kallsyms"
    };
    let and = if syslog.is_empty() { " and" } else { "," };
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "nfprobe: error: drops needs CAP_BPF (or CAP_SYS_ADMIN) to load its eBPF \
             programs{and} CAP_PERFMON (or CAP_SYS_ADMIN) to attach its eBPF program to the \
             kernel's drop tracepoint{syslog}, and this process lacks them; of nfprobe only \
             `features` works here (run it as root)\n"
        )
    );
}

/// `serve` goes on without its drop counters and says why in the same words.
#[test]
fn serve_without_the_drop_probe_names_why_and_serves_rules() {
    require_root_and_btf();
    let ns = TestNetns::new("psv");
    let bin = nfprobe_bin().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.name, "setpriv", "--inh-caps=-all"])
        .arg("--bounding-set=-bpf,-sys_admin")
        .arg(&bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let want = format!(
        "drop probe not started: drops needs CAP_BPF (or CAP_SYS_ADMIN) to load its eBPF \
         programs, and this process lacks it; {DROPS_STILL}; serving rule metrics only"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let hit = line.contains(&want);
                seen.push(line);
                if hit {
                    break true;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break false,
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    // Still serving: it did not exit.
    let alive = child.try_wait().expect("wait").is_none();
    // SAFETY: kill on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().expect("wait");
    assert!(found, "{want}\nnot in:\n{}", seen.join("\n"));
    assert!(alive, "serve exited: {}", seen.join("\n"));
    assert!(status.success(), "{status}: {}", seen.join("\n"));
}
