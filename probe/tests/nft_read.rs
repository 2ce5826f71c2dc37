//! The nf_tables reader against the real kernel, inside private network namespaces.

mod common;

use common::TestNetns;
use nfprobe::kernel::nft::{self, Expr, NftFamily, Verdict};

const IPT_RULES: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -m comment --comment \"a b\" -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
COMMIT
";

#[test]
fn reads_iptables_nft_tables() {
    let ns = TestNetns::new("rd");
    ns.run_stdin(&["iptables-nft-restore"], IPT_RULES);
    let rs = nft::read_ruleset(Some(&ns.spec())).unwrap();
    assert!(rs.genid > 0);
    let filter = rs.table(NftFamily::Ip, "filter").expect("ip filter");
    let names: Vec<_> = filter.chains.iter().map(|c| c.name.as_str()).collect();
    for n in ["INPUT", "FORWARD", "OUTPUT", "DOCKER"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let fwd = filter.chains.iter().find(|c| c.name == "FORWARD").unwrap();
    assert_eq!(fwd.policy, Some(0), "FORWARD DROP");
    assert_eq!(fwd.hook.as_ref().unwrap().hooknum, 2);
    assert_eq!(fwd.rules.len(), 3);
    // no expression may be raw in what iptables-nft writes
    for c in &filter.chains {
        for r in &c.rules {
            assert!(r.problems.is_empty(), "{:?}", r.problems);
            for e in &r.exprs {
                assert!(!matches!(e, Expr::Raw(_)), "raw expression {e:?}");
            }
        }
    }
    let jump = fwd.rules[2]
        .exprs
        .iter()
        .find_map(|e| match e {
            Expr::Immediate(i) => Some(i.data.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(jump, nft::NftData::Verdict(Verdict::Jump("DOCKER".into())));
    let docker = filter.chains.iter().find(|c| c.name == "DOCKER").unwrap();
    // iptables-nft 1.8.9 keeps `-m comment` as an xt compat match, not in the userdata.
    assert!(docker.rules[0].exprs.iter().any(
        |e| matches!(e, Expr::Match(x) if x.name == "comment" && x.info.starts_with(b"a b\0"))
    ));
    let m = fwd.rules[0]
        .exprs
        .iter()
        .find_map(|e| match e {
            Expr::Match(x) => Some(x.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(m.name, "conntrack");
    assert_eq!(m.rev, 3);
    let nat = rs.table(NftFamily::Ip, "nat").expect("ip nat");
    let post = nat.chains.iter().find(|c| c.name == "POSTROUTING").unwrap();
    assert!(matches!(post.rules[0].exprs.last(), Some(Expr::Target(t)) if t.name == "MASQUERADE"));
}

#[test]
fn reads_change_nothing() {
    let ns = TestNetns::new("ro");
    let spec = ns.spec();
    // An empty namespace: reading must not create anything.
    let g0 = nft::read_genid(Some(&spec)).unwrap();
    let empty = nft::read_ruleset(Some(&spec)).unwrap();
    assert!(empty.tables.is_empty());
    assert_eq!(nft::read_genid(Some(&spec)).unwrap(), g0);
    assert_eq!(ns.run(&["nft", "list", "ruleset"]), "");

    ns.run_stdin(&["iptables-nft-restore"], IPT_RULES);
    ns.run_stdin(&["nft", "-f", "-"], include_str!("data/nft_corpus.nft"));
    let before_text = ns.run(&["nft", "list", "ruleset"]);
    let g1 = nft::read_genid(Some(&spec)).unwrap();
    assert!(g1 > g0, "loading rules moves the generation");
    let mut opts = nft::ReadOptions::default();
    for strategy in [nft::RuleDump::PerChain, nft::RuleDump::PerFamily] {
        opts.rule_dump = strategy;
        for family in [None, Some(NftFamily::Ip), Some(NftFamily::Inet)] {
            opts.family = family;
            let rs = nft::read_ruleset_with(Some(&spec), &opts).unwrap();
            assert_eq!(rs.genid, g1, "snapshot taken at the current generation");
        }
    }
    let all = nft::read_ruleset(Some(&spec)).unwrap();
    let _ = nfprobe::ruleset::nft_text::ruleset(&all);
    let _ = nfprobe::ruleset::xlate::iptables_ruleset(&all, nfprobe::ruleset::Family::Ipv4);
    assert_eq!(
        nft::read_genid(Some(&spec)).unwrap(),
        g1,
        "reads moved the generation"
    );
    assert_eq!(ns.run(&["nft", "list", "ruleset"]), before_text);
}

#[test]
fn both_dump_strategies_agree_and_sets_have_elements() {
    let ns = TestNetns::new("st");
    ns.run_stdin(&["nft", "-f", "-"], include_str!("data/nft_corpus.nft"));
    ns.run_stdin(&["iptables-nft-restore"], IPT_RULES);
    let spec = ns.spec();
    let a = nft::read_ruleset(Some(&spec)).unwrap();
    let b = nft::read_ruleset_with(
        Some(&spec),
        &nft::ReadOptions {
            rule_dump: nft::RuleDump::PerFamily,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(a, b);
    let fw = a.table(NftFamily::Inet, "fw").unwrap();
    let ports = fw.sets.iter().find(|s| s.name == "ports").unwrap();
    assert_eq!(ports.elements.len(), 3);
    assert_eq!(fw.objects.len(), 1);
    let db = a.table(NftFamily::Ip, "docker-bridges").unwrap();
    let vmap = db
        .sets
        .iter()
        .find(|s| s.name == "filter-forward-in-jumps")
        .unwrap();
    assert_eq!(vmap.elements.len(), 2);
    assert!(
        vmap.elements
            .iter()
            .all(|e| matches!(&e.data, Some(nft::NftData::Verdict(Verdict::Jump(_)))))
    );
    let only_ip = nft::read_ruleset_with(
        Some(&spec),
        &nft::ReadOptions {
            family: Some(NftFamily::Ip),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(only_ip.tables.iter().all(|t| t.family == NftFamily::Ip));
    assert_eq!(only_ip.tables.len(), 3);
}

#[test]
fn missing_namespace_is_a_clear_error() {
    let e = nft::read_ruleset(Some(&nfprobe::kernel::netns::NetnsSpec::parse(
        "nfprobe-no-such-ns",
    )))
    .unwrap_err();
    assert!(e.to_string().contains("nfprobe-no-such-ns"), "{e}");
}

/// While another process keeps changing the ruleset (rules are only ever added and removed
/// in pairs, in one transaction), every snapshot we get is consistent: an even number of
/// rules, and a generation that really existed. Reads that cannot settle fail with a clear
/// error instead of returning a torn ruleset.
#[test]
fn snapshots_are_consistent_under_concurrent_changes() {
    let ns = TestNetns::new("cc");
    ns.run_stdin(
        &["nft", "-f", "-"],
        "table ip t {\n chain c {\n type filter hook input priority 0;\n }\n}\n",
    );
    for i in 0..100 {
        ns.run(&["nft", "add", "chain", "ip", "t", &format!("u{i}")]);
    }
    let script = "i=0; while [ -e /proc/$PPID ]; do i=$((i+1)); \
        printf 'add rule ip t c counter\\nadd rule ip t c counter\\n' | nft -f - ; \
        if [ $((i % 400)) = 0 ]; then nft flush chain ip t c; fi; done";
    let mut churn = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, "sh", "-c", script])
        .spawn()
        .unwrap();
    let spec = ns.spec();
    let (mut ok, mut unstable) = (0, 0);
    for _ in 0..40 {
        match nft::read_ruleset(Some(&spec)) {
            Ok(rs) => {
                let t = rs.table(NftFamily::Ip, "t").unwrap();
                let n = t.chains.iter().find(|c| c.name == "c").unwrap().rules.len();
                assert_eq!(n % 2, 0, "torn snapshot: {n} rules at gen {}", rs.genid);
                ok += 1;
            }
            Err(nft::NftError::Unstable { .. }) => unstable += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let _ = churn.kill();
    let _ = churn.wait();
    eprintln!("consistent snapshots: {ok}, gave up (clear error): {unstable}");
    assert!(ok > 0, "never got a snapshot under churn");
}

/// Without CAP_NET_ADMIN the kernel refuses nfnetlink: the error says what is missing.
/// (Runs itself again as a child process that drops to nobody before reading.)
#[test]
fn unprivileged_read_is_a_clear_error() {
    if std::env::var_os("NFP_UNPRIV_CHILD").is_some() {
        // SAFETY: plain id-changing syscalls in a single-purpose child process.
        unsafe {
            assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
            assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
            assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
        }
        let e = nft::read_ruleset(None).unwrap_err();
        assert!(e.to_string().contains("CAP_NET_ADMIN"), "{e}");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "unprivileged_read_is_a_clear_error",
            "--test-threads",
            "1",
        ])
        .env("NFP_UNPRIV_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}
