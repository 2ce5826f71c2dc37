//! `-m tcp` (struct xt_tcp): ports, `--tcp-flags`, `--syn`, `--tcp-option`.

use super::args::{bad, need, num, port_range, push_inv, scan};
use super::words::{Line, WordSink};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "tcp";
const INV_SRCPT: u8 = 0x01;
const INV_DSTPT: u8 = 0x02;
const INV_FLAGS: u8 = 0x04;
const INV_OPTION: u8 = 0x08;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

const FLAGS: &[(&str, u8)] = &[
    ("FIN", 0x01),
    ("SYN", 0x02),
    ("RST", 0x04),
    ("PSH", 0x08),
    ("ACK", 0x10),
    ("URG", 0x20),
    ("ALL", 0x3f),
    ("NONE", 0),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tcp {
    spts: (u16, u16),
    dpts: (u16, u16),
    option: u8,
    flg_mask: u8,
    flg_cmp: u8,
    invflags: u8,
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            spts: (0, u16::MAX),
            dpts: (0, u16::MAX),
            option: 0,
            flg_mask: 0,
            flg_cmp: 0,
            invflags: 0,
        }
    }
}

/// `--sport 80` / `--sport 1:2` (shared with udp).
pub(crate) fn port_words(words: &mut impl WordSink, opt: &str, p: (u16, u16), inv: bool) {
    if p.0 != 0 || p.1 != u16::MAX {
        push_inv(words, inv);
        words.word(opt);
        if p.0 == p.1 {
            words.num(u32::from(p.0));
        } else {
            words.range(u32::from(p.0), u32::from(p.1));
        }
    }
}

fn flag_list(f: u8) -> String {
    let mut out = Vec::new();
    let mut rest = f;
    for &(n, bit) in &FLAGS[..6] {
        if rest & bit != 0 {
            out.push(n);
            rest &= !bit;
        }
    }
    if out.is_empty() {
        "NONE".into()
    } else {
        out.join(",")
    }
}

fn parse_flags(s: &str) -> Result<u8, ExtError> {
    let mut v = 0;
    for part in s.split(',') {
        let f = FLAGS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(part))
            .ok_or_else(|| bad(NAME, format!("unknown TCP flag `{part}`")))?;
        v |= f.1;
    }
    Ok(v)
}

impl Tcp {
    fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        self.write(&mut w);
        w
    }

    fn write(&self, w: &mut impl WordSink) {
        port_words(w, "--sport", self.spts, self.invflags & INV_SRCPT != 0);
        port_words(w, "--dport", self.dpts, self.invflags & INV_DSTPT != 0);
        if self.option != 0 || self.invflags & INV_OPTION != 0 {
            push_inv(w, self.invflags & INV_OPTION != 0);
            w.word("--tcp-option");
            w.num(u32::from(self.option));
        }
        if self.flg_mask != 0 || self.invflags & INV_FLAGS != 0 {
            push_inv(w, self.invflags & INV_FLAGS != 0);
            w.word("--tcp-flags");
            w.word(&flag_list(self.flg_mask));
            w.word(&flag_list(self.flg_cmp));
        }
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

fn read(blob: &[u8]) -> Result<Tcp, ExtError> {
    let mut r = need(NAME, blob, 12)?;
    let mut f = || r.u16().map_err(truncated(NAME));
    let t = Tcp {
        spts: (f()?, f()?),
        dpts: (f()?, f()?),
        ..Tcp::default()
    };
    let b = &blob[8..12];
    Ok(Tcp {
        option: b[0],
        flg_mask: b[1],
        flg_cmp: b[2],
        invflags: b[3],
        ..t
    })
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("source-port", 1),
        ("sport", 1),
        ("destination-port", 1),
        ("dport", 1),
        ("syn", 0),
        ("tcp-flags", 2),
        ("tcp-option", 1),
    ];
    let mut t = Tcp::default();
    for o in scan(NAME, &specs, words)? {
        let inv = |bit| if o.inv { bit } else { 0 };
        match o.name {
            "source-port" | "sport" => {
                t.spts = port_range(NAME, &o.args[0], NAME)?;
                t.invflags |= inv(INV_SRCPT);
            }
            "destination-port" | "dport" => {
                t.dpts = port_range(NAME, &o.args[0], NAME)?;
                t.invflags |= inv(INV_DSTPT);
            }
            "syn" => {
                t.flg_mask = 0x17;
                t.flg_cmp = 0x02;
                t.invflags |= inv(INV_FLAGS);
            }
            "tcp-flags" => {
                t.flg_mask = parse_flags(&o.args[0])?;
                t.flg_cmp = parse_flags(&o.args[1])?;
                t.invflags |= inv(INV_FLAGS);
            }
            _ => {
                t.option = num(NAME, &o.args[0])?;
                t.invflags |= inv(INV_OPTION);
            }
        }
    }
    Ok(t.words())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises() {
        let p = |v: &[&str]| {
            parse(Family::Ipv4, &super::super::args::w(v))
                .unwrap()
                .join(" ")
        };
        assert_eq!(p(&["--dport", "80"]), "--dport 80");
        assert_eq!(p(&["!", "--syn"]), "! --tcp-flags FIN,SYN,RST,ACK SYN");
        assert_eq!(
            p(&["--sport", "1:2", "--dport", "http"]),
            "--sport 1:2 --dport 80"
        );
        assert_eq!(
            p(&["--tcp-flags", "ALL", "NONE"]),
            "--tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE"
        );
        assert_eq!(p(&["--dport", "0:65535"]), "");
    }
}
