//! `-m udp` (struct xt_udp): `--sport`, `--dport`.

use super::args::{need, port_range, scan};
use super::tcp::port_words;
use super::words::{Line, WordSink};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "udp";
const INV_SRCPT: u8 = 0x01;
const INV_DSTPT: u8 = 0x02;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

struct Udp {
    spts: (u16, u16),
    dpts: (u16, u16),
    invflags: u8,
}

impl Udp {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        self.write(&mut w);
        w
    }

    fn write(&self, w: &mut impl WordSink) {
        port_words(w, "--sport", self.spts, self.invflags & INV_SRCPT != 0);
        port_words(w, "--dport", self.dpts, self.invflags & INV_DSTPT != 0);
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(read(blob)?.words())
}

/// [`decode`] written straight into a line (see `super::decode_into`).
pub(super) fn render(_ctx: &DecodeCtx, blob: &[u8], out: &mut String) -> Result<(), ExtError> {
    read(blob)?.write(&mut Line(out));
    Ok(())
}

fn read(blob: &[u8]) -> Result<Udp, ExtError> {
    let mut r = need(NAME, blob, 9)?;
    let mut f = || r.u16().map_err(truncated(NAME));
    Ok(Udp {
        spts: (f()?, f()?),
        dpts: (f()?, f()?),
        invflags: blob[8],
    })
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("source-port", 1),
        ("sport", 1),
        ("destination-port", 1),
        ("dport", 1),
    ];
    let mut u = Udp {
        spts: (0, u16::MAX),
        dpts: (0, u16::MAX),
        invflags: 0,
    };
    for o in scan(NAME, &specs, words)? {
        if o.name.starts_with('s') {
            u.spts = port_range(NAME, &o.args[0], NAME)?;
            if o.inv {
                u.invflags |= INV_SRCPT;
            }
        } else {
            u.dpts = port_range(NAME, &o.args[0], NAME)?;
            if o.inv {
                u.invflags |= INV_DSTPT;
            }
        }
    }
    Ok(u.words())
}
