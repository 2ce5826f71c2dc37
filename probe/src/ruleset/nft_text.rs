//! Native nf_tables rulesets in `nft list ruleset` syntax (nftables 1.0.6), rebuilt from the
//! kernel's low-level expressions the way nft does: loads and comparisons become
//! `ip saddr 10.0.0.0/8`, protocol dependencies (`meta l4proto tcp` before `tcp dport`) are
//! folded away, anonymous sets and maps are printed inline, verdict maps as `vmap`.
//!
//! Exact or marked: whatever this module cannot print exactly as nft does (an expression,
//! header field, key type or object it does not model) is never approximated. The rule, set or
//! object is replaced by one comment line, `# undecodable ...: what and why`, which nft itself
//! never prints; [`undecodable_marks`] counts them. Interface indexes (`iif`) print as names
//! when the namespace's interfaces are given ([`Ifnames`]), as nft does.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use crate::kernel::nft::chain::POLICY_DROP;
use crate::kernel::nft::expr::{
    bitwise, cmp, ct, fib, immediate::Immediate, limit::Limit, log::Log, lookup::Lookup, meta,
    nat::Nat, payload, reject::Reject,
};
use crate::kernel::nft::object::ObjData;
use crate::kernel::nft::set::{
    DATA_TYPE_VERDICT, ELEM_F_CATCHALL, ELEM_F_INTERVAL_END, F_ANONYMOUS, F_CONSTANT, F_EVAL,
    F_INTERVAL, F_MAP, F_OBJECT, F_TIMEOUT,
};
use crate::kernel::nft::{
    Expr, NftChain, NftData, NftFamily, NftObject, NftRule, NftRuleset, NftSet, NftTable, Verdict,
};

/// The start of every line this module prints for something it cannot render.
pub const MARK: &str = "# undecodable";

/// Interface names of the namespace the ruleset was read from, by index: nft prints `iif`,
/// `oif` and interface-index sets with names. `None`: not known (an index then makes the rule
/// undecodable, as the name nft would print cannot be told).
#[derive(Debug, Clone, Default)]
pub struct Ifnames(pub Option<HashMap<u32, String>>);

impl Ifnames {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, String)>) -> Self {
        Ifnames(Some(pairs.into_iter().collect()))
    }
}

/// A table's sets by name, built once per table: rules look their sets up by name, and a
/// linear search per rule is quadratic on big rulesets (one anonymous set per rule or so).
pub struct SetIndex<'t>(SetIndexKind<'t>);

enum SetIndexKind<'t> {
    Refs(HashMap<&'t str, &'t NftSet>),
    /// Positions in `sets` by name, built by the caller and possibly for another read of the
    /// table: every hit is checked, a miss searched for.
    Positions(&'t [NftSet], &'t SetPositions),
}

/// Set positions by name ([`SetIndex::with_positions`]), owned: kept by a caller that renders
/// one table's chains in several calls.
pub type SetPositions = HashMap<Box<str>, usize>;

impl<'t> SetIndex<'t> {
    pub fn new(t: &'t NftTable) -> Self {
        SetIndex(SetIndexKind::Refs(
            t.sets.iter().map(|s| (s.name.as_str(), s)).collect(),
        ))
    }

    /// The positions of `t`'s sets by name, to keep and hand to [`SetIndex::with_positions`].
    pub fn positions(t: &NftTable) -> SetPositions {
        t.sets
            .iter()
            .enumerate()
            .map(|(i, s)| (Box::from(s.name.as_str()), i))
            .collect()
    }

    /// An index over `t`'s sets from positions built earlier; if they were built for another
    /// read of the table a lookup is still right (checked by name), only slower.
    pub fn with_positions(t: &'t NftTable, pos: &'t SetPositions) -> Self {
        SetIndex(SetIndexKind::Positions(&t.sets, pos))
    }

    fn get(&self, name: &str) -> Option<&'t NftSet> {
        match &self.0 {
            SetIndexKind::Refs(m) => m.get(name).copied(),
            SetIndexKind::Positions(sets, pos) => pos
                .get(name)
                .and_then(|&i| sets.get(i))
                .filter(|s| s.name == name)
                .or_else(|| sets.iter().find(|s| s.name == name)),
        }
    }
}

/// How many marked (undecodable) lines a rendering holds.
pub fn undecodable_marks(text: &str) -> usize {
    text.lines()
        .filter(|l| l.trim_start().starts_with(MARK))
        .count()
}

/// The whole ruleset, as `nft list ruleset` prints it (no interface names known).
pub fn ruleset(rs: &NftRuleset) -> String {
    ruleset_named(rs, &Ifnames::default())
}

/// The whole ruleset, with the namespace's interface names.
pub fn ruleset_named(rs: &NftRuleset, names: &Ifnames) -> String {
    let mut out = String::new();
    for t in &rs.tables {
        table_named(&mut out, t, names);
    }
    out
}

/// One `table FAMILY NAME { ... }` block (no interface names known).
pub fn table(out: &mut String, t: &NftTable) {
    table_named(out, t, &Ifnames::default());
}

/// One `table FAMILY NAME { ... }` block.
pub fn table_named(out: &mut String, t: &NftTable, names: &Ifnames) {
    let mut delim = table_head(out, t, names);
    let sets = SetIndex::new(t);
    for c in t.chains.iter().filter(|c| printed_chain(c)) {
        out.push_str(delim);
        chain(out, t, c, names, &sets);
        delim = "\n";
    }
    out.push_str("}\n");
}

/// Whether nft prints this chain in its table (binding chains are printed inside their
/// rule's statement).
pub fn printed_chain(c: &NftChain) -> bool {
    c.flags & crate::kernel::nft::chain::F_BINDING == 0
}

/// Everything of a table block before its chains: its first line, comment, flags, objects,
/// named sets and flowtables. Returns what goes before the first chain (a blank line if
/// anything was printed after the first line); each later chain follows a blank line, and
/// the block ends with `}`.
pub fn table_head(out: &mut String, t: &NftTable, names: &Ifnames) -> &'static str {
    let _ = writeln!(out, "table {} {} {{", t.family.name(), t.name);
    if let Some(c) = &t.comment {
        let _ = writeln!(out, "\tcomment {}", quote(c));
    }
    match t.flags {
        0 => {}
        crate::kernel::nft::table::F_DORMANT => out.push_str("\tflags dormant\n"),
        f => {
            let _ = writeln!(out, "\t{MARK} table flags 0x{f:x}: not rendered by nfprobe");
        }
    }
    let mut delim = "";
    for o in &t.objects {
        out.push_str(delim);
        object(out, o, t.family);
        delim = "\n";
    }
    for s in t.sets.iter().filter(|s| s.flags & F_ANONYMOUS == 0) {
        out.push_str(delim);
        set_decl(out, s, names);
        delim = "\n";
    }
    for f in &t.flowtables {
        out.push_str(delim);
        delim = "\n";
        // nft 1.0.6's flowtable_print_declaration: hook and priority as for netdev, the
        // devices, then `flags offload` and `counter`.
        if f.flags & !0x3 != 0 || f.hooknum.is_some_and(|h| h != 0) {
            let _ = writeln!(
                out,
                "\t{MARK} flowtable {}: flags 0x{:x} or hook not rendered by nfprobe",
                quote(&f.name),
                f.flags
            );
            continue;
        }
        let _ = writeln!(out, "\tflowtable {} {{", f.name);
        let _ = writeln!(
            out,
            "\t\thook ingress priority {}",
            prio_str(NftFamily::Netdev, 0, f.priority)
        );
        if !f.devs.is_empty() {
            let mut devs = f.devs.clone();
            devs.sort();
            let _ = writeln!(out, "\t\tdevices = {{ {} }}", devs.join(", "));
        }
        if f.flags & 0x1 != 0 {
            out.push_str("\t\tflags offload\n");
        }
        if f.flags & 0x2 != 0 {
            out.push_str("\t\tcounter\n");
        }
        out.push_str("\t}\n");
    }
    delim
}

fn family_word(nfproto: u16) -> Option<&'static str> {
    Some(match nfproto {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => return None,
    })
}

fn object(out: &mut String, o: &NftObject, family: NftFamily) {
    let mut body = String::new();
    let kind = match &o.data {
        ObjData::Counter(c) => {
            let _ = writeln!(body, "\t\tpackets {} bytes {}", c.packets, c.bytes);
            "counter"
        }
        ObjData::Quota(q) => {
            let over = if q.flags.unwrap_or(0) & 1 != 0 {
                "over "
            } else {
                ""
            };
            let used = q.consumed.unwrap_or(0);
            let _ = write!(body, "\t\t{over}{}", bytes_str(q.bytes));
            if used > 0 {
                let _ = write!(body, " used {}", bytes_str(used));
            }
            body.push('\n');
            "quota"
        }
        ObjData::Limit(l) => {
            let _ = writeln!(body, "\t\t{}", limit_str(l).trim_start_matches("limit "));
            "limit"
        }
        ObjData::CtHelper(h) => {
            let l4 = h.l4proto.map(proto_name).unwrap_or_default();
            let l3 = h.l3proto.and_then(family_word).or(if h.l3proto.is_none() {
                Some(family.name())
            } else {
                None
            });
            let Some(l3) = l3 else {
                return mark_object(out, o, "ct helper", "its layer 3 protocol is not known");
            };
            let _ = writeln!(body, "\t\ttype {} protocol {l4}", quote(&h.name));
            let _ = writeln!(body, "\t\tl3proto {l3}");
            "ct helper"
        }
        ObjData::CtExpect(e) => {
            if let Some(p) = e.l4proto {
                let _ = writeln!(body, "\t\tprotocol {}", proto_name(p));
            }
            if let Some(d) = e.dport {
                let _ = writeln!(body, "\t\tdport {d}");
            }
            if let Some(t) = e.timeout {
                let _ = writeln!(body, "\t\ttimeout {}", time_str(u64::from(t)));
            }
            if let Some(sz) = e.size {
                let _ = writeln!(body, "\t\tsize {sz}");
            }
            match e.l3proto.map(family_word) {
                Some(Some(l3)) => {
                    let _ = writeln!(body, "\t\tl3proto {l3}");
                }
                Some(None) => {
                    return mark_object(out, o, "ct expectation", "unknown layer 3 protocol");
                }
                None => {}
            }
            "ct expectation"
        }
        ObjData::Synproxy(sp) => {
            let flags = sp.flags.unwrap_or(0);
            if let Some(m) = sp.mss.filter(|_| flags & 1 != 0) {
                let _ = writeln!(body, "\t\tmss {m}");
            }
            if let Some(w) = sp.wscale.filter(|_| flags & 2 != 0) {
                let _ = writeln!(body, "\t\twscale {w}");
            }
            let opts = synproxy_opts(flags);
            if !opts.is_empty() {
                let _ = writeln!(body, "\t\t{opts}");
            }
            "synproxy"
        }
        ObjData::Connlimit(_) => {
            return mark_object(out, o, "ct count", "nft has no syntax for this object");
        }
        ObjData::Raw(_) => {
            let kind = match o.obj_type {
                crate::kernel::nft::object::TYPE_TUNNEL => "tunnel",
                crate::kernel::nft::object::TYPE_CT_TIMEOUT => "ct timeout",
                crate::kernel::nft::object::TYPE_SECMARK => "secmark",
                crate::kernel::nft::object::TYPE_CT_HELPER => "ct helper",
                crate::kernel::nft::object::TYPE_CT_EXPECT => "ct expectation",
                crate::kernel::nft::object::TYPE_SYNPROXY => "synproxy",
                _ => "object",
            };
            return mark_object(out, o, kind, "its settings are not rendered by nfprobe");
        }
    };
    let _ = writeln!(out, "\t{kind} {} {{", o.name);
    if let Some(c) = &o.comment {
        let _ = writeln!(out, "\t\tcomment {}", quote(c));
    }
    out.push_str(&body);
    out.push_str("\t}\n");
}

