//! What the iptables CLI claims: `-C` for every expected rule against every iptables binary
//! found, inside the target namespace. Only `-V` and `-C` are ever run.
//!
//! A legacy binary asked about an absent legacy table makes the kernel create that table, so
//! a binary is only asked about tables its backend already has (the caller says which).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kernel::exec;
use crate::kernel::netns::NetnsSpec;
use crate::ruleset::{Backend, Family};

/// Names looked up in PATH (and /usr/sbin, /sbin) when the user names none.
pub const DEFAULT_NAMES: &[&str] = &[
    "iptables",
    "iptables-nft",
    "iptables-legacy",
    "ip6tables",
    "ip6tables-nft",
    "ip6tables-legacy",
];

/// One iptables binary and what `-V` says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binary {
    pub path: PathBuf,
    /// `-V` output, e.g. `iptables v1.8.9 (nf_tables)`.
    pub version: Option<String>,
    pub backend: Option<Backend>,
    pub family: Family,
    /// Named by the user with `--iptables`.
    #[serde(default)]
    pub explicit: bool,
    /// Why it could not be used, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Binary {
    /// `(1, 8, 11)` from the `-V` text.
    pub fn version_triple(&self) -> Option<(u32, u32, u32)> {
        let v = self.version.as_deref()?;
        let w = v.split_whitespace().find(|w| w.starts_with('v'))?;
        let mut it = w[1..].split('.').map(|p| p.parse::<u32>().ok());
        Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
    }
}

/// The answer to one `-C`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "answer")]
pub enum Answer {
    /// Exit 0: "the rule exists".
    Present,
    /// Exit 1: "no such rule" (or chain).
    Absent,
    /// Not asked: the binary's backend has no such table (asking could create it).
    NotAsked { reason: String },
    /// Anything else: usage error, lock timeout, crash.
    Error { reason: String },
}

impl Answer {
    pub fn says_present(&self) -> bool {
        matches!(self, Answer::Present)
    }
    pub fn says_absent(&self) -> bool {
        matches!(self, Answer::Absent | Answer::NotAsked { .. })
    }
}

/// One recorded claim (also the bundle's `claims` entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Path of the binary (as in `Binary::path`).
    pub binary: PathBuf,
    pub family: Family,
    pub table: String,
    pub chain: String,
    pub args: Vec<String>,
    #[serde(flatten)]
    pub answer: Answer,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub netns: Option<NetnsSpec>,
    pub timeout: Duration,
    /// `--wait` seconds passed to iptables (the xtables lock).
    pub wait: u32,
}

