//! `-m policy` (struct xt_policy_info { xt_policy_elem pol[4]; u16 flags; u16 len; }; each
//! element: saddr, smask, daddr, dmask (16 bytes each), be32 spi, u32 reqid, u8 proto, u8
//! mode, u8 match bits, u8 invert bits).

use super::opts::{
    Args, addr_opt_mask, bad, malformed, parse_host_mask16, proto_name, proto_number, push_inv,
    sized, strtoul0, tr, uint,
};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "policy";
const MAX_ELEM: usize = 4;
const M_IN: u16 = 0x1;
const M_NONE: u16 = 0x4;
const M_STRICT: u16 = 0x8;
const M_OUT: u16 = 0x2;
// Bits of `struct xt_policy_spec` (bit-fields, little-endian order).
const S_SADDR: u8 = 1 << 0;
const S_DADDR: u8 = 1 << 1;
const S_PROTO: u8 = 1 << 2;
const S_MODE: u8 = 1 << 3;
const S_SPI: u8 = 1 << 4;
const S_REQID: u8 = 1 << 5;
const MODE_TUNNEL: u8 = 1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Elem {
    saddr: [u8; 16],
    smask: [u8; 16],
    daddr: [u8; 16],
    dmask: [u8; 16],
    spi: u32,
    reqid: u32,
    proto: u8,
    mode: u8,
    matches: u8,
    invert: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Policy {
    elems: Vec<Elem>,
    flags: u16,
}

impl Elem {
    fn words(&self, family: Family, out: &mut Vec<String>) {
        let alen = match family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        };
        let mut put = |bit: u8, opt: &str, val: String| {
            if self.matches & bit != 0 {
                push_inv(out, self.invert & bit != 0);
                out.push(opt.into());
                out.push(val);
            }
        };
        put(S_REQID, "--reqid", self.reqid.to_string());
        put(S_SPI, "--spi", format!("{:#x}", self.spi));
        put(
            S_PROTO,
            "--proto",
            proto_name(self.proto).map_or_else(|| self.proto.to_string(), str::to_owned),
        );
        put(
            S_MODE,
            "--mode",
            match self.mode {
                0 => "transport".into(),
                1 => "tunnel".into(),
                _ => "???".into(),
            },
        );
        put(
            S_DADDR,
            "--tunnel-dst",
            addr_opt_mask(&self.daddr[..alen], &self.dmask[..alen]),
        );
        put(
            S_SADDR,
            "--tunnel-src",
            addr_opt_mask(&self.saddr[..alen], &self.smask[..alen]),
        );
    }
}

