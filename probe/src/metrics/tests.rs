//! The exporter's facts and encoding, from hand-built audits and drop summaries.

use std::path::PathBuf;

use super::encode::{Exporter, Format, State};
use super::facts::{CheckFacts, DropFacts, Limits, OTHER};
use crate::audit::{Audit, ClaimView, Finding, HostFinding, Severity, Status};
use crate::claims::{Answer, Binary};
use crate::docker::expect::Layout;
use crate::docker::state::StateSource;
use crate::drops::IfaceStats;
use crate::drops::report::{DropRow, SampleStats, Summary};
use crate::drops::watch::Role;
use crate::kernel::link::LinkStats;
use crate::ruleset::{Backend, Family};

fn finding(net: Option<&str>, table: &str, status: Status) -> Finding {
    let mut f = Finding::expected(
        net.map(str::to_owned),
        None,
        Family::Ipv4,
        table.into(),
        "DOCKER".into(),
        "-A DOCKER -j ACCEPT".into(),
        "x".into(),
    );
    f.status = status;
    f
}

fn binary(path: &str, version: &str) -> Binary {
    Binary {
        path: PathBuf::from(path),
        version: Some(version.into()),
        backend: Some(Backend::Nft),
        family: Family::Ipv4,
        explicit: false,
        error: None,
    }
}

fn audit(findings: Vec<Finding>, binaries: Vec<Binary>, host: Vec<HostFinding>) -> Audit {
    Audit {
        schema: 1,
        layout: Layout::V28_0,
        engine_version: Some("28.0.1".into()),
        docker_source: StateSource::Bundle,
        degraded: None,
        docker_backend: Backend::Nft,
        networks: Vec::new(),
        findings,
        host,
        binaries,
        notes: Vec::new(),
        repair: Vec::new(),
    }
}

#[test]
fn rules_by_network_table_and_status_and_lies_by_binary() {
    let mut lied = finding(Some("web"), "filter", Status::MissingCliClaimsPresent);
    lied.claims.push(ClaimView {
        binary: "/usr/sbin/iptables".into(),
        version: Some("iptables v1.8.11 (nf_tables)".into()),
        answer: Answer::Present,
        lie: true,
    });
    let a = audit(
        vec![
            finding(Some("web"), "filter", Status::Ok),
            finding(Some("web"), "filter", Status::Ok),
            lied,
            finding(Some("web"), "nat", Status::Missing),
            finding(None, "filter", Status::Ok),
        ],
        vec![
            binary("/usr/sbin/iptables", "iptables v1.8.11 (nf_tables)"),
            binary("/usr/sbin/iptables-legacy", "iptables v1.8.11 (legacy)"),
        ],
        vec![HostFinding {
            kind: "forward_policy_drop".into(),
            severity: Severity::Info,
            message: "m".into(),
            fix: None,
        }],
    );
    let f = CheckFacts::from_audit(&a, &Limits::default());
    let web_filter = f.rules[&("web".to_owned(), "ipv4", "filter".to_owned())];
    assert_eq!(web_filter, [2, 0, 1, 0, 0, 0, 0, 0]);
    assert_eq!(f.rules[&("web".to_owned(), "ipv4", "nat".to_owned())][1], 1);
    assert_eq!(f.rules[&(String::new(), "ipv4", "filter".to_owned())][0], 1);
    assert_eq!(f.missing(), 2);
    let lies: Vec<_> = f.lies.iter().map(|((b, _), n)| (b.as_str(), *n)).collect();
    assert_eq!(
        lies,
        vec![("/usr/sbin/iptables", 1), ("/usr/sbin/iptables-legacy", 0)]
    );
    assert_eq!(f.host[&("forward_policy_drop".to_owned(), "info")], 1);
    assert!(f.folded.is_empty());

    // Past the network bound, the rest is one `_other` network; totals are kept.
    let many: Vec<Finding> = (0..5)
        .map(|i| finding(Some(&format!("n{i}")), "filter", Status::Missing))
        .collect();
    let limits = Limits {
        networks: 2,
        ..Limits::default()
    };
    let f = CheckFacts::from_audit(&audit(many, vec![], vec![]), &limits);
    assert_eq!(f.missing(), 5);
    assert_eq!(
        f.rules[&(OTHER.to_owned(), "ipv4", "filter".to_owned())][1],
        3
    );
    assert_eq!(f.rules.len(), 3);
    assert_eq!(f.folded["nfprobe_expected_rules"], 3);
}

fn row(iface: &str, reason: &str, packets: u64) -> DropRow {
    DropRow {
        iface: iface.into(),
        ifindex: 3,
        netns: 7,
        bridge: Some("br-0123456789ab".into()),
        in_iface: None,
        reason: reason.into(),
        reason_code: 0,
        location: "nf_hook_slow+0x1".into(),
        function: Some("nf_hook_slow".into()),
        hook: Some(crate::drops::hook::Hook::Forward),
        path: crate::drops::hook::Path::Forward,
        matched: "device",
        family: 2,
        packets,
        bytes: packets * 60,
        rate: None,
    }
}

