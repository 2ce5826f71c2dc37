//! `-m sctp` (struct xt_sctp_info { u16 dpts[2], spts[2]; u32 chunkmap[64]; u32
//! chunk_match_type; {u8 chunktype, flag, flag_mask} flag_info[4]; int flag_count; u32
//! flags, invflags; }).

use super::opts::{Args, bad, malformed, parse_port_range, push_inv, sized, span, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "sctp";
const F_SRC: u32 = 0x01;
const F_DST: u32 = 0x02;
const F_CHUNKS: u32 = 0x04;
const MAP_WORDS: usize = 64;
const NFLAGS: usize = 4;

/// iptables' `sctp_chunk_names`: (name, chunk type, valid flag letters).
const CHUNKS: [(&str, u8, &str); 22] = [
    ("DATA", 0, "----IUBE"),
    ("INIT", 1, "--------"),
    ("INIT_ACK", 2, "--------"),
    ("SACK", 3, "--------"),
    ("HEARTBEAT", 4, "--------"),
    ("HEARTBEAT_ACK", 5, "--------"),
    ("ABORT", 6, "-------T"),
    ("SHUTDOWN", 7, "--------"),
    ("SHUTDOWN_ACK", 8, "--------"),
    ("ERROR", 9, "--------"),
    ("COOKIE_ECHO", 10, "--------"),
    ("COOKIE_ACK", 11, "--------"),
    ("ECN_ECNE", 12, "--------"),
    ("ECN_CWR", 13, "--------"),
    ("SHUTDOWN_COMPLETE", 14, "-------T"),
    ("I_DATA", 64, "----IUBE"),
    ("RE_CONFIG", 130, "--------"),
    ("PAD", 132, "--------"),
    ("ASCONF", 193, "--------"),
    ("ASCONF_ACK", 128, "--------"),
    ("FORWARD_TSN", 192, "--------"),
    ("I_FORWARD_TSN", 194, "--------"),
];
const MATCH_TYPES: [(u32, &str); 3] = [(1, "any"), (2, "all"), (4, "only")];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Sctp {
    dpts: (u16, u16),
    spts: (u16, u16),
    chunkmap: [u32; MAP_WORDS],
    match_type: u32,
    /// (chunktype, flag, flag_mask) of the first `flag_count` slots.
    flag_info: Vec<(u8, u8, u8)>,
    flags: u32,
    invflags: u32,
}

impl Sctp {
    fn is_set(&self, t: usize) -> bool {
        self.chunkmap[t / 32] & (1 << (t % 32)) != 0
    }

    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (bit, opt, (lo, hi)) in [(F_SRC, "--sport", self.spts), (F_DST, "--dport", self.dpts)] {
            if self.flags & bit != 0 {
                push_inv(&mut out, self.invflags & bit != 0);
                out.push(opt.into());
                out.push(span(lo.into(), hi.into()));
            }
        }
        if self.flags & F_CHUNKS != 0 {
            push_inv(&mut out, self.invflags & F_CHUNKS != 0);
            out.push("--chunk-types".into());
            out.push(
                MATCH_TYPES
                    .iter()
                    .find(|(v, _)| *v == self.match_type)
                    .map_or("Never reach here\n", |(_, n)| n)
                    .into(),
            );
            if self.chunkmap.iter().all(|&w| w == 0) {
                out.push("NONE".into());
            } else if self.chunkmap.iter().all(|&w| w == u32::MAX) {
                out.push("ALL".into());
            } else {
                let mut list = Vec::new();
                for t in 0..256 {
                    if !self.is_set(t) {
                        continue;
                    }
                    let mut s: String = CHUNKS
                        .iter()
                        .filter(|(_, ct, _)| usize::from(*ct) == t)
                        .map(|(n, _, _)| *n)
                        .collect();
                    for &(ct, flag, mask) in &self.flag_info {
                        if usize::from(ct) != t || mask == 0 {
                            continue;
                        }
                        // iptables indexes its name table by chunk type here.
                        let valid = CHUNKS.get(t).map_or("--------", |c| c.2).as_bytes();
                        s.push(':');
                        for i in (0..8).rev() {
                            if mask & (1 << i) != 0 {
                                let c = char::from(valid[7 - i]);
                                s.push(if flag & (1 << i) != 0 {
                                    c
                                } else {
                                    c.to_ascii_lowercase()
                                });
                            }
                        }
                    }
                    list.push(s);
                }
                out.push(list.join(","));
            }
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 292)?;
    let dpts = (tr(NAME, r.u16())?, tr(NAME, r.u16())?);
    let spts = (tr(NAME, r.u16())?, tr(NAME, r.u16())?);
    let mut chunkmap = [0u32; MAP_WORDS];
    for w in &mut chunkmap {
        *w = tr(NAME, r.u32())?;
    }
    let match_type = tr(NAME, r.u32())?;
    let mut info = [(0u8, 0u8, 0u8); NFLAGS];
    for i in &mut info {
        *i = (tr(NAME, r.u8())?, tr(NAME, r.u8())?, tr(NAME, r.u8())?);
    }
    let count = tr(NAME, r.u32())? as i32;
    if !(0..=NFLAGS as i32).contains(&count) {
        return Err(malformed(NAME, blob.len(), format!("flag_count {count}")));
    }
    Ok(Sctp {
        dpts,
        spts,
        chunkmap,
        match_type,
        flag_info: info[..count as usize].to_vec(),
        flags: tr(NAME, r.u32())?,
        invflags: tr(NAME, r.u32())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut s = Sctp {
        dpts: (0, 0xffff),
        spts: (0, 0xffff),
        chunkmap: [0; MAP_WORDS],
        match_type: 0,
        flag_info: Vec::new(),
        flags: 0,
        invflags: 0,
    };
    while let Some((inv, o)) = a.next_opt()? {
        let bit = match o {
            "--sport" | "--source-port" => {
                s.spts = parse_port_range(NAME, a.value(o)?, "sctp")?;
                F_SRC
            }
            "--dport" | "--destination-port" => {
                s.dpts = parse_port_range(NAME, a.value(o)?, "sctp")?;
                F_DST
            }
            "--chunk-types" => {
                let mt = a.value(o)?;
                s.match_type = MATCH_TYPES
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(mt))
                    .map(|(v, _)| *v)
                    .ok_or_else(|| bad(NAME, "match type has to be one of ALL, ANY or ONLY"))?;
                parse_chunks(&mut s, a.value(o)?)?;
                F_CHUNKS
            }
            _ => return Err(a.unknown(o)),
        };
        s.flags |= bit;
        if inv {
            s.invflags |= bit;
        }
    }
    Ok(s.words())
}

fn parse_chunks(s: &mut Sctp, list: &str) -> Result<(), ExtError> {
    s.chunkmap = [0; MAP_WORDS];
    if list.eq_ignore_ascii_case("ALL") {
        s.chunkmap = [u32::MAX; MAP_WORDS];
        return Ok(());
    }
    if list.eq_ignore_ascii_case("NONE") {
        return Ok(());
    }
    for item in list.split(',').filter(|x| !x.is_empty()) {
        let (name, flags) = match item.split_once(':') {
            Some((n, f)) => (n, Some(f)),
            None => (item, None),
        };
        let (idx, &(_, ct, valid)) = CHUNKS
            .iter()
            .enumerate()
            .find(|(_, (n, _, _))| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| bad(NAME, format!("unknown sctp chunk `{name}`")))?;
        s.chunkmap[usize::from(ct) / 32] |= 1 << (ct % 32);
        for c in flags.unwrap_or("").chars() {
            let pos = valid
                .find(c.to_ascii_uppercase())
                .filter(|_| c != '-')
                .ok_or_else(|| bad(NAME, format!("invalid flags for chunk type {idx}")))?;
            let bit = 7 - pos;
            // iptables records the flags under the table index, not the chunk type.
            let slot = match s.flag_info.iter().position(|f| usize::from(f.0) == idx) {
                Some(p) => p,
                None => {
                    if s.flag_info.len() == NFLAGS {
                        return Err(bad(NAME, "too many chunk types with flags"));
                    }
                    s.flag_info.push((idx as u8, 0, 0));
                    s.flag_info.len() - 1
                }
            };
            s.flag_info[slot].2 |= 1 << bit;
            if c.is_ascii_uppercase() {
                s.flag_info[slot].1 |= 1 << bit;
            }
        }
    }
    Ok(())
}
