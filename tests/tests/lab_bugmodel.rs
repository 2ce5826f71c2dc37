//! The iptables-1.8.11-bug-model wrapper, used standalone in a scratch netns, answers `-C` and
//! deletes with `-D` exactly as the reference (docker-firewall.md a.4, f) says iptables-nft 1.8.11
//! does, while the real iptables in the same netns answers correctly.

use lab::bugmodel;
use lab::scratch::Scratch;

/// Exit code of `prog args` run inside the scratch netns.
fn rc(s: &Scratch, prog: &str, args: &[&str]) -> i32 {
    let out = s.netns().cmd(prog).args(args).output().unwrap();
    out.status.code().unwrap_or(-1)
}

fn scratch() -> Scratch {
    lab::core::cleanup_stale();
    Scratch::new().unwrap_or_else(|e| panic!("scratch netns: {e:#}"))
}

#[test]
fn lab_bugmodel_check_ignores_interface_names_like_1_8_11() {
    let s = scratch();
    let model = bugmodel::script_path();
    let model = model.to_str().unwrap();
    s.run("iptables-nft", &["-N", "test"]).unwrap();
    s.run(
        "iptables-nft",
        &["-A", "test", "-i", "lo", "!", "-o", "lo", "-j", "REJECT"],
    )
    .unwrap();
    // (rule args, buggy 1.8.11 answer, fixed answer): the reference's a.4 table.
    let cases: &[(&[&str], i32, i32)] = &[
        (
            &["-i", "abcdefgh", "!", "-o", "abcdefgh", "-j", "REJECT"],
            0,
            1,
        ),
        (&["!", "-o", "abcdefgh", "-j", "REJECT"], 0, 1),
        (&["-i", "abcdefgh", "-o", "abcdefgh", "-j", "REJECT"], 1, 1),
        (&["-j", "REJECT"], 1, 1),
        (&["-i", "lo", "!", "-o", "lo", "-j", "REJECT"], 0, 0),
        (
            &["-i", "lo", "!", "-o", "lo", "-p", "tcp", "-j", "REJECT"],
            1,
            1,
        ),
    ];
    for (rule, buggy, fixed) in cases {
        let mut args = vec!["-C", "test"];
        args.extend_from_slice(rule);
        assert_eq!(rc(&s, model, &args), *buggy, "model -C {rule:?}");
        assert_eq!(rc(&s, "iptables-nft", &args), *fixed, "real -C {rule:?}");
    }
    // Docker's shape: the hairpin MASQUERADE of another bridge "exists"; option order and
    // --wait do not matter.
    s.run(
        "iptables-nft",
        &[
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            "br-aaaaaaaaaaaa",
            "-m",
            "addrtype",
            "--src-type",
            "LOCAL",
            "-j",
            "MASQUERADE",
        ],
    )
    .unwrap();
    let docker_args = [
        "--wait",
        "-t",
        "nat",
        "-C",
        "POSTROUTING",
        "-m",
        "addrtype",
        "--src-type",
        "LOCAL",
        "-o",
        "br-bbbbbbbbbbbb",
        "-j",
        "MASQUERADE",
    ];
    assert_eq!(rc(&s, model, &docker_args), 0);
    assert_eq!(rc(&s, "iptables-nft", &docker_args), 1);
    // A missing chain is the real error, not a lie.
    assert_eq!(rc(&s, model, &["-C", "NOPE", "-j", "ACCEPT"]), 1);
    s.down().unwrap();
}

