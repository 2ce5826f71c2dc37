//! `-m bpf`, revision 0 (struct xt_bpf_info { u16 num; sock_filter program[64]; ptr }) and 1
//! (u16 mode; u16 num; s32 fd; union { program[64]; char path[512] }; ptr).

use super::opts::{Args, bad, malformed, sized, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "bpf";
const MAX_INSTR: usize = 64;
const MODE_BYTECODE: u16 = 0;
const MODE_PINNED: u16 = 1;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

/// (code, jt, jf, k)
type Insn = (u16, u8, u8, u32);

fn bytecode_words(prog: &[Insn]) -> Vec<String> {
    let body: Vec<String> = prog
        .iter()
        .map(|(c, t, f, k)| format!("{c} {t} {f} {k}"))
        .collect();
    vec![
        "--bytecode".into(),
        format!("\"{},{}\"", prog.len(), body.join(",")),
    ]
}

fn read_prog(area: &[u8], n: usize) -> Result<Vec<Insn>, ExtError> {
    let mut r = Reader::new(area);
    (0..n)
        .map(|_| {
            Ok((
                tr(NAME, r.u16())?,
                tr(NAME, r.u8())?,
                tr(NAME, r.u8())?,
                tr(NAME, r.u32())?,
            ))
        })
        .collect()
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 528)?;
    let (mode, n) = match ctx.revision {
        0 => {
            let n = tr(NAME, r.u16())?;
            tr(NAME, r.skip(2))?;
            (MODE_BYTECODE, n)
        }
        1 => {
            let mode = tr(NAME, r.u16())?;
            let n = tr(NAME, r.u16())?;
            tr(NAME, r.skip(4))?;
            (mode, n)
        }
        rev => return Err(super::opts::unknown_revision(ExtKind::Match, NAME, rev)),
    };
    let area = tr(NAME, r.bytes(MAX_INSTR * 8))?;
    match mode {
        MODE_BYTECODE => {
            let n = usize::from(n);
            if n > MAX_INSTR {
                return Err(malformed(NAME, blob.len(), format!("{n} instructions")));
            }
            Ok(bytecode_words(&read_prog(area, n)?))
        }
        MODE_PINNED => Ok(vec![
            "--object-pinned".into(),
            tr(NAME, Reader::new(area).cstr(area.len()))?,
        ]),
        m => Err(malformed(NAME, blob.len(), format!("unknown bpf mode {m}"))),
    }
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut out = None;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        let v = a.value(o)?;
        match o {
            "--bytecode" => {
                let err = |m: &str| bad(NAME, m.to_owned());
                let (len, rest) = v
                    .split_once(',')
                    .ok_or_else(|| err("error parsing program length"))?;
                let len: u16 = len
                    .trim()
                    .parse()
                    .map_err(|_| err("error parsing program length"))?;
                if len == 0 || usize::from(len) > MAX_INSTR {
                    return Err(err("bad program length"));
                }
                let mut prog = Vec::new();
                for insn in rest.split(',').filter(|s| !s.is_empty()) {
                    let f: Vec<&str> = insn.split_whitespace().collect();
                    let bad_insn = || err(&format!("error at instr {}", prog.len()));
                    if f.len() < 4 {
                        return Err(bad_insn());
                    }
                    prog.push((
                        f[0].parse().map_err(|_| bad_insn())?,
                        f[1].parse().map_err(|_| bad_insn())?,
                        f[2].parse().map_err(|_| bad_insn())?,
                        f[3].parse().map_err(|_| bad_insn())?,
                    ));
                }
                if prog.len() != usize::from(len) {
                    return Err(err("program length does not match the encoded length"));
                }
                out = Some(bytecode_words(&prog));
            }
            "--object-pinned" => out = Some(vec!["--object-pinned".into(), v.to_owned()]),
            _ => return Err(a.unknown(o)),
        }
    }
    out.ok_or_else(|| bad(NAME, "--bytecode or --object-pinned is required"))
}
