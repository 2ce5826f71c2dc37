//! Output: the human report (verdict first, then one block per network), the JSON document
//! (the `Audit` with its schema number), and the fix script. Plus the bundle format.

pub mod bundle;

use std::fmt::Write;

use crate::audit::{Audit, Finding, Severity, Status};

/// The JSON report: `{"kind": "nfprobe-check", "schema": 1, ...}`.
pub fn json(a: &Audit) -> String {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        kind: &'static str,
        problems: usize,
        #[serde(flatten)]
        audit: &'a Audit,
    }
    serde_json::to_string_pretty(&Doc {
        kind: "nfprobe-check",
        problems: a.problems(),
        audit: a,
    })
    .unwrap_or_default()
}

fn count(a: &Audit, s: Status) -> usize {
    a.findings.iter().filter(|f| f.status == s).count()
}

/// One paragraph: is it fine, what is broken, why, what to do.
pub fn verdict(a: &Audit) -> String {
    let n = a.problems();
    let mut v = String::new();
    let nft = a.layout == crate::docker::expect::Layout::V29Nft;
    if n == 0 && nft {
        let _ = write!(
            v,
            "OK: all {} rules and verdict-map elements Docker 29 should have are in its nftables tables, in a working order. (With firewall-backend nftables Docker never asks `iptables -C`: there is no CLI claim to check.)",
            a.findings.iter().filter(|f| f.status == Status::Ok).count()
        );
        return v;
    }
    let unknown = count(a, Status::Unknown);
    if n == 0 {
        let _ = write!(
            v,
            "OK: all {} rules Docker should have are in the kernel, in a working order, and the iptables CLI tells the truth about them.",
            a.findings.iter().filter(|f| f.status == Status::Ok).count()
        );
        if unknown > 0 {
            let _ = write!(
                v,
                " {unknown} rule(s) could not be judged without the Engine API (listed as unknown below)."
            );
        }
        return v;
    }
    let lies = count(a, Status::MissingCliClaimsPresent);
    let missing = count(a, Status::Missing);
    let order = count(a, Status::WrongOrder);
    let undec = count(a, Status::Undecodable);
    let extra = count(a, Status::Extra);
    let denied = count(a, Status::PresentCliClaimsMissing);
    let _ = write!(v, "PROBLEMS: {n} finding(s).");
    if lies > 0 {
        let _ = write!(
            v,
            " {lies} rule(s) are missing from the kernel while the iptables CLI claims they exist — Docker asked `iptables -C`, believed the lie and skipped them."
        );
    }
    if missing > 0 && nft {
        let _ = write!(
            v,
            " {missing} rule(s) or verdict-map element(s) are missing from Docker's nftables tables."
        );
    } else if missing > 0 {
        let _ = write!(
            v,
            " {missing} rule(s) are missing (the CLI agrees they are absent)."
        );
    }
    if order > 0 {
        let _ = write!(v, " {order} rule(s) sit below a rule that shadows them.");
    }
    if denied > 0 {
        let _ = write!(
            v,
            " {denied} rule(s) are present but the CLI says they are not."
        );
    }
    if undec > 0 {
        let _ = write!(
            v,
            " {undec} rule(s) could not be decoded, so nfprobe cannot vouch for them."
        );
    }
    if extra > 0 {
        let _ = write!(
            v,
            " {extra} Docker-looking rule(s) match nothing Docker should have."
        );
    }
    let mut effects: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.status,
                Status::Missing | Status::MissingCliClaimsPresent | Status::WrongOrder
            )
        })
        .filter_map(|f| f.effect.as_deref())
        .collect();
    effects.sort_unstable();
    effects.dedup();
    if !effects.is_empty() {
        let _ = write!(v, "\nWhat users see:");
        for e in effects.iter().take(12) {
            let _ = write!(v, "\n  - {e}");
        }
        if effects.len() > 12 {
            let _ = write!(v, "\n  - ... and {} more", effects.len() - 12);
        }
    }
    let host: Vec<_> = a
        .host
        .iter()
        .filter(|h| h.severity == Severity::Problem)
        .collect();
    for h in &host {
        let _ = write!(v, "\n  * {}", h.message);
    }
    if lies + missing + order > 0 {
        let _ = write!(
            v,
            "\nTo restore: `nfprobe check --fix-script > fix.sh`, read it, run it (or restart dockerd{}).",
            if nft {
                ": it re-creates its docker-bridges tables"
            } else {
                " after fixing iptables"
            }
        );
    }
    v
}

fn finding_block(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "  {:<34} {} {}  {}",
        f.status.label(),
        f.table,
        f.chain,
        f.rule
    );
    if let Some(e) = &f.effect {
        let _ = writeln!(out, "      effect: {e}");
    }
    if let Some(l) = &f.lookalike {
        let _ = writeln!(
            out,
            "      look-alike in the kernel (differs only in interface names or prefix): {l}"
        );
    }
    if let Some(d) = &f.detail {
        let _ = writeln!(out, "      note: {d}");
    }
    for c in &f.claims {
        let ans = match &c.answer {
            crate::claims::Answer::Present => "present".to_owned(),
            crate::claims::Answer::Absent => "absent".to_owned(),
            crate::claims::Answer::NotAsked { reason } => format!("not asked ({reason})"),
            crate::claims::Answer::Error { reason } => format!("error ({reason})"),
        };
        let _ = writeln!(
            out,
            "      {} says {ans}{}",
            c.binary,
            if c.lie { "  <-- FALSE" } else { "" }
        );
    }
    if let Some(x) = &f.fix {
        let _ = writeln!(out, "      fix: {x}");
    }
}

