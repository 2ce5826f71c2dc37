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
