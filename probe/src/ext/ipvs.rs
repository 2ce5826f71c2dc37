//! `-m ipvs` (struct xt_ipvs_mtinfo { nf_inet_addr vaddr, vmask; be16 vport; u8 l4proto; u8
//! fwd_method; be16 vportctl; u8 invert; u8 bitmask; }).

use super::opts::{
    Args, addr_opt_mask, bad, parse_host_mask16, parse_port, proto_number, push_inv, sized,
    strtoul0, tr,
};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "ipvs";
const PROPERTY: u8 = 1 << 0;
const PROTO: u8 = 1 << 1;
const VADDR: u8 = 1 << 2;
const VPORT: u8 = 1 << 3;
const DIR: u8 = 1 << 4;
const METHOD: u8 = 1 << 5;
const VPORTCTL: u8 = 1 << 6;
// IP_VS_CONN_F_* forwarding methods.
const F_MASQ: u8 = 0;
const F_TUNNEL: u8 = 2;
const F_DROUTE: u8 = 3;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ipvs {
    vaddr: [u8; 16],
    vmask: [u8; 16],
    vport: u16,
    l4proto: u8,
    fwd_method: u8,
    vportctl: u16,
    invert: u8,
    bitmask: u8,
}

impl Ipvs {
    fn words(&self, family: Family) -> Vec<String> {
        let alen = match family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        };
        let mut out = Vec::new();
        let inv = |b: u8| self.invert & b != 0;
        if self.bitmask == PROPERTY {
            push_inv(&mut out, inv(PROPERTY));
            out.push("--ipvs".into());
        }
        if self.bitmask & PROTO != 0 {
            push_inv(&mut out, inv(PROTO));
            out.push("--vproto".into());
            out.push(self.l4proto.to_string());
        }
        if self.bitmask & VADDR != 0 {
            push_inv(&mut out, inv(VADDR));
            out.push("--vaddr".into());
            out.push(addr_opt_mask(&self.vaddr[..alen], &self.vmask[..alen]));
        }
        if self.bitmask & VPORT != 0 {
            push_inv(&mut out, inv(VPORT));
            out.push("--vport".into());
            out.push(self.vport.to_string());
        }
        if self.bitmask & DIR != 0 {
            out.push("--vdir".into());
            out.push(if inv(DIR) { "REPLY" } else { "ORIGINAL" }.into());
        }
        if self.bitmask & METHOD != 0 {
            push_inv(&mut out, inv(METHOD));
            out.push("--vmethod".into());
            out.push(
                match self.fwd_method {
                    F_DROUTE => "GATE",
                    F_TUNNEL => "IPIP",
                    F_MASQ => "MASQ",
                    _ => "UNKNOWN",
                }
                .into(),
            );
        }
        if self.bitmask & VPORTCTL != 0 {
            push_inv(&mut out, inv(VPORTCTL));
            out.push("--vportctl".into());
            out.push(self.vportctl.to_string());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 40)?;
    Ok(Ipvs {
        vaddr: tr(NAME, r.array())?,
        vmask: tr(NAME, r.array())?,
        vport: tr(NAME, r.u16_be())?,
        l4proto: tr(NAME, r.u8())?,
        fwd_method: tr(NAME, r.u8())?,
        vportctl: tr(NAME, r.u16_be())?,
        invert: tr(NAME, r.u8())?,
        bitmask: tr(NAME, r.u8())?,
    }
    .words(ctx.family))
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut m = Ipvs::default();
    while let Some((inv, o)) = a.next_opt()? {
        let bit = match o {
            "--ipvs" => PROPERTY,
            "--vproto" => {
                let v = a.value(o)?;
                m.l4proto = match strtoul0(v) {
                    Some(n) => u8::try_from(n).map_err(|_| bad(NAME, "bad protocol"))?,
                    None => proto_number(&v.to_ascii_lowercase())
                        .ok_or_else(|| bad(NAME, format!("unknown protocol `{v}`")))?,
                };
                PROTO
            }
            "--vaddr" => {
                (m.vaddr, m.vmask) = parse_host_mask16(NAME, family, a.value(o)?)?;
                VADDR
            }
            "--vport" => {
                m.vport = parse_port(NAME, a.value(o)?, "tcp")?;
                VPORT
            }
            "--vportctl" => {
                m.vportctl = parse_port(NAME, a.value(o)?, "tcp")?;
                VPORTCTL
            }
            "--vdir" => {
                let v = a.value(o)?;
                if v.eq_ignore_ascii_case("ORIGINAL") {
                    m.invert &= !DIR;
                } else if v.eq_ignore_ascii_case("REPLY") {
                    m.invert |= DIR;
                } else {
                    return Err(bad(NAME, format!("bad --vdir `{v}`")));
                }
                DIR
            }
            "--vmethod" => {
                let v = a.value(o)?.to_ascii_uppercase();
                m.fwd_method = match v.as_str() {
                    "GATE" => F_DROUTE,
                    "IPIP" => F_TUNNEL,
                    "MASQ" => F_MASQ,
                    _ => return Err(bad(NAME, format!("bad --vmethod `{v}`"))),
                };
                METHOD
            }
            _ => return Err(a.unknown(o)),
        };
        m.bitmask |= bit;
        if inv {
            m.invert |= bit;
        }
    }
    Ok(m.words(family))
}
