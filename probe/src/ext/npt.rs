//! `-j DNPT` / `-j SNPT` (IPv6 prefix translation; struct ip6t_npt_tginfo { nf_inet_addr
//! src_pfx, dst_pfx; u8 src_pfx_len, dst_pfx_len; u16 adjustment; }).

use super::opts::{Args, addr_str, bad, parse_addr, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

pub static DEF_DNPT: ExtDef = ExtDef {
    name: "DNPT",
    kind: ExtKind::Target,
    family: Some(Family::Ipv6),
    decode: decode_dnpt,
    parse: parse_dnpt,
};

pub static DEF_SNPT: ExtDef = ExtDef {
    name: "SNPT",
    kind: ExtKind::Target,
    family: Some(Family::Ipv6),
    decode: decode_snpt,
    parse: parse_snpt,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Npt {
    src: [u8; 16],
    src_len: u8,
    dst: [u8; 16],
    dst_len: u8,
}

impl Npt {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.src != [0; 16] || self.src_len != 0 {
            out.push("--src-pfx".into());
            out.push(format!("{}/{}", addr_str(&self.src), self.src_len));
        }
        if self.dst != [0; 16] || self.dst_len != 0 {
            out.push("--dst-pfx".into());
            out.push(format!("{}/{}", addr_str(&self.dst), self.dst_len));
        }
        out
    }

    fn decode(name: &str, blob: &[u8]) -> Result<Self, ExtError> {
        let mut r = sized(name, blob, 36)?;
        let src = tr(name, r.array())?;
        let dst = tr(name, r.array())?;
        Ok(Npt {
            src,
            dst,
            src_len: tr(name, r.u8())?,
            dst_len: tr(name, r.u8())?,
        })
    }

    fn parse(name: &'static str, words: &[String]) -> Result<Self, ExtError> {
        let mut a = Args::new(name, words);
        let mut n = Npt::default();
        while let Some((inv, o)) = a.next_opt()? {
            a.no_invert(inv, o)?;
            let v = a.value(o)?;
            // XTTYPE_HOSTMASK: the address is kept as given, with the prefix length.
            let (addr, len) = match v.split_once('/') {
                Some((x, l)) => (
                    x,
                    l.parse::<u8>()
                        .ok()
                        .filter(|l| *l <= 128)
                        .ok_or_else(|| bad(name, format!("bad prefix length `{l}`")))?,
                ),
                None => (v, 128),
            };
            let addr = parse_addr::<16>(name, addr)?;
            match o {
                "--src-pfx" => (n.src, n.src_len) = (addr, len),
                "--dst-pfx" => (n.dst, n.dst_len) = (addr, len),
                _ => return Err(a.unknown(o)),
            }
        }
        Ok(n)
    }
}

fn decode_dnpt(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Npt::decode("DNPT", blob)?.words())
}

fn parse_dnpt(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Npt::parse("DNPT", words)?.words())
}

fn decode_snpt(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(Npt::decode("SNPT", blob)?.words())
}

fn parse_snpt(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    Ok(Npt::parse("SNPT", words)?.words())
}
