//! NAT targets (libxt_NAT): SNAT, DNAT, MASQUERADE, REDIRECT. The kernel blobs are
//! `nf_nat_ipv4_multi_range_compat` (IPv4 rev 0), `nf_nat_range` (IPv6 rev 0/1) and
//! `nf_nat_range2` (DNAT rev 2); all print through one range form.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::args::{bad, malformed, need, no_inv, num_u64, port, scan};
use super::words::{Line, WordSink};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::bytes::Reader;
use crate::ruleset::Family;
use crate::ruleset::render::ipv6_text;

const MAP_IPS: u32 = 1;
const PROTO_SPECIFIED: u32 = 2;
const PROTO_RANDOM: u32 = 4;
const PERSISTENT: u32 = 8;
const PROTO_RANDOM_FULLY: u32 = 16;
const PROTO_OFFSET: u32 = 32;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Snat,
    Dnat,
    Masquerade,
    Redirect,
}

impl Kind {
    const fn name(self) -> &'static str {
        match self {
            Kind::Snat => "SNAT",
            Kind::Dnat => "DNAT",
            Kind::Masquerade => "MASQUERADE",
            Kind::Redirect => "REDIRECT",
        }
    }
}

macro_rules! def {
    ($id:ident, $kind:expr, $dec:ident, $par:ident) => {
        pub static $id: ExtDef = ExtDef {
            name: $kind.name(),
            kind: ExtKind::Target,
            family: None,
            decode: $dec,
            parse: $par,
        };
        fn $dec(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
            decode($kind, ctx, blob)
        }
        fn $par(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
            parse($kind, family, words)
        }
    };
}

def!(SNAT, Kind::Snat, decode_snat, parse_snat);
def!(DNAT, Kind::Dnat, decode_dnat, parse_dnat);
def!(MASQUERADE, Kind::Masquerade, decode_masq, parse_masq);
def!(REDIRECT, Kind::Redirect, decode_redir, parse_redir);

/// The common form of all range structs (`struct nf_nat_range2`).
struct Range {
    family: Family,
    flags: u32,
    min_addr: IpAddr,
    max_addr: IpAddr,
    min_port: u16,
    max_port: u16,
    base_port: u16,
}

impl Range {
    fn new(family: Family) -> Self {
        let z = match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        Self {
            family,
            flags: 0,
            min_addr: z,
            max_addr: z,
            min_port: 0,
            max_port: 0,
            base_port: 0,
        }
    }

    /// `sprint_range` of libxt_NAT, appended to `s` (without the leading `:` of a
    /// ports-only range when `skip_colon`).
    fn write_text(&self, s: &mut String, skip_colon: bool) {
        use crate::ruleset::render::{push_ipv4, push_u32};
        let brackets = self.family == Family::Ipv6 && self.flags & PROTO_SPECIFIED != 0;
        // Written digit by digit: DNAT rules are numerous and each has its own address.
        let a = |s: &mut String, x: IpAddr| match x {
            IpAddr::V6(v) => s.push_str(&ipv6_text(&v)),
            IpAddr::V4(v) => push_ipv4(s, v),
        };
        let ips = self.flags & MAP_IPS != 0;
        if ips {
            if brackets {
                s.push('[');
            }
            a(s, self.min_addr);
            if self.min_addr != self.max_addr {
                s.push('-');
                a(s, self.max_addr);
            }
            if brackets {
                s.push(']');
            }
        }
        if self.flags & PROTO_SPECIFIED != 0 {
            if ips || !skip_colon {
                s.push(':');
            }
            push_u32(s, u32::from(self.min_port));
            if self.max_port != self.min_port {
                s.push('-');
                push_u32(s, u32::from(self.max_port));
            }
            if self.flags & PROTO_OFFSET != 0 {
                s.push('/');
                push_u32(s, u32::from(self.base_port));
            }
        }
    }

    fn words(&self, kind: Kind) -> Vec<String> {
        let mut w = Vec::new();
        self.write(kind, &mut w);
        w
    }

    fn write(&self, kind: Kind, w: &mut impl WordSink) {
        let (opt, skip_colon) = match kind {
            Kind::Snat => ("--to-source", false),
            Kind::Dnat => ("--to-destination", false),
            Kind::Masquerade | Kind::Redirect => ("--to-ports", true),
        };
        if self.flags & (MAP_IPS | PROTO_SPECIFIED) != 0 {
            w.word(opt);
            w.with_word(&mut |s| self.write_text(s, skip_colon));
        }
        if self.flags & PROTO_RANDOM != 0 {
            w.word("--random");
        }
        if self.flags & PROTO_RANDOM_FULLY != 0 {
            w.word("--random-fully");
        }
        if self.flags & PERSISTENT != 0 {
            w.word("--persistent");
        }
    }
}

