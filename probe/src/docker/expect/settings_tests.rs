//! Section (c) settings beyond the worked examples, against the exact lines of moby's unit-test
//! goldens (internal/iptabler/testdata @ v28.2.0), its generated documents
//! (iptablesdoc/generated/swarm-portmap.md @ v28.3.0) and, where no golden exists, the argument
//! lists in moby's code at the tags (`ChainInfo.Link`, `filterDirectAccess`,
//! `setPerPortForwarding`, `programIngress`).

use super::tests::{assert_layout as assert_rules, parse_save};
use super::*;
use crate::docker::state::*;

fn net(name: &str, bridge: &str, subnet: &str) -> Network {
    Network {
        bridge: bridge.into(),
        subnets: vec![Subnet {
            subnet: subnet.parse().unwrap(),
            gateway: None,
        }],
        ..Network::with_defaults(name)
    }
}

fn container(name: &str, network: &str, ip: &str) -> Container {
    Container {
        name: name.into(),
        id: String::new(),
        endpoints: vec![Endpoint {
            network: network.into(),
            ipv4: Some(ip.parse().unwrap()),
            ipv6: None,
        }],
        ports: vec![],
        ports_network: None,
        exposed: vec![],
        links: vec![],
    }
}

fn port(host: u16, cport: u16, proto: Proto) -> PortBinding {
    PortBinding {
        host_ip: Some("0.0.0.0".parse().unwrap()),
        host_port: host,
        container_port: cport,
        proto,
    }
}

fn state(version: &str, networks: Vec<Network>, containers: Vec<Container>) -> DockerState {
    DockerState {
        source: StateSource::Bundle,
        degraded: None,
        engine_version: Some(version.into()),
        daemon: DaemonSettings {
            ip6tables: Some(false),
            ..Default::default()
        },
        networks,
        containers,
        swarm: None,
    }
}

/// moby's iptabler golden network: br-dummy 192.168.0.0/24, endpoint 192.168.0.2, port
/// 0.0.0.0:8080->80/tcp.
fn golden_state(version: &str) -> DockerState {
    let mut n = net("dummy", "br-dummy", "192.168.0.0/24");
    n.icc = false;
    let mut c = container("c1", "dummy", "192.168.0.2");
    c.ports = vec![port(8080, 80, Proto::Tcp)];
    state(version, vec![n], vec![c])
}

/// TestIptabler_hairpin=false,internal=false,icc=false,masq=true,snat=false,gwm=nat,bindlh=false
/// __iptables.golden @ v28.2.0, plus the controller's DOCKER-USER rules (not iptabler's).
const GOLDEN_ICC_FALSE: &str = "
*raw
-A PREROUTING -d 192.168.0.2/32 ! -i br-dummy -j DROP
*filter
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-FORWARD
-A DOCKER -d 192.168.0.2/32 ! -i br-dummy -o br-dummy -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER ! -i br-dummy -o br-dummy -j DROP
-A DOCKER-BRIDGE -o br-dummy -j DOCKER
-A DOCKER-CT -o br-dummy -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-FORWARD -j DOCKER-CT
-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1
-A DOCKER-FORWARD -j DOCKER-BRIDGE
-A DOCKER-FORWARD -i br-dummy -o br-dummy -j DROP
-A DOCKER-FORWARD -i br-dummy ! -o br-dummy -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i br-dummy ! -o br-dummy -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-2 -o br-dummy -j DROP
-A DOCKER-USER -j RETURN
*nat
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 192.168.0.0/24 ! -o br-dummy -j MASQUERADE
-A DOCKER -i br-dummy -j RETURN
-A DOCKER ! -i br-dummy -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.0.2:80
";

#[test]
fn v28_2_matches_moby_golden() {
    assert_rules(
        &golden_state("28.2.0"),
        Layout::V28_2,
        GOLDEN_ICC_FALSE,
        &["raw", "filter", "nat"],
    );
}

