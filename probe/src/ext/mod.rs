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

mod addrtype;
pub(crate) mod args;
pub mod cache;
mod classify;
mod comment;
mod connmark_tg;
mod conntrack;
mod ct;
mod icmp;
mod iprange;
mod length;
mod limit;
mod log;
mod mac;
mod mark;
mod mark_tg;
mod multiport;
mod nat;
mod owner;
mod physdev;
mod pkttype;
mod recent;
mod reject;
pub mod set;
mod statistic;
mod tcp;
mod tcpmss;
mod udp;
mod words;

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
static REGISTRY: &[&ExtDef] = &[
    &comment::DEF,
    // core matches (xt helper)
    &tcp::DEF,
    &udp::DEF,
    &icmp::DEF4,
    &icmp::DEF6,
    &addrtype::DEF,
    &conntrack::DEF,
    &conntrack::STATE,
    &mark::MARK,
    &mark::CONNMARK,
    &multiport::DEF,
    &physdev::DEF,
    &statistic::DEF,
    &recent::DEF,
    &limit::DEF,
    &iprange::DEF,
    &length::DEF,
    &mac::DEF,
    &owner::DEF,
    &pkttype::DEF,
    &set::DEF,
    // core targets (xt helper)
    &nat::SNAT,
    &nat::DNAT,
    &nat::MASQUERADE,
    &nat::REDIRECT,
    &reject::DEF,
    &mark_tg::DEF,
    &connmark_tg::DEF,
    &log::DEF,
    &ct::DEF,
    &ct::NOTRACK_DEF,
    &tcpmss::DEF,
    &classify::DEF,
];

/// A protocol number as iptables reads it (`strtoul(.., 0)`), for the header parser.
pub fn args_num_u8(s: &str) -> Option<u8> {
    args::num_u64(s).and_then(|v| u8::try_from(v).ok())
}

/// Picks the name iptables-save prints for a blob when it differs from the kernel name
/// (libxtables `.alias`: `conntrack` with the state flag prints as `state`, `CT` with the
/// notrack-alias flag as `NOTRACK`). `None`: print the kernel name.
pub type AliasFn = fn(&DecodeCtx, &[u8]) -> Option<&'static str>;

/// Extensions whose printed name depends on the blob.
static ALIASES: &[(ExtKind, &str, AliasFn)] = &[
    (ExtKind::Match, "conntrack", conntrack::alias),
    (ExtKind::Target, "CT", ct::alias),
];

/// The name iptables-save prints after `-m`/`-j` for a kernel blob of extension `name`.
pub fn save_name(kind: ExtKind, name: &str, ctx: &DecodeCtx, blob: &[u8]) -> String {
    save_name_ref(kind, name, ctx, blob).to_owned()
}

/// [`save_name`] without the copy.
pub fn save_name_ref<'a>(kind: ExtKind, name: &'a str, ctx: &DecodeCtx, blob: &[u8]) -> &'a str {
    ALIASES
        .iter()
        .find(|(k, n, _)| *k == kind && *n == name)
        .and_then(|(_, _, f)| f(ctx, blob))
        .unwrap_or(name)
}

/// The names of every registered extension of a kind, once each (for fuzzing).
pub fn names(kind: ExtKind) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = REGISTRY
        .iter()
        .chain(EXT_REGISTRY)
        .filter(|d| d.kind == kind)
        .map(|d| d.name)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn find(kind: ExtKind, name: &str, family: Family) -> Option<&'static ExtDef> {
    REGISTRY
        .iter()
        .chain(EXT_REGISTRY)
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

/// Renders straight into a line: `fn(ctx, blob, out)` appends exactly the words
/// [`decode`] gives, each with its leading space.
type RenderFn = fn(&DecodeCtx, &[u8], &mut String) -> Result<(), ExtError>;

/// Extensions whose blobs are usually unique per rule (so no cache helps) and that can
/// render without building their words first.
static RENDERERS: &[(ExtKind, &str, RenderFn)] = &[
    (ExtKind::Match, "comment", comment::render),
    (ExtKind::Match, "tcp", tcp::render),
    (ExtKind::Match, "udp", udp::render),
    (ExtKind::Target, "DNAT", nat::render_dnat),
    (ExtKind::Target, "SNAT", nat::render_snat),
];

/// What [`decode`] gives, each word with a leading space, appended to `out`; on an error
/// `out` is left as it was.
pub fn decode_into(
    kind: ExtKind,
    name: &str,
    ctx: &DecodeCtx,
    blob: &[u8],
    out: &mut String,
) -> Result<(), ExtError> {
    let len = out.len();
    let r = match RENDERERS.iter().find(|(k, n, _)| *k == kind && *n == name) {
        Some((_, _, render)) => render(ctx, blob, out),
        None => decode(kind, name, ctx, blob).map(|words| {
            for w in words {
                out.push(' ');
                out.push_str(&w);
            }
        }),
    };
    if r.is_err() {
        out.truncate(len);
    }
    r
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

/// Quote a word as iptables-save does (`xtables_save_string`): bare when it is non-empty and
/// only `[A-Za-z0-9_-]`, else in double quotes with `"`, `\` and `'` backslash-escaped.
pub fn save_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_save_string(&mut out, s);
    out
}