fn decode(kind: Kind, ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(read(kind, ctx, blob)?.words(kind))
}

/// [`decode`] written straight into a line (see `super::decode_into`): DNAT and SNAT
/// targets usually each have their own address.
pub(super) fn render_dnat(ctx: &DecodeCtx, blob: &[u8], out: &mut String) -> Result<(), ExtError> {
    read(Kind::Dnat, ctx, blob)?.write(Kind::Dnat, &mut Line(out));
    Ok(())
}

/// See [`render_dnat`].
pub(super) fn render_snat(ctx: &DecodeCtx, blob: &[u8], out: &mut String) -> Result<(), ExtError> {
    read(Kind::Snat, ctx, blob)?.write(Kind::Snat, &mut Line(out));
    Ok(())
}

fn read(kind: Kind, ctx: &DecodeCtx, blob: &[u8]) -> Result<Range, ExtError> {
    let name = kind.name();
    let t = |e| super::truncated(name)(e);
    let mut rg = Range::new(ctx.family);
    let compat = ctx.family == Family::Ipv4 && ctx.revision == 0;
    if compat {
        // nf_nat_ipv4_multi_range_compat: rangesize, then one nf_nat_ipv4_range.
        let mut r = need(name, blob, 20)?;
        let rangesize = r.u32().map_err(t)?;
        if rangesize != 1 {
            return Err(malformed(
                name,
                blob.len(),
                format!("rangesize {rangesize}"),
            ));
        }
        rg.flags = r.u32().map_err(t)?;
        rg.min_addr = IpAddr::V4(Ipv4Addr::from(r.array::<4>().map_err(t)?));
        rg.max_addr = IpAddr::V4(Ipv4Addr::from(r.array::<4>().map_err(t)?));
        rg.min_port = r.u16_be().map_err(t)?;
        rg.max_port = r.u16_be().map_err(t)?;
    } else {
        let v2 = match (kind, ctx.revision) {
            (Kind::Dnat, 2) => true,
            (_, 0 | 1) => false,
            (_, revision) => {
                return Err(super::opts::unknown_revision(
                    ExtKind::Target,
                    name,
                    revision,
                ));
            }
        };
        let mut r = need(name, blob, if v2 { 42 } else { 40 })?;
        rg.flags = r.u32().map_err(t)?;
        let addr = |r: &mut Reader| -> Result<IpAddr, ExtError> {
            let b = r.array::<16>().map_err(t)?;
            Ok(match ctx.family {
                Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
                Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(b)),
            })
        };
        rg.min_addr = addr(&mut r)?;
        rg.max_addr = addr(&mut r)?;
        rg.min_port = r.u16_be().map_err(t)?;
        rg.max_port = r.u16_be().map_err(t)?;
        if v2 {
            rg.base_port = r.u16_be().map_err(t)?;
        }
    }
    Ok(rg)
}

/// `parse_ports` of libxt_NAT: `P`, `P-Q`, `P-Q/BASE`.
fn parse_ports(name: &str, s: &str, rg: &mut Range) -> Result<(), ExtError> {
    rg.flags |= PROTO_SPECIFIED;
    let (range, base) = match s.split_once('/') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    if range.contains(':') {
        return Err(bad(name, "invalid port:port syntax - use dash"));
    }
    match range.split_once('-') {
        None => {
            if base.is_some() {
                return Err(bad(name, format!("garbage after port value `{s}`")));
            }
            let p = port(name, range, "tcp")?;
            rg.min_port = p;
            rg.max_port = p;
        }
        Some((a, b)) => {
            let lo = num_u64(a).and_then(|v| u16::try_from(v).ok());
            let hi = num_u64(b).and_then(|v| u16::try_from(v).ok());
            let (Some(lo), Some(hi)) = (lo, hi) else {
                return Err(bad(name, format!("port `{s}` not valid")));
            };
            if hi < lo {
                return Err(bad(name, format!("port range `{s}` funky")));
            }
            rg.min_port = lo;
            rg.max_port = hi;
            if let Some(b) = base {
                rg.base_port = port(name, b, "tcp")?;
                if rg.base_port == 0 {
                    return Err(bad(name, "base port must be at least 1"));
                }
                rg.flags |= PROTO_OFFSET;
            }
        }
    }
    Ok(())
}

