//! Questions that prove a CLI comparison bug without changing anything: take a kernel rule,
//! alter exactly what a buggy binary ignores (an interface name; an IPv6 prefix length), make
//! sure no rule in the chain equals the result, and ask `-C` for it. "Present" is the bug.

use std::net::{IpAddr, Ipv6Addr};

use crate::claims::{ProbeKind, ProbeQuestion};
use crate::ruleset::{AddrMatch, Backend, Family, Rule, Ruleset, render};

const FAKE_IFACE: &str = "nfprobe0";

fn simple(r: &Rule) -> Option<Vec<String>> {
    if !r.is_decoded() {
        return None;
    }
    let t = render::rule_text(r);
    if t.contains('"') || t.contains('\'') || t.is_empty() {
        return None;
    }
    Some(t.split_whitespace().map(str::to_owned).collect())
}

fn alter_iface(r: &Rule) -> Option<Rule> {
    let mut x = r.clone();
    let i =
        x.ip.in_iface
            .as_mut()
            .filter(|i| !i.wildcard && !i.name.is_empty())
            .or(x
                .ip
                .out_iface
                .as_mut()
                .filter(|i| !i.wildcard && !i.name.is_empty()))?;
    i.name = FAKE_IFACE.into();
    Some(x)
}

fn alter_prefix(r: &Rule) -> Option<Rule> {
    let mut x = r.clone();
    let longer = |a: &mut AddrMatch| -> bool {
        let IpAddr::V6(m) = a.mask else { return false };
        let p = u128::from(m).leading_ones();
        if p == 0 || p > 120 {
            return false;
        }
        a.mask = IpAddr::V6(Ipv6Addr::from(
            u128::MAX.checked_shl(128 - (p + 8)).unwrap_or(0),
        ));
        true
    };
    let done = x.ip.src.as_mut().is_some_and(longer) || x.ip.dst.as_mut().is_some_and(longer);
    done.then_some(x)
}

/// One question per (family, kind) from the rules of `backend`, when a suitable rule exists.
pub fn questions(
    rulesets: &[Ruleset],
    backend: Backend,
) -> Vec<(Family, ProbeKind, ProbeQuestion)> {
    let mut out = Vec::new();
    for rs in rulesets.iter().filter(|rs| rs.backend == backend) {
        let kinds: &[ProbeKind] = match rs.family {
            Family::Ipv4 => &[ProbeKind::InterfaceNames],
            Family::Ipv6 => &[ProbeKind::InterfaceNames, ProbeKind::Ipv6PrefixLength],
        };
        'kind: for &kind in kinds {
            for t in &rs.tables {
                for c in &t.chains {
                    for r in &c.rules {
                        let altered = match kind {
                            ProbeKind::InterfaceNames => alter_iface(r),
                            ProbeKind::Ipv6PrefixLength => alter_prefix(r),
                        };
                        let (Some(a), Some(_)) = (altered, simple(r)) else {
                            continue;
                        };
                        if c.rules.contains(&a) {
                            continue;
                        }
                        let Some(args) = simple(&a) else { continue };
                        out.push((
                            rs.family,
                            kind,
                            (
                                t.name.clone(),
                                c.name.clone(),
                                format!("-A {} {}", c.name, render::rule_text(r)),
                                args,
                            ),
                        ));
                        continue 'kind;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::expect::to_rule;
    use crate::ruleset::{Chain, Table};

    fn rs(family: Family, lines: &[&str]) -> Ruleset {
        let rules = lines
            .iter()
            .map(|l| {
                to_rule(
                    family,
                    &l.split_whitespace().map(String::from).collect::<Vec<_>>(),
                )
                .unwrap()
            })
            .collect();
        Ruleset {
            backend: Backend::Nft,
            family,
            genid: None,
            tables: vec![Table {
                name: "filter".into(),
                chains: vec![Chain {
                    name: "X".into(),
                    builtin: false,
                    policy: None,
                    counters: None,
                    rules,
                }],
            }],
        }
    }

    #[test]
    fn derived_questions() {
        let q = questions(
            &[rs(Family::Ipv4, &["-j ACCEPT", "-o docker0 -j DROP"])],
            Backend::Nft,
        );
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].2.3.join(" "), "-o nfprobe0 -j DROP");
        let q = questions(
            &[rs(Family::Ipv6, &["-s 2001:db8::/32 -j DROP"])],
            Backend::Nft,
        );
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].1, ProbeKind::Ipv6PrefixLength);
        assert_eq!(q[0].2.3.join(" "), "-s 2001:db8::/40 -j DROP");
        assert!(questions(&[rs(Family::Ipv4, &["-j ACCEPT"])], Backend::Nft).is_empty());
        assert!(questions(&[rs(Family::Ipv4, &["-o a -j DROP"])], Backend::Legacy).is_empty());
    }
}
