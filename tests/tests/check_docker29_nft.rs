//! Docker 29.0 with `firewall-backend: nftables`, built by the lab without Docker: `nfprobe
//! check --docker-state` on it finds nothing when healthy, names each deleted rule and
//! verdict-map element exactly (and nothing else), a misplaced ACCEPT as wrong order, a stray
//! rule as extra; real traffic from the external client follows the rules; the fix script
//! restores what is gone.

mod check_common;

use std::collections::BTreeSet;
use std::time::Duration;

use check_common::*;
use lab::docker29nft::{Fault, Kind, Lab, Options, Piece, Selector};
use serde_json::Value;

/// `check --docker-state` with the bundle the lab wrote for itself.
fn check(lab: &Lab) -> (i32, Value) {
    let file = lab.bundle_path();
    let ns = lab.host_netns_path();
    nfprobe_json(&[
        "--netns",
        ns.to_str().unwrap(),
        "check",
        "--docker-state",
        file.to_str().unwrap(),
    ])
}

fn fix_script(lab: &Lab) -> String {
    let file = lab.bundle_path();
    let ns = lab.host_netns_path();
    let (code, out, err) = nfprobe_text(&[
        "--netns",
        ns.to_str().unwrap(),
        "check",
        "--docker-state",
        file.to_str().unwrap(),
        "--fix-script",
    ]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    out
}

/// Run the fix script inside the lab's host netns (never anywhere else).
fn run_fix(lab: &Lab) {
    let s = fix_script(lab);
    let path = lab.dir().join("fix.sh");
    std::fs::write(&path, &s).unwrap();
    lab.run_in_host("sh", &[path.to_str().unwrap()])
        .unwrap_or_else(|e| panic!("fix script failed: {e}\n{s}"));
}

/// `counter packets N bytes M` → `counter`.
fn without_counts(s: &str) -> String {
    let w: Vec<&str> = s.split(' ').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < w.len() {
        out.push(w[i]);
        if w[i] == "counter" && w.get(i + 1) == Some(&"packets") {
            i += 5;
        } else {
            i += 1;
        }
    }
    out.join(" ")
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// (family, chain, listed text) of every non-ok finding.
fn reported(v: &Value) -> BTreeSet<(String, String, String)> {
    problems(v)
        .iter()
        .map(|f| {
            let fam = if f["family"] == "ipv4" { "ip" } else { "ip6" };
            (
                fam.to_owned(),
                f["chain"].as_str().unwrap().to_owned(),
                norm(f["rule"].as_str().unwrap()),
            )
        })
        .collect()
}

fn keys(pieces: &[Piece]) -> BTreeSet<(String, String, String)> {
    pieces
        .iter()
        .map(|p| (p.family.clone(), p.chain.clone(), norm(&p.listed)))
        .collect()
}

fn assert_exactly(v: &Value, removed: &[Piece], status: &str) {
    assert_eq!(reported(v), keys(removed), "{:#?}", problems(v));
    for f in problems(v) {
        assert_eq!(f["status"], status, "{f:#}");
        assert_eq!(f["table"], "docker-bridges", "{f:#}");
        assert!(f["effect"].as_str().is_some_and(|e| !e.is_empty()), "{f:#}");
        assert!(
            f["fix"].as_str().is_some_and(|x| x.starts_with("nft '")),
            "{f:#}"
        );
        assert!(f["claims"].as_array().unwrap().is_empty(), "{f:#}");
    }
    assert!(host_problems(v).is_empty(), "{:#?}", host_problems(v));
}

fn port_of(lab: &Lab, net: usize) -> u16 {
    lab.networks()[net].containers[0].ports[0].host_port
}

fn reaches(lab: &Lab, net: usize) -> bool {
    lab.http_from_client(port_of(lab, net), Duration::from_millis(700))
        .is_ok()
}

#[test]
fn docker29_nft_healthy_then_each_deleted_piece_exactly() {
    let mut lab = Lab::up(Options {
        plan: lab::fakehost::Plan {
            default_bridge: true,
            ..Default::default()
        },
        ..Options::default()
    })
    .unwrap();
    // The lab's own idea of what nft prints matches nft (so the comparisons below are
    // against the kernel's spelling, not ours).
    let listing = without_counts(&norm(&lab.nft_list("ip").unwrap()));
    for p in lab.expected().iter().filter(|p| p.family == "ip") {
        let want = if p.element {
            norm(
                p.listed
                    .split_once(' ')
                    .unwrap()
                    .1
                    .split_once(' ')
                    .unwrap()
                    .1,
            )
        } else {
            norm(&p.listed)
        };
        assert!(
            listing.contains(&want),
            "nft does not print {want:?}:\n{listing}"
        );
    }

    let (code, v) = check(&lab);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert!(host_problems(&v).is_empty(), "{:#?}", host_problems(&v));
    assert_eq!(code, 0);
    assert_eq!(v["layout"], "v29_nft");
    let ok = v["findings"].as_array().unwrap().len();
    assert_eq!(
        ok,
        lab.expected().len(),
        "one finding per expected rule and element"
    );
    for n in 0..3 {
        assert!(
            reaches(&lab, n),
            "healthy lab: port of network {n} unreachable"
        );
    }

    // One kind at a time, never put back: each step reports exactly what is gone so far.
    let steps = [
        (Kind::PortAccept, Some(2)),
        (Kind::Dnat, Some(1)),
        (Kind::FwdOutElement, Some(2)),
        (Kind::MasqOwnPort, Some(0)),
        (Kind::DropDirect, Some(1)),
        (Kind::Icc, Some(0)),
        (Kind::CtAccept, Some(2)),
        (Kind::Masquerade, Some(0)),
        (Kind::MasqFromHost, Some(1)),
        (Kind::Outgoing, Some(0)),
        (Kind::UnpublishedDrop, Some(1)),
        (Kind::PostInElement, Some(0)),
        (Kind::PostOutElement, Some(1)),
        (Kind::FwdInElement, Some(0)),
        (Kind::PreroutingJump, None),
    ];
    for (kind, network) in steps {
        let gone = lab
            .apply(&[Fault::Delete(vec![Selector { kind, network }])])
            .unwrap();
        assert!(!gone.is_empty(), "{kind}@{network:?} removed nothing");
        let (code, v) = check(&lab);
        assert_eq!(code, 1);
        assert_exactly(&v, lab.removed(), "missing");
        match (kind, network) {
            (Kind::PortAccept, Some(2)) => {
                assert!(!reaches(&lab, 2), "no ACCEPT: the final DROP wins");
                assert!(reaches(&lab, 1));
            }
            (Kind::Dnat, Some(1)) => {
                assert!(!reaches(&lab, 1), "no DNAT: nothing listens on the host");
                assert!(reaches(&lab, 0));
            }
            (Kind::PreroutingJump, None) => assert!(!reaches(&lab, 0)),
            _ => {}
        }
    }
    assert!(lab.removed().len() >= 16);

    // The fix script (nft commands, applied here only inside the lab) restores everything.
    run_fix(&lab);
    let (code, v) = check(&lab);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert_eq!(code, 0);
    for n in 0..3 {
        assert!(
            reaches(&lab, n),
            "after the fix: port of network {n} unreachable"
        );
    }
    lab.down().unwrap();
}

#[test]
fn docker29_nft_wrong_order_and_extra() {
    let mut lab = Lab::up(Options::default()).unwrap();
    assert!(reaches(&lab, 0) && reaches(&lab, 1));
    lab.apply(&[Fault::PortAcceptBelowDrop(0)]).unwrap();
    assert!(lab.removed().is_empty());
    let (code, v) = check(&lab);
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "wrong_order");
    let accept = lab
        .expected()
        .iter()
        .find(|x| x.kind == Kind::PortAccept && x.network == Some(0))
        .unwrap();
    assert_eq!(norm(p[0]["rule"].as_str().unwrap()), norm(&accept.listed));
    assert!(
        p[0]["fix"]
            .as_str()
            .unwrap()
            .contains("insert rule ip docker-bridges")
    );
    assert!(!reaches(&lab, 0), "ACCEPT below the DROP: port closed");
    assert!(reaches(&lab, 1));
    run_fix(&lab);
    let (code, v) = check(&lab);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    assert_eq!(code, 0);
    assert!(reaches(&lab, 0));

    // A rule Docker would not write is extra; nothing else changes.
    lab.reset().unwrap();
    let br = lab.networks()[1].bridge.clone();
    lab.run_in_host(
        "nft",
        &[
            "add",
            "rule",
            "ip",
            "docker-bridges",
            &format!("filter-forward-in__{br}"),
            "tcp",
            "dport",
            "22",
            "accept",
        ],
    )
    .unwrap();
    let (code, v) = check(&lab);
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["status"], "extra");
    assert_eq!(p[0]["rule"], "tcp dport 22 accept");
    lab.down().unwrap();
}

