//! `-m conntrack` (xt_conntrack_mtinfo1/2/3) and `-m state` (xt_state_info rev 0, and the
//! conntrack blob with XT_CONNTRACK_STATE_ALIAS that iptables writes for `-m state`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::args::{bad, need, num, port_range, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::bytes::Reader;
use crate::ruleset::Family;
use crate::ruleset::render::{ipv6_text, prefix_len, protocols};

const NAME: &str = "conntrack";

const F_STATE: u16 = 1 << 0;
const F_PROTO: u16 = 1 << 1;
const F_ORIGSRC: u16 = 1 << 2;
const F_ORIGDST: u16 = 1 << 3;
const F_REPLSRC: u16 = 1 << 4;
const F_REPLDST: u16 = 1 << 5;
const F_STATUS: u16 = 1 << 6;
const F_EXPIRES: u16 = 1 << 7;
const F_ORIGSRC_PORT: u16 = 1 << 8;
const F_ORIGDST_PORT: u16 = 1 << 9;
const F_REPLSRC_PORT: u16 = 1 << 10;
const F_REPLDST_PORT: u16 = 1 << 11;
const F_DIRECTION: u16 = 1 << 12;
const F_STATE_ALIAS: u16 = 1 << 13;

const STATES: &[(&str, u16)] = &[
    ("INVALID", 1 << 0),
    ("NEW", 1 << 3),
    ("RELATED", 1 << 2),
    ("ESTABLISHED", 1 << 1),
    ("UNTRACKED", 1 << 8),
    ("SNAT", 1 << 6),
    ("DNAT", 1 << 7),
];
const STATUSES: &[(&str, u16)] = &[
    ("EXPECTED", 1),
    ("SEEN_REPLY", 2),
    ("ASSURED", 4),
    ("CONFIRMED", 8),
];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

/// `-m state`: the rev 0 xt_state blob; parsing gives the same words as the alias form.
pub static STATE: ExtDef = ExtDef {
    name: "state",
    kind: ExtKind::Match,
    family: None,
    decode: decode_state,
    parse: parse_state,
};

/// `conntrack` blobs made for `-m state` print as `state`.
pub fn alias(_ctx: &DecodeCtx, blob: &[u8]) -> Option<&'static str> {
    // match_flags sits at offset 146 in every revision >= 1.
    let f = Reader::new(blob.get(146..148)?).u16().ok()?;
    (f & F_STATE_ALIAS != 0).then_some("state")
}

#[derive(Clone)]
struct Conntrack {
    addrs: [(IpAddr, IpAddr); 4],
    expires: (u32, u32),
    l4proto: u16,
    /// host-order port ranges (orig src, orig dst, repl src, repl dst)
    ports: [(u16, u16); 4],
    match_flags: u16,
    invert_flags: u16,
    state_mask: u16,
    status_mask: u16,
}

impl Default for Conntrack {
    fn default() -> Self {
        let z = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        Self {
            addrs: [(z, z); 4],
            expires: (0, 0),
            l4proto: 0,
            ports: [(0, 0); 4],
            match_flags: 0,
            invert_flags: 0,
            state_mask: 0,
            status_mask: 0,
        }
    }
}

