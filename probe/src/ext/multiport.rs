//! `-m multiport` (xt_multiport rev 0, xt_multiport_v1 rev 1): up to 15 ports or ranges.

use super::args::{bad, need, port, push_inv, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "multiport";
const MAX_PORTS: usize = 15;
const SOURCE: u8 = 0;
const DESTINATION: u8 = 1;
const EITHER: u8 = 2;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

struct Multiport {
    flags: u8,
    /// (port, is the start of a range whose end is the next entry)
    ports: Vec<(u16, bool)>,
    invert: bool,
}

impl Multiport {
    fn words(&self) -> Result<Vec<String>, ExtError> {
        let mut w = Vec::new();
        push_inv(&mut w, self.invert);
        w.push(
            match self.flags {
                SOURCE => "--sports",
                DESTINATION => "--dports",
                EITHER => "--ports",
                f => return Err(bad(NAME, format!("unknown flags {f}"))),
            }
            .into(),
        );
        let mut list = String::new();
        let mut i = 0;
        while i < self.ports.len() {
            if i > 0 {
                list.push(',');
            }
            list.push_str(&self.ports[i].0.to_string());
            if self.ports[i].1 {
                i += 1;
                if let Some(p) = self.ports.get(i) {
                    list.push(':');
                    list.push_str(&p.0.to_string());
                }
            }
            i += 1;
        }
        w.push(list);
        Ok(w)
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(NAME)(e);
    let v1 = match ctx.revision {
        0 => false,
        1 => true,
        revision => {
            return Err(super::opts::unknown_revision(
                ExtKind::Match,
                NAME,
                revision,
            ));
        }
    };
    let mut r = need(NAME, blob, if v1 { 48 } else { 32 })?;
    let flags = r.u8().map_err(t)?;
    let count = (r.u8().map_err(t)? as usize).min(MAX_PORTS);
    let mut ports = Vec::with_capacity(count);
    for _ in 0..MAX_PORTS {
        ports.push(r.u16().map_err(t)?);
    }
    let (pflags, invert) = if v1 {
        let pf = r.bytes(MAX_PORTS).map_err(t)?.to_vec();
        (pf, r.u8().map_err(t)? != 0)
    } else {
        (vec![0; MAX_PORTS], false)
    };
    Multiport {
        flags,
        ports: (0..count).map(|i| (ports[i], pflags[i] != 0)).collect(),
        invert,
    }
    .words()
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("source-ports", 1),
        ("sports", 1),
        ("destination-ports", 1),
        ("dports", 1),
        ("ports", 1),
    ];
    let opts = scan(NAME, &specs, words)?;
    let [o] = opts.as_slice() else {
        return Err(bad(
            NAME,
            "expected exactly one of --sports, --dports, --ports",
        ));
    };
    let flags = match o.name {
        "source-ports" | "sports" => SOURCE,
        "destination-ports" | "dports" => DESTINATION,
        _ => EITHER,
    };
    let mut ports = Vec::new();
    for part in o.args[0].split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (port(NAME, a, "tcp")?, port(NAME, b, "tcp")?);
                if a >= b {
                    return Err(bad(NAME, format!("invalid port range `{part}`")));
                }
                ports.push((a, true));
                ports.push((b, false));
            }
            None => ports.push((port(NAME, part, "tcp")?, false)),
        }
    }
    if ports.len() > MAX_PORTS {
        return Err(bad(NAME, "too many ports specified (at most 15)"));
    }
    Multiport {
        flags,
        ports,
        invert: o.inv,
    }
    .words()
}
