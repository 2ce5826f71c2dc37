//! `-j NFLOG` (struct xt_nflog_info { u32 len; u16 group; u16 threshold; u16 flags; u16 pad;
//! char prefix[64]; }).

use super::opts::{Args, bad, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, save_string};
use crate::ruleset::Family;

const NAME: &str = "NFLOG";
const PREFIX_LEN: usize = 64;
const F_COPY_LEN: u16 = 0x1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Nflog {
    len: u32,
    group: u16,
    threshold: u16,
    flags: u16,
    prefix: String,
}

impl Nflog {
    fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.prefix.is_empty() {
            out.push("--nflog-prefix".into());
            out.push(save_string(&self.prefix));
        }
        if self.group != 0 {
            out.push("--nflog-group".into());
            out.push(self.group.to_string());
        }
        if self.flags & F_COPY_LEN != 0 {
            out.push("--nflog-size".into());
            out.push(self.len.to_string());
        } else if self.len != 0 {
            out.push("--nflog-range".into());
            out.push(self.len.to_string());
        }
        if self.threshold != 0 {
            out.push("--nflog-threshold".into());
            out.push(self.threshold.to_string());
        }
        out
    }
}

/// The words for an NFLOG target iptables-nft keeps as a native `log` expression: there the
/// prefix is not limited to the 63 bytes of `xt_nflog_info`, and iptables-nft-save prints it
/// whole. For `ruleset::xlate`, which otherwise would have to squeeze it into a blob.
pub(crate) fn native_words(
    snaplen: Option<u32>,
    group: u16,
    threshold: u16,
    prefix: Option<&str>,
) -> Vec<String> {
    Nflog {
        len: snaplen.unwrap_or(0),
        group,
        threshold,
        flags: if snaplen.is_some() { F_COPY_LEN } else { 0 },
        prefix: prefix.unwrap_or("").to_owned(),
    }
    .words()
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 76)?;
    let len = tr(NAME, r.u32())?;
    let group = tr(NAME, r.u16())?;
    let threshold = tr(NAME, r.u16())?;
    let flags = tr(NAME, r.u16())?;
    tr(NAME, r.skip(2))?;
    let prefix = tr(NAME, r.cstr(PREFIX_LEN))?;
    Ok(Nflog {
        len,
        group,
        threshold,
        flags,
        prefix,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut n = Nflog::default();
    let (mut range, mut size) = (false, false);
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = a.value(o)?;
        match o {
            "--nflog-group" => n.group = uint(NAME, v, 0, 0xffff)? as u16,
            "--nflog-prefix" => {
                if v.is_empty() {
                    return Err(bad(NAME, "empty prefix"));
                }
                if v.contains('\n') {
                    return Err(bad(NAME, "newlines not allowed in --nflog-prefix"));
                }
                // iptables keeps what fits in char[64].
                let mut end = v.len().min(PREFIX_LEN - 1);
                while !v.is_char_boundary(end) {
                    end -= 1;
                }
                n.prefix = v[..end].to_owned();
            }
            "--nflog-range" => {
                range = true;
                n.len = uint(NAME, v, 0, u32::MAX.into())? as u32;
            }
            "--nflog-size" => {
                size = true;
                n.len = uint(NAME, v, 0, u32::MAX.into())? as u32;
            }
            "--nflog-threshold" => n.threshold = uint(NAME, v, 0, 0xffff)? as u16,
            _ => return Err(a.unknown(o)),
        }
    }
    if range && size {
        return Err(bad(NAME, "--nflog-range and --nflog-size are exclusive"));
    }
    if size {
        n.flags |= F_COPY_LEN;
    }
    Ok(n.words())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_prefix_is_not_truncated() {
        let p = "x".repeat(65);
        let w = native_words(None, 0, 0, Some(&p));
        assert_eq!(w, vec!["--nflog-prefix".to_owned(), p]);
        assert_eq!(
            native_words(Some(0), 5, 0, None),
            ["--nflog-group", "5", "--nflog-size", "0"]
        );
    }
}
