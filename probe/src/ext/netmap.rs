//! `-j NETMAP`: IPv4 (struct nf_nat_ipv4_multi_range_compat, one range) and IPv6 (struct
//! nf_nat_range); printed as `--to ADDR/PREFIX` (or `/MASK` when min^max has holes).

use super::opts::{Args, addr_mask, bad, parse_host_mask, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "NETMAP";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Netmap {
    min: Vec<u8>,
    max: Vec<u8>,
}

impl Netmap {
    fn words(&self) -> Vec<String> {
        let mask: Vec<u8> = self
            .min
            .iter()
            .zip(&self.max)
            .map(|(a, b)| !(a ^ b))
            .collect();
        vec!["--to".into(), addr_mask(&self.min, &mask)]
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let n = match ctx.family {
        Family::Ipv4 => {
            let mut r = sized(NAME, blob, 24)?;
            tr(NAME, r.skip(8))?; // rangesize, flags
            let min = tr(NAME, r.bytes(4))?.to_vec();
            let max = tr(NAME, r.bytes(4))?.to_vec();
            Netmap { min, max }
        }
        Family::Ipv6 => {
            let mut r = sized(NAME, blob, 40)?;
            tr(NAME, r.skip(4))?; // flags
            let min = tr(NAME, r.bytes(16))?.to_vec();
            let max = tr(NAME, r.bytes(16))?.to_vec();
            Netmap { min, max }
        }
    };
    Ok(n.words())
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut n = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--to" => {
                let v = a.value(o)?;
                let (addr, mask) = match family {
                    Family::Ipv4 => {
                        let (x, m) = parse_host_mask::<4>(NAME, v)?;
                        (x.to_vec(), m.to_vec())
                    }
                    Family::Ipv6 => {
                        let (x, m) = parse_host_mask::<16>(NAME, v)?;
                        (x.to_vec(), m.to_vec())
                    }
                };
                // NETMAP_parse keeps the network part only.
                let min: Vec<u8> = addr.iter().zip(&mask).map(|(x, m)| x & m).collect();
                let max = min.iter().zip(&mask).map(|(x, m)| x | !m).collect();
                n = Some(Netmap { min, max });
            }
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(n.ok_or_else(|| bad(NAME, "--to is required"))?.words())
}