fn mark_object(out: &mut String, o: &NftObject, kind: &str, why: &str) {
    let _ = writeln!(
        out,
        "\t{MARK} {kind} object {} (type {}): {why}",
        quote(&o.name),
        o.obj_type
    );
}

fn synproxy_opts(flags: u32) -> String {
    let mut v = Vec::new();
    if flags & 0x8 != 0 {
        v.push("timestamp");
    }
    if flags & 0x4 != 0 {
        v.push("sack-perm");
    }
    v.join(" ")
}

/// nft's time format: `1d2h3m4s5ms`, units that are zero left out.
fn time_str(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut s = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            let _ = write!(s, "{n}{unit}");
        }
    }
    s
}

fn bytes_str(b: u64) -> String {
    for (unit, size) in [
        ("gbytes", 1u64 << 30),
        ("mbytes", 1 << 20),
        ("kbytes", 1 << 10),
    ] {
        if b >= size && b.is_multiple_of(size) {
            return format!("{} {unit}", b / size);
        }
    }
    format!("{b} bytes")
}

// ---- sets ----------------------------------------------------------------------------

/// nft datatype ids (`enum datatypes` in nftables).
mod dt {
    pub const VERDICT: u32 = 1;
    pub const NFPROTO: u32 = 2;
    pub const INTEGER: u32 = 4;
    pub const STRING: u32 = 5;
    pub const IPADDR: u32 = 7;
    pub const IP6ADDR: u32 = 8;
    pub const ETHERADDR: u32 = 9;
    pub const ETHERTYPE: u32 = 10;
    pub const INET_PROTOCOL: u32 = 12;
    pub const INET_SERVICE: u32 = 13;
    pub const ICMP_TYPE: u32 = 14;
    pub const TCP_FLAG: u32 = 15;
    pub const MARK: u32 = 19;
    pub const IFINDEX: u32 = 20;
    pub const ARPHRD: u32 = 21;
    pub const CT_STATE: u32 = 26;
    pub const ICMP6_TYPE: u32 = 29;
    pub const FIB_ADDR: u32 = 38;
    pub const IFNAME: u32 = 41;
}

fn dtype_name(t: u32) -> Option<&'static str> {
    Some(match t {
        dt::VERDICT => "verdict",
        dt::NFPROTO => "nf_proto",
        dt::INTEGER => "integer",
        dt::STRING => "string",
        dt::IPADDR => "ipv4_addr",
        dt::IP6ADDR => "ipv6_addr",
        dt::ETHERADDR => "ether_addr",
        dt::ETHERTYPE => "ether_type",
        dt::INET_PROTOCOL => "inet_proto",
        dt::INET_SERVICE => "inet_service",
        dt::ICMP_TYPE => "icmp_type",
        dt::TCP_FLAG => "tcp_flag",
        dt::MARK => "mark",
        dt::IFINDEX => "iface_index",
        dt::ARPHRD => "iface_type",
        dt::CT_STATE => "ct_state",
        dt::ICMP6_TYPE => "icmpv6_type",
        dt::FIB_ADDR => "fib_addrtype",
        dt::IFNAME => "ifname",
        _ => return None,
    })
}

/// Bytes one value of a datatype takes in a set key (None: variable or unknown).
fn dtype_len(t: u32) -> Option<usize> {
    Some(match t {
        dt::NFPROTO | dt::INET_PROTOCOL | dt::ICMP_TYPE | dt::TCP_FLAG | dt::ICMP6_TYPE => 1,
        dt::ETHERTYPE | dt::INET_SERVICE | dt::ARPHRD => 2,
        dt::INTEGER | dt::IPADDR | dt::MARK | dt::IFINDEX | dt::CT_STATE | dt::FIB_ADDR => 4,
        dt::ETHERADDR => 6,
        dt::IP6ADDR | dt::IFNAME => 16,
        _ => return None,
    })
}

/// The datatypes of a (possibly concatenated, 6 bits per type) key, in order; None when one
/// is not known here.
fn dtypes(t: u32) -> Option<Vec<u32>> {
    if dtype_name(t).is_some() {
        return Some(vec![t]);
    }
    let mut parts = Vec::new();
    let mut v = t;
    while v != 0 {
        let p = v & 0x3f;
        dtype_name(p)?;
        parts.push(p);
        v >>= 6;
    }
    parts.reverse();
    (!parts.is_empty()).then_some(parts)
}

fn key_type_str(types: &[u32]) -> String {
    types
        .iter()
        .filter_map(|t| dtype_name(*t))
        .collect::<Vec<_>>()
        .join(" . ")
}

/// What in a set nfprobe does not render (None: it renders all of it).
fn set_unsupported(s: &NftSet) -> Option<String> {
    let Some(keys) = dtypes(s.key_type) else {
        return Some(format!("key type {} not rendered by nfprobe", s.key_type));
    };
    if keys.len() > 1 && s.flags & F_INTERVAL != 0 {
        return Some("concatenated intervals not rendered by nfprobe".into());
    }
    if s.flags & F_MAP != 0 {
        match s.data_type {
            Some(DATA_TYPE_VERDICT) => {}
            Some(d) if dtypes(d).is_some() => {}
            Some(d) => return Some(format!("map data type {d} not rendered by nfprobe")),
            None => return Some("map without a data type".into()),
        }
    }
    if s.flags & (F_EVAL | F_OBJECT) != 0 {
        return Some("dynamic or object sets are not rendered by nfprobe".into());
    }
    if s.timeout.is_some() || s.gc_interval.is_some() || !s.exprs.is_empty() {
        return Some("timeouts and per-element expressions are not rendered by nfprobe".into());
    }
    if s.flags & F_ANONYMOUS == 0 && (s.size.is_some() || s.policy.is_some_and(|p| p != 0)) {
        return Some("size and policy are not rendered by nfprobe".into());
    }
    if let Some(u) = s.userdata.as_ref().filter(|_| s.flags & F_ANONYMOUS == 0) {
        // NFTNL_UDATA_SET_KEY_TYPEOF / DATA_TYPEOF: nft prints `typeof EXPR`.
        if crate::kernel::nft::udata::tlvs(u).any(|(t, _)| t == 3 || t == 4) {
            return Some("`typeof` sets are not rendered by nfprobe".into());
        }
    }
    if s.elements.iter().any(|e| {
        e.timeout.is_some()
            || e.expiration.is_some()
            || !e.exprs.is_empty()
            || e.objref.is_some()
            || e.comment.is_some()
            || e.flags & ELEM_F_CATCHALL != 0
    }) {
        return Some("element timeouts, comments, expressions or catch-all not rendered".into());
    }
    if !s.problems.is_empty() {
        return Some(s.problems.join("; "));
    }
    None
}

fn set_decl(out: &mut String, s: &NftSet, names: &Ifnames) {
    let map = s.flags & F_MAP != 0;
    let what = if map { "map" } else { "set" };
    if let Some(why) = set_unsupported(s) {
        let _ = writeln!(out, "\t{MARK} {what} {}: {why}", quote(&s.name));
        return;
    }
    let elems = match set_elements(s, names) {
        Ok(e) => e,
        Err(why) => {
            let _ = writeln!(out, "\t{MARK} {what} {}: {why}", quote(&s.name));
            return;
        }
    };
    let _ = writeln!(out, "\t{what} {} {{", s.name);
    let key = key_type_str(&dtypes(s.key_type).unwrap_or_default());
    if map {
        let data = match s.data_type {
            Some(DATA_TYPE_VERDICT) => "verdict".to_owned(),
            Some(d) => key_type_str(&dtypes(d).unwrap_or_default()),
            None => String::new(),
        };
        let _ = writeln!(out, "\t\ttype {key} : {data}");
    } else {
        let _ = writeln!(out, "\t\ttype {key}");
    }
    let mut flags = Vec::new();
    if s.flags & F_CONSTANT != 0 {
        flags.push("constant");
    }
    if s.flags & F_INTERVAL != 0 {
        flags.push("interval");
    }
    if s.flags & F_TIMEOUT != 0 {
        flags.push("timeout");
    }
    if !flags.is_empty() {
        let _ = writeln!(out, "\t\tflags {}", flags.join(","));
    }
    if let Some(c) = &s.comment {
        let _ = writeln!(out, "\t\tcomment {}", quote(c));
    }
    if !elems.is_empty() {
        let _ = writeln!(out, "\t\telements = {{ {} }}", join_elements(s, &elems));
    }
    out.push_str("\t}\n");
}

/// nft's delimiter rule: short-value types several per line, others one per line.
fn join_elements(s: &NftSet, elems: &[String]) -> String {
    let per_line = match s.key_type {
        dt::NFPROTO
        | dt::INTEGER
        | dt::INET_PROTOCOL
        | dt::INET_SERVICE
        | dt::TCP_FLAG
        | dt::MARK
        | dt::IFINDEX => 5,
        dt::IPADDR | dt::CT_STATE => 2,
        _ => 1,
    };
    let mut out = String::new();
    let mut count = 0;
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            if s.flags & F_ANONYMOUS != 0 || count < per_line {
                out.push_str(", ");
            } else {
                out.push_str(",\n\t\t\t     ");
                count = 0;
            }
        }
        out.push_str(e);
        count += 1;
    }
    out
}

/// Key byte order for sorting: nft compares values as integers in their datatype's order.
fn host_order(key_type: u32) -> bool {
    matches!(
        key_type,
        dt::STRING | dt::IFNAME | dt::MARK | dt::CT_STATE | dt::IFINDEX | dt::ARPHRD
    )
}

/// A value of a (possibly concatenated) type: `a . b`; fields are padded to 4 bytes.
fn concat_value(types: &[u32], b: &[u8], names: &Ifnames) -> Result<String, String> {
    if let [t] = types {
        if *t == dt::TCP_FLAG && b.first().is_some_and(|v| v.count_ones() > 1) {
            return Err(
                "tcp flag combinations in sets (`syn | ack`) not rendered by nfprobe".into(),
            );
        }
        return Fmt::from_dtype(*t).value_named(b, names);
    }
    if types.iter().any(|t| host_order(*t)) {
        return Err("concatenations with host-order values not rendered by nfprobe".into());
    }
    let mut parts = Vec::new();
    let mut off = 0;
    for t in types {
        let len = dtype_len(*t).ok_or("a concatenated field of variable length")?;
        let v = b
            .get(off..off + len)
            .ok_or("a concatenated key shorter than its type")?;
        parts.push(Fmt::from_dtype(*t).value_named(v, names)?);
        off += len.div_ceil(4) * 4;
    }
    Ok(parts.join(" . "))
}