#[test]
fn trusted_host_interfaces_accept_before_the_direct_access_drop() {
    let mut s = golden_state("28.2.0");
    s.networks[0]
        .options
        .insert(TRUSTED_HOST_INTERFACES.into(), "eth1:eth2".into());
    // filterDirectAccess @ v28.2.0: one ACCEPT per trusted interface, Appended before the DROP.
    let raw = "*raw
-A PREROUTING -d 192.168.0.2/32 -i eth1 -j ACCEPT
-A PREROUTING -d 192.168.0.2/32 -i eth2 -j ACCEPT
-A PREROUTING -d 192.168.0.2/32 ! -i br-dummy -j DROP";
    assert_rules(&s, Layout::V28_2, raw, &["raw"]);
    assert_rules(&s, Layout::V29, raw, &["raw"]);
    let e = expect(&s, Layout::V28_3);
    assert_eq!(
        e.order.iter().filter(|o| o.why.contains("trusted")).count(),
        2
    );
    // 28.0/28.1 know no such option: the per-port drop only.
    assert_rules(
        &s,
        Layout::V28_0,
        "*raw\n-A PREROUTING -d 192.168.0.2/32 ! -i br-dummy -p tcp -m tcp --dport 80 -j DROP",
        &["raw"],
    );
    // The bundle field wins over the option.
    s.networks[0].trusted_host_interfaces = vec!["wg0".into()];
    assert_rules(
        &s,
        Layout::V28_3,
        "*raw
-A PREROUTING -d 192.168.0.2/32 -i wg0 -j ACCEPT
-A PREROUTING -d 192.168.0.2/32 ! -i br-dummy -j DROP",
        &["raw"],
    );
}

#[test]
fn allow_direct_routing_drops_the_direct_access_rules() {
    let mut s = golden_state("28.3.0");
    s.networks[0].trusted_host_interfaces = vec!["eth1".into()];
    s.daemon.allow_direct_routing = true;
    for layout in [Layout::V28_2, Layout::V28_3, Layout::V29] {
        assert_rules(&s, layout, "", &["raw"]);
    }
    // The rest of the golden is unchanged.
    let no_raw: String = GOLDEN_ICC_FALSE.replace(
        "-A PREROUTING -d 192.168.0.2/32 ! -i br-dummy -j DROP\n",
        "",
    );
    assert_rules(&s, Layout::V28_2, &no_raw, &["raw", "filter", "nat"]);
}

fn linked(icc: bool) -> DockerState {
    let mut b = net("bridge", "docker0", "172.17.0.0/16");
    b.icc = icc;
    let mut db = container("db", "bridge", "172.17.0.2");
    db.exposed = vec![ExposedPort {
        port: 5432,
        proto: Proto::Tcp,
    }];
    db.ports = vec![port(5353, 53, Proto::Udp)];
    let mut web = container("web", "bridge", "172.17.0.3");
    web.links = vec!["db".into()];
    state("20.10.24", vec![b], vec![db, web])
}

/// ChainInfo.Link @ v20.10.24 / v28.3.0: `-i BR -o BR -p P -s PARENT -d CHILD --dport N -j
/// ACCEPT`, then the reverse with `--sport`, per exposed port of the child.
const LINK_RULES: &str = "*filter
-A DOCKER -s 172.17.0.3/32 -d 172.17.0.2/32 -i docker0 -o docker0 -p udp -m udp --dport 53 -j ACCEPT
-A DOCKER -s 172.17.0.2/32 -d 172.17.0.3/32 -i docker0 -o docker0 -p udp -m udp --sport 53 -j ACCEPT
-A DOCKER -s 172.17.0.3/32 -d 172.17.0.2/32 -i docker0 -o docker0 -p tcp -m tcp --dport 5432 -j ACCEPT
-A DOCKER -s 172.17.0.2/32 -d 172.17.0.3/32 -i docker0 -o docker0 -p tcp -m tcp --sport 5432 -j ACCEPT";

fn link_rules(e: &Expectation) -> Vec<&Expected> {
    e.rules
        .iter()
        .filter(|r| r.chain == "DOCKER" && r.args.first().is_some_and(|a| a == "-i"))
        .filter(|r| r.args.iter().any(|a| a == "-s"))
        .collect()
}

