//! `-j IDLETIMER`, revision 0 (struct idletimer_tg_info { u32 timeout; char label[28];
//! ptr timer; }) and 1 (adds u8 send_nl_msg; u8 timer_type before the pointer).

use super::opts::{Args, bad, sized, tr, uint};
use super::{DecodeCtx, ExtDef, ExtError, ExtKind};
use crate::ruleset::Family;

const NAME: &str = "IDLETIMER";
const LABEL_LEN: usize = 28;
const TIMER_ALARM: u8 = 0x01;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Target,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Idletimer {
    timeout: u32,
    label: String,
    alarm: bool,
}

impl Idletimer {
    fn words(&self) -> Vec<String> {
        let mut out = vec![
            "--timeout".into(),
            self.timeout.to_string(),
            "--label".into(),
            self.label.clone(),
        ];
        if self.alarm {
            out.push("--alarm".into());
        }
        out
    }
}

fn decode(ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    let size = match ctx.revision {
        0 => 40,
        1 => 48,
        rev => return Err(super::opts::unknown_revision(ExtKind::Target, NAME, rev)),
    };
    let mut r = sized(NAME, blob, size)?;
    let timeout = tr(NAME, r.u32())?;
    let label = tr(NAME, r.cstr(LABEL_LEN))?;
    let alarm = if ctx.revision == 1 {
        tr(NAME, r.skip(1))?;
        tr(NAME, r.u8())? == TIMER_ALARM
    } else {
        false
    };
    Ok(Idletimer {
        timeout,
        label,
        alarm,
    }
    .words())
}

fn parse(_f: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(NAME, words);
    let (mut timeout, mut label, mut alarm) = (None, None, false);
    while let Some((inv, o)) = a.next_opt()? {
        a.no_invert(inv, o)?;
        match o {
            "--timeout" => timeout = Some(uint(NAME, a.value(o)?, 0, u32::MAX.into())? as u32),
            "--label" => {
                let v = a.value(o)?;
                if v.len() >= LABEL_LEN {
                    return Err(bad(NAME, "label too long"));
                }
                label = Some(v.to_owned());
            }
            "--alarm" => alarm = true,
            _ => return Err(a.unknown(o)),
        }
    }
    Ok(Idletimer {
        timeout: timeout.ok_or_else(|| bad(NAME, "--timeout is required"))?,
        label: label.ok_or_else(|| bad(NAME, "--label is required"))?,
        alarm,
    }
    .words())
}
