//! Records the seed corpora of the coverage-guided fuzz targets (fuzz/) from the real kernel
//! and the labs: nf_tables messages as the kernel dumps them, legacy table blobs as getsockopt
//! returns them, the extension blobs inside them, Engine API answers of the real dockerd, and
//! bundles `nfprobe collect` wrote. Ignored in the normal suite; run by
//! `cargo xtask fuzz record-seeds`, which rewrites fuzz/seeds/.

mod check_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use check_common::*;
use nfprobe::ext::{self, ExtKind};
use nfprobe::kernel::netns::{NetnsSpec, run_in};
use nfprobe::kernel::nfnl::{self, NLM_F_DUMP, NfnlSocket, NlaIter, Request};
use nfprobe::kernel::nft::Expr;
use nfprobe::kernel::nft::expr::decode_expr;
use nfprobe::kernel::xt::sockopt::XtSocket;
use nfprobe::ruleset::Family;

fn seeds_dir(target: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes each distinct input once, named by its FNV-1a hash (stable across runs).
struct Seeds {
    dir: PathBuf,
    seen: BTreeSet<Vec<u8>>,
    cap: usize,
}

impl Seeds {
    fn new(target: &str, cap: usize) -> Self {
        let dir = seeds_dir(target);
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        Self {
            dir,
            seen: BTreeSet::new(),
            cap,
        }
    }
    fn add(&mut self, data: &[u8]) {
        if self.seen.len() >= self.cap || !self.seen.insert(data.to_vec()) {
            return;
        }
        let h = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        std::fs::write(self.dir.join(format!("{h:016x}")), data).unwrap();
    }
}

fn data_file(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../probe/tests/data")
            .join(name),
    )
    .unwrap()
}

/// Every message of one nf_tables dump (NFT_MSG_GET* with NLM_F_DUMP), attributes only.
fn dump(msg: u16) -> Vec<Vec<u8>> {
    let mut sock = NfnlSocket::open().unwrap();
    let mut req = Request::new(nfnl::NFNL_SUBSYS_NFTABLES, msg, NLM_F_DUMP, 0);
    let mut out = Vec::new();
    sock.request("seed dump", &mut req, true, |m| {
        out.push(m.attrs.to_vec());
        Ok(())
    })
    .unwrap();
    out
}

