//! `-j TPROXY`, revision 0 (IPv4; struct xt_tproxy_target_info { u32 mark_mask; u32
//! mark_value; be32 laddr; be16 lport; }) and 1 (laddr is a union nf_inet_addr).

use super::opts::{Args, addr_str, bad, parse_addr, sized, tr, uint, val_mask};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "TPROXY";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tproxy {
    port: u16,
    /// 4 or 16 bytes, by family.
    addr: Vec<u8>,
    mark: u32,
    mask: u32,
}

impl Tproxy {
    fn words(&self) -> Vec<String> {
        vec![
            "--on-port".into(),
            self.port.to_string(),
            "--on-ip".into(),
            addr_str(&self.addr),
            "--tproxy-mark".into(),
            format!("{:#x}/{:#x}", self.mark, self.mask),
        ]
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let (size, alen) = match (ctx.revision, ctx.family) {
        (0, Family::Ipv4) => (16, 4),
        (1, _) => (28, 16),
        (rev, _) => return Err(super::opts::unknown_revision(ExtKind::Target, NAME, rev)),
    };
    let mut r = sized(NAME, blob, size)?;
    let mask = tr(NAME, r.u32())?;
    let mark = tr(NAME, r.u32())?;
    let raw = tr(NAME, r.bytes(alen))?;
    let port = tr(NAME, r.u16_be())?;
    let addr = match ctx.family {
        Family::Ipv4 => raw[..4].to_vec(),
        Family::Ipv6 => raw.to_vec(),
    };
    Ok(Tproxy {
        port,
        addr,
        mark,
        mask,
    }
    .words())
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut t = Tproxy {
        port: 0,
        addr: match family {
            Family::Ipv4 => vec![0; 4],
            Family::Ipv6 => vec![0; 16],
        },
        mark: 0,
        mask: 0,
    };
    let mut port = false;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = a.value(o)?;
        match o {
            "--on-port" => {
                t.port = uint(NAME, v, 0, 0xffff)? as u16;
                port = true;
            }
            "--on-ip" => {
                t.addr = match family {
                    Family::Ipv4 => parse_addr::<4>(NAME, v)?.to_vec(),
                    Family::Ipv6 => parse_addr::<16>(NAME, v)?.to_vec(),
                }
            }
            "--tproxy-mark" => {
                let (m, k) = val_mask(NAME, v, u32::MAX.into())?;
                t.mark = m as u32;
                t.mask = k as u32;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if !port {
        return Err(bad(NAME, "--on-port is required"));
    }
    Ok(t.words())
}