/// `collect` in the lab (Docker state from the lab's bundle, kernel read live), then `check
/// --docker-state` of the collected bundle from an empty netns: the same findings, read from
/// the bundle's `kernel.nft` view.
#[test]
fn docker29_nft_bundle_round_trip() {
    let lab = Lab::up(Options {
        faults: vec![
            "delete:dnat@1".parse().unwrap(),
            "delete:fwd-in-element@0".parse().unwrap(),
            "port-accept-below-drop@1".parse().unwrap(),
        ],
        ..Options::default()
    })
    .unwrap();
    let (code, v) = check(&lab);
    assert_eq!(code, 1);
    let statuses: BTreeSet<String> = problems(&v)
        .iter()
        .map(|f| f["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["missing".to_owned(), "wrong_order".to_owned()])
    );
    assert_eq!(problems(&v).len(), 3, "{:#?}", problems(&v));

    let state = lab.bundle_path();
    let collected = lab.dir().join("collected.json");
    let ns = lab.host_netns_path();
    let (c, _, err) = nfprobe_text(&[
        "--netns",
        ns.to_str().unwrap(),
        "collect",
        "--docker-state",
        state.to_str().unwrap(),
        "-o",
        collected.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "{err}");
    let text = std::fs::read_to_string(&collected).unwrap();
    assert!(text.contains("\"docker-bridges\""), "no nft view collected");
    let other = Scratch::new("d29rt");
    let (code2, v2) = nfprobe_json(&[
        "--netns",
        &other.path(),
        "check",
        "--docker-state",
        collected.to_str().unwrap(),
    ]);
    assert_eq!(code2, code);
    assert_eq!(v2["findings"], v["findings"]);
    assert_eq!(v2["host"], v["host"]);
    lab.down().unwrap();
}
