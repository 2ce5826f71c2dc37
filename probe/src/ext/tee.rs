//! `-j TEE` (struct xt_tee_tginfo { union nf_inet_addr gw; char oif[16]; ptr priv; }).

use super::opts::{Args, addr_str, bad, inet_addr, parse_addr, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "TEE";
const IFNAMSIZ: usize = 16;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tee {
    /// 4 or 16 address bytes, by family.
    gw: Vec<u8>,
    oif: String,
}

impl Tee {
    fn words(&self) -> Vec<String> {
        let mut out = vec!["--gateway".into(), addr_str(&self.gw)];
        if !self.oif.is_empty() {
            out.push("--oif".into());
            out.push(self.oif.clone());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 40)?;
    let gw = tr(NAME, inet_addr(&mut r))?;
    let oif = tr(NAME, r.cstr(IFNAMSIZ))?;
    let gw = match ctx.family {
        Family::Ipv4 => gw[..4].to_vec(),
        Family::Ipv6 => gw.to_vec(),
    };
    Ok(Tee { gw, oif }.words())
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut gw = None;
    let mut oif = String::new();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = a.value(o)?;
        match o {
            "--gateway" => {
                gw = Some(match family {
                    Family::Ipv4 => parse_addr::<4>(NAME, v)?.to_vec(),
                    Family::Ipv6 => parse_addr::<16>(NAME, v)?.to_vec(),
                })
            }
            "--oif" => {
                if v.len() >= IFNAMSIZ {
                    return Err(bad(NAME, "interface name too long"));
                }
                oif = v.to_owned();
            }
            _ => return Err(a.unknown(o)),
        }
    }
    let gw = gw.ok_or_else(|| bad(NAME, "--gateway is required"))?;
    Ok(Tee { gw, oif }.words())
}