fn set_elements(s: &NftSet, names: &Ifnames) -> Result<Vec<String>, String> {
    let keys = dtypes(s.key_type).ok_or("a key type not rendered by nfprobe")?;
    let single = keys.len() == 1;
    let fmt = Fmt::from_dtype(s.key_type);
    let mut elems: Vec<_> = s
        .elements
        .iter()
        .filter(|e| e.flags & ELEM_F_CATCHALL == 0)
        .collect();
    let sort_key = |k: &[u8]| -> Vec<u8> {
        if single && host_order(s.key_type) {
            k.iter().rev().copied().collect()
        } else {
            k.to_vec()
        }
    };
    // An interval's end and the next interval's start can share a key: the end goes first.
    elems.sort_by_key(|e| (sort_key(&e.key), e.flags & ELEM_F_INTERVAL_END == 0));
    let mut out = Vec::new();
    if s.flags & F_INTERVAL != 0 && elems.iter().all(|e| e.key_end.is_none()) {
        if !single {
            return Err("concatenated intervals".into());
        }
        // rbtree intervals: a start element, then an end element holding end + 1.
        let mut i = 0;
        while i < elems.len() {
            let e = elems[i];
            if e.flags & ELEM_F_INTERVAL_END != 0 {
                i += 1;
                continue;
            }
            let end = elems
                .get(i + 1)
                .filter(|n| n.flags & ELEM_F_INTERVAL_END != 0)
                .map(|n| minus_one(&n.key))
                .unwrap_or_else(|| vec![0xff; e.key.len()]);
            let k = range_text(&fmt, &e.key, &end, names)?;
            out.push(element_text(s, &k, e.data.as_ref(), names)?);
            i += 1;
        }
    } else {
        for e in elems {
            let k = match &e.key_end {
                Some(end) if single => range_text(&fmt, &e.key, end, names)?,
                Some(_) => return Err("concatenated intervals".into()),
                None => concat_value(&keys, &e.key, names)?,
            };
            out.push(element_text(s, &k, e.data.as_ref(), names)?);
        }
    }
    Ok(out)
}

/// A named set's or map's elements as `nft list` prints each one (`"docker0" : jump x`),
/// in nft's order; Err says what nfprobe cannot render in it.
pub fn elements(s: &NftSet) -> Result<Vec<String>, String> {
    if let Some(why) = set_unsupported(s) {
        return Err(why);
    }
    set_elements(s, &Ifnames::default())
}

fn element_text(
    s: &NftSet,
    key: &str,
    data: Option<&NftData>,
    names: &Ifnames,
) -> Result<String, String> {
    Ok(match data {
        Some(NftData::Verdict(v)) => format!("{key} : {}", verdict_str(v)),
        Some(NftData::Value(v)) => {
            let types = s
                .data_type
                .and_then(dtypes)
                .ok_or("a map data type not rendered by nfprobe")?;
            format!("{key} : {}", concat_value(&types, v, names)?)
        }
        None => key.to_owned(),
    })
}

fn minus_one(k: &[u8]) -> Vec<u8> {
    let mut v = k.to_vec();
    for b in v.iter_mut().rev() {
        if *b == 0 {
            *b = 0xff;
        } else {
            *b -= 1;
            break;
        }
    }
    v
}

/// `a-b`, or `a/len` when the range is a prefix, or `a` when it is one value.
fn range_text(f: &Fmt, lo: &[u8], hi: &[u8], names: &Ifnames) -> Result<String, String> {
    if lo == hi {
        return f.value_named(lo, names);
    }
    let f = &f.numeric();
    if matches!(f, Fmt::Ipv4 | Fmt::Ipv6) && lo.len() == hi.len() {
        let mask: Vec<u8> = lo.iter().zip(hi).map(|(a, b)| !(a ^ b)).collect();
        let is_prefix = prefix_len(&mask).is_some()
            && lo.iter().zip(&mask).all(|(a, m)| a & !m == 0)
            && hi.iter().zip(&mask).all(|(b, m)| b | m == 0xff);
        if let (true, Some(p)) = (is_prefix, prefix_len(&mask)) {
            return Ok(format!("{}/{p}", f.value_named(lo, names)?));
        }
    }
    Ok(format!(
        "{}-{}",
        f.value_named(lo, names)?,
        f.value_named(hi, names)?
    ))
}

fn prefix_len(mask: &[u8]) -> Option<u32> {
    let mut bits = 0;
    let mut ended = false;
    for &b in mask {
        for i in (0..8).rev() {
            let set = b & (1 << i) != 0;
            if set && ended {
                return None;
            }
            if set {
                bits += 1;
            } else {
                ended = true;
            }
        }
    }
    Some(bits)
}

// ---- chains and rules -----------------------------------------------------------------

pub fn hook_name(family: NftFamily, hook: u32) -> String {
    let n = match family {
        NftFamily::Netdev => ["ingress", "egress"].get(hook as usize).copied(),
        NftFamily::Arp => ["input", "output", "forward"].get(hook as usize).copied(),
        _ => [
            "prerouting",
            "input",
            "forward",
            "output",
            "postrouting",
            "ingress",
        ]
        .get(hook as usize)
        .copied(),
    };
    n.map_or_else(|| hook.to_string(), str::to_owned)
}

/// nft's `prio2str`: a standard priority name (± offset up to 10) where it is valid for the
/// family and hook, the number otherwise.
pub fn prio_str(family: NftFamily, hook: u32, prio: i32) -> String {
    let std: &[(i32, &str)] = match family {
        NftFamily::Bridge => &[
            (-300, "dstnat"),
            (-200, "filter"),
            (100, "out"),
            (300, "srcnat"),
        ],
        _ => &[
            (-300, "raw"),
            (-150, "mangle"),
            (-100, "dstnat"),
            (0, "filter"),
            (50, "security"),
            (100, "srcnat"),
        ],
    };
    for &(v, name) in std {
        let ok = match (family, name) {
            (NftFamily::Bridge, "dstnat") => hook == 0,
            (NftFamily::Bridge, "srcnat") => hook == 4,
            (NftFamily::Bridge, "out") => hook == 3,
            (NftFamily::Bridge, _) => true,
            (NftFamily::Netdev, n) => n == "filter",
            (_, "dstnat") => hook == 0,
            (_, "srcnat") => hook == 4,
            (NftFamily::Arp, n) => n == "filter",
            _ => true,
        };
        let off = prio.saturating_sub(v);
        if !ok || off.abs() > 10 {
            continue;
        }
        return match off {
            0 => name.to_owned(),
            o if o > 0 => format!("{name} + {o}"),
            o => format!("{name} - {}", -o),
        };
    }
    prio.to_string()
}

fn chain(out: &mut String, t: &NftTable, c: &NftChain, names: &Ifnames, sets: &SetIndex<'_>) {
    chain_head(out, t, c);
    for r in &c.rules {
        rule_line(out, t, r, names, sets);
    }
    out.push_str("\t}\n");
}

/// A chain block's lines before its rules; the rules follow ([`rule_line`]), then `\t}`.
pub fn chain_head(out: &mut String, t: &NftTable, c: &NftChain) {
    let _ = writeln!(out, "\tchain {} {{", c.name);
    if let Some(com) = &c.comment {
        let _ = writeln!(out, "\t\tcomment {}", quote(com));
    }
    if let Some(h) = &c.hook {
        let _ = write!(
            out,
            "\t\ttype {} hook {}",
            c.chain_type.as_deref().unwrap_or("filter"),
            hook_name(t.family, h.hooknum)
        );
        match h.devs.as_slice() {
            [] => {}
            [d] => {
                let _ = write!(out, " device {}", quote(d));
            }
            many => {
                // nft prints the device list sorted (the kernel returns it reversed).
                let mut d = many.to_vec();
                d.sort();
                let _ = write!(out, " devices = {{ {} }}", d.join(", "));
            }
        }
        let policy = match c.policy {
            Some(POLICY_DROP) => "drop",
            _ => "accept",
        };
        let _ = writeln!(
            out,
            " priority {}; policy {policy};",
            prio_str(t.family, h.hooknum, h.priority)
        );
    }
}

/// One rule's line in its chain block, or its undecodable mark. Returns whether it was
/// marked.
pub fn rule_line(
    out: &mut String,
    t: &NftTable,
    r: &NftRule,
    names: &Ifnames,
    sets: &SetIndex<'_>,
) -> bool {
    out.push_str("\t\t");
    let marked = match rule_statements_into(out, t, r, names, sets) {
        Ok(()) => false,
        Err(why) => {
            let _ = write!(out, "{MARK} rule (handle {}): {why}", r.handle);
            true
        }
    };
    out.push('\n');
    marked
}

/// One rule's statements (without indentation or newline), or its undecodable mark.
pub fn rule_text(t: &NftTable, r: &NftRule) -> String {
    match rule_statements(t, r, &Ifnames::default()) {
        Ok(s) => s,
        Err(why) => format!("{MARK} rule (handle {}): {why}", r.handle),
    }
}

/// One rule's statements exactly as nft prints them, or what nfprobe cannot render in it.
/// (Builds the table's set index: for many rules of a table use [`rule_statements_indexed`].)
pub fn rule_statements(t: &NftTable, r: &NftRule, names: &Ifnames) -> Result<String, String> {
    rule_statements_indexed(t, r, names, &SetIndex::new(t))
}

/// [`rule_statements`] with the table's set index built once by the caller.
pub fn rule_statements_indexed(
    t: &NftTable,
    r: &NftRule,
    names: &Ifnames,
    sets: &SetIndex<'_>,
) -> Result<String, String> {
    let mut s = String::new();
    rule_statements_into(&mut s, t, r, names, sets)?;
    Ok(s)
}