/// [`save_string`] appended to `out`.
pub fn push_save_string(out: &mut String, s: &str) {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        out.push_str(s);
        return;
    }
    out.push('"');
    // Runs without a character to escape are copied whole (all three are ASCII, so the
    // split points are character boundaries).
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|b| matches!(b, b'"' | b'\\' | b'\'')) {
        let (run, tail) = rest.split_at(i);
        out.push_str(run);
        out.push('\\');
        let mut chars = tail.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    out.push('"');
}

pub(crate) fn truncated(name: &str) -> impl FnOnce(Truncated) -> ExtError + '_ {
    move |source| ExtError::Truncated {
        name: name.to_owned(),
        source,
    }
}

/// Kind and name of every registered extension (for tests and fuzzing).
pub fn registered() -> impl Iterator<Item = (ExtKind, &'static str)> {
    REGISTRY
        .iter()
        .chain(EXT_REGISTRY)
        .map(|d| (d.kind, d.name))
}

// Extensions of the `ext` branch (one block, kept together for merging).
mod ah;
mod audit;
#[cfg(test)]
mod blob_tests;
mod bpf;
mod cgroup;
mod checksum;
mod cluster;
mod clusterip;
mod connbytes;
mod connlabel;
mod connlimit;
mod connsecmark;
mod cpu;
mod dccp;
mod devgroup;
mod dscp;
mod dscp_tg;
mod ecn;
mod ecn_tg;
mod esp;
mod eui64;
mod frag;
mod hashlimit;
mod helper;
mod hmark;
mod idletimer;
mod ip6opts;
mod ipcomp;
mod ipv6header;
mod ipvs;
mod led;
#[cfg(test)]
mod live_tests;
mod mh;
mod netmap;
mod nfacct;
pub(crate) mod nflog;
mod nfqueue;
mod npt;
pub(crate) mod opts;
mod osf;
mod policy;
mod quota;
mod rateest;
mod rateest_tg;
mod realm;
#[cfg(test)]
mod robust_tests;
mod rpfilter;
mod rt;
mod sctp;
mod secmark;
mod set_tg;
mod socket;
mod srh;
mod string;
mod synproxy;
#[cfg(test)]
mod t_files;
mod tcpmss_mt;
mod tcpoptstrip;
mod tee;
mod time;
mod tos;
mod tos_tg;
mod tproxy;
mod trace;
mod ttl;
mod ttl_tg;
mod u32;
// End of the `ext` branch block.

/// The `ext` branch's extensions, searched after `REGISTRY`.
static EXT_REGISTRY: &[&ExtDef] = &[
    // `ext` branch block.
    &ah::DEF4,
    &ah::DEF6,
    &audit::DEF,
    &bpf::DEF,
    &cgroup::DEF,
    &checksum::DEF,
    &cluster::DEF,
    &clusterip::DEF,
    &connbytes::DEF,
    &connlabel::DEF,
    &connlimit::DEF,
    &connsecmark::DEF,
    &cpu::DEF,
    &dccp::DEF,
    &devgroup::DEF,
    &dscp::DEF,
    &dscp_tg::DEF,
    &ecn::DEF,
    &ecn_tg::DEF,
    &esp::DEF,
    &eui64::DEF,
    &frag::DEF,
    &hashlimit::DEF,
    &helper::DEF,
    &hmark::DEF,
    &idletimer::DEF,
    &ip6opts::DEF_DST,
    &ip6opts::DEF_HBH,
    &ipcomp::DEF,
    &ipv6header::DEF,
    &ipvs::DEF,
    &led::DEF,
    &mh::DEF,
    &netmap::DEF,
    &nfacct::DEF,
    &nflog::DEF,
    &nfqueue::DEF,
    &npt::DEF_DNPT,
    &npt::DEF_SNPT,
    &osf::DEF,
    &policy::DEF,
    &quota::DEF,
    &rateest::DEF,
    &rateest_tg::DEF,
    &realm::DEF,
    &rpfilter::DEF,
    &rt::DEF,
    &sctp::DEF,
    &secmark::DEF,
    &set_tg::DEF,
    &socket::DEF,
    &srh::DEF,
    &string::DEF,
    &synproxy::DEF,
    &tcpmss_mt::DEF,
    &tcpoptstrip::DEF,
    &tee::DEF,
    &time::DEF,
    &tos::DEF,
    &tos_tg::DEF,
    &tproxy::DEF,
    &trace::DEF,
    &ttl::DEF_TTL,
    &ttl::DEF_HL,
    &ttl_tg::DEF_TTL,
    &ttl_tg::DEF_HL,
    &u32::DEF,
    // End of the `ext` branch block.
];

#[cfg(test)]
mod save_string_tests {
    use super::save_string;

    #[test]
    fn quotes_like_xtables_save_string() {
        assert_eq!(save_string("abc_D-9"), "abc_D-9");
        assert_eq!(save_string(""), "\"\"");
        assert_eq!(save_string("a b"), "\"a b\"");
        assert_eq!(save_string(r#"x"y\z'"#), r#""x\"y\\z\'""#);
        assert_eq!(save_string("\"é\""), "\"\\\"é\\\"\"");
    }
}