#[test]
#[ignore = "writes fuzz/seeds/: run by `cargo xtask fuzz record-seeds`"]
fn record_fuzz_seeds() {
    let s = Scratch::new("seeds");
    let kube = data_file("kube_like.rules");
    let v6 = data_file("v6.rules");
    s.run("iptables-nft-restore", &[], Some(&kube));
    s.run("ip6tables-nft-restore", &[], Some(&v6));
    s.run("iptables-legacy-restore", &[], Some(&kube));
    s.run("ip6tables-legacy-restore", &[], Some(&v6));
    s.run("nft", &["-f", "-"], Some(&data_file("nft_corpus.nft")));
    let spec = NetnsSpec::parse(&s.path());

    // nf_tables: rules (and their expressions, and the compat blobs inside), other objects.
    const GETTABLE: u16 = 1;
    const GETCHAIN: u16 = 4;
    const GETRULE: u16 = 7;
    const GETSET: u16 = 10;
    const GETOBJ: u16 = 19;
    const GETFLOWTABLE: u16 = 23;
    const NFTA_RULE_EXPRESSIONS: u16 = 4;
    let (rules, others) = run_in(Some(&spec), || {
        let others: Vec<(u8, Vec<u8>)> = [
            (0u8, GETTABLE),
            (1, GETCHAIN),
            (2, GETSET),
            (4, GETOBJ),
            (5, GETFLOWTABLE),
        ]
        .iter()
        .flat_map(|(sel, m)| dump(*m).into_iter().map(move |d| (*sel, d)))
        .collect();
        (dump(GETRULE), others)
    })
    .unwrap();
    let mut rule_seeds = Seeds::new("nft_rule", 400);
    let mut expr_seeds = Seeds::new("nft_expr", 400);
    let mut ext_seeds = Seeds::new("ext_blob", 300);
    for r in &rules {
        rule_seeds.add(r);
        let exprs = NlaIter::new(r)
            .flatten()
            .find(|a| a.kind == NFTA_RULE_EXPRESSIONS)
            .map(|a| {
                a.nested()
                    .flatten()
                    .map(|e| e.data.to_vec())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for e in exprs {
            expr_seeds.add(&e);
            let (kind, x) = match decode_expr(&e) {
                Expr::Match(x) => (ExtKind::Match, x),
                Expr::Target(x) => (ExtKind::Target, x),
                _ => continue,
            };
            let names = ext::names(kind);
            let Some(i) = names.iter().position(|n| *n == x.name) else {
                continue;
            };
            let sel = u8::from(kind == ExtKind::Target);
            let mut seed = vec![sel, x.rev as u8, i as u8];
            seed.extend_from_slice(&x.info);
            ext_seeds.add(&seed);
        }
    }
    let mut obj_seeds = Seeds::new("nft_objects", 200);
    for (sel, d) in &others {
        let mut seed = vec![*sel];
        seed.extend_from_slice(d);
        obj_seeds.add(&seed);
    }
    assert!(
        rule_seeds.seen.len() >= 20,
        "too few rule messages recorded"
    );

    // Legacy tables: the GET_INFO answer in front of the GET_ENTRIES blob.
    let mut xt_seeds = Seeds::new("xt_table", 50);
    for (fam, family) in [(0u8, Family::Ipv4), (1, Family::Ipv6)] {
        let tables = run_in(Some(&spec), || {
            let sock = XtSocket::open(family).unwrap();
            let names = nfprobe::kernel::xt::table_names(family).unwrap();
            names
                .iter()
                .map(|t| {
                    let info = sock.info(t).unwrap();
                    let mut blob = Vec::new();
                    sock.entries_into(t, info.size, &mut blob).unwrap();
                    (info, blob)
                })
                .collect::<Vec<_>>()
        })
        .unwrap();
        for (info, blob) in tables {
            let mut seed = vec![fam];
            for v in [info.valid_hooks]
                .into_iter()
                .chain(info.hook_entry)
                .chain(info.underflow)
                .chain([info.num_entries])
            {
                seed.extend_from_slice(&v.to_ne_bytes());
            }
            seed.extend_from_slice(&blob);
            xt_seeds.add(&seed);
        }
    }
    assert!(!xt_seeds.seen.is_empty(), "no legacy table recorded");

    // Text the argument parser reads: real rulesets.
    let mut arg_seeds = Seeds::new("iptables_args", 50);
    for text in [&kube, &v6] {
        arg_seeds.add(text.as_bytes());
        for line in text.lines().filter(|l| l.starts_with("-A")) {
            arg_seeds.add(line.as_bytes());
        }
    }

    // The real dockerd: Engine API answers and a bundle; the Docker 28 layout: a bundle.
    let lab = lab::real::Lab::up(lab::real::Options::default()).unwrap();
    let sock = lab.docker_socket().unwrap().to_path_buf();
    let get = |path: &str| -> serde_json::Value {
        let out = Command::new("curl")
            .args([
                "-s",
                "--unix-socket",
                sock.to_str().unwrap(),
                &format!("http://docker{path}"),
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let api =
        serde_json::json!({"networks": get("/networks"), "containers": get("/containers/json")});
    let mut api_seeds = Seeds::new("engine_api", 10);
    api_seeds.add(serde_json::to_string_pretty(&api).unwrap().as_bytes());
    let mut bundle_seeds = Seeds::new("bundle", 10);
    let file = s.dir.join("real.json");
    let (code, _, err) = nfprobe_text(&[
        "--netns",
        lab.host_netns_path().to_str().unwrap(),
        "collect",
        "--docker-host",
        &format!("unix://{}", sock.display()),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    bundle_seeds.add(&std::fs::read(&file).unwrap());
    lab.down().unwrap();
    let d28 = lab::docker28::Lab::up(lab::docker28::Options::default()).unwrap();
    let file = s.dir.join("d28.json");
    write_json(&file, &bundle_from_lab(d28.docker_state()));
    bundle_seeds.add(&std::fs::read(&file).unwrap());
    d28.down().unwrap();
}
