//! The verdict rules on hand-made evidence: what each verdict needs, and nothing less.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::counters::Moved;
use super::evidence::{self, DropSeen, Evidence, FindingSeen, Verdict};
use super::plan::{Planned, PortInfo, Vantage, VantageKind};
use crate::audit::Status;
use crate::kernel::tcp::{ConnectResult, Segments};

fn planned(kind: VantageKind, blocked: bool) -> Planned {
    Planned {
        target: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 8010),
        from: Vantage {
            kind,
            network: None,
            label: "outside client 198.51.100.2".into(),
            netns: None,
        },
        port: Some(PortInfo {
            container: "n1c0".into(),
            network: "labnet1".into(),
            bridge: "br-aaaaaaaaaaaa".into(),
            host_port: 8010,
            container_port: 80,
            container_ip: Some(IpAddr::V4(Ipv4Addr::new(172, 19, 0, 2))),
        }),
        expect_blocked: blocked
            .then(|| "Docker isolates network labnet0 from network labnet1".into()),
    }
}

fn drop_seen(reason: &str) -> DropSeen {
    DropSeen {
        reason: reason.into(),
        hook: Some("FORWARD".into()),
        function: "nft_do_chain".into(),
        iface: "br-aaaaaaaaaaaa".into(),
        in_iface: Some("ext0".into()),
        path: "forward".into(),
        packet: "tcp 198.51.100.2:40000 > 172.19.0.2:80 [S]".into(),
        count: 2,
    }
}

fn policy_drop(packets: u64) -> Moved {
    Moved {
        backend: "nf_tables".into(),
        family: "IPv4".into(),
        table: "filter".into(),
        chain: "FORWARD".into(),
        rule: None,
        policy: Some("DROP".into()),
        packets,
        drops: true,
    }
}

fn missing() -> FindingSeen {
    FindingSeen {
        status: Status::MissingCliClaimsPresent,
        network: Some("labnet1".into()),
        table: "filter".into(),
        chain: "DOCKER".into(),
        rule: "-A DOCKER -d 172.19.0.2/32 ! -i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -p tcp -m tcp --dport 80 -j ACCEPT".into(),
        effect: Some("port unreachable".into()),
        fix: Some("iptables -I DOCKER ...".into()),
        cli_says_present: vec!["/usr/sbin/iptables (iptables v1.8.11 (nf_tables))".into()],
    }
}

fn ev(drops: Vec<DropSeen>, counters: Vec<Moved>, findings: Vec<FindingSeen>) -> Evidence {
    Evidence {
        drops,
        conntrack: None,
        counters,
        counters_ambiguous: None,
        findings,
        explanation: Vec::new(),
    }
}

const SYNS: Option<Segments> = Some(Segments { out: 2, r#in: 0 });

fn judge(p: &Planned, r: ConnectResult, e: &mut Evidence) -> Verdict {
    evidence::judge(p, r, Duration::from_secs(2), SYNS, e)
}

#[test]
fn a_timeout_is_explained_only_by_a_drop_or_drop_counter_and_a_finding() {
    let p = planned(VantageKind::Outside, false);
    let t = ConnectResult::Timeout;
    let mut e = ev(vec![drop_seen("NETFILTER_DROP")], vec![], vec![missing()]);
    assert_eq!(judge(&p, t, &mut e), Verdict::TimeoutExplained);
    assert!(
        e.explanation
            .iter()
            .any(|l| l.contains("NETFILTER_DROP at FORWARD")),
        "{:?}",
        e.explanation
    );
    assert!(
        e.explanation.iter().any(|l| l.contains("says present")),
        "{:?}",
        e.explanation
    );
    let mut e = ev(vec![], vec![policy_drop(2)], vec![missing()]);
    assert_eq!(judge(&p, t, &mut e), Verdict::TimeoutExplained);
    // A drop without a finding, a finding without a drop: unexplained, and it says which.
    let mut e = ev(vec![drop_seen("NETFILTER_DROP")], vec![], vec![]);
    assert_eq!(judge(&p, t, &mut e), Verdict::TimeoutUnexplained);
    assert!(
        e.explanation
            .iter()
            .any(|l| l.contains("no `check` finding"))
    );
    let mut e = ev(vec![], vec![], vec![missing()]);
    assert_eq!(judge(&p, t, &mut e), Verdict::TimeoutUnexplained);
    assert!(e.explanation.iter().any(|l| l.contains("no kernel drop")));
    // An ambiguous counter is not evidence; nor is a NOT_SPECIFIED free.
    let mut e = ev(
        vec![drop_seen("NOT_SPECIFIED")],
        vec![policy_drop(9)],
        vec![missing()],
    );
    e.counters_ambiguous = Some("background traffic".into());
    assert_eq!(judge(&p, t, &mut e), Verdict::TimeoutUnexplained);
}

#[test]
fn other_outcomes_map_to_their_verdicts() {
    let p = planned(VantageKind::HostLoopback, false);
    let mut e = ev(vec![], vec![], vec![]);
    assert_eq!(judge(&p, ConnectResult::Connected, &mut e), Verdict::Ok);
    assert_eq!(judge(&p, ConnectResult::Refused, &mut e), Verdict::Refused);
    assert_eq!(
        judge(&p, ConnectResult::Unreachable, &mut e),
        Verdict::Refused
    );
    assert_eq!(judge(&p, ConnectResult::Reset, &mut e), Verdict::Reset);
    let iso = planned(VantageKind::Container, true);
    assert_eq!(
        judge(&iso, ConnectResult::Timeout, &mut e),
        Verdict::BlockedAsIntended
    );
    assert_eq!(
        judge(&iso, ConnectResult::Refused, &mut e),
        Verdict::BlockedAsIntended
    );
    assert_eq!(
        judge(&iso, ConnectResult::Connected, &mut e),
        Verdict::OpenNotIntended
    );
    assert!(Verdict::BlockedAsIntended.is_ok() && !Verdict::OpenNotIntended.is_ok());
}

#[test]
fn counters_above_the_attempts_packets_are_ambiguous() {
    let s = Some(Segments { out: 2, r#in: 0 });
    assert_eq!(evidence::ambiguity(&[policy_drop(2)], s, 0, false), None);
    assert!(evidence::ambiguity(&[policy_drop(5)], s, 0, false).is_some());
    // Packets the kernel dropped never reached the socket: they count too.
    assert_eq!(evidence::ambiguity(&[policy_drop(5)], s, 3, false), None);
    assert!(
        evidence::ambiguity(&[], s, 0, true)
            .unwrap()
            .contains("generation")
    );
}