/// [`rule_statements_indexed`] appended to `out` (on an error `out` is left as it was).
fn rule_statements_into(
    out: &mut String,
    t: &NftTable,
    r: &NftRule,
    names: &Ifnames,
    sets: &SetIndex<'_>,
) -> Result<(), String> {
    if let Some(raw) = &r.raw {
        return Err(format!(
            "the kernel's message did not decode ({}; {} bytes)",
            r.problems.join("; "),
            raw.len()
        ));
    }
    let mut p = Printer::new(t, names, sets);
    for e in &r.exprs {
        p.expr(e);
    }
    let start = out.len();
    p.finish_into(out)?;
    if let Some(c) = &r.comment {
        if out.len() > start {
            out.push(' ');
        }
        out.push_str("comment \"");
        out.push_str(c);
        out.push('"');
    }
    Ok(())
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

fn verdict_str(v: &Verdict) -> String {
    match v {
        Verdict::Drop => "drop".into(),
        Verdict::Accept => "accept".into(),
        Verdict::Stolen => "stolen".into(),
        Verdict::Queue => "queue".into(),
        Verdict::Repeat => "repeat".into(),
        Verdict::Continue => "continue".into(),
        Verdict::Break => "break".into(),
        Verdict::Jump(c) => format!("jump {c}"),
        Verdict::Goto(c) => format!("goto {c}"),
        Verdict::Return => "return".into(),
        Verdict::Other(c) => format!("verdict {c}"),
    }
}

// ---- values ---------------------------------------------------------------------------

/// How a value of some field prints.
#[derive(Debug, Clone, PartialEq)]
enum Fmt {
    Ipv4,
    Ipv6,
    Ether,
    Port,
    Proto,
    Ifname,
    Mark,
    CtState,
    IcmpType,
    Icmp6Type,
    TcpFlags,
    FibAddr,
    Nfproto,
    EtherType,
    /// Interface index: the name, in the namespace read.
    Ifindex,
    PktType,
    /// tc class handle (`meta priority`).
    Priority,
    CtDir,
    CtStatus,
    IcmpCode,
    Icmp6Code,
    /// Interface hardware type (`meta iiftype`).
    ArpHrd,
    /// `exists` / `missing` (a boolean result).
    Exists,
    /// Big-endian integer.
    Int,
    /// Host-order integer (meta/ct keys).
    HostInt,
}

impl Fmt {
    fn from_dtype(t: u32) -> Fmt {
        match t {
            dt::IPADDR => Fmt::Ipv4,
            dt::IP6ADDR => Fmt::Ipv6,
            dt::ETHERADDR => Fmt::Ether,
            dt::INET_SERVICE => Fmt::Port,
            dt::INET_PROTOCOL => Fmt::Proto,
            dt::IFNAME | dt::STRING => Fmt::Ifname,
            dt::MARK => Fmt::Mark,
            dt::CT_STATE => Fmt::CtState,
            dt::ICMP_TYPE => Fmt::IcmpType,
            dt::ICMP6_TYPE => Fmt::Icmp6Type,
            dt::TCP_FLAG => Fmt::TcpFlags,
            dt::FIB_ADDR => Fmt::FibAddr,
            dt::NFPROTO => Fmt::Nfproto,
            dt::IFINDEX => Fmt::Ifindex,
            dt::ETHERTYPE => Fmt::EtherType,
            dt::ARPHRD => Fmt::ArpHrd,
            _ => Fmt::Int,
        }
    }

    /// The form nft uses inside ranges: symbolic integer types print as numbers there.
    fn numeric(&self) -> Fmt {
        match self {
            Fmt::Proto | Fmt::IcmpType | Fmt::Icmp6Type | Fmt::IcmpCode | Fmt::Icmp6Code => {
                Fmt::Int
            }
            f => f.clone(),
        }
    }

    /// Like [`Fmt::value`], for values whose text depends on the namespace (interface
    /// indexes): Err when it cannot be told.
    fn value_named(&self, b: &[u8], names: &Ifnames) -> Result<String, String> {
        if !matches!(self, Fmt::Ifindex) {
            return Ok(self.value(b));
        }
        let idx = host_uint(b) as u32;
        match &names.0 {
            None => Err(format!(
                "interface index {idx} (the namespace's interface names were not read)"
            )),
            Some(m) => Ok(m.get(&idx).map_or_else(|| idx.to_string(), |n| quote(n))),
        }
    }

    fn value(&self, b: &[u8]) -> String {
        match self {
            Fmt::Ipv4 => match <[u8; 4]>::try_from(b) {
                Ok(a) => Ipv4Addr::from(a).to_string(),
                Err(_) => hex_int(b),
            },
            Fmt::Ipv6 => match <[u8; 16]>::try_from(b) {
                Ok(a) => ipv6_text(a),
                Err(_) => hex_int(b),
            },
            Fmt::Ether => b
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            Fmt::Port => be_uint(b).to_string(),
            Fmt::Proto => proto_name(b.first().copied().unwrap_or(0)),
            Fmt::Ifname => {
                let (name, wild) = match b.iter().position(|&c| c == 0) {
                    Some(e) => (&b[..e], false),
                    None => (b, true),
                };
                // A literal `*` is escaped; a name without its NUL is a prefix (`eth*`).
                let mut s = String::from_utf8_lossy(name).replace('*', "\\*");
                if wild {
                    s.push('*');
                }
                quote(&s)
            }
            Fmt::Mark => format!("0x{:08x}", host_uint(b)),
            Fmt::CtState => flag_names(host_uint(b), CT_STATES),
            Fmt::TcpFlags => flag_names(be_uint(b), TCP_FLAGS),
            Fmt::IcmpType => table_name(b, ICMP_TYPES),
            Fmt::Icmp6Type => table_name(b, ICMP6_TYPES),
            Fmt::FibAddr => table_name_u32(host_uint(b), FIB_TYPES),
            Fmt::Nfproto => match b.first() {
                Some(2) => "ipv4".into(),
                Some(10) => "ipv6".into(),
                _ => host_uint(b).to_string(),
            },
            Fmt::EtherType => match be_uint(b) {
                0x0800 => "ip".into(),
                0x0806 => "arp".into(),
                0x86dd => "ip6".into(),
                0x8100 => "8021q".into(),
                0x88a8 => "8021ad".into(),
                v => format!("0x{v:04x}"),
            },
            Fmt::Ifindex => host_uint(b).to_string(),
            Fmt::PktType => match host_uint(b) {
                0 => "host".into(),
                1 => "broadcast".into(),
                2 => "multicast".into(),
                3 => "other".into(),
                v => v.to_string(),
            },
            Fmt::Priority => match host_uint(b) {
                0 => "none".into(),
                0xffff_ffff => "root".into(),
                v => format!("{:x}:{:x}", v >> 16, v & 0xffff),
            },
            Fmt::CtDir => match b.first() {
                Some(0) => "original".into(),
                Some(1) => "reply".into(),
                _ => be_uint(b).to_string(),
            },
            Fmt::CtStatus => flag_names(host_uint(b), CT_STATUS),
            Fmt::IcmpCode => table_name(b, ICMP_CODES),
            Fmt::ArpHrd => table_name_u32(host_uint(b), ARPHRD_TYPES),
            Fmt::Exists => match host_uint(b) {
                0 => "missing".into(),
                1 => "exists".into(),
                v => v.to_string(),
            },
            Fmt::Icmp6Code => table_name(b, ICMP6_CODES),
            Fmt::Int => be_uint(b).to_string(),
            Fmt::HostInt => host_uint(b).to_string(),
        }
    }
}

/// An IPv6 address as glibc's inet_ntop (which nft uses) writes it: IPv4-compatible
/// addresses (`::a.b.c.d`) keep the dotted tail, which Rust's formatter does not.
fn ipv6_text(a: [u8; 16]) -> String {
    if a[..12].iter().all(|&x| x == 0) && (a[12] != 0 || a[13] != 0) {
        return format!("::{}", Ipv4Addr::new(a[12], a[13], a[14], a[15]));
    }
    Ipv6Addr::from(a).to_string()
}

fn hex_int(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn be_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .fold(0, |acc, &x| (acc << 8) | u64::from(x))
}

fn host_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .rev()
        .fold(0, |acc, &x| (acc << 8) | u64::from(x))
}

const CT_STATES: &[(u64, &str)] = &[
    (1, "invalid"),
    (2, "established"),
    (4, "related"),
    (8, "new"),
    (64, "untracked"),
];
const ARPHRD_TYPES: &[(u64, &str)] = &[
    (1, "ether"),
    (512, "ppp"),
    (768, "ipip"),
    (769, "ipip6"),
    (772, "loopback"),
    (776, "sit"),
    (778, "ipgre"),
];
const ICMP_CODES: &[(u8, &str)] = &[
    (0, "net-unreachable"),
    (1, "host-unreachable"),
    (2, "prot-unreachable"),
    (3, "port-unreachable"),
    (4, "frag-needed"),
    (9, "net-prohibited"),
    (10, "host-prohibited"),
    (13, "admin-prohibited"),
];
const ICMP6_CODES: &[(u8, &str)] = &[
    (0, "no-route"),
    (1, "admin-prohibited"),
    (3, "addr-unreachable"),
    (4, "port-unreachable"),
    (5, "policy-fail"),
    (6, "reject-route"),
];
const CT_STATUS: &[(u64, &str)] = &[
    (1, "expected"),
    (2, "seen-reply"),
    (4, "assured"),
    (8, "confirmed"),
    (16, "snat"),
    (32, "dnat"),
    (512, "dying"),
];
const TCP_FLAGS: &[(u64, &str)] = &[
    (0x01, "fin"),
    (0x02, "syn"),
    (0x04, "rst"),
    (0x08, "psh"),
    (0x10, "ack"),
    (0x20, "urg"),
    (0x40, "ecn"),
    (0x80, "cwr"),
];
const ICMP_TYPES: &[(u8, &str)] = &[
    (0, "echo-reply"),
    (3, "destination-unreachable"),
    (4, "source-quench"),
    (5, "redirect"),
    (8, "echo-request"),
    (9, "router-advertisement"),
    (10, "router-solicitation"),
    (11, "time-exceeded"),
    (12, "parameter-problem"),
    (13, "timestamp-request"),
    (14, "timestamp-reply"),
    (15, "info-request"),
    (16, "info-reply"),
    (17, "address-mask-request"),
    (18, "address-mask-reply"),
];
const ICMP6_TYPES: &[(u8, &str)] = &[
    (1, "destination-unreachable"),
    (2, "packet-too-big"),
    (3, "time-exceeded"),
    (4, "parameter-problem"),
    (128, "echo-request"),
    (129, "echo-reply"),
    (130, "mld-listener-query"),
    (131, "mld-listener-report"),
    (132, "mld-listener-done"),
    (133, "nd-router-solicit"),
    (134, "nd-router-advert"),
    (135, "nd-neighbor-solicit"),
    (136, "nd-neighbor-advert"),
    (137, "nd-redirect"),
    (138, "router-renumbering"),
    (141, "ind-neighbor-solicit"),
    (142, "ind-neighbor-advert"),
    (143, "mld2-listener-report"),
];
const FIB_TYPES: &[(u64, &str)] = &[
    (0, "unspec"),
    (1, "unicast"),
    (2, "local"),
    (3, "broadcast"),
    (4, "anycast"),
    (5, "multicast"),
    (6, "blackhole"),
    (7, "unreachable"),
    (8, "prohibit"),
];