#[test]
fn legacy_links_with_icc_false() {
    let s = linked(false);
    for layout in [Layout::V20, Layout::V28_0, Layout::V28_3, Layout::V29] {
        let e = expect(&s, layout);
        let got: Vec<_> = link_rules(&e)
            .iter()
            .map(|r| {
                (
                    r.table.clone(),
                    r.chain.clone(),
                    to_rule(r.family, &r.args).unwrap(),
                )
            })
            .collect();
        let want = parse_save(LINK_RULES);
        assert_eq!(got.len(), 4, "{layout:?}");
        for w in &want {
            assert!(got.contains(w), "{layout:?}: {w:?}");
        }
        let r = link_rules(&e)[2];
        assert_eq!(r.op, Op::Append);
        assert_eq!(
            r.spec(),
            "-A DOCKER -i docker0 -o docker0 -p tcp -s 172.17.0.3 -d 172.17.0.2 --dport 5432 -j ACCEPT"
        );
        assert!(
            r.effect.contains("web cannot reach linked container db"),
            "{}",
            r.effect
        );
    }
    // icc=true: Docker programs no link rules.
    assert!(link_rules(&expect(&linked(true), Layout::V28_3)).is_empty());
}

#[test]
fn sctp_checksum_only_with_the_environment_variable_in_28() {
    let mut s = golden_state("28.0.1");
    s.containers[0].ports = vec![port(9000, 9, Proto::Sctp)];
    let mangle = "*mangle\n-A POSTROUTING -p sctp -m sctp --sport 9 -j CHECKSUM --checksum-fill";
    assert_rules(&s, Layout::V28_0, "", &["mangle"]);
    s.daemon.sctp_checksum = true;
    for layout in [Layout::V28_0, Layout::V28_2, Layout::V28_3] {
        assert_rules(&s, layout, mangle, &["mangle"]);
    }
    // Gone in 29; unconditional before 28.
    assert_rules(&s, Layout::V29, "", &["mangle"]);
    s.daemon.sctp_checksum = false;
    assert_rules(&s, Layout::V20, mangle, &["mangle"]);
    // nat-unprotected: setPerPortForwarding is not called.
    s.daemon.sctp_checksum = true;
    s.networks[0].gateway_mode_ipv4 = GatewayMode::NatUnprotected;
    assert_rules(&s, Layout::V28_3, "", &["mangle"]);
    assert!(expect(&s, Layout::V28_3).notes.is_empty());
}

fn swarm_state(version: &str) -> DockerState {
    let mut gw = net("docker_gwbridge", "docker_gwbridge", "172.18.0.0/16");
    gw.icc = false;
    let mut s = state(
        version,
        vec![net("bridge", "docker0", "172.17.0.0/16"), gw],
        vec![],
    );
    s.swarm = Some(Swarm {
        node_state: "active".into(),
        manager: true,
        ingress_gateway: Some("172.18.0.2".parse().unwrap()),
        ingress_ports: vec![IngressPort {
            published_port: 8080,
            target_port: Some(80),
            proto: Some(Proto::Tcp),
            service: Some("web".into()),
        }],
        ports_source: Some("services".into()),
    });
    s
}

/// iptablesdoc/generated/swarm-portmap.md @ v28.3.0 (`docker service create -p 8080:80`), the
/// "iptables commands" of filter and nat.
const SWARM_PORTMAP_28_3: &str = include_str!("worked/swarm-portmap-28.3.rules");

#[test]
fn swarm_matches_moby_generated_document() {
    let s = swarm_state("28.3.0");
    assert_rules(&s, Layout::V28_3, SWARM_PORTMAP_28_3, &["filter", "nat"]);
    // The same document @ v28.0.1 differs only by 28.0's DOCKER-USER RETURN.
    let at_28_0_1 = format!("{SWARM_PORTMAP_28_3}\n*filter\n-A DOCKER-USER -j RETURN");
    assert_rules(
        &swarm_state("28.0.1"),
        Layout::V28_0,
        &at_28_0_1,
        &["filter", "nat"],
    );
    let e = expect(&s, Layout::V28_3);
    assert!(
        e.chains
            .iter()
            .any(|c| c.table == "nat" && c.chain == "DOCKER-INGRESS")
    );
    assert!(e.notes.is_empty(), "{:?}", e.notes);
    // Not in a swarm, or no ingress ports: no DOCKER-INGRESS rules.
    let mut s2 = s.clone();
    s2.swarm.as_mut().unwrap().ingress_ports.clear();
    assert!(
        !expect(&s2, Layout::V28_3)
            .rules
            .iter()
            .any(|r| r.spec().contains("INGRESS"))
    );
    s2.swarm = None;
    assert!(
        !expect(&s2, Layout::V28_3)
            .rules
            .iter()
            .any(|r| r.spec().contains("INGRESS"))
    );
}

