//! The troubleshooting flow at the end of a prove report: which iptables binaries there are,
//! their versions and whether each lies on `-C` (proven by `check`'s scratch questions), the
//! Docker version and userland-proxy setting, and only the advice the evidence supports.

use serde::Serialize;

use crate::audit::Audit;
use crate::claims::{LieProbe, ProbeKind};
use crate::report::bundle::Bundle;

#[derive(Debug, Clone, Serialize)]
pub struct BinaryFacts {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// "nf_tables" / "legacy xtables".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Some(true): a `-C` for a rule that is certainly absent answered "present", or it
    /// claimed a missing rule present; Some(false): asked and answered right; None: not asked.
    pub lies_on_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Troubleshooting {
    pub binaries: Vec<BinaryFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    pub userland_proxy: bool,
    /// Advice, each backed by evidence of this run.
    pub advice: Vec<String>,
}

fn proof(p: &LieProbe) -> String {
    format!(
        "`-t {} -C {} {}` answered \"present\" although only `{}` is in the kernel",
        p.table,
        p.chain,
        p.args.join(" "),
        p.from_rule
    )
}

/// Facts from the bundle and audit `check` made; `explained_by_missing`: some attempt of
/// this run timed out and was explained by missing rules.
pub fn gather(
    b: &Bundle,
    a: &Audit,
    explained_by_missing: bool,
    failures: bool,
) -> Troubleshooting {
    let probes: &[LieProbe] = b
        .iptables
        .as_ref()
        .map(|i| i.probes.as_slice())
        .unwrap_or(&[]);
    let mut binaries = Vec::new();
    for bin in &a.binaries {
        let path = bin.path.display().to_string();
        let lie_probe = probes.iter().find(|p| {
            p.binary == bin.path && p.kind == ProbeKind::InterfaceNames && p.answer.says_present()
        });
        let asked = probes.iter().any(|p| p.binary == bin.path)
            || a.findings
                .iter()
                .any(|f| f.claims.iter().any(|c| c.binary == path));
        let claimed_wrong = a
            .findings
            .iter()
            .any(|f| f.claims.iter().any(|c| c.lie && c.binary == path));
        let lies = if lie_probe.is_some() || claimed_wrong {
            Some(true)
        } else if asked && bin.error.is_none() {
            Some(false)
        } else {
            None
        };
        binaries.push(BinaryFacts {
            path,
            version: bin.version.clone(),
            backend: bin.backend.map(|b| b.to_string()),
            lies_on_check: lies,
            proof: lie_probe.map(proof),
        });
    }
    let any_lie = binaries.iter().any(|b| b.lies_on_check == Some(true));
    let missing = a
        .findings
        .iter()
        .any(|f| f.fix.is_some() && f.status.is_problem());
    let mut advice = Vec::new();
    if any_lie {
        let liars: Vec<String> = binaries
            .iter()
            .filter(|b| b.lies_on_check == Some(true))
            .map(|b| {
                format!(
                    "{} ({})",
                    b.path,
                    b.version.as_deref().unwrap_or("unknown version")
                )
            })
            .collect();
        advice.push(format!(
            "Replace the iptables that lies on `-C` ({}): upstream iptables 1.8.12, or a distribution build carrying the fix (Debian/Arch 1.8.11-2).",
            liars.join(", ")
        ));
    }
    if missing && (explained_by_missing || failures) {
        advice.push(
            "Restore the missing rules: `nfprobe check --fix-script > fix.sh`, read it, then run it (it applies nothing by itself).".into(),
        );
    }
    if any_lie && missing {
        advice.push(
            "After fixing iptables, restart dockerd so it re-creates its rules with a `-C` that tells the truth."
                .into(),
        );
    }
    Troubleshooting {
        binaries,
        docker_version: b.docker.engine_version.clone(),
        userland_proxy: b.docker.daemon.userland_proxy,
        advice,
    }
}