fn flag_names(v: u64, names: &[(u64, &str)]) -> String {
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, n) in names {
        if v & bit != 0 {
            parts.push(n.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 || parts.is_empty() {
        parts.push(format!("0x{rest:x}"));
    }
    parts.join(",")
}

fn table_name(b: &[u8], t: &[(u8, &str)]) -> String {
    let v = b.first().copied().unwrap_or(0);
    t.iter()
        .find(|(k, _)| *k == v)
        .map_or_else(|| v.to_string(), |(_, n)| (*n).to_owned())
}

fn table_name_u32(v: u64, t: &[(u64, &str)]) -> String {
    t.iter()
        .find(|(k, _)| *k == v)
        .map_or_else(|| v.to_string(), |(_, n)| (*n).to_owned())
}

/// A protocol's name as nft prints it: the first name /etc/protocols gives the number (nft
/// asks getprotobynumber), else the number.
fn proto_name(p: u8) -> String {
    static NAMES: OnceLock<HashMap<u8, String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
        let mut m = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(name), Some(num)) = (it.next(), it.next()) else {
                continue;
            };
            if let Ok(n) = num.parse::<u8>() {
                m.entry(n).or_insert_with(|| name.to_owned());
            }
        }
        m
    });
    names.get(&p).cloned().unwrap_or_else(|| p.to_string())
}

// ---- the expression printer -----------------------------------------------------------

/// A register's content as nft would name it.
#[derive(Debug, Clone)]
struct Field {
    text: String,
    fmt: Fmt,
    /// Byte length of the loaded value (for prefixes).
    len: usize,
    /// Prefix-able (addresses loaded partially mean `/len*8`).
    addr_bits: Option<usize>,
    mask: Option<Box<[u8]>>,
    /// What a comparison on it means as a dependency (`meta l4proto`, `meta nfproto`, ...).
    dep: Option<DepKind>,
    /// nft drops the dependency before an adjacent field it implies.
    dep_killable: bool,
    /// The value of a map lookup (usable by statements, not comparable).
    map: bool,
    /// Loading it dropped a protocol dependency (nft keeps some before maps in statements).
    dep_killed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DepKind {
    L4,
    L3,
    Ll,
}

#[derive(Debug, Clone)]
enum RegVal {
    Field(Field),
    Imm(Box<[u8]>),
    /// The rest of a concatenated map value that starts in an earlier register.
    MapRest,
}

struct Item {
    text: String,
    /// A protocol dependency: kind, value, and whether nft drops it before an adjacent field
    /// of that protocol.
    dep: Option<(DepKind, u64, bool)>,
    killed: bool,
    /// `FIELD >= VALUE`: joined with a following `FIELD <= HI` into `FIELD VALUE-HI`.
    ge: Option<(String, String)>,
    /// A match (comparison, range, set lookup), not a statement.
    is_match: bool,
}

struct Printer<'t> {
    table: &'t NftTable,
    names: &'t Ifnames,
    sets: &'t SetIndex<'t>,
    /// By 32-bit register slot (NFT_REG_1..4 are slots 8, 12, 16, 20).
    regs: [Option<RegVal>; 24],
    items: Vec<Item>,
    problems: Vec<String>,
}

/// The 32-bit slot of a register number (0: the verdict register).
fn slot(r: u32) -> Option<usize> {
    match r {
        0 => Some(0),
        1..=4 => Some(8 + (r as usize - 1) * 4),
        8..=23 => Some(r as usize),
        _ => None,
    }
}

/// Header keywords: the protocol names nft uses for transport headers.
fn l4_header(p: u64) -> Option<&'static str> {
    Some(match p {
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        132 => "sctp",
        136 => "udplite",
        _ => return None,
    })
}

impl<'t> Printer<'t> {
    fn new(table: &'t NftTable, names: &'t Ifnames, sets: &'t SetIndex<'t>) -> Self {
        Self {
            table,
            names,
            sets,
            regs: Default::default(),
            items: Vec::with_capacity(8),
            problems: Vec::new(),
        }
    }

    /// The statements, appended to `out`, or why they cannot be printed (`out` untouched).
    fn finish_into(self, out: &mut String) -> Result<(), String> {
        if !self.problems.is_empty() {
            return Err(self.problems.join("; "));
        }
        let mut sep = "";
        for i in self.items.iter().filter(|i| !i.killed) {
            out.push_str(sep);
            out.push_str(&i.text);
            sep = " ";
        }
        Ok(())
    }

    fn push(&mut self, text: String) {
        self.items.push(Item {
            text,
            dep: None,
            killed: false,
            ge: None,
            is_match: false,
        });
    }

    fn push_match(&mut self, text: String) {
        self.push(text);
        if let Some(i) = self.items.last_mut() {
            i.is_match = true;
        }
    }

    fn bad(&mut self, why: impl Into<String>) {
        let why = why.into();
        if !self.problems.contains(&why) {
            self.problems.push(why);
        }
    }

    fn value(&mut self, f: &Fmt, b: &[u8]) -> String {
        match f.value_named(b, self.names) {
            Ok(v) => v,
            Err(why) => {
                self.bad(why);
                String::new()
            }
        }
    }

    /// The last live dependency of `kind`, if any: its value.
    fn dep_value(&self, kind: DepKind) -> Option<u64> {
        // Dropped from the text, a dependency still sets the protocol context.
        self.items
            .iter()
            .rev()
            .find_map(|i| i.dep.filter(|d| d.0 == kind).map(|d| d.1))
    }

    /// nft drops a dependency only when it is the statement right before the field that
    /// implies it.
    /// (Other matches in between do not count; a statement such as `counter` or
    /// `meta mark set` does.)
    fn kill_dep(&mut self, kind: DepKind) {
        for i in self.items.iter_mut().rev().filter(|i| !i.killed) {
            match i.dep {
                Some(d) if d.0 == kind => {
                    if d.2 {
                        i.killed = true;
                    }
                    return;
                }
                _ if i.is_match => continue,
                _ => return,
            }
        }
    }

    /// A statement implying a protocol (`reject with tcp reset`) drops its dependency
    /// wherever it is.
    fn kill_dep_anywhere(&mut self, kind: DepKind) {
        if let Some(i) = self
            .items
            .iter_mut()
            .rev()
            .find(|i| !i.killed && i.dep.is_some_and(|d| d.0 == kind && d.2))
        {
            i.killed = true;
        }
    }

    fn reg(&self, n: u32) -> Option<RegVal> {
        self.regs.get(slot(n)?).cloned().flatten()
    }

    fn set(&mut self, n: u32, v: RegVal) {
        if let Some(slot) = slot(n).and_then(|s| self.regs.get_mut(s)) {
            *slot = Some(v);
        }
    }

