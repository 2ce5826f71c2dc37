//! `-j LED` (struct xt_led_info { char id[27]; u8 always_blink; u32 delay; ptr; }); the id
//! carries a `netfilter-` prefix that iptables strips when printing.

use super::opts::{Args, bad, sized, strtoul0, tr};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "LED";
const ID_LEN: usize = 27;
const PREFIX: &str = "netfilter-";

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Led {
    /// The full kernel id, prefix included.
    id: String,
    always_blink: bool,
    delay: u32,
}

impl Led {
    fn words(&self) -> Vec<String> {
        let short = self.id.get(PREFIX.len()..).unwrap_or("");
        let mut q = String::from("\"");
        for c in short.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        let mut out = vec!["--led-trigger-id".into(), q];
        if self.delay == u32::MAX {
            out.push("--led-delay".into());
            out.push("inf".into());
        } else if (self.delay as i32) > 0 {
            // Printed with %d.
            out.push("--led-delay".into());
            out.push((self.delay as i32).to_string());
        }
        if self.always_blink {
            out.push("--led-always-blink".into());
        }
        out
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let mut r = sized(NAME, blob, 40)?;
    Ok(Led {
        id: tr(NAME, r.cstr(ID_LEN))?,
        always_blink: tr(NAME, r.u8())? != 0,
        delay: tr(NAME, r.u32())?,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let mut l = Led {
        id: String::new(),
        always_blink: false,
        delay: 0,
    };
    let mut have_id = false;
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--led-trigger-id" => {
                // snprintf into char[27]: truncated to 26 bytes.
                let mut id = format!("{PREFIX}{}", a.value(o)?);
                let mut end = id.len().min(ID_LEN - 1);
                while !id.is_char_boundary(end) {
                    end -= 1;
                }
                id.truncate(end);
                l.id = id;
                have_id = true;
            }
            "--led-delay" => {
                let v = a.value(o)?;
                l.delay = if v.len() >= 3 && v[..3].eq_ignore_ascii_case("inf") {
                    u32::MAX
                } else {
                    strtoul0(v)
                        .and_then(|d| u32::try_from(d).ok())
                        .ok_or_else(|| {
                            bad(NAME, "delay value must be within range 0..4294967295")
                        })?
                };
            }
            "--led-always-blink" => l.always_blink = true,
            _ => return Err(a.unknown(o)),
        }
    }
    if !have_id {
        return Err(bad(NAME, "--led-trigger-id is required"));
    }
    Ok(l.words())
}