#[test]
fn swarm_before_28_jumps_from_forward_and_old_state_match() {
    // programIngress @ v20.10.24: `-I FORWARD -j DOCKER-INGRESS`, `-m state ... --state`.
    let s = swarm_state("20.10.24");
    let e = expect(&s, Layout::V20);
    let specs: Vec<String> = e.rules.iter().map(Expected::spec).collect();
    assert!(specs.contains(&"-A FORWARD -j DOCKER-INGRESS".to_owned()));
    assert!(
        specs.contains(
            &"-A DOCKER-INGRESS -m state -p tcp --sport 8080 --state ESTABLISHED,RELATED -j ACCEPT"
                .to_owned()
        )
    );
    assert!(canonical(&e).iter().all(Result::is_ok));
    let want = parse_save(
        "*filter
-A DOCKER-INGRESS -p tcp -m state --state RELATED,ESTABLISHED -m tcp --sport 8080 -j ACCEPT",
    );
    let got: Vec<_> = e
        .rules
        .iter()
        .zip(canonical(&e))
        .map(|(r, c)| (r.table.clone(), r.chain.clone(), c.unwrap()))
        .collect();
    assert!(
        got.contains(&want[0]),
        "iptables-save's spelling is the same rule"
    );
    // 28.0.0 only: the jump still in FORWARD.
    let specs: Vec<String> = expect(&swarm_state("28.0.0"), Layout::V28_0)
        .rules
        .iter()
        .map(Expected::spec)
        .collect();
    assert!(specs.contains(&"-A FORWARD -j DOCKER-INGRESS".to_owned()));
    assert!(!specs.contains(&"-A DOCKER-FORWARD -j DOCKER-INGRESS".to_owned()));
    // 25.0+: conntrack.
    let s = swarm_state("27.5.1");
    let specs: Vec<String> = expect(&s, Layout::V20)
        .rules
        .iter()
        .map(Expected::spec)
        .collect();
    assert!(specs.contains(&"-A DOCKER-INGRESS -p tcp --sport 8080 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT".to_owned()));
    // A worker does not know the protocol: tcp is assumed and said.
    let mut s = swarm_state("28.3.0");
    s.swarm.as_mut().unwrap().ingress_ports[0].proto = None;
    let e = expect(&s, Layout::V28_3);
    assert!(e.notes.iter().any(|n| n.contains("worker")));
    assert!(
        e.rules
            .iter()
            .any(|r| r.spec() == "-A DOCKER-INGRESS -p tcp --dport 8080 -j ACCEPT")
    );
    // Without the ingress sandbox's address: the filter rules, no DNAT, and the rest of
    // DOCKER-INGRESS is named as not modelled.
    s.swarm.as_mut().unwrap().ingress_gateway = None;
    let e = expect(&s, Layout::V28_3);
    assert!(
        e.unmodelled
            .iter()
            .any(|u| u.chains == ["DOCKER-INGRESS"] && u.option.contains("ingress sandbox"))
    );
    assert!(
        !e.rules
            .iter()
            .any(|r| r.args.iter().any(|a| a == "DNAT") && r.chain == "DOCKER-INGRESS")
    );
    assert_eq!(
        e.rules
            .iter()
            .filter(|r| r.chain == "DOCKER-INGRESS")
            .count(),
        4
    );
}