/// `parse_to` of libxt_NAT: `ADDR[-ADDR][:PORTS]`, IPv6 as `[ADDR[-ADDR]]:PORTS`.
fn parse_to(name: &str, family: Family, s: &str, rg: &mut Range) -> Result<(), ExtError> {
    let (addrs, ports) = if let Some(rest) = s.strip_prefix('[') {
        if family == Family::Ipv4 {
            return Err(bad(name, "invalid address format"));
        }
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| bad(name, "invalid address format"))?;
        (inner, after.strip_prefix(':'))
    } else {
        match s.find(':') {
            Some(i) if !s[i + 1..].contains(':') => (&s[..i], Some(&s[i + 1..])),
            _ => (s, None),
        }
    };
    if let Some(p) = ports {
        parse_ports(name, p, rg)?;
    }
    if addrs.is_empty() {
        return Ok(());
    }
    rg.flags |= MAP_IPS;
    let one = |t: &str| -> Result<IpAddr, ExtError> {
        let a: IpAddr = t
            .parse()
            .map_err(|_| bad(name, format!("bad IP address `{t}`")))?;
        if a.is_ipv4() != (family == Family::Ipv4) {
            return Err(bad(name, format!("bad IP address `{t}`")));
        }
        Ok(a)
    };
    match addrs.split_once('-') {
        Some((a, b)) => {
            rg.min_addr = one(a)?;
            rg.max_addr = one(b)?;
        }
        None => {
            rg.min_addr = one(addrs)?;
            rg.max_addr = rg.min_addr;
        }
    }
    Ok(())
}

fn parse(kind: Kind, family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let name = kind.name();
    let specs: &[(&'static str, usize)] = match kind {
        Kind::Snat => &[
            ("to-source", 1),
            ("random", 0),
            ("random-fully", 0),
            ("persistent", 0),
        ],
        Kind::Dnat => &[("to-destination", 1), ("random", 0), ("persistent", 0)],
        Kind::Masquerade => &[("to-ports", 1), ("random", 0), ("random-fully", 0)],
        Kind::Redirect => &[("to-ports", 1), ("random", 0)],
    };
    let mut rg = Range::new(family);
    let mut seen_to = false;
    for o in scan(name, specs, words)? {
        no_inv(name, &o)?;
        match o.name {
            "to-source" | "to-destination" => {
                if seen_to {
                    return Err(bad(name, "multiple --to options are not supported"));
                }
                seen_to = true;
                parse_to(name, family, &o.args[0], &mut rg)?;
            }
            "to-ports" => parse_ports(name, &o.args[0], &mut rg)?,
            "random" => rg.flags |= PROTO_RANDOM,
            "random-fully" => rg.flags |= PROTO_RANDOM_FULLY,
            _ => rg.flags |= PERSISTENT,
        }
    }
    if matches!(kind, Kind::Snat | Kind::Dnat) && !seen_to {
        return Err(bad(
            name,
            format!(
                "{name} needs --to-{}",
                if kind == Kind::Snat {
                    "source"
                } else {
                    "destination"
                }
            ),
        ));
    }
    Ok(rg.words(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::args::w;

    #[test]
    fn nat_words() {
        let p = |k, f, v: &[&str]| parse(k, f, &w(v)).unwrap().join(" ");
        assert_eq!(
            p(
                Kind::Dnat,
                Family::Ipv4,
                &["--to-destination", "172.17.0.2:80"]
            ),
            "--to-destination 172.17.0.2:80"
        );
        assert_eq!(
            p(
                Kind::Dnat,
                Family::Ipv6,
                &["--to-destination", "[fd00::2]:80"]
            ),
            "--to-destination [fd00::2]:80"
        );
        assert_eq!(
            p(
                Kind::Masquerade,
                Family::Ipv4,
                &["--to-ports", "1000-2000", "--random-fully"]
            ),
            "--to-ports 1000-2000 --random-fully"
        );
        assert_eq!(p(Kind::Masquerade, Family::Ipv4, &[]), "");
        assert_eq!(
            p(Kind::Snat, Family::Ipv4, &["--to", "1.1.1.1-1.1.1.9"]),
            "--to-source 1.1.1.1-1.1.1.9"
        );
    }
}
