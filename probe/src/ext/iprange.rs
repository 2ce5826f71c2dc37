//! `-m iprange` (ipt_iprange_info rev 0 IPv4, xt_iprange_mtinfo rev 1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::args::{bad, need, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;
use crate::ruleset::render::ipv6_text;

const NAME: &str = "iprange";
const SRC: u8 = 0x01;
const DST: u8 = 0x02;
const SRC_INV: u8 = 0x10;
const DST_INV: u8 = 0x20;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

struct Iprange {
    src: (IpAddr, IpAddr),
    dst: (IpAddr, IpAddr),
    flags: u8,
}

fn text(a: IpAddr) -> String {
    match a {
        IpAddr::V6(a) => ipv6_text(&a),
        a => a.to_string(),
    }
}

impl Iprange {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.flags & SRC != 0 {
            push_inv(&mut w, self.flags & SRC_INV != 0);
            w.push("--src-range".into());
            w.push(format!("{}-{}", text(self.src.0), text(self.src.1)));
        }
        if self.flags & DST != 0 {
            push_inv(&mut w, self.flags & DST_INV != 0);
            w.push("--dst-range".into());
            w.push(format!("{}-{}", text(self.dst.0), text(self.dst.1)));
        }
        w
    }
}

fn addr(family: Family, b: &[u8]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::Ipv6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            IpAddr::V6(Ipv6Addr::from(a))
        }
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let r = match ctx.revision {
        0 => {
            need(NAME, blob, 17)?;
            let a = |o: usize| addr(Family::Ipv4, &blob[o..o + 4]);
            Iprange {
                src: (a(0), a(4)),
                dst: (a(8), a(12)),
                flags: blob[16],
            }
        }
        1 => {
            need(NAME, blob, 65)?;
            let a = |o: usize| addr(ctx.family, &blob[o..o + 16]);
            Iprange {
                src: (a(0), a(16)),
                dst: (a(32), a(48)),
                flags: blob[64],
            }
        }
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Match,
                NAME,
                revision,
            ));
        }
    };
    Ok(r.words())
}

fn range(family: Family, s: &str) -> Result<(IpAddr, IpAddr), ExtError> {
    let one = |t: &str| -> Result<IpAddr, ExtError> {
        let a: IpAddr = t
            .parse()
            .map_err(|_| bad(NAME, format!("bad address `{t}`")))?;
        if a.is_ipv4() != (family == Family::Ipv4) {
            return Err(bad(NAME, format!("address `{t}` of the wrong family")));
        }
        Ok(a)
    };
    match s.split_once('-') {
        Some((a, b)) => Ok((one(a)?, one(b)?)),
        None => {
            let a = one(s)?;
            Ok((a, a))
        }
    }
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let zero = match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let mut r = Iprange {
        src: (zero, zero),
        dst: (zero, zero),
        flags: 0,
    };
    for o in scan(NAME, &[("src-range", 1), ("dst-range", 1)], words)? {
        if o.name == "src-range" {
            r.src = range(family, &o.args[0])?;
            r.flags |= SRC | if o.inv { SRC_INV } else { 0 };
        } else {
            r.dst = range(family, &o.args[0])?;
            r.flags |= DST | if o.inv { DST_INV } else { 0 };
        }
    }
    Ok(r.words())
}