impl Policy {
    fn words(&self, family: Family) -> Vec<String> {
        let mut out = vec![
            "--dir".into(),
            if self.flags & M_IN != 0 { "in" } else { "out" }.into(),
            "--pol".into(),
            if self.flags & M_NONE != 0 {
                "none"
            } else {
                "ipsec"
            }
            .into(),
        ];
        if self.flags & M_STRICT != 0 {
            out.push("--strict".into());
        }
        for (i, e) in self.elems.iter().enumerate() {
            e.words(family, &mut out);
            if i + 1 < self.elems.len() {
                out.push("--next".into());
            }
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 308)?;
    let mut all = [Elem::default(); MAX_ELEM];
    for e in &mut all {
        e.saddr = tr(NAME, r.array())?;
        e.smask = tr(NAME, r.array())?;
        e.daddr = tr(NAME, r.array())?;
        e.dmask = tr(NAME, r.array())?;
        e.spi = tr(NAME, r.u32())?; // iptables stores and prints it in host order
        e.reqid = tr(NAME, r.u32())?;
        e.proto = tr(NAME, r.u8())?;
        e.mode = tr(NAME, r.u8())?;
        e.matches = tr(NAME, r.u8())?;
        e.invert = tr(NAME, r.u8())?;
    }
    let flags = tr(NAME, r.u16())?;
    let len = usize::from(tr(NAME, r.u16())?);
    if len > MAX_ELEM {
        return Err(malformed(NAME, blob.len(), format!("{len} elements")));
    }
    Ok(Policy {
        elems: all[..len].to_vec(),
        flags,
    }
    .words(ctx.family))
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut p = Policy::default();
    let mut cur = Elem::default();
    let mut done: Vec<Elem> = Vec::new();
    while let Some((inv, o)) = a.next_opt()? {
        let set = |bit: u8, cur: &mut Elem| -> Result<(), ExtError> {
            if cur.matches & bit != 0 {
                return Err(bad(NAME, format!("double {o} option")));
            }
            cur.matches |= bit;
            if inv {
                cur.invert |= bit;
            }
            Ok(())
        };
        match o {
            "--dir" | "--pol" | "--strict" | "--next" => a.no_invert(inv, o)?,
            _ => {}
        }
        match o {
            "--dir" => {
                p.flags |= match a.value(o)? {
                    "in" => M_IN,
                    "out" => M_OUT,
                    v => return Err(bad(NAME, format!("invalid dir `{v}`"))),
                }
            }
            "--pol" => {
                p.flags |= match a.value(o)? {
                    "none" => M_NONE,
                    "ipsec" => 0,
                    v => return Err(bad(NAME, format!("invalid policy `{v}`"))),
                }
            }
            "--strict" => p.flags |= M_STRICT,
            "--reqid" => {
                set(S_REQID, &mut cur)?;
                cur.reqid = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
            }
            "--spi" => {
                set(S_SPI, &mut cur)?;
                cur.spi = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
            }
            "--proto" => {
                set(S_PROTO, &mut cur)?;
                let v = a.value(o)?;
                let n = match strtoul0(v) {
                    Some(n) => u8::try_from(n).map_err(|_| bad(NAME, "bad protocol"))?,
                    None => proto_number(v)
                        .ok_or_else(|| bad(NAME, format!("unknown protocol `{v}`")))?,
                };
                if ![51, 50, 108].contains(&n) {
                    return Err(bad(NAME, "protocol must be ah/esp/ipcomp"));
                }
                cur.proto = n;
            }
            "--mode" => {
                set(S_MODE, &mut cur)?;
                cur.mode = match a.value(o)? {
                    "transport" => 0,
                    "tunnel" => MODE_TUNNEL,
                    v => return Err(bad(NAME, format!("invalid mode `{v}`"))),
                };
            }
            "--tunnel-src" | "--tunnel-dst" => {
                let src = o == "--tunnel-src";
                set(if src { S_SADDR } else { S_DADDR }, &mut cur)?;
                let (addr, mask) = parse_host_mask16(NAME, family, a.value(o)?)?;
                if src {
                    (cur.saddr, cur.smask) = (addr, mask);
                } else {
                    (cur.daddr, cur.dmask) = (addr, mask);
                }
            }
            "--next" => {
                if p.flags & M_STRICT == 0 {
                    return Err(bad(NAME, "--next requires --strict"));
                }
                done.push(cur);
                cur = Elem::default();
                if done.len() == MAX_ELEM {
                    return Err(bad(NAME, "maximum policy depth reached"));
                }
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if p.flags & (M_IN | M_OUT) == 0 {
        return Err(bad(NAME, "neither --dir in nor --dir out specified"));
    }
    if p.flags & M_NONE != 0 {
        if p.flags & M_STRICT != 0 {
            return Err(bad(NAME, "policy none but --strict given"));
        }
        if !done.is_empty() {
            return Err(bad(NAME, "policy none but policy given"));
        }
    } else {
        done.push(cur);
    }
    for e in &done {
        if p.flags & M_STRICT != 0 && e.matches == 0 {
            return Err(bad(NAME, "empty policy element with --strict"));
        }
        let tunnel_addr = e.matches & (S_SADDR | S_DADDR) != 0;
        let inv_mode = e.invert & S_MODE != 0;
        if tunnel_addr && ((e.mode == MODE_TUNNEL && inv_mode) || (e.mode == 0 && !inv_mode)) {
            return Err(bad(
                NAME,
                "--tunnel-src/--tunnel-dst is only valid in tunnel mode",
            ));
        }
    }
    p.elems = done;
    Ok(p.words(family))
}