fn bits(list: &[(&str, u16)], mask: u16) -> String {
    list.iter()
        .filter(|(_, b)| mask & b != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// conntrack prints addresses with `xtables_ip*mask_to_numeric`: no suffix for a full mask.
fn addr_text(a: IpAddr, m: IpAddr) -> String {
    let (at, mo) = match (a, m) {
        (IpAddr::V4(a), IpAddr::V4(m)) => (a.to_string(), m.octets().to_vec()),
        (IpAddr::V6(a), IpAddr::V6(m)) => (ipv6_text(&a), m.octets().to_vec()),
        _ => return a.to_string(),
    };
    let full = mo.len() as u32 * 8;
    match prefix_len(&mo) {
        Some(l) if l == full => at,
        Some(l) => format!("{at}/{l}"),
        None => match m {
            IpAddr::V6(m) => format!("{at}/{}", ipv6_text(&m)),
            m => format!("{at}/{m}"),
        },
    }
}

impl Conntrack {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        let f = self.match_flags;
        let inv = |w: &mut Vec<String>, bit: u16| push_inv(w, self.invert_flags & bit != 0);
        if f & F_STATE != 0 {
            inv(&mut w, F_STATE);
            w.push(
                if f & F_STATE_ALIAS != 0 {
                    "--state"
                } else {
                    "--ctstate"
                }
                .into(),
            );
            w.push(bits(STATES, self.state_mask));
        }
        if f & F_PROTO != 0 {
            inv(&mut w, F_PROTO);
            w.push("--ctproto".into());
            w.push(self.l4proto.to_string());
        }
        for (i, (bit, opt)) in [
            (F_ORIGSRC, "--ctorigsrc"),
            (F_ORIGDST, "--ctorigdst"),
            (F_REPLSRC, "--ctreplsrc"),
            (F_REPLDST, "--ctrepldst"),
        ]
        .into_iter()
        .enumerate()
        {
            if f & bit != 0 {
                inv(&mut w, bit);
                w.push(opt.into());
                w.push(addr_text(self.addrs[i].0, self.addrs[i].1));
            }
        }
        for (i, (bit, opt)) in [
            (F_ORIGSRC_PORT, "--ctorigsrcport"),
            (F_ORIGDST_PORT, "--ctorigdstport"),
            (F_REPLSRC_PORT, "--ctreplsrcport"),
            (F_REPLDST_PORT, "--ctrepldstport"),
        ]
        .into_iter()
        .enumerate()
        {
            if f & bit != 0 {
                inv(&mut w, bit);
                w.push(opt.into());
                let (lo, hi) = self.ports[i];
                w.push(if hi == 0 || lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}:{hi}")
                });
            }
        }
        if f & F_STATUS != 0 {
            inv(&mut w, F_STATUS);
            w.push("--ctstatus".into());
            w.push(if self.status_mask == 0 {
                "NONE".into()
            } else {
                bits(STATUSES, self.status_mask)
            });
        }
        if f & F_EXPIRES != 0 {
            inv(&mut w, F_EXPIRES);
            w.push("--ctexpire".into());
            let (a, b) = self.expires;
            w.push(if a == b {
                a.to_string()
            } else {
                format!("{a}:{b}")
            });
        }
        if f & F_DIRECTION != 0 {
            w.push("--ctdir".into());
            w.push(
                if self.invert_flags & F_DIRECTION != 0 {
                    "REPLY"
                } else {
                    "ORIGINAL"
                }
                .into(),
            );
        }
        w
    }
}

fn nf_addr(family: Family, b: [u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(b)),
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let size = match ctx.revision {
        1 => 146,
        2 => 148,
        3 => 156,
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Match,
                NAME,
                revision,
            ));
        }
    };
    let mut r = need(NAME, blob, size)?;
    let t = |e| super::truncated(NAME)(e);
    let mut c = Conntrack::default();
    for i in 0..4 {
        let a = r.array::<16>().map_err(t)?;
        let m = r.array::<16>().map_err(t)?;
        c.addrs[i] = (nf_addr(ctx.family, a), nf_addr(ctx.family, m));
    }
    c.expires = (r.u32().map_err(t)?, r.u32().map_err(t)?);
    c.l4proto = r.u16().map_err(t)?;
    let mut lo = [0u16; 4];
    for p in &mut lo {
        *p = if ctx.revision == 3 {
            r.u16().map_err(t)?
        } else {
            r.u16_be().map_err(t)?
        };
    }
    c.match_flags = r.u16().map_err(t)?;
    c.invert_flags = r.u16().map_err(t)?;
    if ctx.revision == 1 {
        c.state_mask = u16::from(r.u8().map_err(t)?);
        c.status_mask = u16::from(r.u8().map_err(t)?);
    } else {
        c.state_mask = r.u16().map_err(t)?;
        c.status_mask = r.u16().map_err(t)?;
    }
    for (i, l) in lo.iter().enumerate() {
        let hi = if ctx.revision == 3 {
            r.u16().map_err(t)?
        } else {
            0
        };
        c.ports[i] = (*l, hi);
    }
    Ok(c.words())
}

fn parse_bits(list: &[(&str, u16)], s: &str, what: &str) -> Result<u16, ExtError> {
    let mut m = 0;
    for part in s.split(',') {
        if what == "status" && part.eq_ignore_ascii_case("NONE") {
            continue;
        }
        let b = list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(part))
            .ok_or_else(|| bad(NAME, format!("bad {what} `{part}`")))?;
        m |= b.1;
    }
    Ok(m)
}

fn parse_addr(family: Family, s: &str) -> Result<(IpAddr, IpAddr), ExtError> {
    let err = || bad(NAME, format!("bad address `{s}`"));
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| err())?;
    if addr.is_ipv4() != (family == Family::Ipv4) {
        return Err(err());
    }
    let bitsz = if addr.is_ipv4() { 32 } else { 128 };
    let mask = match m {
        None => prefix_mask(addr, bitsz),
        Some(m) => match m.parse::<u32>() {
            Ok(l) if l <= bitsz => prefix_mask(addr, l),
            Ok(_) => return Err(err()),
            Err(_) => {
                let mk: IpAddr = m.parse().map_err(|_| err())?;
                if mk.is_ipv4() != addr.is_ipv4() {
                    return Err(err());
                }
                mk
            }
        },
    };
    Ok((addr, mask))
}

