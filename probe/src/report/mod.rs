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
                " {unknown} rule(s) are not judged: no Engine API, or an option nfprobe does not model (listed as unknown below; the host notes say why)."
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
        let _ = write!(
            v,
            " {order} rule(s) are out of Docker's order (above a jump they must follow, or below a rule that shadows them)."
        );
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
    // IPv6 rules are marked: the same rule text exists for both families.
    let fam = if f.family == crate::ruleset::Family::Ipv6 {
        "IPv6 "
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "  {:<34} {fam}{} {}  {}",
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
        if !n.not_modelled.is_empty() {
            let _ = writeln!(
                out,
                "  not judged: it uses {}, which nfprobe does not model (see the host notes); its rules there are listed as unknown below",
                n.not_modelled.join(", ")
            );
        }
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
            "Rules Docker did not ask for, or that nfprobe does not judge (no Engine API, or an option it does not model)"
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

/// Host findings whose fix creates what rules go into (nftables verdict maps; iptables
/// chains are created by the repair plan).
fn is_container_fix(kind: &str) -> bool {
    matches!(kind, "chain_missing" | "nft_map_missing")
}

/// The shell functions the script's checks use. Every check fails closed: the script stops
/// with exit 3 before (or instead of) the change it guards.
const SCRIPT_FUNCTIONS: &str = r#"
fail() {
  echo "nfprobe fix: $*" >&2
  echo "nfprobe fix: stopped; nothing after this point was changed. Run \`nfprobe check --fix-script\` again." >&2
  exit 3
}
# BINARY BACKEND: the binary exists and writes that backend ("nf_tables" or "legacy").
uses_backend() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 not found"
  "$1" --version 2>/dev/null | grep -q "($2)" || fail "$1 does not use the $2 backend (Docker's rules are there)"
}
# BINARY TABLE CHAIN COUNT: the chain exists and holds COUNT rules.
chain_has() {
  "$1" -w -t "$2" -S "$3" >/dev/null 2>&1 || fail "$2 $3 does not exist ($1)"
  n=$("$1" -w -t "$2" -S "$3" | grep -c '^-A ') || true
  [ "$n" = "$4" ] || fail "$2 $3 holds $n rules; this plan was made when it held $4: the chain changed"
}
# BINARY TABLE CHAIN: the chain does not exist (the plan creates it).
chain_absent() {
  if "$1" -w -t "$2" -S "$3" >/dev/null 2>&1; then fail "$2 $3 exists now; this plan was made without it"; fi
}
# BINARY TABLE CHAIN N TEXT: rule N of the chain reads TEXT (as `-S CHAIN N` prints it).
rule_is() {
  got=$("$1" -w -t "$2" -S "$3" "$4" 2>/dev/null) || got=""
  [ "$got" = "$5" ] || fail "rule $4 of $2 $3 is \`$got\`; this plan expected \`$5\`: the chain changed"
}
"#;

