//! `-j REJECT` (ipt_reject_info / ip6t_reject_info): `--reject-with TYPE`.

use super::args::{bad, need, no_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "REJECT";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

/// Index = `with` value: (name printed, alias accepted). `None` = no such value in iptables.
const V4: &[Option<(&str, &str)>] = &[
    Some(("icmp-net-unreachable", "net-unreach")),
    Some(("icmp-host-unreachable", "host-unreach")),
    Some(("icmp-proto-unreachable", "proto-unreach")),
    Some(("icmp-port-unreachable", "port-unreach")),
    None,
    Some(("icmp-net-prohibited", "net-prohib")),
    Some(("icmp-host-prohibited", "host-prohib")),
    Some(("tcp-reset", "tcp-rst")),
    Some(("icmp-admin-prohibited", "admin-prohib")),
];
const V6: &[Option<(&str, &str)>] = &[
    Some(("icmp6-no-route", "no-route")),
    Some(("icmp6-adm-prohibited", "adm-prohibited")),
    None,
    Some(("icmp6-addr-unreachable", "addr-unreach")),
    Some(("icmp6-port-unreachable", "port-unreach")),
    None,
    Some(("tcp-reset", "tcp-reset")),
    Some(("icmp6-policy-fail", "policy-fail")),
    Some(("icmp6-reject-route", "reject-route")),
];

fn table(family: Family) -> &'static [Option<(&'static str, &'static str)>] {
    match family {
        Family::Ipv4 => V4,
        Family::Ipv6 => V6,
    }
}

fn words(family: Family, with: u32) -> Result<Vec<String>, ExtError> {
    let (n, _) = table(family)
        .get(with as usize)
        .copied()
        .flatten()
        .ok_or_else(|| bad(NAME, format!("unknown reject type {with}")))?;
    Ok(vec!["--reject-with".into(), n.into()])
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = need(NAME, blob, 4)?;
    words(ctx.family, r.u32().map_err(truncated(NAME))?)
}

fn parse(family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let mut with = match family {
        Family::Ipv4 => 3,
        Family::Ipv6 => 4,
    };
    for o in scan(NAME, &[("reject-with", 1)], w)? {
        no_inv(NAME, &o)?;
        let a = o.args[0].to_ascii_lowercase();
        // strncasecmp(name, arg, strlen(arg)): the first entry the argument is a prefix of.
        with = table(family)
            .iter()
            .position(|e| {
                e.is_some_and(|(n, al)| !a.is_empty() && (n.starts_with(&a) || al.starts_with(&a)))
            })
            .ok_or_else(|| bad(NAME, format!("unknown reject type `{}`", o.args[0])))?
            as u32;
    }
    words(family, with)
}