fn prefix_mask(like: IpAddr, len: u32) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(
            u128::MAX.checked_shl(128 - len).unwrap_or(0),
        )),
    }
}

fn proto_number(s: &str) -> Result<u16, ExtError> {
    if let Ok(n) = num::<u8>(NAME, s) {
        return Ok(n.into());
    }
    let l = s.to_ascii_lowercase();
    let builtin = [
        ("tcp", 6),
        ("sctp", 132),
        ("udp", 17),
        ("udplite", 136),
        ("icmp", 1),
        ("icmpv6", 58),
        ("ipv6-icmp", 58),
        ("esp", 50),
        ("ah", 51),
        ("ipv6-mh", 135),
        ("mh", 135),
    ];
    if let Some((_, n)) = builtin.iter().find(|(n, _)| *n == l) {
        return Ok(*n);
    }
    protocols()
        .by_name
        .get(s)
        .map(|&n| n.into())
        .ok_or_else(|| bad(NAME, format!("unknown protocol `{s}`")))
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("ctstate", 1),
        ("ctproto", 1),
        ("ctorigsrc", 1),
        ("ctorigdst", 1),
        ("ctreplsrc", 1),
        ("ctrepldst", 1),
        ("ctstatus", 1),
        ("ctexpire", 1),
        ("ctorigsrcport", 1),
        ("ctorigdstport", 1),
        ("ctreplsrcport", 1),
        ("ctrepldstport", 1),
        ("ctdir", 1),
    ];
    let mut c = Conntrack::default();
    for o in scan(NAME, &specs, words)? {
        let a = &o.args[0];
        let bit = match o.name {
            "ctstate" => {
                c.state_mask = parse_bits(STATES, a, "state")?;
                F_STATE
            }
            "ctproto" => {
                c.l4proto = proto_number(a)?;
                if c.l4proto == 0 {
                    return Err(bad(NAME, "--ctproto 0 (all) is not a protocol"));
                }
                F_PROTO
            }
            "ctstatus" => {
                c.status_mask = parse_bits(STATUSES, a, "status")?;
                F_STATUS
            }
            "ctexpire" => {
                c.expires = match a.split_once(':') {
                    Some((x, y)) => (num(NAME, x)?, num(NAME, y)?),
                    None => {
                        let v = num(NAME, a)?;
                        (v, v)
                    }
                };
                F_EXPIRES
            }
            "ctdir" => {
                if o.inv {
                    return Err(bad(NAME, "--ctdir cannot be inverted"));
                }
                if a.eq_ignore_ascii_case("REPLY") {
                    c.invert_flags |= F_DIRECTION;
                } else if !a.eq_ignore_ascii_case("ORIGINAL") {
                    return Err(bad(NAME, format!("bad --ctdir `{a}`")));
                }
                c.match_flags |= F_DIRECTION;
                continue;
            }
            name => {
                let addrs = ["ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"];
                let ports = [
                    "ctorigsrcport",
                    "ctorigdstport",
                    "ctreplsrcport",
                    "ctrepldstport",
                ];
                if let Some(i) = addrs.iter().position(|n| *n == name) {
                    c.addrs[i] = parse_addr(family, a)?;
                    F_ORIGSRC << i
                } else {
                    let i = ports.iter().position(|n| *n == name).unwrap_or(0);
                    let (lo, hi) = port_range(NAME, a, "tcp")?;
                    c.ports[i] = (lo, if lo == hi { 0 } else { hi });
                    F_ORIGSRC_PORT << i
                }
            }
        };
        c.match_flags |= bit;
        if o.inv {
            c.invert_flags |= bit;
        }
    }
    Ok(c.words())
}

fn decode_state(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    if ctx.revision != 0 {
        return Err(super::opts::unknown_revision(
            ExtKind::Match,
            "state",
            ctx.revision,
        ));
    }
    let mut r = need("state", blob, 4)?;
    let mask = r.u32().map_err(super::truncated("state"))?;
    // iptables prints the rev 0 mask with conntrack's bit names (INVALID..UNTRACKED).
    Ok(vec![
        "--state".into(),
        bits(&STATES[..5], (mask & 0x1ff) as u16),
    ])
}

fn parse_state(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let opts = scan("state", &[("state", 1)], words)?;
    let [o] = opts.as_slice() else {
        return Err(bad("state", "expected one `--state`"));
    };
    let mask = parse_bits(&STATES[..5], &o.args[0], "state")?;
    let c = Conntrack {
        match_flags: F_STATE | F_STATE_ALIAS,
        invert_flags: if o.inv { F_STATE } else { 0 },
        state_mask: mask,
        ..Conntrack::default()
    };
    Ok(c.words())
}