fn summary(drops: Vec<DropRow>) -> Summary {
    Summary {
        version: 1,
        duration_secs: 1.0,
        netns: None,
        netns_inode: 7,
        tcx: false,
        targets: Vec::new(),
        total_packets: drops.iter().map(|r| r.packets).sum(),
        drops,
        // The deltas over the run differ from the kernel's absolute counters: the exporter
        // publishes the absolute ones (monotonic counters).
        interfaces: vec![IfaceStats {
            iface: "br-0123456789ab".into(),
            ifindex: 3,
            netns: 7,
            role: Role::Bridge,
            bridge: None,
            rx_packets: 3,
            tx_packets: 1,
            rx_bytes: 300,
            tx_bytes: 100,
            rx_dropped: 0,
            tx_dropped: 0,
            rate: None,
            secs: 1.0,
            kernel: LinkStats {
                rx_packets: 10,
                rx_bytes: 1000,
                tx_packets: 4,
                tx_bytes: 400,
                ..LinkStats::default()
            },
        }],
        tc: false,
        tc_counters: Vec::new(),
        matched_events: 0,
        count_map_full: 2,
        samples: SampleStats::default(),
        warnings: Vec::new(),
    }
}

#[test]
fn drops_sum_per_label_set_and_fold_the_smallest_past_the_bound() {
    // Two locations of the same (interface, reason, hook) are one series.
    let s = summary(vec![
        row("br-0123456789ab", "NETFILTER_DROP", 5),
        row("br-0123456789ab", "NETFILTER_DROP", 7),
        row("veth1", "NEIGH_FAILED", 1),
        row("veth2", "NO_SOCKET", 100),
    ]);
    let f = DropFacts::from_summary(&s, "host", &Limits::default());
    assert_eq!(f.total_packets(), 113);
    assert_eq!(f.drops.len(), 3);
    assert_eq!(f.events_lost, 2);
    let bounded = DropFacts::from_summary(
        &s,
        "host",
        &Limits {
            drop_series: 2,
            ..Limits::default()
        },
    );
    assert_eq!(bounded.total_packets(), 113);
    // The biggest stay: veth2 (100) and the bridge's first row; the 1-packet one is folded.
    assert!(bounded.drops.keys().any(|k| k.interface == "veth2"));
    assert!(bounded.drops.keys().any(|k| k.interface == OTHER));
    assert!(!bounded.drops.keys().any(|k| k.interface == "veth1"));
    assert_eq!(bounded.folded["nfprobe_drops"], 1);
    assert_eq!(
        f.interfaces[&("host".to_owned(), "br-0123456789ab".to_owned(), "in")],
        (10, 1000)
    );
}

#[test]
fn both_text_formats_follow_prometheus_naming() {
    let e = Exporter::new(State::new("host".into(), Limits::default()));
    {
        let mut st = e.state();
        st.check = Some(CheckFacts::from_audit(
            &audit(
                vec![finding(Some("web"), "filter", Status::Missing)],
                vec![],
                vec![],
            ),
            &Limits::default(),
        ));
        st.drops = Some(DropFacts::from_summary(
            &summary(vec![row("br-0123456789ab", "NETFILTER_DROP", 5)]),
            "host",
            &Limits::default(),
        ));
        st.checks.last_success = true;
    }
    e.observe_check(0.02);
    let text = e.render(Format::Prometheus).unwrap();
    for want in [
        "nfprobe_expected_rules{netns=\"host\",network=\"web\",family=\"ipv4\",table=\"filter\",status=\"missing\"} 1",
        "nfprobe_drops_total{netns=\"host\",interface=\"br-0123456789ab\",bridge=\"br-0123456789ab\",reason=\"NETFILTER_DROP\",hook=\"FORWARD\"} 5",
        "nfprobe_dropped_bytes_total{",
        "nfprobe_interface_packets_total{netns=\"host\",interface=\"br-0123456789ab\",direction=\"in\"} 10",
        "nfprobe_check_duration_seconds_bucket{le=\"0.025\"} 1",
        "nfprobe_drop_events_lost_total{netns=\"host\"} 2",
        "nfprobe_last_check_success{netns=\"host\"} 1",
        "# TYPE nfprobe_drops_total counter",
    ] {
        assert!(text.contains(want), "{want} not in:\n{text}");
    }
    assert!(!text.contains("# EOF"));
    let om = e.render(Format::OpenMetrics).unwrap();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE nfprobe_drops counter"), "{om}");
    assert!(
        om.contains("# UNIT nfprobe_check_duration_seconds seconds"),
        "{om}"
    );
    assert_eq!(
        Format::negotiate(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )),
        Format::OpenMetrics
    );
    assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
}
