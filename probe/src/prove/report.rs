//! The prove report for people: a short paragraph per failing port, the table of attempts,
//! then the troubleshooting flow. JSON is the [`super::Report`] itself (docs/prove-json.md).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
use super::evidence::Verdict;

fn port_key(a: &super::Attempt) -> String {
    match &a.port {
        Some(p) if p.network == p.bridge => {
            format!("port {} ({} on {})", p.host_port, p.container, p.bridge)
        }
        Some(p) => format!(
            "port {} ({} on {}, bridge {})",
            p.host_port, p.container, p.network, p.bridge
        ),
        None => format!("target {}", a.target),
    }
}

/// The missing rules behind a port's failures and their fixes, each once.
fn findings_once(out: &mut String, attempts: &[&super::Attempt]) {
    let mut seen = std::collections::BTreeSet::new();
    let findings: Vec<_> = attempts
        .iter()
        .flat_map(|a| &a.evidence.findings)
        .filter(|f| seen.insert((f.table.clone(), f.rule.clone())))
        .collect();
    if findings.is_empty() {
        return;
    }
    let liars: std::collections::BTreeSet<&str> = findings
        .iter()
        .flat_map(|f| f.cli_says_present.iter().map(String::as_str))
        .collect();
    let _ = write!(
        out,
        "  Why (nfprobe check): {} rule(s) Docker should have here are not in the kernel",
        findings.len()
    );
    if !liars.is_empty() {
        let _ = write!(
            out,
            "; {} says they are present (`-C`)",
            liars.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(out, ":");
    for f in &findings {
        let _ = writeln!(
            out,
            "    -t {} {}{}",
            f.table,
            f.rule,
            f.effect
                .as_deref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        );
    }
    let fixes: Vec<&str> = findings.iter().filter_map(|f| f.fix.as_deref()).collect();
    if !fixes.is_empty() {
        let _ = writeln!(
            out,
            "  Fix: `nfprobe check --fix-script` places these where Docker would:"
        );
        for f in fixes {
            let _ = writeln!(out, "    {f}");
        }
    }
}

pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let failed: Vec<&super::Attempt> = r.attempts.iter().filter(|a| !a.verdict.is_ok()).collect();
    let _ = writeln!(
        out,
        "nfprobe prove — {} attempt(s), {} failed, timeout {:.1} s each, {:.1} s in all",
        r.attempts.len(),
        failed.len(),
        r.timeout_ms as f64 / 1000.0,
        r.duration_ms as f64 / 1000.0
    );
    let mut by_port: BTreeMap<String, Vec<&super::Attempt>> = BTreeMap::new();
    for a in &failed {
        by_port.entry(port_key(a)).or_default().push(a);
    }
    for (port, attempts) in &by_port {
        let _ = writeln!(out, "\n{port}:");
        for a in attempts {
            let _ = writeln!(
                out,
                "  From {} to {}: {}.",
                a.from,
                a.target,
                a.verdict.as_str()
            );
            // The check's findings are the same for every attempt at a port: said once below.
            for l in a
                .evidence
                .explanation
                .iter()
                .filter(|l| !l.starts_with("check: ") && !l.starts_with("  missing: "))
            {
                let _ = writeln!(out, "    {l}");
            }
        }
        findings_once(&mut out, attempts);
    }
    let _ = writeln!(
        out,
        "\n{:<22} {:<32} {:<21} {:<20} evidence",
        "target", "from", "verdict", "connect"
    );
    for a in &r.attempts {
        let ev = if let Some(d) = a.evidence.drops.first() {
            format!(
                "{} {} on {}",
                d.reason,
                d.hook.as_deref().unwrap_or(&d.function),
                d.iface
            )
        } else if let Some(m) = a.evidence.counters.iter().find(|m| m.drops) {
            m.describe()
        } else if let Some(h) = &a.connect.http {
            h.clone()
        } else {
            "-".into()
        };
        let ev = if a.evidence.findings.is_empty() {
            ev
        } else {
            format!("{ev}; {} missing rule(s)", a.evidence.findings.len())
        };
        let from = &a.from;
        let _ = writeln!(
            out,
            "{:<22} {:<32} {:<21} {:<20} {ev}",
            a.target,
            from,
            a.verdict.as_str(),
            format!("{} {} ms", a.connect.result, a.connect.elapsed_ms)
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let t = &r.troubleshooting;
    let _ = writeln!(out, "\nTroubleshooting:");
    if t.binaries.is_empty() {
        let _ = writeln!(out, "  iptables binaries: none asked");
    }
    for b in &t.binaries {
        let lies = match b.lies_on_check {
            Some(true) => "LIES on -C",
            Some(false) => "answers -C truthfully",
            None => "not asked",
        };
        let _ = writeln!(
            out,
            "  {} — {}{}: {lies}",
            b.path,
            b.version.as_deref().unwrap_or("version unknown"),
            b.backend
                .as_deref()
                .map(|b| format!(" [{b}]"))
                .unwrap_or_default()
        );
        if let Some(p) = &b.proof {
            let _ = writeln!(out, "      proof: {p}");
        }
    }
    let _ = writeln!(
        out,
        "  Docker: {}; userland-proxy: {}",
        t.docker_version.as_deref().unwrap_or("version unknown"),
        if t.userland_proxy { "on" } else { "off" }
    );
    if t.advice.is_empty() {
        let _ = writeln!(out, "  advice: none (nothing in this run calls for it)");
    }
    for (i, a) in t.advice.iter().enumerate() {
        let _ = writeln!(out, "  {}. {a}", i + 1);
    }
    let ok = r
        .attempts
        .iter()
        .filter(|a| a.verdict == Verdict::Ok)
        .count();
    let _ = writeln!(out, "\n{ok} ok, {} failed", failed.len());
    out
}
