//! Every `TestIptabler` golden of moby's iptabler (internal/iptabler/testdata at a release tag:
//! hairpin × internal × icc × masq × snat × gateway mode × loopback binding, IPv4 and IPv6)
//! against what `expect` builds for the same network. moby's goldens are not part of this
//! repository, so the sweep is opt-in:
//!
//! ```text
//! git show TAG:…/internal/iptabler/testdata  (extract the folder)
//! MOBY_IPTABLER_TESTDATA=FOLDER MOBY_TAG=28.5.2 cargo test -p probe --lib golden_sweep -- --ignored
//! ```
//!
//! Two differences from a real daemon are taken out of the goldens, because the unit test
//! calls `AddPorts` with host port 8080 even in routed mode, where the real port mapper sets
//! the host port to 0 (port_mapping_linux.go `disableNAT`): in routed mode the DNAT, the
//! per-port hairpin MASQUERADE and the loopback-binding raw DROP are not expected. The
//! controller's DOCKER-USER rules are not in the goldens (iptabler does not make them).

use std::path::Path;

use super::*;
use crate::docker::state::*;

fn parse_golden(text: &str, family: Family) -> Vec<(String, String, Rule)> {
    let mut table = String::new();
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if let Some(t) = l.strip_prefix('*') {
            table = t.into();
            continue;
        }
        if !l.starts_with("-A ") {
            continue;
        }
        let w: Vec<String> = l.split_whitespace().map(String::from).collect();
        let rule = to_rule(family, &w[2..]).unwrap_or_else(|e| panic!("{l}: {e}"));
        out.push((table.clone(), w[1].clone(), rule));
    }
    out
}

struct Case {
    hairpin: bool,
    internal: bool,
    icc: bool,
    masq: bool,
    snat: bool,
    gwm: GatewayMode,
    bindlh: bool,
}

/// `hairpin=false,internal=false,icc=true,masq=true,snat=false,gwm=nat,bindlh=false`.
fn parse_name(name: &str) -> Option<Case> {
    let mut c = Case {
        hairpin: false,
        internal: false,
        icc: false,
        masq: false,
        snat: false,
        gwm: GatewayMode::Nat,
        bindlh: false,
    };
    for kv in name.split(',') {
        let (k, v) = kv.split_once('=')?;
        let b = v == "true";
        match k {
            "hairpin" => c.hairpin = b,
            "internal" => c.internal = b,
            "icc" => c.icc = b,
            "masq" => c.masq = b,
            "snat" => c.snat = b,
            "gwm" => c.gwm = GatewayMode::parse(v)?,
            "bindlh" => c.bindlh = b,
            _ => return None,
        }
    }
    Some(c)
}

fn case_state(c: &Case, family: Family, version: &str) -> DockerState {
    let mut n = Network {
        bridge: "br-dummy".into(),
        enable_ipv6: true,
        subnets: vec![
            Subnet {
                subnet: "192.168.0.0/24".parse().unwrap(),
                gateway: None,
            },
            Subnet {
                subnet: "fd49:efd7:54aa::/64".parse().unwrap(),
                gateway: None,
            },
        ],
        internal: c.internal,
        icc: c.icc,
        masquerade: c.masq,
        gateway_mode_ipv4: c.gwm,
        gateway_mode_ipv6: c.gwm,
        ..Network::with_defaults("dummy")
    };
    if c.snat {
        n.host_ipv4 = Some("192.168.123.0".parse().unwrap());
        n.host_ipv6 = Some("fd34:d0d4:672f::123".parse().unwrap());
    }
    let (h4, h6) = if c.bindlh {
        ("127.0.0.1", "::1")
    } else {
        ("0.0.0.0", "::")
    };
    let routed = c.gwm == GatewayMode::Routed;
    let pb = |h: &str| PortBinding {
        host_ip: Some(h.parse().unwrap()),
        host_port: if routed { 0 } else { 8080 },
        container_port: 80,
        proto: Proto::Tcp,
    };
    let ctr = Container {
        name: "c1".into(),
        id: String::new(),
        endpoints: vec![Endpoint {
            network: "dummy".into(),
            ipv4: Some("192.168.0.2".parse().unwrap()),
            ipv6: Some("fd49:efd7:54aa::1".parse().unwrap()),
        }],
        ports: vec![pb(h4), pb(h6)],
        ports_network: None,
        exposed: vec![],
        links: vec![],
    };
    DockerState {
        source: StateSource::Bundle,
        degraded: None,
        engine_version: Some(version.into()),
        daemon: DaemonSettings {
            userland_proxy: !c.hairpin,
            iptables: family == Family::Ipv4,
            ip6tables: Some(family == Family::Ipv6),
            ..Default::default()
        },
        networks: vec![n],
        containers: vec![ctr],
        swarm: None,
    }
}