/// Find the default binaries plus the explicitly named ones, ask each `-V`, drop duplicates
/// (the same program under another name with the same family and backend).
pub fn find_binaries(explicit: &[PathBuf], opts: &Options) -> Vec<Binary> {
    let mut out: Vec<Binary> = Vec::new();
    let mut seen: Vec<(PathBuf, Family, Option<Backend>)> = Vec::new();
    for p in explicit {
        out.push(probe(p, true, opts));
    }
    for name in DEFAULT_NAMES {
        let Some(path) = which(name) else { continue };
        let b = probe(&path, false, opts);
        if b.error.is_some() {
            continue;
        }
        let canon = std::fs::canonicalize(&path).unwrap_or(path.clone());
        let key = (canon, b.family, b.backend);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push(b);
    }
    out
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// `-V` → version, backend and family.
pub fn probe(path: &Path, explicit: bool, opts: &Options) -> Binary {
    let fname = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut b = Binary {
        path: path.to_owned(),
        version: None,
        backend: None,
        family: if fname.contains("ip6tables") {
            Family::Ipv6
        } else {
            Family::Ipv4
        },
        explicit,
        error: None,
    };
    match exec::run(opts.netns.as_ref(), path, &["-V".into()], opts.timeout) {
        Ok(o) if o.code == Some(0) => {
            let text = String::from_utf8_lossy(&o.stdout);
            let line = text.lines().next().unwrap_or_default().trim().to_owned();
            parse_version_line(&mut b, &line);
        }
        Ok(o) => {
            b.error = Some(format!(
                "`{} -V` failed ({}): {}",
                path.display(),
                o.code
                    .map_or("timeout or signal".into(), |c| format!("exit {c}")),
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Err(e) => b.error = Some(format!("cannot run {}: {e}", path.display())),
    }
    b
}

pub fn parse_version_line(b: &mut Binary, line: &str) {
    if line.starts_with("ip6tables") {
        b.family = Family::Ipv6;
    } else if line.starts_with("iptables") {
        b.family = Family::Ipv4;
    }
    b.backend = if line.contains("(nf_tables)") {
        Some(Backend::Nft)
    } else if line.contains("(legacy)") {
        Some(Backend::Legacy)
    } else {
        None
    };
    b.version = Some(line.to_owned());
}

/// Ask `bin -w WAIT -t TABLE -C CHAIN ARGS...`.
pub fn check(bin: &Binary, table: &str, chain: &str, args: &[String], opts: &Options) -> Answer {
    let mut argv = vec![
        "-w".to_owned(),
        opts.wait.to_string(),
        "-t".into(),
        table.into(),
        "-C".into(),
        chain.into(),
    ];
    argv.extend(args.iter().cloned());
    match exec::run(opts.netns.as_ref(), &bin.path, &argv, opts.timeout) {
        Ok(o) if o.timed_out => Answer::Error {
            reason: format!("no answer within {:.1} s", opts.timeout.as_secs_f64()),
        },
        Ok(o) => match o.code {
            Some(0) => Answer::Present,
            Some(1) => Answer::Absent,
            c => Answer::Error {
                reason: format!(
                    "exit {}: {}",
                    c.map_or("signal".into(), |c| c.to_string()),
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            },
        },
        Err(e) => Answer::Error {
            reason: format!("cannot run {}: {e}", bin.path.display()),
        },
    }
}

/// A question: (family, table, chain, Docker's args).
pub type Question<'a> = (Family, &'a str, &'a str, &'a [String]);

/// Ask every usable binary of the right family every question, a few at a time.
/// `has_table(backend, family, table)` says whether asking is safe.
pub fn ask_all(
    binaries: &[Binary],
    questions: &[Question<'_>],
    opts: &Options,
    has_table: &(dyn Fn(Option<Backend>, Family, &str) -> bool + Sync),
) -> Vec<Claim> {
    let mut jobs: Vec<(&Binary, &Question<'_>)> = Vec::new();
    for q in questions {
        for b in binaries
            .iter()
            .filter(|b| b.error.is_none() && b.family == q.0)
        {
            jobs.push((b, q));
        }
    }
    let threads = 4usize;
    let chunk = jobs.len().div_ceil(threads).max(1);
    let mut out: Vec<Claim> = Vec::with_capacity(jobs.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(b, (family, table, chain, args))| {
                            let answer = if has_table(b.backend, *family, table) {
                                check(b, table, chain, args, opts)
                            } else {
                                Answer::NotAsked {
                                    reason: format!(
                                        "table {table} does not exist in this binary's backend"
                                    ),
                                }
                            };
                            Claim {
                                binary: b.path.clone(),
                                family: *family,
                                table: (*table).to_owned(),
                                chain: (*chain).to_owned(),
                                args: args.to_vec(),
                                answer,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(v) = h.join() {
                out.extend(v);
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        let mut b = probe(
            Path::new("/nonexistent/iptables"),
            false,
            &Options {
                netns: None,
                timeout: Duration::from_secs(1),
                wait: 1,
            },
        );
        assert!(b.error.is_some());
        parse_version_line(&mut b, "ip6tables v1.8.11 (nf_tables)");
        assert_eq!(b.family, Family::Ipv6);
        assert_eq!(b.backend, Some(Backend::Nft));
        assert_eq!(b.version_triple(), Some((1, 8, 11)));
        parse_version_line(&mut b, "iptables v1.8.9 (legacy)");
        assert_eq!(b.backend, Some(Backend::Legacy));
        assert_eq!(b.version_triple(), Some((1, 8, 9)));
    }
}

/// Which comparison bug a probe looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// iptables-nft 1.8.11: `-i`/`-o` names ignored.
    InterfaceNames,
    /// ip6tables-nft: IPv6 prefix lengths ignored (reference section e).
    Ipv6PrefixLength,
}

/// A `-C` for a rule that is certainly absent but differs from a kernel rule only in what a
/// buggy binary ignores. `present` is the proof of the bug; nothing is ever changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LieProbe {
    pub binary: PathBuf,
    pub kind: ProbeKind,
    pub table: String,
    pub chain: String,
    /// The kernel rule the question is derived from (`-A CHAIN ...`).
    pub from_rule: String,
    pub args: Vec<String>,
    #[serde(flatten)]
    pub answer: Answer,
}

/// A question derived from a kernel rule: (table, chain, kernel rule text, altered args).
pub type ProbeQuestion = (String, String, String, Vec<String>);

/// Ask each binary of `family` the probe question (when there is one).
pub fn probe_lies(
    binaries: &[Binary],
    family: Family,
    kind: ProbeKind,
    q: &ProbeQuestion,
    opts: &Options,
    has_table: &(dyn Fn(Option<Backend>, Family, &str) -> bool + Sync),
) -> Vec<LieProbe> {
    binaries
        .iter()
        .filter(|b| b.error.is_none() && b.family == family && b.backend == Some(Backend::Nft))
        .filter(|b| has_table(b.backend, family, &q.0))
        .map(|b| LieProbe {
            binary: b.path.clone(),
            kind,
            table: q.0.clone(),
            chain: q.1.clone(),
            from_rule: q.2.clone(),
            args: q.3.clone(),
            answer: check(b, &q.0, &q.1, &q.3, opts),
        })
        .collect()
}