    fn field(&mut self, n: u32, what: &str) -> Option<Field> {
        match self.reg(n) {
            Some(RegVal::Field(f)) if !f.map => Some(f),
            _ => {
                self.bad(format!("{what} on a register nfprobe cannot name"));
                None
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Meta(m) => self.meta(m),
            Expr::Payload(p) => self.payload(p),
            Expr::Ct(c) => self.ct(c),
            Expr::Fib(f) => self.fib(f),
            Expr::Bitwise(b) => self.bitwise(b),
            Expr::Cmp(c) => self.cmp(c.sreg, c.op, &c.data),
            Expr::Range(r) => {
                let Some(f) = self.field(r.sreg, "range") else {
                    return;
                };
                if f.mask.is_some() {
                    return self.bad("a range on a masked field");
                }
                let op = if r.op == 1 { "!= " } else { "" };
                let nf = f.fmt.numeric();
                let (a, b) = (self.value(&nf, &r.from), self.value(&nf, &r.to));
                self.push_match(format!("{} {op}{a}-{b}", f.text));
            }
            Expr::Lookup(l) => self.lookup(l),
            Expr::Immediate(i) => self.immediate(i),
            Expr::Counter(c) => {
                self.push(format!("counter packets {} bytes {}", c.packets, c.bytes))
            }
            Expr::Limit(l) => self.push(limit_str(l)),
            Expr::Log(l) => match log_str(l) {
                Ok(s) => self.push(s),
                Err(why) => self.bad(why),
            },
            Expr::Reject(r) => match self.reject_str(r) {
                Some(s) => {
                    let ip_family = matches!(self.table.family, NftFamily::Ip | NftFamily::Ip6);
                    if s == "reject with tcp reset"
                        && ip_family
                        && self.dep_value(DepKind::L4) == Some(6)
                    {
                        self.kill_dep_anywhere(DepKind::L4);
                    }
                    if !ip_family && s.starts_with("reject with icmp") && !s.contains("icmpx") {
                        self.kill_dep_anywhere(DepKind::L3);
                    }
                    self.push(s)
                }
                None => self.bad("this reject type or code is not rendered by nfprobe"),
            },
            Expr::Nat(n) => self.nat(n),
            Expr::Masq(m) => {
                let mut s = "masquerade".to_owned();
                let r = self.proto_range(m.reg_proto_min, m.reg_proto_max);
                s.push_str(&r);
                s.push_str(&self.nat_flags(m.flags.unwrap_or(0)));
                self.push(s);
            }
            Expr::Redir(r) => {
                let mut s = "redirect".to_owned();
                let pr = self.proto_range(r.reg_proto_min, r.reg_proto_max);
                s.push_str(&pr);
                s.push_str(&self.nat_flags(r.flags.unwrap_or(0)));
                self.push(s);
            }
            Expr::Objref(o) => match (o.imm_type, &o.imm_name) {
                (Some(t), Some(n)) => {
                    let text = match t {
                        1 => format!("counter name {}", quote(n)),
                        2 => format!("quota name {}", quote(n)),
                        3 => format!("ct helper set {}", quote(n)),
                        4 => format!("limit name {}", quote(n)),
                        7 => format!("ct timeout set {}", quote(n)),
                        8 => format!("meta secmark set {}", quote(n)),
                        9 => format!("ct expectation set {}", quote(n)),
                        10 => format!("synproxy name {}", quote(n)),
                        _ => return self.bad(format!("a reference to an object of type {t}")),
                    };
                    self.push(text);
                }
                _ => self.bad("object references through a map are not rendered by nfprobe"),
            },
            Expr::Notrack(_) => self.push("notrack".into()),
            Expr::Quota(q) => {
                let over = if q.flags.unwrap_or(0) & 1 != 0 {
                    "over "
                } else {
                    ""
                };
                let mut s = format!("quota {over}{}", bytes_str(q.bytes));
                if let Some(c) = q.consumed
                    && c > 0
                {
                    let _ = write!(s, " used {}", bytes_str(c));
                }
                self.push(s);
            }
            Expr::Synproxy(sp) => {
                let mut s = "synproxy".to_owned();
                let fl = sp.flags.unwrap_or(0);
                if let Some(m) = sp.mss.filter(|_| fl & 1 != 0) {
                    let _ = write!(s, " mss {m}");
                }
                if let Some(w) = sp.wscale.filter(|_| fl & 2 != 0) {
                    let _ = write!(s, " wscale {w}");
                }
                let o = synproxy_opts(sp.flags.unwrap_or(0));
                if !o.is_empty() {
                    s.push(' ');
                    s.push_str(&o);
                }
                self.push(s);
            }
            Expr::Match(x) => self.bad(format!(
                "xt match {}: the iptables extension's translation is not rendered by nfprobe",
                quote(&x.name)
            )),
            Expr::Target(x) => self.bad(format!(
                "xt target {}: the iptables extension's translation is not rendered by nfprobe",
                quote(&x.name)
            )),
            Expr::Raw(r) => self.bad(format!(
                "{} expression did not decode: {}",
                r.name, r.reason
            )),
            other => self.bad(format!(
                "{} expression: not rendered by nfprobe",
                other.name()
            )),
        }
    }

    fn fib(&mut self, f: &fib::Fib) {
        let mut parts = Vec::new();
        for (bit, n) in [
            (fib::F_SADDR, "saddr"),
            (fib::F_DADDR, "daddr"),
            (fib::F_MARK, "mark"),
            (fib::F_IIF, "iif"),
            (fib::F_OIF, "oif"),
        ] {
            if f.flags & bit != 0 {
                parts.push(n);
            }
        }
        if f.flags & !0x3f != 0 {
            return self.bad("fib flags not rendered by nfprobe");
        }
        let (res, fmt) = match f.result {
            // NFTA_FIB_F_PRESENT: `fib ... oif missing` / `exists`.
            fib::RESULT_OIF | fib::RESULT_OIFNAME if f.flags & fib::F_PRESENT != 0 => (
                if f.result == fib::RESULT_OIF {
                    "oif"
                } else {
                    "oifname"
                },
                Fmt::Exists,
            ),
            _ if f.flags & fib::F_PRESENT != 0 => {
                return self.bad("fib flags not rendered by nfprobe");
            }
            fib::RESULT_OIF => ("oif", Fmt::Ifindex),
            fib::RESULT_OIFNAME => ("oifname", Fmt::Ifname),
            fib::RESULT_ADDRTYPE => ("type", Fmt::FibAddr),
            _ => return self.bad("fib result not rendered by nfprobe"),
        };
        let text = format!("fib {} {res}", parts.join(" . "));
        self.set(f.dreg, field(text, fmt, 4, None));
    }

    fn meta(&mut self, m: &meta::Meta) {
        let name = meta::key_name(m.key).unwrap_or("unknown");
        if let (Some(d), None) = (m.dreg, m.sreg) {
            let (fmt, dep) = match m.key {
                meta::KEY_IIFNAME
                | meta::KEY_OIFNAME
                | meta::KEY_BRI_IIFNAME
                | meta::KEY_BRI_OIFNAME => (Fmt::Ifname, None),
                meta::KEY_IIF | meta::KEY_OIF => (Fmt::Ifindex, None),
                meta::KEY_L4PROTO => (Fmt::Proto, Some(DepKind::L4)),
                meta::KEY_NFPROTO => (Fmt::Nfproto, Some(DepKind::L3)),
                meta::KEY_PROTOCOL => (Fmt::EtherType, Some(DepKind::L3)),
                meta::KEY_MARK => (Fmt::Mark, None),
                meta::KEY_LEN => (Fmt::HostInt, None),
                // cpu, cgroup: plain host-order numbers.
                20 | 23 => (Fmt::HostInt, None),
                meta::KEY_IIFTYPE => (Fmt::ArpHrd, Some(DepKind::Ll)),
                meta::KEY_OIFTYPE => (Fmt::ArpHrd, None),
                meta::KEY_PKTTYPE => (Fmt::PktType, None),
                meta::KEY_PRIORITY => (Fmt::Priority, None),
                _ => return self.bad(format!("meta {name}: not rendered by nfprobe")),
            };
            // nft prints the short form for these keys.
            let text = match m.key {
                meta::KEY_IIFNAME | meta::KEY_OIFNAME | meta::KEY_IIF | meta::KEY_OIF => {
                    name.to_owned()
                }
                _ => format!("meta {name}"),
            };
            let mut f = field(text, fmt, 4, None);
            if let RegVal::Field(ff) = &mut f {
                ff.dep = dep;
                match m.key {
                    meta::KEY_PROTOCOL | meta::KEY_IIFTYPE | meta::KEY_OIFTYPE => ff.len = 2,
                    meta::KEY_IIFNAME
                    | meta::KEY_OIFNAME
                    | meta::KEY_BRI_IIFNAME
                    | meta::KEY_BRI_OIFNAME => ff.len = 16,
                    _ => {}
                }
            }
            self.set(d, f);
        } else if let Some(s) = m.sreg {
            let fmt = match m.key {
                meta::KEY_MARK => Fmt::Mark,
                meta::KEY_PRIORITY => Fmt::Priority,
                meta::KEY_PKTTYPE => Fmt::PktType,
                _ => return self.bad(format!("meta {name} set: not rendered by nfprobe")),
            };
            let v = match self.reg(s) {
                Some(RegVal::Imm(v)) => self.value(&fmt, &v),
                Some(RegVal::Field(f)) if f.map || f.mask.is_none() => f.text,
                _ => return self.bad(format!("meta {name} set from an expression")),
            };
            self.push(format!("meta {name} set {v}"));
        } else {
            self.bad("meta without a register");
        }
    }

    fn ct(&mut self, c: &ct::Ct) {
        let name = ct::key_name(c.key).unwrap_or("unknown");
        let dir = match c.direction {
            Some(0) => "original ",
            Some(1) => "reply ",
            None => "",
            Some(_) => return self.bad("ct direction not rendered by nfprobe"),
        };
        if let Some(d) = c.dreg {
            let fmt = match c.key {
                ct::KEY_STATE => Fmt::CtState,
                ct::KEY_MARK => Fmt::Mark,
                ct::KEY_DIRECTION => Fmt::CtDir,
                ct::KEY_STATUS => Fmt::CtStatus,
                7 => Fmt::Nfproto,
                10 => Fmt::Proto,
                _ => return self.bad(format!("ct {dir}{name}: not rendered by nfprobe")),
            };
            if !dir.is_empty() && c.key <= ct::KEY_MARK {
                return self.bad(format!("ct {dir}{name}: not rendered by nfprobe"));
            }
            self.set(d, field(format!("ct {dir}{name}"), fmt, 4, None));
        } else if let Some(s) = c.sreg {
            if c.key != ct::KEY_MARK || !dir.is_empty() {
                return self.bad(format!("ct {dir}{name} set: not rendered by nfprobe"));
            }
            let v = match self.reg(s) {
                Some(RegVal::Imm(v)) => Fmt::Mark.value(&v),
                Some(RegVal::Field(f)) if f.map || f.mask.is_none() => f.text,
                _ => return self.bad(format!("ct {name} set from an expression")),
            };
            self.push(format!("ct {name} set {v}"));
        } else {
            self.bad("ct without a register");
        }
    }

    fn payload(&mut self, p: &payload::Payload) {
        let Some(d) = p.dreg else {
            return self.bad("payload write (`... set`): not rendered by nfprobe");
        };
        if p.sreg.is_some() || p.csum_type.is_some_and(|c| c != 0) {
            return self.bad("payload write (`... set`): not rendered by nfprobe");
        }
        let fam = self.table.family;
        let (off, len) = (p.offset, p.len);
        let l3 = match fam {
            NftFamily::Ip => Some(2),
            NftFamily::Ip6 => Some(10),
            _ => self.dep_value(DepKind::L3),
        };
        type Named = (String, Fmt, Option<usize>, DepKind);
        let named: Option<Named> = match p.base {
            payload::BASE_NETWORK => match l3 {
                Some(2) => match (off, len) {
                    (12, 1..=4) => Some(("ip saddr".into(), Fmt::Ipv4, Some(4), DepKind::L3)),
                    (16, 1..=4) => Some(("ip daddr".into(), Fmt::Ipv4, Some(4), DepKind::L3)),
                    (9, 1) => Some(("ip protocol".into(), Fmt::Proto, None, DepKind::L3)),
                    (8, 1) => Some(("ip ttl".into(), Fmt::Int, None, DepKind::L3)),
                    (2, 2) => Some(("ip length".into(), Fmt::Int, None, DepKind::L3)),
                    (4, 2) => Some(("ip id".into(), Fmt::Int, None, DepKind::L3)),
                    (10, 2) => Some(("ip checksum".into(), Fmt::Int, None, DepKind::L3)),
                    _ => None,
                },
                Some(10) => match (off, len) {
                    (8, 1..=16) => Some(("ip6 saddr".into(), Fmt::Ipv6, Some(16), DepKind::L3)),
                    (24, 1..=16) => Some(("ip6 daddr".into(), Fmt::Ipv6, Some(16), DepKind::L3)),
                    (6, 1) => Some(("ip6 nexthdr".into(), Fmt::Proto, None, DepKind::L3)),
                    (7, 1) => Some(("ip6 hoplimit".into(), Fmt::Int, None, DepKind::L3)),
                    (4, 2) => Some(("ip6 length".into(), Fmt::Int, None, DepKind::L3)),
                    _ => None,
                },
                _ => None,
            },
            payload::BASE_TRANSPORT => {
                let proto = self.dep_value(DepKind::L4);
                let l4 = proto.and_then(l4_header);
                match (proto, off, len) {
                    (_, 0, 2) if l4.is_some() => Some((
                        format!("{} sport", l4.unwrap_or_default()),
                        Fmt::Port,
                        None,
                        DepKind::L4,
                    )),
                    (_, 2, 2) if l4.is_some() => Some((
                        format!("{} dport", l4.unwrap_or_default()),
                        Fmt::Port,
                        None,
                        DepKind::L4,
                    )),
                    (Some(6), 13, 1) => {
                        Some(("tcp flags".into(), Fmt::TcpFlags, None, DepKind::L4))
                    }
                    (Some(6), 4, 4) => Some(("tcp sequence".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(6), 8, 4) => Some(("tcp ackseq".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(6), 14, 2) => Some(("tcp window".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(6), 16, 2) => Some(("tcp checksum".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(6), 18, 2) => Some(("tcp urgptr".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(17), 4, 2) => Some(("udp length".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(17), 6, 2) => Some(("udp checksum".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(1), 0, 1) => Some(("icmp type".into(), Fmt::IcmpType, None, DepKind::L4)),
                    (Some(1), 1, 1) => Some(("icmp code".into(), Fmt::IcmpCode, None, DepKind::L4)),
                    (Some(58), 0, 1) => {
                        Some(("icmpv6 type".into(), Fmt::Icmp6Type, None, DepKind::L4))
                    }
                    (Some(58), 1, 1) => {
                        Some(("icmpv6 code".into(), Fmt::Icmp6Code, None, DepKind::L4))
                    }
                    _ => None,
                }
            }
            payload::BASE_LL
                if self.dep_value(DepKind::Ll) == Some(1) || fam == NftFamily::Bridge =>
            {
                match (off, len) {
                    (0, 6) => Some(("ether daddr".into(), Fmt::Ether, None, DepKind::Ll)),
                    (6, 6) => Some(("ether saddr".into(), Fmt::Ether, None, DepKind::Ll)),
                    (12, 2) => Some(("ether type".into(), Fmt::EtherType, None, DepKind::Ll)),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some((text, fmt, bits, dep)) = named else {
            let base = ["ll", "nh", "th", "ih"]
                .get(p.base as usize)
                .unwrap_or(&"?");
            return self.bad(format!(
                "payload @{base},{},{}: a header field nfprobe does not name",
                u64::from(off) * 8,
                u64::from(len) * 8
            ));
        };
        // The header dependency (and, for icmp/icmpv6, the family) is implied.
        let live = self.items.iter().filter(|i| !i.killed).count();
        if dep == DepKind::Ll {
            // nft drops the link-layer type check (`meta iiftype ether`) wherever it is.
            self.kill_dep_anywhere(dep);
        } else {
            self.kill_dep(dep);
        }
        let dep_killed = self.items.iter().filter(|i| !i.killed).count() != live;
        let l3_of_icmp = match fmt {
            Fmt::IcmpType => Some(2),
            Fmt::Icmp6Type => Some(10),
            _ => None,
        };
        if dep == DepKind::L4 && l3_of_icmp.is_some() && self.dep_value(DepKind::L3) == l3_of_icmp {
            self.kill_dep(DepKind::L3);
        }
        let mut f = field(text, fmt, len as usize, bits);
        if let RegVal::Field(ff) = &mut f {
            ff.dep_killed = dep_killed;
            // `ip protocol`/`ip6 nexthdr` tell which transport header follows; `ether type`
            // which network header.
            match ff.text.as_str() {
                "ip protocol" | "ip6 nexthdr" => {
                    ff.dep = Some(DepKind::L4);
                    ff.dep_killable = matches!(fam, NftFamily::Ip | NftFamily::Ip6);
                }
                "ether type" => ff.dep = Some(DepKind::L3),
                _ => {}
            }
        }
        self.set(d, f);
    }

    fn bitwise(&mut self, b: &bitwise::Bitwise) {
        let Some(mut f) = self.field(b.sreg, "bitwise") else {
            return;
        };
        if b.op.is_some_and(|o| o != bitwise::OP_BOOL) {
            return self.bad("bitwise shift: not rendered by nfprobe");
        }
        if b.xor.as_ref().is_some_and(|x| x.iter().any(|&v| v != 0)) || f.mask.is_some() {
            return self.bad("bitwise xor: not rendered by nfprobe");
        }
        f.mask = b.mask.clone();
        self.set(b.dreg, RegVal::Field(f));
    }

    fn cmp(&mut self, sreg: u32, op: u32, data: &[u8]) {
        let Some(f) = self.field(sreg, "cmp") else {
            return;
        };
        let Some(ops) = cmp::op_str(op) else {
            return self.bad("cmp operator not rendered by nfprobe");
        };
        let sp = if ops.is_empty() { "" } else { " " };
        if let Some(mask) = &f.mask {
            // Flag-like fields: `ct state established,related` is `state & mask != 0`.
            let zero = data.iter().all(|&b| b == 0);
            if matches!(f.fmt, Fmt::CtState | Fmt::CtStatus) && zero && op == cmp::OP_NEQ {
                let t = format!("{} {}", f.text, f.fmt.value(mask));
                return self.push_match(t);
            }
            if matches!(f.fmt, Fmt::CtState | Fmt::CtStatus) && zero && op == cmp::OP_EQ {
                let t = format!("{} ! {}", f.text, f.fmt.value(mask));
                return self.push_match(t);
            }
            if matches!(f.fmt, Fmt::TcpFlags) {
                let (d, m) = (f.fmt.value(data), f.fmt.value(mask));
                let t = match (op, zero) {
                    (cmp::OP_NEQ, true) => format!("{} {m}", f.text),
                    (cmp::OP_EQ, true) => format!("{} ! {m}", f.text),
                    (cmp::OP_EQ, false) if data != &mask[..] => format!("{} {d} / {m}", f.text),
                    (cmp::OP_NEQ, false) if data != &mask[..] => {
                        format!("{} != {d} / {m}", f.text)
                    }
                    (cmp::OP_EQ, false) if mask.iter().all(|&b| b == 0xff) => {
                        format!("{} == {}", f.text, tcp_flags_exact(data))
                    }
                    (cmp::OP_EQ, false) if single_bit(mask) => format!("{} & {m} == {d}", f.text),
                    (cmp::OP_NEQ, false) if single_bit(mask) => format!("{} & {m} != {d}", f.text),
                    (cmp::OP_EQ, false) => format!("{} {d} / {m}", f.text),
                    (cmp::OP_NEQ, false) => format!("{} != {d} / {m}", f.text),
                    _ => return self.bad("tcp flags comparison not rendered by nfprobe"),
                };
                return self.push_match(t);
            }
            if let (Some(bits), Some(pl)) = (f.addr_bits, prefix_len(mask)) {
                let mut full = data.to_vec();
                full.resize(bits, 0);
                let v = self.value(&f.fmt, &full);
                return self.push_match(format!("{} {ops}{sp}{v}/{pl}", f.text));
            }
            // Marks: `meta mark & 0x00000003 == 0x00000002` (Docker 29's fwmark rules).
            if matches!(f.fmt, Fmt::Mark) && matches!(op, cmp::OP_EQ | cmp::OP_NEQ) {
                // A mask of leading ones is a prefix: `meta mark 0xffffff00/24`.
                let m = host_uint(mask) as u32;
                if mask.len() == 4 && m != 0 && m.leading_ones() + m.trailing_zeros() == 32 {
                    let o = if op == cmp::OP_EQ { "" } else { "!= " };
                    let t = format!("{} {o}{}/{}", f.text, f.fmt.value(data), m.leading_ones());
                    return self.push_match(t);
                }
                let o = if op == cmp::OP_EQ { "==" } else { "!=" };
                let t = format!(
                    "{} & {} {o} {}",
                    f.text,
                    f.fmt.value(mask),
                    f.fmt.value(data)
                );
                return self.push_match(t);
            }
            return self.bad(format!("{} with a mask: not rendered by nfprobe", f.text));
        }
        if let Some(bits) = f.addr_bits
            && f.len < bits
        {
            let mut full = data.to_vec();
            full.resize(bits, 0);
            let v = self.value(&f.fmt, &full);
            return self.push_match(format!("{} {ops}{sp}{v}/{}", f.text, f.len * 8));
        }
        if matches!(f.fmt, Fmt::Exists) && op != cmp::OP_EQ {
            return self.bad("a negated exists/missing test: not rendered by nfprobe");
        }
        let v = self.value(&f.fmt, data);
        if matches!(f.fmt, Fmt::TcpFlags) && op == cmp::OP_EQ {
            let v = if data.first() == Some(&0xff) {
                "0xff".into()
            } else {
                v
            };
            return self.push_match(format!("{} == {v}", f.text));
        }
        if op == cmp::OP_LTE
            && let Some(last) = self.items.last_mut()
            && let Some((ft, lo)) = &last.ge
            && *ft == f.text
        {
            let (lo, hi) = (lo.clone(), f.fmt.numeric().value(data));
            let last = self.items.last_mut().expect("checked above");
            last.text = format!("{} {lo}-{hi}", f.text);
            last.ge = None;
            return;
        }
        let text = format!("{} {ops}{sp}{v}", f.text);
        let dep = match (f.dep, op) {
            (Some(k), cmp::OP_EQ) => Some((k, dep_val(&f.fmt, data), f.dep_killable)),
            _ => None,
        };
        let ge = (op == cmp::OP_GTE).then(|| (f.text.clone(), f.fmt.numeric().value(data)));
        self.items.push(Item {
            text,
            dep,
            killed: false,
            ge,
            is_match: true,
        });
    }

    /// `{ a, b }`, a named `@set`, or what nfprobe cannot render in it.
    fn set_ref(&mut self, name: &str) -> Option<(String, Option<&'t NftSet>)> {
        let set = self.sets.get(name);
        match set {
            Some(s) if s.flags & F_ANONYMOUS != 0 => {
                if let Some(why) = set_unsupported(s) {
                    self.bad(format!("anonymous set: {why}"));
                    return None;
                }
                match set_elements(s, self.names) {
                    Ok(e) => Some((format!("{{ {} }}", e.join(", ")), set)),
                    Err(why) => {
                        self.bad(format!("anonymous set: {why}"));
                        None
                    }
                }
            }
            _ => Some((format!("@{name}"), set)),
        }
    }

    /// The fields of a (possibly concatenated) key starting at `sreg`.
    /// Also: whether a single key's load dropped a protocol dependency.
    fn key_fields(&mut self, sreg: u32, key_len: u32) -> Option<(String, bool)> {
        let mut killed = false;
        let mut s = slot(sreg)?;
        let mut parts = Vec::new();
        let mut got = 0usize;
        loop {
            let Some(Some(RegVal::Field(f))) = self.regs.get(s).cloned() else {
                self.bad("lookup on a register nfprobe cannot name");
                return None;
            };
            if f.map || f.mask.is_some() {
                self.bad("lookup on a masked or mapped value");
                return None;
            }
            got += f.len.div_ceil(4) * 4;
            s += f.len.div_ceil(4);
            parts.push(f.text);
            killed |= f.dep_killed;
            if got >= key_len as usize {
                break;
            }
        }
        Some((parts.join(" . "), killed && parts.len() == 1))
    }

    fn lookup(&mut self, l: &Lookup) {
        let Some((rhs, set)) = self.set_ref(&l.set) else {
            return;
        };
        let key_len = set.map_or(4, |s| s.key_len);
        let first = match self.reg(l.sreg) {
            Some(RegVal::Field(f)) => Some(f.fmt),
            _ => None,
        };
        // Plain integer sets hold big-endian values: fine for header fields, not for
        // host-order keys (meta, ct), whose elements nft converts with a byteorder step.
        if let Some(s) = set
            && s.key_type == dt::INTEGER
            && first != Some(Fmt::Int)
        {
            return self.bad("integer sets of host-order values not rendered by nfprobe");
        }
        let Some((lhs, dep_killed)) = self.key_fields(l.sreg, key_len) else {
            return;
        };
        let inv = if l.flags.unwrap_or(0) & 1 != 0 {
            "!= "
        } else {
            ""
        };
        match l.dreg {
            None => self.push_match(format!("{lhs} {inv}{rhs}")),
            Some(0) => self.push(format!("{lhs} vmap {rhs}")),
            Some(d) => {
                let mut f = match field(format!("{lhs} map {rhs}"), Fmt::Int, 4, None) {
                    RegVal::Field(f) => f,
                    _ => return,
                };
                f.map = true;
                f.dep_killed = dep_killed;
                self.set(d, RegVal::Field(f));
                // A concatenated value fills the registers after the first.
                let data_len = set.and_then(|s| s.data_len).unwrap_or(4) as usize;
                if let Some(s0) = slot(d) {
                    for extra in 1..data_len.div_ceil(4) {
                        if let Some(r) = self.regs.get_mut(s0 + extra) {
                            *r = Some(RegVal::MapRest);
                        }
                    }
                }
            }
        }
    }

    fn immediate(&mut self, i: &Immediate) {
        match &i.data {
            NftData::Verdict(v) => self.push(verdict_str(v)),
            NftData::Value(v) => self.set(i.dreg, RegVal::Imm(v.clone())),
        }
    }

    fn imm(&self, r: Option<u32>) -> Option<Box<[u8]>> {
        match self.reg(r?) {
            Some(RegVal::Imm(v)) => Some(v),
            _ => None,
        }
    }

    fn proto_range(&mut self, min: Option<u32>, max: Option<u32>) -> String {
        if min.is_none() {
            return String::new();
        }
        match (self.imm(min), self.imm(max)) {
            (Some(a), Some(b)) if a != b => format!(" to :{}-{}", be_uint(&a), be_uint(&b)),
            (Some(a), _) => format!(" to :{}", be_uint(&a)),
            _ => match min.and_then(|m| self.reg(m)) {
                Some(RegVal::Field(f))
                    if f.map && max.is_none_or(|x| Some(x) == min) && !f.dep_killed =>
                {
                    format!(" to :{}", f.text)
                }
                _ => {
                    self.bad("a port range from an expression nfprobe does not render");
                    String::new()
                }
            },
        }
    }

    fn nat_flags(&mut self, f: u32) -> String {
        // NF_NAT_RANGE_MAP_IPS | PROTO_SPECIFIED are implied by the addresses and ports.
        let f = f & !0x3;
        if f & !(0x4 | 0x8 | 0x10) != 0 {
            self.bad(format!("nat flags 0x{f:x}: not rendered by nfprobe"));
            return String::new();
        }
        let mut v = Vec::new();
        if f & 0x4 != 0 {
            v.push("random");
        }
        if f & 0x10 != 0 {
            v.push("fully-random");
        }
        if f & 0x8 != 0 {
            v.push("persistent");
        }
        if v.is_empty() {
            String::new()
        } else {
            format!(" {}", v.join(","))
        }
    }

    fn nat(&mut self, n: &Nat) {
        let kind = match n.nat_type {
            0 => "snat",
            1 => "dnat",
            _ => return self.bad("nat type not rendered by nfprobe"),
        };
        let fam = match (self.table.family, n.family) {
            (NftFamily::Inet, 2) => " ip",
            (NftFamily::Inet, 10) => " ip6",
            (NftFamily::Ip, 2) | (NftFamily::Ip6, 10) => "",
            _ => return self.bad("nat family not rendered by nfprobe"),
        };
        let afmt = if n.family == 10 { Fmt::Ipv6 } else { Fmt::Ipv4 };
        let flags = self.nat_flags(n.flags.unwrap_or(0));
        // An address from a map: `dnat to EXPR map { ... }`, the port in the same map.
        if let Some(RegVal::Field(f)) = n.reg_addr_min.and_then(|r| self.reg(r)) {
            if !f.map {
                return self.bad("nat address from an expression nfprobe does not render");
            }
            let rest_ok = n.reg_addr_max.is_none_or(|r| Some(r) == n.reg_addr_min)
                && n.reg_proto_min
                    .is_none_or(|r| matches!(self.reg(r), Some(RegVal::MapRest)))
                && n.reg_proto_max
                    .is_none_or(|r| matches!(self.reg(r), Some(RegVal::MapRest)));
            if !rest_ok {
                return self.bad("nat ranges from a map: not rendered by nfprobe");
            }
            // nft names the family when the map gives address and port, in ip tables too.
            let fam = match (fam, n.reg_proto_min.is_some(), n.family) {
                ("", true, 2) => " ip",
                ("", true, 10) => " ip6",
                (f, _, _) => f,
            };
            return self.push(format!("{kind}{fam} to {}{flags}", f.text));
        }
        let amin = self.imm(n.reg_addr_min);
        let amax = self.imm(n.reg_addr_max);
        if n.reg_addr_min.is_some() && amin.is_none() {
            return self.bad("nat address from an expression nfprobe does not render");
        }
        let v6port = n.family == 10 && n.reg_proto_min.is_some();
        let one = |v: &[u8]| {
            if v6port {
                format!("[{}]", afmt.value(v))
            } else {
                afmt.value(v)
            }
        };
        let addr = match (&amin, &amax) {
            (Some(a), Some(b)) if a != b => {
                // A range that is a prefix prints as one (`10.0.0.0/24`).
                match range_text(&afmt, a, b, self.names) {
                    Ok(t) if t.contains('/') && !v6port => t,
                    _ => format!("{}-{}", one(a), one(b)),
                }
            }
            (Some(a), _) => one(a),
            _ => String::new(),
        };
        let port = match (self.imm(n.reg_proto_min), self.imm(n.reg_proto_max)) {
            (Some(a), Some(b)) if a != b => format!(":{}-{}", be_uint(&a), be_uint(&b)),
            (Some(a), _) => format!(":{}", be_uint(&a)),
            _ if n.reg_proto_min.is_some() => {
                return self.bad("nat port from an expression nfprobe does not render");
            }
            _ => String::new(),
        };
        if addr.is_empty() && port.is_empty() {
            return self.bad("nat without an address or port");
        }
        self.push(format!("{kind}{fam} to {addr}{port}{flags}"));
    }

    fn reject_str(&self, r: &Reject) -> Option<String> {
        use crate::kernel::nft::expr::reject::{
            TYPE_ICMP_UNREACH, TYPE_ICMPX_UNREACH, TYPE_TCP_RST,
        };
        let code = r.icmp_code.unwrap_or(0);
        let fam = self.table.family;
        Some(match (r.reject_type, fam, code) {
            (TYPE_TCP_RST, _, _) => "reject with tcp reset".into(),
            (TYPE_ICMPX_UNREACH, NftFamily::Inet | NftFamily::Bridge | NftFamily::Netdev, 1) => {
                "reject".into()
            }
            (TYPE_ICMP_UNREACH, NftFamily::Ip, 3) | (TYPE_ICMP_UNREACH, NftFamily::Ip6, 4) => {
                "reject".into()
            }
            (TYPE_ICMPX_UNREACH, _, c) => {
                let n = [
                    "no-route",
                    "port-unreachable",
                    "host-unreachable",
                    "admin-prohibited",
                ]
                .get(c as usize)?;
                format!("reject with icmpx {n}")
            }
            (TYPE_ICMP_UNREACH, NftFamily::Inet | NftFamily::Bridge | NftFamily::Netdev, c)
                if self.dep_value(DepKind::L3) == Some(2) =>
            {
                let n = ICMP_CODES.iter().find(|(k, _)| *k == c)?.1;
                format!("reject with icmp {n}")
            }
            (TYPE_ICMP_UNREACH, NftFamily::Inet | NftFamily::Bridge | NftFamily::Netdev, c)
                if self.dep_value(DepKind::L3) == Some(10) =>
            {
                let n = ICMP6_CODES.iter().find(|(k, _)| *k == c)?.1;
                format!("reject with icmpv6 {n}")
            }
            (TYPE_ICMP_UNREACH, NftFamily::Ip6, c) => {
                let n = [
                    "no-route",
                    "admin-prohibited",
                    "2",
                    "addr-unreachable",
                    "port-unreachable",
                    "policy-fail",
                    "reject-route",
                ]
                .get(c as usize)?;
                format!("reject with icmpv6 {n}")
            }
            (TYPE_ICMP_UNREACH, NftFamily::Ip, c) => {
                let n = match c {
                    0 => "net-unreachable",
                    1 => "host-unreachable",
                    2 => "prot-unreachable",
                    3 => "port-unreachable",
                    4 => "frag-needed",
                    9 => "net-prohibited",
                    10 => "host-prohibited",
                    13 => "admin-prohibited",
                    _ => return None,
                };
                format!("reject with icmp {n}")
            }
            _ => return None,
        })
    }
}

/// `tcp flags == X`: all eight bits print as `0xff`, as nft does.
fn tcp_flags_exact(data: &[u8]) -> String {
    if data.first() == Some(&0xff) {
        "0xff".into()
    } else {
        Fmt::TcpFlags.value(data)
    }
}

fn single_bit(mask: &[u8]) -> bool {
    mask.iter().map(|b| b.count_ones()).sum::<u32>() == 1
}

/// A dependency's value: the protocol number a comparison pins.
/// Network protocols are kept as NFPROTO values (`ether type ip` and `meta nfproto ipv4` pin
/// the same header).
fn dep_val(fmt: &Fmt, data: &[u8]) -> u64 {
    match fmt {
        Fmt::EtherType => match be_uint(data) {
            0x0800 => 2,
            0x86dd => 10,
            v => v << 16,
        },
        _ => host_uint(data),
    }
}

fn field(text: String, fmt: Fmt, len: usize, addr_bits: Option<usize>) -> RegVal {
    RegVal::Field(Field {
        text,
        fmt,
        len,
        addr_bits,
        mask: None,
        dep: None,
        dep_killable: true,
        map: false,
        dep_killed: false,
    })
}

fn limit_str(l: &Limit) -> String {
    let unit = match l.unit {
        1 => "second",
        60 => "minute",
        3600 => "hour",
        86400 => "day",
        604800 => "week",
        u => return format!("limit rate {}/{u}s", l.rate),
    };
    let over = if l.flags.unwrap_or(0) & 1 != 0 {
        "over "
    } else {
        ""
    };
    let bytes = l.limit_type == Some(1);
    let mut s = if bytes {
        format!("limit rate {over}{}/{unit}", bytes_str(l.rate))
    } else {
        format!("limit rate {over}{}/{unit}", l.rate)
    };
    match l.burst {
        Some(b) if !bytes && b != 5 && b != 0 => {
            let _ = write!(s, " burst {b} packets");
        }
        Some(b) if bytes && b != 0 => {
            let _ = write!(s, " burst {}", bytes_str(u64::from(b)));
        }
        _ => {}
    }
    s
}

fn log_str(l: &Log) -> Result<String, String> {
    let mut s = "log".to_owned();
    if let Some(p) = &l.prefix {
        let _ = write!(s, " prefix {}", quote(p));
    }
    if let Some(g) = l.group {
        let _ = write!(s, " group {g}");
    }
    if let Some(n) = l.snaplen {
        let _ = write!(s, " snaplen {n}");
    }
    if let Some(q) = l.qthreshold {
        let _ = write!(s, " queue-threshold {q}");
    }
    if let Some(lv) = l.level
        && lv != 4
    {
        let n = [
            "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "audit",
        ]
        .get(lv as usize)
        .map_or_else(|| lv.to_string(), |s| (*s).to_owned());
        let _ = write!(s, " level {n}");
    }
    if let Some(f) = l.flags
        && f != 0
    {
        // nft groups them: `flags tcp sequence,options flags ip options flags skuid`.
        if f & !0x2f != 0 {
            return Err(format!("log flags 0x{f:x}: not rendered by nfprobe"));
        }
        if f == 0x2f {
            s.push_str(" flags all");
        } else {
            let tcp: Vec<&str> = [(1, "sequence"), (2, "options")]
                .iter()
                .filter(|(b, _)| f & b != 0)
                .map(|(_, n)| *n)
                .collect();
            if !tcp.is_empty() {
                let _ = write!(s, " flags tcp {}", tcp.join(","));
            }
            if f & 4 != 0 {
                s.push_str(" flags ip options");
            }
            if f & 8 != 0 {
                s.push_str(" flags skuid");
            }
        }
        if f & 0x20 != 0 && f != 0x2f {
            s.push_str(" flags ether");
        }
    }
    Ok(s)
}