/// Golden lines a real daemon does not have in routed mode (see the module comment).
fn real_daemon_has(c: &Case, table: &str, chain: &str, line_rule: &Rule, text: &str) -> bool {
    let _ = line_rule;
    if c.gwm != GatewayMode::Routed {
        return true;
    }
    let dnat = table == "nat" && chain == "DOCKER" && text.contains("DNAT");
    let hairpin = table == "nat" && chain == "POSTROUTING" && text.contains("--dport 80 ");
    let loopback = table == "raw" && text.contains("! -i lo ");
    !(dnat || hairpin || loopback)
}

#[test]
#[ignore = "needs moby's iptabler testdata: MOBY_IPTABLER_TESTDATA=DIR MOBY_TAG=VERSION"]
fn every_moby_iptabler_golden() {
    let dir = std::env::var("MOBY_IPTABLER_TESTDATA").expect("MOBY_IPTABLER_TESTDATA");
    let version = std::env::var("MOBY_TAG").unwrap_or_else(|_| "28.5.2".into());
    let layout = Layout::for_version(parse_version(&version), false).unwrap();
    let dir = Path::new(&dir);
    // 28.x: `TestIptabler_NAME__iptables.golden`; 29: `TestIptabler/NAME__iptables.golden`.
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for d in [dir.to_path_buf(), dir.join("TestIptabler")] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for f in rd.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            let name = name.trim_start_matches("TestIptabler_").to_owned();
            files.push((name, f.path()));
        }
    }
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, path) in files {
        let Some(stem) = name.strip_suffix(".golden") else {
            continue;
        };
        let Some((params, cmd)) = stem.rsplit_once("__") else {
            continue;
        };
        let family = match cmd {
            "iptables" => Family::Ipv4,
            "ip6tables" => Family::Ipv6,
            _ => continue,
        };
        // WSL2 mirrored networking is not modelled; `cleaned` is an empty daemon.
        if params.contains("wsl2mirrored") || params.starts_with("cleaned") {
            continue;
        }
        let case = match parse_name(params) {
            Some(c) => c,
            None => {
                // The internal goldens are named without masq/snat/gwm/bindlh.
                let Some(c) = parse_name(&format!("{params},masq=false")) else {
                    continue;
                };
                c
            }
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut want = Vec::new();
        for (t, c, r) in parse_golden(&text, family) {
            let line = text
                .lines()
                .find(|l| {
                    l.starts_with(&format!("-A {c} "))
                        && to_rule(
                            family,
                            &l.split_whitespace()
                                .skip(2)
                                .map(String::from)
                                .collect::<Vec<_>>(),
                        )
                        .ok()
                        .as_ref()
                            == Some(&r)
                })
                .unwrap_or_default()
                .to_owned()
                + " ";
            if real_daemon_has(&case, &t, &c, &r, &line) {
                want.push((t, c, r));
            }
        }
        let state = case_state(&case, family, &version);
        let e = expect(&state, layout);
        let canon = canonical(&e);
        let got: Vec<(String, String, Rule)> = e
            .rules
            .iter()
            .zip(&canon)
            .filter(|(r, _)| r.chain != "DOCKER-USER" && r.args != ["-j", "DOCKER-USER"])
            .map(|(r, c)| (r.table.clone(), r.chain.clone(), c.clone().unwrap()))
            .collect();
        let mut problems = Vec::new();
        for g in &got {
            if !want.contains(g) {
                problems.push(format!(
                    "  expected, not in the golden: {} {} {}",
                    g.0,
                    g.1,
                    crate::audit::text::spec("", &g.2)
                ));
            }
        }
        for w in &want {
            if !got.contains(w) {
                problems.push(format!(
                    "  in the golden, not expected: {} {} {}",
                    w.0,
                    w.1,
                    crate::audit::text::spec("", &w.2)
                ));
            }
        }
        // Order constraints hold in the golden's order.
        for o in &e.order {
            let pos = |i: usize| {
                let r = canon[i].as_ref().ok()?;
                want.iter().position(|(t, c, w)| {
                    *t == e.rules[i].table && *c == e.rules[i].chain && w == r
                })
            };
            if let (Some(a), Some(b)) = (pos(o.first), pos(o.then))
                && a > b
            {
                problems.push(format!(
                    "  order: {} must precede {}",
                    e.rules[o.first].spec(),
                    e.rules[o.then].spec()
                ));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{name}:\n{}", problems.join("\n")));
        }
        checked += 1;
    }
    assert!(
        checked > 50,
        "only {checked} goldens found in {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} goldens differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{checked} goldens match");
}
