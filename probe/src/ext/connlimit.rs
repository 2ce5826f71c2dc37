//! `-m connlimit`, revisions 0 and 1 (struct xt_connlimit_info { nf_inet_addr mask; u32
//! limit; u32 flags; ptr data; }).

use super::opts::{Args, bad, mask_bytes, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "connlimit";
const F_INVERT: u32 = 1;
const F_DADDR: u32 = 2;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Connlimit {
    mask: [u8; 16],
    limit: u32,
    flags: u32,
    /// Revision 0 has no `--connlimit-saddr/daddr`.
    revision: u8,
}

/// iptables' count_bits4/6: per 32-bit word, 32 minus the position of the highest zero bit.
fn mask_bits(mask: &[u8]) -> u32 {
    let mut bits = 0;
    for w in mask.chunks(4) {
        let v = !u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
        bits += 32 - v.leading_zeros();
    }
    (mask.len() as u32) * 8 - bits
}

impl Connlimit {
    fn words(&self, family: Family) -> Vec<String> {
        let mut out = Vec::new();
        out.push(if self.flags & F_INVERT != 0 {
            "--connlimit-upto".into()
        } else {
            "--connlimit-above".into()
        });
        out.push(self.limit.to_string());
        out.push("--connlimit-mask".into());
        let m = match family {
            Family::Ipv4 => &self.mask[..4],
            Family::Ipv6 => &self.mask[..],
        };
        out.push(mask_bits(m).to_string());
        if self.revision >= 1 {
            out.push(if self.flags & F_DADDR != 0 {
                "--connlimit-daddr".into()
            } else {
                "--connlimit-saddr".into()
            });
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    if ctx.revision > 1 {
        return Err(super::opts::unknown_revision(
            ExtKind::Match,
            NAME,
            ctx.revision,
        ));
    }
    let mut r = sized(NAME, blob, 32)?;
    Ok(Connlimit {
        mask: tr(NAME, r.array())?,
        limit: tr(NAME, r.u32())?,
        flags: tr(NAME, r.u32())?,
        revision: ctx.revision,
    }
    .words(ctx.family))
}

fn parse(family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = Connlimit {
        mask: [0xff; 16],
        limit: 0,
        flags: 0,
        revision: 1,
    };
    let (mut limit, mut addr) = (false, false);
    while let Some((inv, o)) = a.next_opt()? {
        match o {
            "--connlimit-upto" | "--connlimit-above" => {
                if limit {
                    return Err(bad(
                        NAME,
                        "--connlimit-upto and --connlimit-above are exclusive",
                    ));
                }
                limit = true;
                c.limit = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
                if (o == "--connlimit-upto") != inv {
                    c.flags |= F_INVERT;
                }
            }
            "--connlimit-mask" => {
                a.no_invert(inv, o)?;
                let max = match family {
                    Family::Ipv4 => 32,
                    Family::Ipv6 => 128,
                };
                let len = uint(NAME, a.value(o)?, 0, max)? as u32;
                c.mask = mask_bytes(len);
            }
            "--connlimit-saddr" | "--connlimit-daddr" => {
                a.no_invert(inv, o)?;
                if addr {
                    return Err(bad(
                        NAME,
                        "--connlimit-saddr and --connlimit-daddr are exclusive",
                    ));
                }
                addr = true;
                if o == "--connlimit-daddr" {
                    c.flags |= F_DADDR;
                }
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if !limit {
        return Err(bad(
            NAME,
            "--connlimit-upto or --connlimit-above is required",
        ));
    }
    Ok(c.words(family))
}