#[test]
fn lab_bugmodel_delete_removes_the_first_look_alike_and_ip6tables_is_modelled() {
    let s = scratch();
    let bin = bugmodel::install_bin_dir(&s.dir().join("bin")).unwrap();
    let ipt = bin.join("iptables");
    let ip6t = bin.join("ip6tables");
    let (ipt, ip6t) = (ipt.to_str().unwrap(), ip6t.to_str().unwrap());
    // Everything but -C/-D RULE passes through: -N, -A, -S.
    s.run(ipt, &["-N", "DOCKER-FORWARD"]).unwrap();
    s.run(
        ipt,
        &["-A", "DOCKER-FORWARD", "-i", "br-first", "-j", "ACCEPT"],
    )
    .unwrap();
    s.run(
        ipt,
        &["-A", "DOCKER-FORWARD", "-i", "br-second", "-j", "ACCEPT"],
    )
    .unwrap();
    // Docker's setIcc deletes `-i BR -o BR -j ACCEPT` for a new network: 1.8.11 deletes the
    // first network's rule instead.
    s.run(
        ipt,
        &[
            "--wait",
            "-D",
            "DOCKER-FORWARD",
            "-i",
            "br-third",
            "-o",
            "br-third",
            "-j",
            "ACCEPT",
        ],
    )
    .unwrap();
    let left = s.run(ipt, &["-S", "DOCKER-FORWARD"]).unwrap();
    assert!(!left.contains("br-first"), "{left}");
    assert!(
        left.contains("-A DOCKER-FORWARD -i br-second -j ACCEPT"),
        "{left}"
    );
    // Delete by number is untouched.
    s.run(ipt, &["-D", "DOCKER-FORWARD", "1"]).unwrap();
    assert!(
        !s.run(ipt, &["-S", "DOCKER-FORWARD"])
            .unwrap()
            .contains("br-second")
    );
    // ip6tables (picked by the name it is called by): the reference's docker0 example.
    s.run("ip6tables-nft", &["-N", "test"]).unwrap();
    s.run(
        "ip6tables-nft",
        &["-A", "test", "-o", "docker0", "-j", "DROP"],
    )
    .unwrap();
    assert_eq!(
        rc(
            &s,
            "ip6tables-nft",
            &["-C", "test", "-o", "br-x", "-j", "DROP"]
        ),
        1
    );
    assert_eq!(rc(&s, ip6t, &["-C", "test", "-o", "br-x", "-j", "DROP"]), 0);
    s.run(ip6t, &["-D", "test", "-o", "br-x", "-j", "DROP"])
        .unwrap();
    assert_eq!(
        s.run("ip6tables-nft", &["-S", "test"]).unwrap().trim(),
        "-N test"
    );
    // Outside a named netns (here: the init one) it refuses, before touching anything.
    let out = std::process::Command::new(bugmodel::script_path())
        .args(["-S"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing"));
    // The script says what it is.
    let text = std::fs::read_to_string(bugmodel::script_path()).unwrap();
    assert!(text.lines().nth(1).unwrap().contains("NOT a real iptables"));
    let state = s.state().clone();
    s.down().unwrap();
    lab::testing::assert_nothing_left(&state);
}

/// Drive Docker 28.0.1's check-then-act calls through `iptables` (a path) inside the scratch
/// netns, as dockerd would: `--wait -t T -C ...`, then `-A`/`-I`/`-D` by the answer.
fn replay_docker_calls(s: &Scratch, iptables: &str, ops: &[lab::docker28::Op]) {
    use lab::docker28::Op;
    let check = |r: &lab::docker28::Rule| {
        let mut a = vec!["--wait".to_owned()];
        a.extend(Op::args(r, "-C"));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        rc(s, iptables, &a) == 0
    };
    let act = |r: &lab::docker28::Rule, cmd: &str| {
        let mut a = vec!["--wait".to_owned()];
        a.extend(Op::args(r, cmd));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        s.run(iptables, &a).unwrap();
    };
    for op in ops {
        match op {
            Op::NewChain { table, chain } => {
                if rc(s, iptables, &["-t", table.name(), "-n", "-L", chain]) != 0 {
                    s.run(iptables, &["-t", table.name(), "-N", chain]).unwrap();
                }
            }
            Op::Append(r) => {
                if !check(r) {
                    act(r, "-A");
                }
            }
            Op::Insert(r) => {
                if !check(r) {
                    act(r, "-I");
                }
            }
            Op::Delete(r) => {
                if check(r) {
                    act(r, "-D");
                }
            }
            Op::EnsureJump(r) => {
                if check(r) {
                    act(r, "-D");
                }
                act(r, "-I");
            }
        }
    }
}

type Chains = std::collections::BTreeMap<(String, String), Vec<String>>;

fn chains_of_save(save: &str) -> Chains {
    let mut m = Chains::new();
    let mut table = String::new();
    for line in save.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_owned();
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let (chain, spec) = rest.split_once(' ').unwrap();
            m.entry((table.clone(), chain.to_owned()))
                .or_default()
                .push(spec.to_owned());
        }
    }
    m
}

fn chains_of_model(rs: &lab::docker28::Ruleset) -> Chains {
    let mut m = Chains::new();
    for c in &rs.chains {
        if !c.rules.is_empty() {
            m.insert(
                (c.table.name().to_owned(), c.name.clone()),
                c.rules.iter().map(|r| r.spec.clone()).collect(),
            );
        }
    }
    m
}

#[test]
fn lab_bugmodel_docker_28_calls_through_real_iptables_and_bug_model_match_the_rust_model() {
    use lab::docker28::{Compare, NetSpec, PortSpec, docker_28_0_1, docker_28_0_1_calls};
    use lab::{Ipv4Net, Proto};
    let nets: Vec<NetSpec> = ["docker0", "br-0123456789ab", "br-ba9876543210"]
        .iter()
        .enumerate()
        .map(|(i, b)| NetSpec {
            bridge: (*b).to_owned(),
            subnet: format!("172.{}.0.0/16", 17 + i).parse::<Ipv4Net>().unwrap(),
        })
        .collect();
    let ports: Vec<PortSpec> = (0..nets.len())
        .map(|i| PortSpec {
            network: i,
            container_ip: format!("172.{}.0.2", 17 + i).parse().unwrap(),
            host_port: 8000 + 10 * i as u16,
            container_port: 80,
            proto: Proto::Tcp,
        })
        .collect();
    let calls = docker_28_0_1_calls(&nets, &ports);
    let runs = [
        ("iptables-nft".to_owned(), Compare::Exact),
        (
            bugmodel::script_path().to_string_lossy().into_owned(),
            Compare::Iptables1811,
        ),
    ];
    // Both replays at once, each in its own scratch netns.
    std::thread::scope(|sc| {
        for (iptables, compare) in &runs {
            let (calls, nets, ports) = (&calls, &nets, &ports);
            sc.spawn(move || {
                let s = scratch();
                replay_docker_calls(&s, iptables, calls);
                let kernel = chains_of_save(&s.run("iptables-nft-save", &[]).unwrap());
                let model = chains_of_model(&docker_28_0_1(nets, ports, *compare, "ACCEPT"));
                assert_eq!(
                    kernel, model,
                    "{iptables} vs the Rust replay with {compare:?}"
                );
                s.down().unwrap();
            });
        }
    });
}