#[test]
fn bundles_without_the_new_fields_still_load_and_new_ones_round_trip() {
    let old = r#"{"engine_version": "28.0.1", "daemon": {"userland-proxy": false},
        "networks": [{"name": "web", "subnets": [{"subnet": "172.18.0.0/16"}]}],
        "containers": [{"name": "c1", "endpoints": [{"network": "web", "ipv4": "172.18.0.2"}]}]}"#;
    let s: DockerState = serde_json::from_str(old).unwrap();
    assert!(s.swarm.is_none() && !s.daemon.allow_direct_routing && !s.daemon.sctp_checksum);
    assert!(s.networks[0].trusted_host_interfaces.is_empty() && s.containers[0].links.is_empty());
    let new = r#"{"engine_version": "28.3.0",
        "daemon": {"allow-direct-routing": true, "sctp-checksum": true},
        "networks": [{"name": "web", "trusted_host_interfaces": ["eth1"], "subnets": [{"subnet": "172.18.0.0/16"}]}],
        "containers": [{"name": "c1", "links": ["c2"], "exposed": [{"port": 53, "proto": "udp"}, {"port": 80}]}],
        "swarm": {"ingress_gateway": "172.18.0.2", "ingress_ports": [{"published_port": 8080}]}}"#;
    let s: DockerState = serde_json::from_str(new).unwrap();
    assert!(s.daemon.allow_direct_routing && s.daemon.sctp_checksum);
    assert_eq!(s.networks[0].trusted_interfaces(), ["eth1"]);
    assert_eq!(s.containers[0].exposed[1].proto, Proto::Tcp);
    let sw = s.swarm.as_ref().unwrap();
    assert!(sw.is_active());
    assert_eq!(sw.ingress_ports[0].proto, Some(Proto::Tcp));
    let again: DockerState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
}

#[test]
fn routed_skip_dnat_only_before_28_0_2_and_raw_rules_off_by_environment() {
    // setupNonInternalNetworkRules @ v28.0.1: `!nat || (masq && !hairpin)`; from v28.0.2 (and
    // iptabler @ v28.2.0, the routed goldens): `masq && !hairpin` only.
    let mut s = golden_state("28.0.1");
    s.networks[0].gateway_mode_ipv4 = GatewayMode::Routed;
    s.networks[0].masquerade = false;
    let ret = "-A DOCKER -i br-dummy -j RETURN";
    let has = |s: &DockerState, l: Layout| expect(s, l).rules.iter().any(|r| r.spec() == ret);
    assert!(has(&s, Layout::V28_0));
    s.engine_version = Some("28.0.4".into());
    assert!(!has(&s, Layout::V28_0));
    s.engine_version = Some("28.2.0".into());
    assert!(!has(&s, Layout::V28_2));
    s.networks[0].masquerade = true;
    assert!(has(&s, Layout::V28_2));

    // DOCKER_INSECURE_NO_IPTABLES_RAW=1 (rawRulesDisabled, 28.0.2+): no raw rules at all.
    let mut s = golden_state("28.2.0");
    s.containers[0].ports[0].host_ip = Some("127.0.0.1".parse().unwrap());
    s.networks[0].trusted_host_interfaces = vec!["eth1".into()];
    let raw = |s: &DockerState, l: Layout| {
        expect(s, l)
            .rules
            .iter()
            .filter(|r| r.table == "raw")
            .count()
    };
    assert_eq!(raw(&s, Layout::V28_2), 3);
    s.daemon.no_iptables_raw = true;
    assert_eq!(raw(&s, Layout::V28_2), 0);
    assert_eq!(raw(&s, Layout::V29), 0);
    s.engine_version = Some("28.1.1".into());
    assert_eq!(raw(&s, Layout::V28_0), 0);
    s.engine_version = Some("28.0.1".into());
    assert_eq!(
        raw(&s, Layout::V28_0),
        2,
        "28.0.1 does not know the variable"
    );
}

/// The end-to-end test's host (tests/tests/check_docker28_settings.rs): the listing written
/// by hand from moby's code is exactly what its Docker state implies, in an order that keeps
/// every constraint (trusted ACCEPT before DROP, DOCKER-INGRESS before DOCKER-BRIDGE, ...).
#[test]
fn settings_host_listing_is_exactly_expected() {
    let s: DockerState =
        serde_json::from_str(include_str!("worked/settings-28.3.docker.json")).unwrap();
    let listing = [
        include_str!("worked/settings-28.3-filter.rules"),
        include_str!("worked/settings-28.3-nat.rules"),
        include_str!("worked/settings-28.3-raw.rules"),
        include_str!("worked/settings-28.3-mangle.rules"),
    ]
    .concat();
    assert_rules(&s, Layout::V28_3, &listing, &[]);
    assert!(expect(&s, Layout::V28_3).notes.is_empty());
}

