//! `-j HMARK` (struct xt_hmark_info: src_mask, dst_mask (nf_inet_addr), port_mask, port_set
//! (network-order ports or SPI), u32 flags, u16 proto_mask, u32 hashrnd, hmodulus, hoffset).

use super::opts::{Args, bad, mask_bytes, prefix_len, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "HMARK";

// Bit numbers of `flags` (enum in xt_HMARK.h).
const SADDR_MASK: u32 = 0;
const DADDR_MASK: u32 = 1;
const SPI: u32 = 2;
const SPI_MASK: u32 = 3;
const SPORT: u32 = 4;
const DPORT: u32 = 5;
const SPORT_MASK: u32 = 6;
const DPORT_MASK: u32 = 7;
const PROTO_MASK: u32 = 8;
const RND: u32 = 9;
const MODULUS: u32 = 10;
const OFFSET: u32 = 11;
const CT: u32 = 12;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Hmark {
    src_mask: [u8; 16],
    dst_mask: [u8; 16],
    /// The 4 bytes of `port_mask` / `port_set` as stored (network order).
    port_mask: [u8; 4],
    port_set: [u8; 4],
    flags: u32,
    proto_mask: u16,
    hashrnd: u32,
    hmodulus: u32,
    hoffset: u32,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*b)
}

impl Hmark {
    fn has(&self, bit: u32) -> bool {
        self.flags & (1 << bit) != 0
    }

