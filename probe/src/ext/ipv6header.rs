//! `-m ipv6header` (struct ip6t_ipv6header_info { u8 matchflags; u8 invflags; u8 modeflag; }).
//! Header names come from /etc/protocols first, as iptables' getprotobynumber does.

use super::opts::{Args, bad, proto_name, proto_number, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "ipv6header";

/// (protocol, flag bit) in iptables' `chain_flags` order.
const FLAGS: [(u8, u8); 8] = [
    (0, 128), // hop-by-hop
    (60, 64), // dst
    (43, 32), // route
    (44, 16), // frag
    (51, 8),  // auth
    (50, 4),  // esp
    (59, 2),  // none
    (255, 1), // protocol
];

/// iptables' fallback names (`chain_protos`), first match wins both ways.
const NAMES: [(&str, u8); 18] = [
    ("hop-by-hop", 0),
    ("protocol", 255),
    ("hop", 0),
    ("dst", 60),
    ("route", 43),
    ("frag", 44),
    ("auth", 51),
    ("esp", 50),
    ("none", 59),
    ("prot", 255),
    ("0", 0),
    ("60", 60),
    ("43", 43),
    ("44", 44),
    ("51", 51),
    ("50", 50),
    ("59", 59),
    ("255", 255),
];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ipv6header {
    matchflags: u8,
    invflags: u8,
    modeflag: u8,
}

fn header_name(proto: u8) -> String {
    if proto != 0
        && let Some(n) = proto_name(proto)
    {
        return n.to_owned();
    }
    NAMES
        .iter()
        .find(|(_, p)| *p == proto)
        .map_or_else(|| proto.to_string(), |(n, _)| (*n).to_owned())
}

impl Ipv6header {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.invflags != 0 {
            out.push("!".into());
        }
        out.push("--header".into());
        let names: Vec<String> = FLAGS
            .iter()
            .filter(|(_, f)| self.matchflags & f != 0)
            .map(|(p, _)| header_name(*p))
            .collect();
        out.push(if names.is_empty() {
            "NONE".into()
        } else {
            names.join(",")
        });
        if self.modeflag != 0 {
            out.push("--soft".into());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 3)?;
    Ok(Ipv6header {
        matchflags: tr(NAME, r.u8())?,
        invflags: tr(NAME, r.u8())?,
        modeflag: tr(NAME, r.u8())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut h = Ipv6header::default();
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--header" => {
                let mut flags = 0u8;
                for item in a.value(o)?.split(',').filter(|s| !s.is_empty()) {
                    let proto = proto_number(item)
                        .or_else(|| NAMES.iter().find(|(n, _)| *n == item).map(|(_, p)| *p))
                        .ok_or_else(|| bad(NAME, format!("unknown header `{item}` specified")))?;
                    let (_, f) = FLAGS
                        .iter()
                        .find(|(p, _)| *p == proto)
                        .ok_or_else(|| bad(NAME, format!("unknown header `{proto}` specified")))?;
                    flags |= f;
                }
                if flags == 0 {
                    return Err(bad(NAME, "cannot parse header names"));
                }
                h.matchflags = flags;
                if inv {
                    h.invflags = 0xff;
                }
            }
            "--soft" => {
                a.no_invert(inv, o)?;
                h.modeflag = 0xff;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if h.matchflags == 0 {
        return Err(bad(NAME, "--header is required"));
    }
    Ok(h.words())
}