/// moby v28.0.1 `TestAddPortMappings`: a port published without a host address on a
/// dual-stack container yields the bindings `0.0.0.0` and `::` ("specific host port");
/// a non-zero IPv4 default binding address yields only IPv4 ("default host ip is nonzero
/// v4"), an IPv6 default only IPv6 ("default host ip is v6"). The IPv6 binding gets the same
/// ip6tables rules as an explicit `[::]:8080:80`.
#[test]
fn absent_host_address_binds_both_families_from_28() {
    let dual = |host_ip: Option<&str>| {
        let mut n = net("web", "br-web", "172.19.0.0/16");
        n.enable_ipv6 = true;
        n.subnets.push(Subnet {
            subnet: "fdf8:b88e:bb5c:3483::/64".parse().unwrap(),
            gateway: None,
        });
        let mut c = container("c", "web", "172.19.0.2");
        c.endpoints[0].ipv6 = Some("fdf8:b88e:bb5c:3483::2".parse().unwrap());
        c.ports = vec![PortBinding {
            host_ip: host_ip.map(|h| h.parse().unwrap()),
            host_port: 8080,
            container_port: 80,
            proto: Proto::Tcp,
        }];
        let mut s = state("28.0.1", vec![n], vec![c]);
        s.daemon.ip6tables = Some(true);
        s
    };
    let specs = |s: &DockerState, layout: Layout| -> Vec<String> {
        let mut v: Vec<String> = expect(s, layout)
            .rules
            .iter()
            .map(|r| format!("{:?} {} {}", r.family, r.table, r.spec()))
            .collect();
        v.sort();
        v
    };
    let dnat6 = "Ipv6 nat -A DOCKER -p tcp -d ::/0 --dport 8080 -j DNAT --to-destination [fdf8:b88e:bb5c:3483::2]:80 ! -i br-web ! -s fe80::/10";
    for layout in [Layout::V28_0, Layout::V28_3, Layout::V29] {
        let absent = dual(None);
        // The two bindings moby reports, written out.
        let mut both = dual(Some("0.0.0.0"));
        let mut v6 = both.containers[0].ports[0].clone();
        v6.host_ip = Some("::".parse().unwrap());
        both.containers[0].ports.push(v6);
        let got = specs(&absent, layout);
        assert_eq!(got, specs(&both, layout), "{layout:?}");
        assert!(got.iter().any(|r| r == dnat6), "{layout:?}: {got:#?}");
        // Explicit 0.0.0.0 stays IPv4 only.
        let v4 = specs(&dual(Some("0.0.0.0")), layout);
        assert!(
            !v4.iter()
                .any(|r| r.contains("--dport 8080") && r.starts_with("Ipv6"))
        );
        // Default binding address: non-zero IPv4 → IPv4 only; `::` → IPv6 only.
        let mut lo = dual(None);
        lo.networks[0].host_binding_ipv4 = Some("127.0.0.1".parse().unwrap());
        let got = specs(&lo, layout);
        assert!(
            got.iter().any(|r| r.contains("-d 127.0.0.1 --dport 8080")),
            "{got:#?}"
        );
        assert!(
            !got.iter()
                .any(|r| r.contains("--dport 8080") && r.starts_with("Ipv6"))
        );
        let mut any6 = dual(None);
        any6.daemon.ip = Some("::".parse().unwrap());
        let got = specs(&any6, layout);
        assert!(got.iter().any(|r| r == dnat6), "{layout:?}");
        assert!(
            !got.iter()
                .any(|r| r.contains("--dport 8080") && r.starts_with("Ipv4"))
        );
    }
    // The 20.10–27 layout keeps an absent host address IPv4 only.
    let got = specs(&dual(None), Layout::V20);
    assert!(
        !got.iter()
            .any(|r| r.contains("--dport 8080") && r.starts_with("Ipv6"))
    );
}