    fn words(&self, family: Family) -> Vec<String> {
        let alen = match family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        };
        // `xtables_ip(6)mask_to_cidr` gives -1 for a mask with holes.
        let cidr = |m: &[u8]| prefix_len(&m[..alen]).map_or(-1, |l| l as i64);
        let mut out = Vec::new();
        let mut put = |k: &str, v: String| {
            out.push(k.to_owned());
            out.push(v);
        };
        if self.has(SADDR_MASK) {
            put("--hmark-src-prefix", cidr(&self.src_mask).to_string());
        }
        if self.has(DADDR_MASK) {
            put("--hmark-dst-prefix", cidr(&self.dst_mask).to_string());
        }
        if self.has(SPORT_MASK) {
            put(
                "--hmark-sport-mask",
                format!("{:#06x}", be16(&self.port_mask[..2])),
            );
        }
        if self.has(DPORT_MASK) {
            put(
                "--hmark-dport-mask",
                format!("{:#06x}", be16(&self.port_mask[2..])),
            );
        }
        if self.has(SPI_MASK) {
            put(
                "--hmark-spi-mask",
                format!("{:#010x}", be32(&self.port_mask)),
            );
        }
        if self.has(SPORT) {
            put(
                "--hmark-sport",
                format!("{:#06x}", be16(&self.port_set[..2])),
            );
        }
        if self.has(DPORT) {
            put(
                "--hmark-dport",
                format!("{:#06x}", be16(&self.port_set[2..])),
            );
        }
        if self.has(SPI) {
            put("--hmark-spi", format!("{:#010x}", be32(&self.port_set)));
        }
        if self.has(PROTO_MASK) {
            put("--hmark-proto-mask", format!("{:#04x}", self.proto_mask));
        }
        if self.has(RND) {
            put("--hmark-rnd", format!("{:#010x}", self.hashrnd));
        }
        if self.has(MODULUS) {
            put("--hmark-mod", self.hmodulus.to_string());
        }
        if self.has(OFFSET) {
            put("--hmark-offset", self.hoffset.to_string());
        }
        if self.has(CT) {
            out.push("--hmark-tuple".into());
            out.push("ct".into());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 60)?;
    let mut h = Hmark {
        src_mask: tr(NAME, r.array())?,
        dst_mask: tr(NAME, r.array())?,
        port_mask: tr(NAME, r.array())?,
        port_set: tr(NAME, r.array())?,
        flags: tr(NAME, r.u32())?,
        proto_mask: tr(NAME, r.u16())?,
        ..Hmark::default()
    };
    tr(NAME, r.skip(2))?;
    h.hashrnd = tr(NAME, r.u32())?;
    h.hmodulus = tr(NAME, r.u32())?;
    h.hoffset = tr(NAME, r.u32())?;
    Ok(h.words(ctx.family))
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let max_plen = match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    };
    let mut a = Args::new(NAME, words);
    let mut h = Hmark::default();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = a.value(o)?;
        let u16v = |v: &str| uint(NAME, v, 0, 0xffff).map(|x| x as u16);
        let u32v = |v: &str| uint(NAME, v, 0, u32::MAX.into()).map(|x| x as u32);
        let bit = match o {
            "--hmark-tuple" => {
                for t in v.split(',') {
                    let t = t.to_ascii_lowercase();
                    let bit = match t.as_str() {
                        "ct" => CT,
                        "src" => {
                            h.src_mask = [0xff; 16];
                            SADDR_MASK
                        }
                        "dst" => {
                            h.dst_mask = [0xff; 16];
                            DADDR_MASK
                        }
                        "sport" => {
                            h.port_mask[..2].copy_from_slice(&[0xff; 2]);
                            SPORT_MASK
                        }
                        "dport" => {
                            h.port_mask[2..].copy_from_slice(&[0xff; 2]);
                            DPORT_MASK
                        }
                        "proto" => {
                            h.proto_mask = 0xffff;
                            PROTO_MASK
                        }
                        "spi" => {
                            h.port_mask = [0xff; 4];
                            SPI_MASK
                        }
                        _ => return Err(bad(NAME, format!("bad type `{t}`"))),
                    };
                    h.flags |= 1 << bit;
                }
                continue;
            }
            "--hmark-src-prefix" => {
                h.src_mask = mask_bytes(uint(NAME, v, 0, max_plen)? as u32);
                SADDR_MASK
            }
            "--hmark-dst-prefix" => {
                h.dst_mask = mask_bytes(uint(NAME, v, 0, max_plen)? as u32);
                DADDR_MASK
            }
            "--hmark-sport-mask" => {
                h.port_mask[..2].copy_from_slice(&u16v(v)?.to_be_bytes());
                SPORT_MASK
            }
            "--hmark-dport-mask" => {
                h.port_mask[2..].copy_from_slice(&u16v(v)?.to_be_bytes());
                DPORT_MASK
            }
            "--hmark-spi-mask" => {
                h.port_mask = u32v(v)?.to_be_bytes();
                SPI_MASK
            }
            "--hmark-sport" => {
                h.port_set[..2].copy_from_slice(&u16v(v)?.to_be_bytes());
                SPORT
            }
            "--hmark-dport" => {
                h.port_set[2..].copy_from_slice(&u16v(v)?.to_be_bytes());
                DPORT
            }
            "--hmark-spi" => {
                h.port_set = u32v(v)?.to_be_bytes();
                SPI
            }
            "--hmark-proto-mask" => {
                h.proto_mask = u16v(v)?;
                PROTO_MASK
            }
            "--hmark-rnd" => {
                h.hashrnd = u32v(v)?;
                RND
            }
            "--hmark-mod" => {
                h.hmodulus = u32v(v)?;
                if h.hmodulus == 0 {
                    return Err(bad(NAME, "--hmark-mod must be at least 1"));
                }
                MODULUS
            }
            "--hmark-offset" => {
                h.hoffset = u32v(v)?;
                OFFSET
            }
            _ => return Err(a.unknown(o)),
        };
        h.flags |= 1 << bit;
    }
    if !h.has(MODULUS) {
        return Err(bad(NAME, "--hmark-mod is mandatory"));
    }
    if !h.has(RND) {
        return Err(bad(NAME, "--hmark-rnd is mandatory"));
    }
    if h.has(SPI_MASK) && (h.has(SPORT_MASK) || h.has(DPORT_MASK)) {
        return Err(bad(
            NAME,
            "--hmark-spi-mask and --hmark-?port-mask are exclusive",
        ));
    }
    Ok(h.words(family))
}
