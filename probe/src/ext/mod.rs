//! xtables extensions (matches and targets): one file per extension.
//!
//! Each extension knows three things, all through one typed struct of its own:
//! - `decode`: the kernel blob (`xt_*_info`, the `data` of `xt_entry_match`/`xt_entry_target`
//!   in legacy tables, `NFTA_MATCH_INFO`/`NFTA_TARGET_INFO` in nf_tables compat expressions);
//! - `parse`: the iptables command-line words after `-m NAME` / `-j NAME` (what Docker passes);
//! - rendering: both produce exactly the words iptables-save 1.8.9 prints, so a decoded kernel
//!   rule and a parsed expected rule compare equal when they mean the same thing.
//!
//! Unknown names or revisions are not errors of the rule: the caller keeps the blob as
//! `ExtBody::Raw` and reports the rule as undecodable.

use thiserror::Error;

use crate::bytes::Truncated;
use crate::ruleset::Family;

mod comment;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtError {
    #[error("no decoder for {kind} `{name}` revision {revision}")]
    Unknown {
        kind: ExtKind,
        name: String,
        revision: u8,
    },
    #[error("`{name}`: blob of {len} bytes is malformed: {reason}")]
    Malformed {
        name: String,
        len: usize,
        reason: String,
    },
    #[error("`{name}`: {source}")]
    Truncated {
        name: String,
        #[source]
        source: Truncated,
    },
    #[error("`{name}`: bad argument: {reason}")]
    BadArgument { name: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtKind {
    Match,
    Target,
}

impl std::fmt::Display for ExtKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExtKind::Match => "match",
            ExtKind::Target => "target",
        })
    }
}

/// What a decoder may need besides the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeCtx {
    pub family: Family,
    pub revision: u8,
}

pub type DecodeFn = fn(&DecodeCtx, &[u8]) -> Result<Vec<String>, ExtError>;
pub type ParseFn = fn(Family, &[String]) -> Result<Vec<String>, ExtError>;

/// One extension in the registry.
pub struct ExtDef {
    pub name: &'static str,
    pub kind: ExtKind,
    /// `None`: valid for both families.
    pub family: Option<Family>,
    pub decode: DecodeFn,
    pub parse: ParseFn,
}

/// Every extension we understand. Add one line per new extension file.
static REGISTRY: &[&ExtDef] = &[&comment::DEF];

fn find(kind: ExtKind, name: &str, family: Family) -> Option<&'static ExtDef> {
    REGISTRY
        .iter()
        .copied()
        .find(|d| d.kind == kind && d.name == name && d.family.is_none_or(|f| f == family))
}

/// Decode a kernel blob into iptables-save words.
pub fn decode(
    kind: ExtKind,
    name: &str,
    ctx: &DecodeCtx,
    blob: &[u8],
) -> Result<Vec<String>, ExtError> {
    let def = find(kind, name, ctx.family).ok_or_else(|| ExtError::Unknown {
        kind,
        name: name.to_owned(),
        revision: ctx.revision,
    })?;
    (def.decode)(ctx, blob)
}

/// Parse command-line words (those after `-m NAME`/`-j NAME`) into iptables-save words.
pub fn parse(
    kind: ExtKind,
    name: &str,
    family: Family,
    words: &[String],
) -> Result<Vec<String>, ExtError> {
    let def = find(kind, name, family).ok_or_else(|| ExtError::Unknown {
        kind,
        name: name.to_owned(),
        revision: 0,
    })?;
    (def.parse)(family, words)
}

/// Quote a word as iptables-save does (`xtables_save_string`): double quotes when it holds
/// anything but `[A-Za-z0-9_-./]`-ish characters, with `"` and `\` escaped.
pub fn save_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._/:@+".contains(&b) || b >= 0x80);
    if plain {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

pub(crate) fn truncated(name: &str) -> impl FnOnce(Truncated) -> ExtError + '_ {
    move |source| ExtError::Truncated {
        name: name.to_owned(),
        source,
    }
}

/// Kind and name of every registered extension (for tests and fuzzing).
pub fn registered() -> impl Iterator<Item = (ExtKind, &'static str)> {
    REGISTRY.iter().map(|d| (d.kind, d.name))
}
