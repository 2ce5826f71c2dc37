//! `-m srh` (IPv6 segment routing header): revision 0 (struct ip6t_srh: u8 next_hdr,
//! hdr_len, segs_left, last_entry; u16 tag, mt_flags, mt_invflags) and revision 1 (adds
//! psid/nsid/lsid addresses and masks before the flags).

use super::opts::{
    Args, addr_str, bad, mask_bytes, parse_addr, prefix_len, push_inv, sized, tr, uint,
};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "srh";

/// (flag, option) for the u8/u16 fields, in save order; the field index says which value.
const SCALARS: [(u16, &str, Field); 11] = [
    (0x0001, "--srh-next-hdr", Field::NextHdr),
    (0x0002, "--srh-hdr-len-eq", Field::HdrLen),
    (0x0004, "--srh-hdr-len-gt", Field::HdrLen),
    (0x0008, "--srh-hdr-len-lt", Field::HdrLen),
    (0x0010, "--srh-segs-left-eq", Field::SegsLeft),
    (0x0020, "--srh-segs-left-gt", Field::SegsLeft),
    (0x0040, "--srh-segs-left-lt", Field::SegsLeft),
    (0x0080, "--srh-last-entry-eq", Field::LastEntry),
    (0x0100, "--srh-last-entry-gt", Field::LastEntry),
    (0x0200, "--srh-last-entry-lt", Field::LastEntry),
    (0x0400, "--srh-tag", Field::Tag),
];
const SIDS: [(u16, &str); 3] = [
    (0x0800, "--srh-psid"),
    (0x1000, "--srh-nsid"),
    (0x2000, "--srh-lsid"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    NextHdr,
    HdrLen,
    SegsLeft,
    LastEntry,
    Tag,
}

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: Some(Family::Ipv6),
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Srh {
    next_hdr: u8,
    hdr_len: u8,
    segs_left: u8,
    last_entry: u8,
    tag: u16,
    /// psid, nsid, lsid: (address, mask).
    sids: [([u8; 16], [u8; 16]); 3],
    flags: u16,
    invflags: u16,
}

impl Srh {
    fn value(&self, f: Field) -> u16 {
        match f {
            Field::NextHdr => self.next_hdr.into(),
            Field::HdrLen => self.hdr_len.into(),
            Field::SegsLeft => self.segs_left.into(),
            Field::LastEntry => self.last_entry.into(),
            Field::Tag => self.tag,
        }
    }

    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (bit, opt, field) in SCALARS {
            if self.flags & bit != 0 {
                push_inv(&mut out, self.invflags & bit != 0);
                out.push(opt.into());
                out.push(self.value(field).to_string());
            }
        }
        for (i, (bit, opt)) in SIDS.iter().enumerate() {
            if self.flags & bit != 0 {
                push_inv(&mut out, self.invflags & bit != 0);
                out.push((*opt).into());
                let (a, m) = &self.sids[i];
                // xtables_ip6mask_to_cidr gives -1 for holes, printed with %u.
                let len = prefix_len(m).unwrap_or(u32::MAX);
                out.push(format!("{}/{len}", addr_str(a)));
            }
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let v1 = match ctx.revision {
        0 => false,
        1 => true,
        rev => return Err(super::opts::unknown_revision(ExtKind::Match, NAME, rev)),
    };
    let mut r = sized(NAME, blob, if v1 { 108 } else { 10 })?;
    let mut s = Srh {
        next_hdr: tr(NAME, r.u8())?,
        hdr_len: tr(NAME, r.u8())?,
        segs_left: tr(NAME, r.u8())?,
        last_entry: tr(NAME, r.u8())?,
        tag: tr(NAME, r.u16())?,
        ..Srh::default()
    };
    if v1 {
        tr(NAME, r.skip(2))?;
        let mut addrs = [[0u8; 16]; 6];
        for a in &mut addrs {
            *a = tr(NAME, r.array())?;
        }
        for i in 0..3 {
            s.sids[i] = (addrs[i], addrs[i + 3]);
        }
    }
    s.flags = tr(NAME, r.u16())?;
    s.invflags = tr(NAME, r.u16())?;
    if !v1 {
        s.flags &= 0x07ff;
    }
    Ok(s.words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut s = Srh::default();
    while let Some((inv, o)) = a.next_opt()? {
        let v = a.value(o)?;
        let bit = if let Some(&(bit, _, field)) = SCALARS.iter().find(|(_, n, _)| *n == o) {
            match field {
                Field::Tag => s.tag = uint(NAME, v, 0, 0xffff)? as u16,
                _ => {
                    let x = uint(NAME, v, 0, 0xff)? as u8;
                    match field {
                        Field::NextHdr => s.next_hdr = x,
                        Field::HdrLen => s.hdr_len = x,
                        Field::SegsLeft => s.segs_left = x,
                        _ => s.last_entry = x,
                    }
                }
            }
            bit
        } else if let Some(i) = SIDS.iter().position(|(_, n)| *n == o) {
            let (addr, len) = match v.split_once('/') {
                Some((x, l)) => (
                    x,
                    l.parse::<u32>()
                        .ok()
                        .filter(|l| *l <= 128)
                        .ok_or_else(|| bad(NAME, format!("bad prefix length `{l}`")))?,
                ),
                None => (v, 128),
            };
            s.sids[i] = (parse_addr::<16>(NAME, addr)?, mask_bytes(len));
            SIDS[i].0
        } else {
            return Err(a.unknown(o));
        };
        s.flags |= bit;
        if inv {
            s.invflags |= bit;
        }
    }
    Ok(s.words())
}