/// moby docker-v29.0.0 iptabler `setupNonInternalNetworkRules`: `--bridge-accept-fwmark`
/// Inserts `-m mark --mark MARK[/MASK] -j ACCEPT` (decimal) into DOCKER-FORWARD, once for all
/// networks; it must stay above the jump to DOCKER-BRIDGE. Before 29 the option does not
/// exist.
#[test]
fn bridge_accept_fwmark_in_docker_forward_from_29() {
    let mut s = state(
        "29.0.0",
        vec![
            net("bridge", "docker0", "172.17.0.0/16"),
            net("web", "br-web", "172.18.0.0/16"),
        ],
        vec![],
    );
    s.daemon.bridge_accept_fwmark = Some("0x2/0x3".into());
    let e = expect(&s, Layout::V29);
    let marks: Vec<&Expected> = e
        .rules
        .iter()
        .filter(|r| r.args.iter().any(|a| a == "mark"))
        .collect();
    assert_eq!(marks.len(), 1);
    assert_eq!(
        marks[0].spec(),
        "-A DOCKER-FORWARD -m mark --mark 2/3 -j ACCEPT"
    );
    assert_eq!(marks[0].op, Op::Insert);
    // iptables-save's spelling of the same rule.
    let want = parse_save("*filter\n-A DOCKER-FORWARD -m mark --mark 0x2/0x3 -j ACCEPT");
    assert_eq!(to_rule(marks[0].family, &marks[0].args).unwrap(), want[0].2);
    let idx = e
        .rules
        .iter()
        .position(|r| std::ptr::eq(r, marks[0]))
        .unwrap();
    assert!(
        e.order
            .iter()
            .any(|o| o.first == idx && e.rules[o.then].args == ["-j", "DOCKER-BRIDGE"])
    );
    assert_eq!(e.order.iter().filter(|o| o.first == idx).count(), 1);
    assert!(e.notes.iter().all(|n| !n.contains("fwmark")));
    // 28.x: no such option; a value found anyway is named, not guessed.
    let mut s28 = s.clone();
    s28.engine_version = Some("28.3.0".into());
    let e = expect(&s28, Layout::V28_3);
    assert!(!e.rules.iter().any(|r| r.args.iter().any(|a| a == "mark")));
    assert!(e.notes.iter().any(|n| n.contains("only Docker 29+")));
}

/// moby v27.5.1 `setupIPTablesInternal` / `setPerPortNAT` / `addPortMappings`: with
/// gateway_mode_ipv4=routed (`natDisabled`) no source NAT, no skip-DNAT RETURN, and the port
/// mapper sets the host port to 0, so no DNAT or hairpin; the per-port ACCEPT stays.
#[test]
fn routed_on_27_has_no_nat_rules_and_keeps_the_port_accept() {
    let mut n = net("r", "br-r", "192.0.2.0/24");
    n.gateway_mode_ipv4 = GatewayMode::Routed;
    let mut c = container("c1", "r", "192.0.2.2");
    c.ports = vec![port(0, 80, Proto::Tcp)];
    let s = state("27.5.1", vec![n], vec![c]);
    let e = expect(&s, Layout::V20);
    assert!(
        e.unmodelled.iter().all(|u| u.network.is_none()),
        "{:?}",
        e.unmodelled
    );
    let specs: Vec<String> = e
        .rules
        .iter()
        .map(|r| format!("{} {}", r.table, r.spec()))
        .collect();
    assert!(
        specs.contains(
            &"filter -A DOCKER ! -i br-r -o br-r -p tcp -d 192.0.2.2 --dport 80 -j ACCEPT"
                .to_owned()
        ),
        "{specs:#?}"
    );
    for bad in ["MASQUERADE", "DNAT", "-j RETURN"] {
        assert!(
            !specs.iter().any(|s| s.starts_with("nat")
                && s.contains(bad)
                && !s.contains("PREROUTING")
                && !s.contains("OUTPUT")),
            "{bad}: {specs:#?}"
        );
    }
    // The same network in nat mode has them.
    let mut s = s;
    s.networks[0].gateway_mode_ipv4 = GatewayMode::Nat;
    s.containers[0].ports = vec![port(8080, 80, Proto::Tcp)];
    let e = expect(&s, Layout::V20);
    let nat: Vec<String> = e
        .rules
        .iter()
        .filter(|r| r.table == "nat")
        .map(Expected::spec)
        .collect();
    assert!(
        nat.iter().any(|r| r.contains("DNAT")) && nat.iter().any(|r| r.contains("-s 192.0.2.0/24")),
        "{nat:#?}"
    );
}

