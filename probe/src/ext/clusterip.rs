//! `-j CLUSTERIP` (IPv4; struct ipt_clusterip_tgt_info { u32 flags; u8 clustermac[6]; u16
//! num_total_nodes, num_local_nodes, local_nodes[16]; u32 hash_mode, hash_initval; ptr; }).
//! Rules without `--new` print no options.

use super::opts::{Args, bad, malformed, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "CLUSTERIP";
const FLAG_NEW: u32 = 1;
const MAX_NODES: usize = 16;
const MODES: [&str; 3] = [
    "sourceip",
    "sourceip-sourceport",
    "sourceip-sourceport-destport",
];

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: Some(Family::Ipv4),
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Clusterip {
    flags: u32,
    mac: [u8; 6],
    total: u16,
    local: u16,
    hash_mode: u32,
    hash_init: u32,
}

impl Clusterip {
    fn words(&self) -> Vec<String> {
        if self.flags & FLAG_NEW == 0 {
            return Vec::new();
        }
        let mac: Vec<String> = self.mac.iter().map(|b| format!("{b:02X}")).collect();
        vec![
            "--new".into(),
            "--hashmode".into(),
            MODES
                .get(self.hash_mode as usize)
                .copied()
                .unwrap_or("unknown-error")
                .into(),
            "--clustermac".into(),
            mac.join(":"),
            "--total-nodes".into(),
            self.total.to_string(),
            "--local-node".into(),
            self.local.to_string(),
            "--hash-init".into(),
            self.hash_init.to_string(),
        ]
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 64)?;
    let flags = tr(NAME, r.u32())?;
    let mac = tr(NAME, r.array())?;
    let total = tr(NAME, r.u16())?;
    let num_local = tr(NAME, r.u16())?;
    if usize::from(num_local) > MAX_NODES {
        return Err(malformed(
            NAME,
            blob.len(),
            format!("{num_local} local nodes"),
        ));
    }
    let local = tr(NAME, r.u16())?;
    tr(NAME, r.skip(2 * (MAX_NODES - 1) + 2))?;
    Ok(Clusterip {
        flags,
        mac,
        total,
        local,
        hash_mode: tr(NAME, r.u32())?,
        hash_init: tr(NAME, r.u32())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = Clusterip::default();
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--new" => c.flags |= FLAG_NEW,
            "--hashmode" => {
                let v = a.value(o)?;
                c.hash_mode = MODES
                    .iter()
                    .position(|m| *m == v)
                    .ok_or_else(|| bad(NAME, format!("unknown hashmode `{v}`")))?
                    as u32;
            }
            "--clustermac" => {
                let v = a.value(o)?;
                let parts: Vec<u8> = v
                    .split(':')
                    .map(|p| u8::from_str_radix(p, 16))
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad(NAME, format!("bad MAC `{v}`")))?;
                c.mac = parts
                    .try_into()
                    .map_err(|_| bad(NAME, format!("bad MAC `{v}`")))?;
                if c.mac[0] & 1 == 0 {
                    return Err(bad(NAME, "MAC has to be a multicast ethernet address"));
                }
            }
            "--total-nodes" => c.total = uint(NAME, a.value(o)?, 0, 0xffff)? as u16,
            "--local-node" => c.local = uint(NAME, a.value(o)?, 0, 0xffff)? as u16,
            "--hash-init" => c.hash_init = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32,
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(c.words())
}