/// Every restoring command, in order: the checks that the chains are still what the plan was
/// made on, then per chain the rules at the positions Docker gives them (and out-of-place
/// copies deleted by number after checking their text), then host settings. Nothing is
/// applied until the script is run.
pub fn fix_script(a: &Audit) -> String {
    let mut s = String::from(
        "#!/bin/sh\n# Generated by nfprobe check. It applies nothing until you run it: read it first.\n",
    );
    let binaries: Vec<&str> = {
        let mut v: Vec<&str> = a.repair.iter().map(|p| p.binary.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let backend_word = match a.docker_backend {
        crate::ruleset::Backend::Nft => "nf_tables",
        crate::ruleset::Backend::Legacy => "legacy",
    };
    if !binaries.is_empty() {
        let _ = writeln!(
            s,
            "# Docker's rules are in the {} backend: every command uses {} (that backend's binaries).",
            a.docker_backend,
            binaries.join(" and ")
        );
        s.push_str(
            "# Each rule goes where Docker itself puts it: `-I CHAIN N` next to the neighbours found when\n\
             # this script was made. Before any change the script re-reads every chain it touches and stops,\n\
             # changing nothing, if one differs from what the plan was made on; each step re-checks its\n\
             # neighbour. Rules are never deleted by rule spec (a buggy iptables `-D` deletes look-alikes):\n\
             # an out-of-place copy is deleted by number, after the text at that number was checked.\n",
        );
    }
    s.push_str("set -eu\n");
    s.push_str(SCRIPT_FUNCTIONS);
    let q = |t: &str| crate::audit::text::shell_quote(t);
    if !binaries.is_empty() {
        s.push_str("\n# The chains as this plan saw them.\n");
        for b in &binaries {
            let _ = writeln!(s, "uses_backend {b} {backend_word}");
        }
        for p in &a.repair {
            if p.refused.is_some() {
                continue;
            }
            if p.create {
                let _ = writeln!(s, "chain_absent {} {} {}", p.binary, p.table, p.chain);
            } else {
                let _ = writeln!(
                    s,
                    "chain_has {} {} {} {}",
                    p.binary, p.table, p.chain, p.rules_before
                );
            }
            for c in &p.checks {
                let _ = writeln!(
                    s,
                    "rule_is {} {} {} {} {}",
                    p.binary,
                    p.table,
                    p.chain,
                    c.number,
                    q(&c.text)
                );
            }
        }
    }
    // Chains first: a jump into a chain needs the chain.
    let create: Vec<_> = a
        .repair
        .iter()
        .filter(|p| p.create && p.refused.is_none())
        .collect();
    if !create.is_empty() {
        s.push_str("\n# chains Docker creates that are gone\n");
        for p in create {
            let _ = writeln!(s, "{} -w -t {} -N {}", p.binary, p.table, p.chain);
        }
    }
    for p in a
        .repair
        .iter()
        .filter(|p| !p.steps.is_empty() || p.refused.is_some())
    {
        let _ = writeln!(s, "\n# {} {} {} ({})", p.family, p.table, p.chain, p.binary);
        if let Some(why) = &p.refused {
            let _ = writeln!(s, "# NOT REPAIRED: {why}");
            continue;
        }
        for st in &p.steps {
            match st {
                crate::audit::repair::Step::Insert {
                    rule,
                    anchor,
                    after,
                    ..
                } => {
                    if let Some(f) = a.findings.get(*rule) {
                        let _ = writeln!(
                            s,
                            "# {} {}: {}",
                            f.network.as_deref().unwrap_or("daemon"),
                            f.status.label(),
                            f.effect.as_deref().unwrap_or(&f.what)
                        );
                    }
                    if let Some(an) = anchor {
                        let _ = writeln!(
                            s,
                            "rule_is {} {} {} {} {}   # goes {} it",
                            p.binary,
                            p.table,
                            p.chain,
                            an.number,
                            q(&an.text),
                            if *after {
                                "right after"
                            } else {
                                "right before"
                            }
                        );
                    }
                    let _ = writeln!(s, "{}", crate::audit::repair::command(p, st));
                }
                crate::audit::repair::Step::Delete { at, .. } => {
                    let _ = writeln!(
                        s,
                        "# the out-of-place copy, by number after checking its text"
                    );
                    let _ = writeln!(
                        s,
                        "rule_is {} {} {} {} {}",
                        p.binary,
                        p.table,
                        p.chain,
                        at.number,
                        q(&at.text)
                    );
                    let _ = writeln!(s, "{}", crate::audit::repair::command(p, st));
                }
            }
        }
    }
    // Docker 29 nftables: its own fixes (`nft add/insert rule ... handle N`) and maps.
    let nft: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| {
            f.table == crate::docker::expect::nft29::TABLE
                && matches!(
                    f.status,
                    Status::Missing | Status::MissingCliClaimsPresent | Status::WrongOrder
                )
        })
        .collect();
    let maps: Vec<_> = a
        .host
        .iter()
        .filter(|h| h.kind == "nft_map_missing")
        .collect();
    if !maps.is_empty() || !nft.is_empty() {
        s.push_str("\n# nftables (table docker-bridges): next to their neighbours by handle\n");
        for h in maps {
            if let Some(f) = &h.fix {
                let _ = writeln!(s, "{f}");
            }
        }
        for f in nft {
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
    let refused: Vec<String> = a
        .repair
        .iter()
        .filter(|p| p.refused.is_some())
        .map(|p| format!("{} {} {}", p.family, p.table, p.chain))
        .collect();
    if !refused.is_empty() {
        // Said last and loudly: the rest was repaired, these chains were not.
        let _ = writeln!(
            s,
            "\necho \"nfprobe fix: NOT repaired (no safe position, see the comments above): {}\" >&2\nexit 4",
            refused.join(", ")
        );
    }
    s
}

#[cfg(test)]
mod words_tests;