/// Gateway modes the layout's Docker does not have (nat-unprotected and isolated before 28.0,
/// any mode before 27.0) and mode values nfprobe cannot read are not guessed: the network's
/// rules in that family are not expected, and the option is recorded by name.
#[test]
fn gateway_modes_the_version_lacks_are_unmodelled_by_name() {
    let mut n = net("web", "br-web", "192.0.2.0/24");
    n.gateway_mode_ipv4 = GatewayMode::NatUnprotected;
    let mut c = container("c1", "web", "192.0.2.2");
    c.ports = vec![port(8080, 80, Proto::Tcp)];
    let s = state(
        "27.5.1",
        vec![n.clone(), net("b", "br-b", "198.51.100.0/24")],
        vec![c.clone()],
    );
    let e = expect(&s, Layout::V20);
    let nets: Vec<&Unmodelled> = e
        .unmodelled
        .iter()
        .filter(|u| u.network.is_some())
        .collect();
    assert_eq!(nets.len(), 1, "{:?}", e.unmodelled);
    let u = nets[0];
    assert_eq!(u.option, "gateway_mode_ipv4=nat-unprotected");
    assert_eq!(u.network.as_deref(), Some("web"));
    assert_eq!(u.family, Some(Family::Ipv4));
    assert_eq!(u.interfaces, ["br-web"]);
    assert!(u.why.contains("before 28.0"), "{}", u.why);
    assert!(!e.rules.iter().any(|r| {
        r.args
            .iter()
            .any(|a| a == "br-web" || a.contains("192.0.2."))
    }));
    assert!(e.rules.iter().any(|r| r.args.iter().any(|a| a == "br-b")));
    // 28.x models it.
    let s28 = state("28.3.0", vec![n.clone()], vec![c.clone()]);
    assert!(
        expect(&s28, Layout::V28_3)
            .unmodelled
            .iter()
            .all(|u| u.network.is_none())
    );
    // Routed before 27.0: no gateway modes at all.
    let mut r = n.clone();
    r.gateway_mode_ipv4 = GatewayMode::Routed;
    let by_network = |e: Expectation| e.unmodelled.iter().filter(|u| u.network.is_some()).count();
    let e = expect(&state("26.1.4", vec![r.clone()], vec![]), Layout::V20);
    assert_eq!(by_network(e), 1);
    assert_eq!(
        by_network(expect(&state("27.0.1", vec![r], vec![]), Layout::V20)),
        0
    );
    // A value no moby knows (read from the network's options).
    let mut x = n;
    x.gateway_mode_ipv4 = GatewayMode::Nat;
    x.options.insert(
        "com.docker.network.bridge.gateway_mode_ipv6".into(),
        "nat66".into(),
    );
    x.enable_ipv6 = true;
    // Said only where the network has rules of that family.
    let e = expect(&state("28.3.0", vec![x.clone()], vec![]), Layout::V28_3);
    assert!(e.unmodelled.iter().all(|u| u.network.is_none()));
    x.subnets.push(Subnet {
        subnet: "fd00:1::/64".parse().unwrap(),
        gateway: None,
    });
    let mut s6 = state("28.3.0", vec![x], vec![]);
    s6.daemon.ip6tables = Some(true);
    let e = expect(&s6, Layout::V28_3);
    let u: Vec<&Unmodelled> = e
        .unmodelled
        .iter()
        .filter(|u| u.network.is_some())
        .collect();
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(u[0].option, "gateway_mode_ipv6=nat66");
    assert_eq!(u[0].family, Some(Family::Ipv6));
}
