//! `-j MARK` (xt_mark_target_info rev 0, _v1 rev 1, xt_mark_tginfo2 rev 2). Rev 2 always
//! prints `--set-xmark VALUE/MASK`; `--set-mark`, `--and-mark`, `--or-mark`, `--xor-mark`
//! are parsed into that form.

use super::args::{bad, need, no_inv, num, parse_mark_mask, scan};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind, truncated};
use crate::ruleset::Family;

const NAME: &str = "MARK";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

fn xmark(mark: u32, mask: u32) -> Vec<String> {
    vec!["--set-xmark".into(), format!("{mark:#x}/{mask:#x}")]
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let t = |e| truncated(NAME)(e);
    match ctx.revision {
        0 => {
            let mut r = need(NAME, blob, 8)?;
            Ok(vec![
                "--set-mark".into(),
                format!("{:#x}", r.u64().map_err(t)?),
            ])
        }
        1 => {
            let mut r = need(NAME, blob, 9)?;
            let mark = r.u64().map_err(t)?;
            let opt = match r.u8().map_err(t)? {
                0 => "--set-mark",
                1 => "--and-mark",
                2 => "--or-mark",
                m => return Err(bad(NAME, format!("unknown mode {m}"))),
            };
            Ok(vec![opt.into(), format!("{mark:#x}")])
        }
        2 => {
            let mut r = need(NAME, blob, 8)?;
            Ok(xmark(r.u32().map_err(t)?, r.u32().map_err(t)?))
        }
        revision => Err(super::opts::unknown_revision(
            ExtKind::Target,
            NAME,
            revision,
        )),
    }
}

fn parse(_family: Family, w: &[String]) -> Result<Vec<String>, ExtError> {
    let specs = [
        ("set-xmark", 1),
        ("set-mark", 1),
        ("and-mark", 1),
        ("or-mark", 1),
        ("xor-mark", 1),
    ];
    let opts = scan(NAME, &specs, w)?;
    let [o] = opts.as_slice() else {
        return Err(bad(
            NAME,
            "expected exactly one of --set-xmark/--set-mark/--and-mark/--or-mark/--xor-mark",
        ));
    };
    no_inv(NAME, o)?;
    let a = &o.args[0];
    let (mark, mask) = match o.name {
        "set-xmark" => parse_mark_mask(NAME, a)?,
        "set-mark" => {
            let (m, k) = parse_mark_mask(NAME, a)?;
            (m, m | k)
        }
        "and-mark" => (0, !num::<u32>(NAME, a)?),
        "or-mark" => {
            let v = num(NAME, a)?;
            (v, v)
        }
        _ => (num(NAME, a)?, 0),
    };
    Ok(xmark(mark, mask))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::args::w;

    #[test]
    fn forms() {
        let p = |v: &[&str]| parse(Family::Ipv4, &w(v)).unwrap().join(" ");
        assert_eq!(p(&["--or-mark", "0x4000"]), "--set-xmark 0x4000/0x4000");
        assert_eq!(p(&["--xor-mark", "0x4000"]), "--set-xmark 0x4000/0x0");
        assert_eq!(p(&["--set-mark", "1"]), "--set-xmark 0x1/0xffffffff");
        assert_eq!(p(&["--and-mark", "0xff"]), "--set-xmark 0x0/0xffffff00");
    }
}
