//! Helpers for the `check_*` end-to-end tests: run the nfprobe binary, turn the lab's Docker
//! state into a bundle, compare findings with rules by meaning.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use nfprobe::docker::expect::to_rule;
use nfprobe::ruleset::{Family, Rule};
use serde_json::Value;

/// Run `nfprobe ARGS --json`; returns (exit code, parsed JSON). Panics with stderr on exit 2.
pub fn nfprobe_json(args: &[&str]) -> (i32, Value) {
    let bin = lab::bin_path::nfprobe_bin().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(&bin)
        .args(args)
        .arg("--json")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        code == 0 || code == 1,
        "nfprobe {args:?} exit {code}: {stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "nfprobe {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (code, v)
}

/// Run nfprobe with plain output; returns (exit code, stdout, stderr).
pub fn nfprobe_text(args: &[&str]) -> (i32, String, String) {
    let bin = lab::bin_path::nfprobe_bin().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(&bin).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The nfprobe bundle for a hand-built lab's Docker state (see `lab::docker28::DockerState::bundle`).
pub fn bundle_from_lab(ds: &lab::docker28::DockerState) -> Value {
    ds.bundle()
}

pub fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// `-A CHAIN args...` → (chain, canonical rule).
pub fn parse_line(line: &str) -> (String, Rule) {
    let w: Vec<String> = line.split_whitespace().map(String::from).collect();
    assert_eq!(w[0], "-A", "{line}");
    let r = to_rule(Family::Ipv4, &w[2..]).unwrap_or_else(|e| panic!("{line}: {e}"));
    (w[1].clone(), r)
}

/// Findings whose status is not ok.
pub fn problems(v: &Value) -> Vec<&Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "ok")
        .collect()
}

pub fn host_problems(v: &Value) -> Vec<&Value> {
    v["host"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["severity"] == "problem")
        .collect()
}

/// (table, chain, rule) of a finding.
pub fn finding_rule(f: &Value) -> (String, String, Rule) {
    let (chain, r) = parse_line(f["rule"].as_str().unwrap());
    (f["table"].as_str().unwrap().to_owned(), chain, r)
}

pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "nfck-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A netns (and a temp folder) this test owns; removed on drop.
pub struct Scratch {
    pub ns: String,
    pub dir: std::path::PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Self {
        lab::prereq::require_root().unwrap_or_else(|e| panic!("{e}"));
        let ns = unique(tag);
        let st = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {ns}");
        let dir = std::env::temp_dir().join(&ns);
        std::fs::create_dir_all(&dir).unwrap();
        Self { ns, dir }
    }
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.ns)
    }
    pub fn run(&self, prog: &str, args: &[&str], stdin: Option<&str>) {
        use std::io::Write;
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.ns))
            .arg("--")
            .arg(prog)
            .args(args);
        c.stdin(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        let st = child.wait().unwrap();
        assert!(st.success(), "{prog} {args:?} in {} failed", self.ns);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `*table` + `-A` lines → iptables-restore input (chains declared, FORWARD policy DROP as
/// when dockerd enabled forwarding itself).
pub fn restore_input(text: &str) -> String {
    let mut out = String::new();
    let mut table: Option<String> = None;
    let mut lines: Vec<&str> = Vec::new();
    let flush = |out: &mut String, table: &Option<String>, lines: &mut Vec<&str>| {
        let Some(t) = table else { return };
        out.push_str(&format!("*{t}\n"));
        if t == "filter" {
            out.push_str(":FORWARD DROP [0:0]\n");
        }
        let mut chains: Vec<&str> = Vec::new();
        for l in lines.iter() {
            let w: Vec<&str> = l.split_whitespace().collect();
            for c in [
                Some(w[1]),
                w.iter().position(|x| *x == "-j").map(|i| w[i + 1]),
            ]
            .into_iter()
            .flatten()
            {
                if c.starts_with("DOCKER") && !chains.contains(&c) {
                    chains.push(c);
                }
            }
        }
        for c in chains {
            out.push_str(&format!(":{c} - [0:0]\n"));
        }
        for l in lines.drain(..) {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("COMMIT\n");
    };
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(t) = l.strip_prefix('*') {
            flush(&mut out, &table, &mut lines);
            table = Some(t.to_owned());
        } else {
            lines.push(l);
        }
    }
    flush(&mut out, &table, &mut lines);
    out
}

/// Load `rules` (`*table` + `-A` lines) into the scratch netns with iptables-nft-restore and
/// run `check --docker-state` on `bundle` there, with `extra` arguments.
pub fn check_loaded(s: &Scratch, rules: &str, bundle: &Value, extra: &[&str]) -> (i32, Value) {
    s.run("iptables-nft-restore", &[], Some(&restore_input(rules)));
    let file = s.dir.join("bundle.json");
    write_json(&file, bundle);
    let ns = s.path();
    let mut args = vec![
        "--netns",
        &ns,
        "check",
        "--docker-state",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    nfprobe_json(&args)
}
