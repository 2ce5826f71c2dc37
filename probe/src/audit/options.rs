//! Options nfprobe does not model (`Expectation::unmodelled`): a kernel rule one of them
//! explains is `unknown`, with the option named, never `extra`; the report says which option
//! of which network is not judged.

use std::net::IpAddr;

use super::{Finding, HostFinding, Severity, Status};
use crate::docker::expect::{Expectation, Unmodelled};

/// Words of a rule that name an interface (`-i X`, `-o X`, `! -i X`).
fn interfaces(rule: &str) -> Vec<&str> {
    let w: Vec<&str> = rule.split_whitespace().collect();
    w.windows(2)
        .filter(|p| p[0] == "-i" || p[0] == "-o")
        .map(|p| p[1])
        .collect()
}

/// Addresses a rule names: `-s/-d ADDR[/LEN]`, `--to-destination ADDR[:PORT]`.
fn addresses(rule: &str) -> Vec<IpAddr> {
    rule.split_whitespace()
        .filter_map(|w| {
            let host = w.split('/').next().unwrap_or(w);
            if let Ok(ip) = host.parse::<IpAddr>() {
                return Some(ip);
            }
            // ADDR:PORT, [ADDR6]:PORT
            let (h, _) = host.rsplit_once(':')?;
            h.trim_start_matches('[').trim_end_matches(']').parse().ok()
        })
        .collect()
}

fn explains(u: &Unmodelled, f: &Finding) -> bool {
    if u.family.is_some_and(|fam| fam != f.family) {
        return false;
    }
    if u.network.is_some() && f.network == u.network {
        return true;
    }
    // A chain only some of whose rules are modelled: only what nothing explains.
    if f.status == Status::Extra && u.chains.contains(&f.chain) {
        return true;
    }
    let names = interfaces(&f.rule);
    if names.iter().any(|n| u.interfaces.iter().any(|i| i == n)) {
        return true;
    }
    addresses(&f.rule)
        .iter()
        .any(|ip| u.subnets.iter().any(|s| s.contains(ip)))
}

/// What the report says about `u`.
fn note(u: &Unmodelled) -> String {
    let fam = u.family.map(|f| format!("{f} ")).unwrap_or_default();
    match &u.network {
        Some(n) => format!(
            "network {n} uses {}, which nfprobe does not model: {}. Its {fam}rules are listed as unknown, not judged.",
            u.option, u.why
        ),
        None => format!(
            "{} is in use, which nfprobe does not model: {}. Its {fam}rules are listed as unknown, not judged.",
            u.option, u.why
        ),
    }
}

/// Turn the `extra` (and `missing`) findings an unmodelled option explains into `unknown`,
/// and name each option in use.
pub(crate) fn refine(findings: &mut [Finding], e: &Expectation) -> Vec<HostFinding> {
    let mut seen = vec![false; e.unmodelled.len()];
    for f in findings.iter_mut() {
        if !matches!(
            f.status,
            Status::Extra | Status::Missing | Status::MissingCliClaimsPresent
        ) {
            continue;
        }
        let Some((i, u)) = e
            .unmodelled
            .iter()
            .enumerate()
            .find(|(_, u)| explains(u, f))
        else {
            continue;
        };
        seen[i] = true;
        f.status = Status::Unknown;
        f.effect = None;
        f.fix = None;
        f.detail = Some(match &u.network {
            Some(n) => format!(
                "network {n} uses {}, which nfprobe does not model: not judged",
                u.option
            ),
            None => format!("{}, which nfprobe does not model: not judged", u.option),
        });
    }
    e.unmodelled
        .iter()
        .zip(seen)
        .filter(|(u, seen)| *seen || !u.only_if_seen)
        .map(|(u, _)| HostFinding {
            kind: "not_modelled".into(),
            severity: Severity::Info,
            message: note(u),
            fix: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_words() {
        assert_eq!(
            interfaces("-A DOCKER ! -i br-x -o br-x -j DROP"),
            ["br-x", "br-x"]
        );
        assert_eq!(
            addresses("-A DOCKER -d 0/0 -j DNAT --to-destination 192.0.2.2:80"),
            ["192.0.2.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            addresses("-A X -s fd00::/64 --to-destination [fd00::2]:80"),
            [
                "fd00::".parse::<IpAddr>().unwrap(),
                "fd00::2".parse().unwrap()
            ]
        );
    }
}
