//! `-m cluster` (struct xt_cluster_match_info { u32 total_nodes, node_mask, hash_seed, flags; }).

use super::opts::{Args, bad, push_inv, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "cluster";
const F_INV: u32 = 1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cluster {
    total_nodes: u32,
    node_mask: u32,
    hash_seed: u32,
    flags: u32,
}

impl Cluster {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        push_inv(&mut out, self.flags & F_INV != 0);
        out.push("--cluster-local-nodemask".into());
        out.push(format!("{:#010x}", self.node_mask));
        out.push("--cluster-total-nodes".into());
        out.push(self.total_nodes.to_string());
        out.push("--cluster-hash-seed".into());
        out.push(format!("{:#010x}", self.hash_seed));
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 16)?;
    Ok(Cluster {
        total_nodes: tr(NAME, r.u32())?,
        node_mask: tr(NAME, r.u32())?,
        hash_seed: tr(NAME, r.u32())?,
        flags: tr(NAME, r.u32())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut c = Cluster::default();
    let (mut total, mut local, mut seed) = (false, false, false);
    while let Some((inv, o)) = a.next_opt()? {
        let v = uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32;
        match o {
            "--cluster-total-nodes" => {
                a.no_invert(inv, o)?;
                if v == 0 || v > 32 {
                    return Err(bad(NAME, "--cluster-total-nodes must be 1..32"));
                }
                c.total_nodes = v;
                total = true;
            }
            "--cluster-local-node" => {
                if v == 0 || v > 32 {
                    return Err(bad(NAME, "--cluster-local-node must be 1..32"));
                }
                c.node_mask = 1 << (v - 1);
                local = true;
                if inv {
                    c.flags |= F_INV;
                }
            }
            "--cluster-local-nodemask" => {
                c.node_mask = v;
                local = true;
                if inv {
                    c.flags |= F_INV;
                }
            }
            "--cluster-hash-seed" => {
                a.no_invert(inv, o)?;
                c.hash_seed = v;
                seed = true;
            }
            _ => return Err(a.unknown(o)),
        }
    }
    if !local {
        return Err(bad(
            NAME,
            "--cluster-local-node or --cluster-local-nodemask is missing",
        ));
    }
    if total && seed && u64::from(c.node_mask) >= (1u64 << c.total_nodes) {
        return Err(bad(
            NAME,
            "local node mask too big for --cluster-total-nodes",
        ));
    }
    Ok(c.words())
}
