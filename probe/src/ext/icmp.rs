//! `-m icmp` (struct ipt_icmp, IPv4) and `-m icmp6` (struct ip6t_icmp, IPv6).

use super::args::{bad, need, num, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

pub static DEF4: ExtDef = ExtDef {
    name: "icmp",
    kind: ExtKind::Match,
    family: Some(Family::Ipv4),
    decode: decode4,
    parse: parse4,
};

pub static DEF6: ExtDef = ExtDef {
    name: "icmp6",
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode: decode6,
    parse: parse6,
};

/// (name, type, code_min, code_max) as libxt_icmp.h lists them.
type Code = (&'static str, u8, u8, u8);

const ICMP: &[Code] = &[
    ("any", 0xFF, 0, 0xFF),
    ("echo-reply", 0, 0, 0xFF),
    ("pong", 0, 0, 0xFF),
    ("destination-unreachable", 3, 0, 0xFF),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xFF),
    ("redirect", 5, 0, 0xFF),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xFF),
    ("ping", 8, 0, 0xFF),
    ("router-advertisement", 9, 0, 0xFF),
    ("router-solicitation", 10, 0, 0xFF),
    ("time-exceeded", 11, 0, 0xFF),
    ("ttl-exceeded", 11, 0, 0xFF),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xFF),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xFF),
    ("timestamp-reply", 14, 0, 0xFF),
    ("address-mask-request", 17, 0, 0xFF),
    ("address-mask-reply", 18, 0, 0xFF),
];

const ICMP6: &[Code] = &[
    ("destination-unreachable", 1, 0, 0xFF),
    ("no-route", 1, 0, 0),
    ("communication-prohibited", 1, 1, 1),
    ("beyond-scope", 1, 2, 2),
    ("address-unreachable", 1, 3, 3),
    ("port-unreachable", 1, 4, 4),
    ("failed-policy", 1, 5, 5),
    ("reject-route", 1, 6, 6),
    ("packet-too-big", 2, 0, 0xFF),
    ("time-exceeded", 3, 0, 0xFF),
    ("ttl-exceeded", 3, 0, 0xFF),
    ("ttl-zero-during-transit", 3, 0, 0),
    ("ttl-zero-during-reassembly", 3, 1, 1),
    ("parameter-problem", 4, 0, 0xFF),
    ("bad-header", 4, 0, 0),
    ("unknown-header-type", 4, 1, 1),
    ("unknown-option", 4, 2, 2),
    ("echo-request", 128, 0, 0xFF),
    ("ping", 128, 0, 0xFF),
    ("echo-reply", 129, 0, 0xFF),
    ("pong", 129, 0, 0xFF),
    ("router-solicitation", 133, 0, 0xFF),
    ("router-advertisement", 134, 0, 0xFF),
    ("neighbour-solicitation", 135, 0, 0xFF),
    ("neighbor-solicitation", 135, 0, 0xFF),
    ("neighbour-advertisement", 136, 0, 0xFF),
    ("neighbor-advertisement", 136, 0, 0xFF),
    ("redirect", 137, 0, 0xFF),
];

struct Icmp {
    v6: bool,
    ty: u8,
    code: (u8, u8),
    inv: bool,
}

impl Icmp {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        push_inv(&mut w, self.inv);
        if self.v6 {
            w.push("--icmpv6-type".into());
        } else {
            w.push("--icmp-type".into());
            if self.ty == 0xFF {
                w.push("any".into());
                return w;
            }
        }
        if self.code.0 != 0 || self.code.1 != 0xFF {
            w.push(format!("{}/{}", self.ty, self.code.0));
        } else {
            w.push(self.ty.to_string());
        }
        w
    }
}

fn decode_any(v6: bool, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let name = if v6 { "icmp6" } else { "icmp" };
    need(name, blob, 4)?;
    Ok(Icmp {
        v6,
        ty: blob[0],
        code: (blob[1], blob[2]),
        inv: blob[3] & 1 != 0,
    }
    .words())
}

fn decode4(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    decode_any(false, blob)
}

fn decode6(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    decode_any(true, blob)
}

fn parse_type(name: &str, table: &[Code], s: &str) -> Result<(u8, (u8, u8)), ExtError> {
    if let Some(c) = table.iter().find(|c| c.0.eq_ignore_ascii_case(s)) {
        return Ok((c.1, (c.2, c.3)));
    }
    let pre: Vec<_> = table
        .iter()
        .filter(|c| c.0.len() >= s.len() && c.0[..s.len()].eq_ignore_ascii_case(s))
        .collect();
    if let [c] = pre.as_slice() {
        return Ok((c.1, (c.2, c.3)));
    }
    let (t, code) = match s.split_once('/') {
        Some((t, c)) => (t, Some(c)),
        None => (s, None),
    };
    let ty: u8 = num(name, t).map_err(|_| bad(name, format!("unknown type `{s}`")))?;
    let code = match code {
        None => (0, 0xFF),
        Some(c) => match c.split_once('-') {
            Some((a, b)) => (num(name, a)?, num(name, b)?),
            None => {
                let v = num(name, c)?;
                (v, v)
            }
        },
    };
    Ok((ty, code))
}

fn parse_any(v6: bool, words: &[String]) -> Result<Vec<String>, ExtError> {
    let (name, opt, table) = if v6 {
        ("icmp6", "icmpv6-type", ICMP6)
    } else {
        ("icmp", "icmp-type", ICMP)
    };
    let specs = [(opt, 1)];
    let opts = scan(name, &specs, words)?;
    let [o] = opts.as_slice() else {
        return Err(bad(name, format!("expected one `--{opt}`")));
    };
    let (ty, code) = parse_type(name, table, &o.args[0])?;
    Ok(Icmp {
        v6,
        ty,
        code,
        inv: o.inv,
    }
    .words())
}

fn parse4(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    parse_any(false, words)
}

fn parse6(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    parse_any(true, words)
}