/// The human report.
pub fn text(a: &Audit, verbose: bool) -> String {
    let mut out = String::new();
    let rules_in = if a.layout == crate::docker::expect::Layout::V29Nft {
        "nftables tables ip/ip6 docker-bridges".to_owned()
    } else {
        format!("the {} backend", a.docker_backend)
    };
    let _ = writeln!(
        out,
        "nfprobe check — Docker {} ({}), rules in {rules_in}, state from {}",
        a.engine_version.as_deref().unwrap_or("unknown version"),
        a.layout.describe(),
        a.docker_source
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", verdict(a));
    for n in &a.networks {
        let fs: Vec<&Finding> = a
            .findings
            .iter()
            .filter(|f| f.network.as_deref() == Some(&n.name))
            .collect();
        let ok = fs.iter().filter(|f| f.status == Status::Ok).count();
        let _ = writeln!(
            out,
            "\nNetwork {} (bridge {}, {}{}, {} container(s)): {ok}/{} rules ok",
            n.name,
            n.bridge,
            n.subnets.join(", "),
            if n.internal { ", internal" } else { "" },
            n.containers,
            fs.len()
        );
        for f in fs.iter().filter(|f| verbose || f.status != Status::Ok) {
            finding_block(&mut out, f);
        }
    }
    let daemon: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| {
            f.network.is_none()
                && f.status != Status::Extra
                && !(f.status == Status::Unknown && f.fix.is_none())
                && !(f.status == Status::Undecodable && f.claims.is_empty() && f.fix.is_none())
        })
        .collect();
    let ok = daemon.iter().filter(|f| f.status == Status::Ok).count();
    let _ = writeln!(out, "\nDaemon-wide rules: {ok}/{} ok", daemon.len());
    for f in daemon.iter().filter(|f| verbose || f.status != Status::Ok) {
        finding_block(&mut out, f);
    }
    let extra: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| {
            f.network.is_none()
                && (f.status == Status::Extra
                    || (f.status == Status::Unknown && f.fix.is_none())
                    || (f.status == Status::Undecodable && f.fix.is_none()))
        })
        .collect();
    if !extra.is_empty() {
        let heading = if extra.iter().any(|f| f.status == Status::Unknown) {
            "Rules Docker did not ask for, or that cannot be attributed without the Engine API"
        } else {
            "Rules Docker did not ask for"
        };
        let _ = writeln!(out, "\n{heading} ({}):", extra.len());
        for f in extra {
            let _ = writeln!(
                out,
                "  {:<12} {} {} {}",
                f.status.label(),
                f.family,
                f.table,
                f.rule
            );
        }
    }
    if !a.host.is_empty() {
        let _ = writeln!(out, "\nHost:");
        for h in &a.host {
            let tag = match h.severity {
                Severity::Problem => "PROBLEM",
                Severity::Info => "info",
            };
            let _ = writeln!(out, "  [{tag}] {}", h.message);
            if let Some(f) = &h.fix {
                let _ = writeln!(out, "      fix: {f}");
            }
        }
    }
    let _ = writeln!(out, "\niptables binaries asked:");
    if a.binaries.is_empty() {
        let _ = writeln!(out, "  none (claims not checked)");
    }
    for b in &a.binaries {
        let _ = writeln!(
            out,
            "  {} — {}{}",
            b.path.display(),
            b.version.as_deref().unwrap_or("?"),
            b.error
                .as_ref()
                .map(|e| format!(" (unusable: {e})"))
                .unwrap_or_default()
        );
    }
    out
}

/// Host findings whose fix creates what rules go into (chains; nftables verdict maps).
fn is_container_fix(kind: &str) -> bool {
    matches!(kind, "chain_missing" | "nft_map_missing")
}

/// Every restoring command, in order: chains (and nftables maps) first, then rules in Docker's own order, then
/// host settings. Nothing is applied.
pub fn fix_script(a: &Audit) -> String {
    let mut s = String::from(
        "#!/bin/sh\n# Generated by nfprobe check. It applies nothing until you run it: read it first.\n# Rules are restored with -I/-A only (never -D by spec: a buggy iptables deletes look-alikes);\n# nftables rules with `nft insert/add rule ... handle N` next to their neighbours.\nset -e\n",
    );
    let chains: Vec<_> = a
        .host
        .iter()
        .filter(|h| is_container_fix(&h.kind))
        .collect();
    if !chains.is_empty() {
        s.push_str("\n# missing chains\n");
        for h in chains {
            if let Some(f) = &h.fix {
                let _ = writeln!(s, "{f}");
            }
        }
    }
    let rules: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.status,
                Status::Missing | Status::MissingCliClaimsPresent | Status::WrongOrder
            )
        })
        .collect();
    if !rules.is_empty() {
        s.push_str("\n# missing or misplaced rules, in Docker's order\n");
        for f in rules {
            let _ = writeln!(
                s,
                "# {} {}: {}",
                f.network.as_deref().unwrap_or("daemon"),
                f.status.label(),
                f.effect.as_deref().unwrap_or("")
            );
            if let Some(x) = &f.fix {
                let _ = writeln!(s, "{x}");
            }
        }
    }
    let host: Vec<_> = a
        .host
        .iter()
        .filter(|h| {
            !is_container_fix(&h.kind) && h.severity == Severity::Problem && h.fix.is_some()
        })
        .collect();
    if !host.is_empty() {
        s.push_str("\n# host settings\n");
        for h in host {
            if let Some(f) = &h.fix {
                let cmd = f.starts_with("sysctl ") || f.starts_with("modprobe ");
                let _ = writeln!(s, "# {}\n{}{f}", h.message, if cmd { "" } else { "# " });
            }
        }
    }
    s
}

#[cfg(test)]
mod words_tests;
