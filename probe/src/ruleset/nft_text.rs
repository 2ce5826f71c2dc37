//! Native nf_tables rulesets in `nft list ruleset` syntax (nftables 1.0.6), rebuilt from the
//! kernel's low-level expressions the way nft does: loads and comparisons become
//! `ip saddr 10.0.0.0/8`, protocol dependencies (`meta l4proto tcp` before `tcp dport`) are
//! folded away, anonymous sets are printed inline, verdict maps as `vmap`.
//!
//! Whatever is not understood is printed visibly as `[raw NAME: reason]` / `[expr ...]`,
//! never skipped. Interface indexes (`iif`) are printed as numbers: names would need the
//! target namespace.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::kernel::nft::chain::POLICY_DROP;
use crate::kernel::nft::expr::{
    bitwise, cmp, ct, fib, immediate::Immediate, limit::Limit, log::Log, lookup::Lookup, meta,
    nat::Nat, payload, reject::Reject,
};
use crate::kernel::nft::set::{
    DATA_TYPE_VERDICT, ELEM_F_CATCHALL, ELEM_F_INTERVAL_END, F_ANONYMOUS, F_CONSTANT, F_INTERVAL,
    F_MAP, F_TIMEOUT,
};
use crate::kernel::nft::{
    Expr, NftChain, NftData, NftFamily, NftRule, NftRuleset, NftSet, NftTable, Verdict,
};

/// The whole ruleset, as `nft list ruleset` prints it.
pub fn ruleset(rs: &NftRuleset) -> String {
    let mut out = String::new();
    for t in &rs.tables {
        table(&mut out, t);
    }
    out
}

/// One `table FAMILY NAME { ... }` block.
pub fn table(out: &mut String, t: &NftTable) {
    let _ = writeln!(out, "table {} {} {{", t.family.name(), t.name);
    if let Some(c) = &t.comment {
        let _ = writeln!(out, "\tcomment {}", quote(c));
    }
    let mut delim = "";
    for o in &t.objects {
        out.push_str(delim);
        object(out, o);
        delim = "\n";
    }
    for s in t.sets.iter().filter(|s| s.flags & F_ANONYMOUS == 0) {
        out.push_str(delim);
        set_decl(out, s);
        delim = "\n";
    }
    for f in &t.flowtables {
        out.push_str(delim);
        let _ = writeln!(out, "\tflowtable {} {{", f.name);
        let _ = writeln!(
            out,
            "\t\thook ingress priority {}",
            prio_str(t.family, 0, f.priority)
        );
        let devs: Vec<_> = f.devs.iter().map(|d| quote(d)).collect();
        let _ = writeln!(out, "\t\tdevices = {{ {} }}", devs.join(", "));
        out.push_str("\t}\n");
        delim = "\n";
    }
    for c in t
        .chains
        .iter()
        .filter(|c| c.flags & crate::kernel::nft::chain::F_BINDING == 0)
    {
        out.push_str(delim);
        chain(out, t, c);
        delim = "\n";
    }
    out.push_str("}\n");
}

fn object(out: &mut String, o: &crate::kernel::nft::NftObject) {
    use crate::kernel::nft::object::ObjData;
    match &o.data {
        ObjData::Counter(c) => {
            let _ = writeln!(out, "\tcounter {} {{", o.name);
            let _ = writeln!(out, "\t\tpackets {} bytes {}", c.packets, c.bytes);
        }
        ObjData::Quota(q) => {
            let _ = writeln!(out, "\tquota {} {{", o.name);
            let over = if q.flags.unwrap_or(0) & 1 != 0 {
                "over "
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "\t\t{over}{} used {}",
                bytes_str(q.bytes),
                bytes_str(q.consumed.unwrap_or(0))
            );
        }
        ObjData::Limit(l) => {
            let _ = writeln!(out, "\tlimit {} {{", o.name);
            let _ = writeln!(out, "\t\t{}", limit_str(l).trim_start_matches("limit "));
        }
        other => {
            let _ = writeln!(
                out,
                "\t# object {} of type {}: {other:?}",
                o.name, o.obj_type
            );
            let _ = writeln!(out, "\tobject {} {{", o.name);
        }
    }
    out.push_str("\t}\n");
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
        dt::CT_STATE => "ct_state",
        dt::ICMP6_TYPE => "icmpv6_type",
        dt::FIB_ADDR => "fib_addrtype",
        dt::IFNAME => "ifname",
        _ => return None,
    })
}

/// A set key type, concatenations (6 bits per type) included.
fn key_type_str(t: u32) -> String {
    if let Some(n) = dtype_name(t) {
        return n.into();
    }
    let mut parts = Vec::new();
    let mut v = t;
    while v != 0 {
        parts.push(dtype_name(v & 0x3f).map_or_else(|| format!("{}", v & 0x3f), str::to_owned));
        v >>= 6;
    }
    parts.reverse();
    parts.join(" . ")
}

fn set_decl(out: &mut String, s: &NftSet) {
    let map = s.flags & F_MAP != 0;
    let _ = writeln!(out, "\t{} {} {{", if map { "map" } else { "set" }, s.name);
    let key = key_type_str(s.key_type);
    if map {
        let data = match s.data_type {
            Some(DATA_TYPE_VERDICT) => "verdict".to_owned(),
            Some(d) => key_type_str(d),
            None => "?".into(),
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
    let elems = set_elements(s, false);
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
        dt::STRING | dt::IFNAME | dt::MARK | dt::CT_STATE | dt::IFINDEX
    )
}

fn set_elements(s: &NftSet, anon: bool) -> Vec<String> {
    let _ = anon;
    let fmt = Fmt::from_dtype(s.key_type);
    let mut elems: Vec<_> = s
        .elements
        .iter()
        .filter(|e| e.flags & ELEM_F_CATCHALL == 0)
        .collect();
    let sort_key = |k: &[u8]| -> Vec<u8> {
        if host_order(s.key_type) {
            k.iter().rev().copied().collect()
        } else {
            k.to_vec()
        }
    };
    elems.sort_by_key(|e| sort_key(&e.key));
    let mut out = Vec::new();
    if s.flags & F_INTERVAL != 0 && elems.iter().all(|e| e.key_end.is_none()) {
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
            out.push(element_text(
                s,
                &range_text(&fmt, &e.key, &end),
                e.data.as_ref(),
            ));
            i += 1;
        }
    } else {
        for e in elems {
            let k = match &e.key_end {
                Some(end) => range_text(&fmt, &e.key, end),
                None => fmt.value(&e.key),
            };
            out.push(element_text(s, &k, e.data.as_ref()));
        }
    }
    out
}

/// A named set's or map's elements as `nft list` prints each one (`"docker0" : jump x`),
/// in nft's order.
pub fn elements(s: &NftSet) -> Vec<String> {
    set_elements(s, false)
}

fn element_text(s: &NftSet, key: &str, data: Option<&NftData>) -> String {
    match data {
        Some(NftData::Verdict(v)) => format!("{key} : {}", verdict_str(v)),
        Some(NftData::Value(v)) => {
            let f = Fmt::from_dtype(s.data_type.unwrap_or(dt::INTEGER));
            format!("{key} : {}", f.value(v))
        }
        None => key.to_owned(),
    }
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
fn range_text(f: &Fmt, lo: &[u8], hi: &[u8]) -> String {
    if lo == hi {
        return f.value(lo);
    }
    if matches!(f, Fmt::Ipv4 | Fmt::Ipv6) && lo.len() == hi.len() {
        let mask: Vec<u8> = lo.iter().zip(hi).map(|(a, b)| !(a ^ b)).collect();
        let is_prefix = prefix_len(&mask).is_some()
            && lo.iter().zip(&mask).all(|(a, m)| a & !m == 0)
            && hi.iter().zip(&mask).all(|(b, m)| b | m == 0xff);
        if let (true, Some(p)) = (is_prefix, prefix_len(&mask)) {
            return format!("{}/{p}", f.value(lo));
        }
    }
    format!("{}-{}", f.value(lo), f.value(hi))
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

fn chain(out: &mut String, t: &NftTable, c: &NftChain) {
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
                let d: Vec<_> = many.iter().map(|d| quote(d)).collect();
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
    for r in &c.rules {
        out.push_str("\t\t");
        out.push_str(&rule_text(t, r));
        out.push('\n');
    }
    out.push_str("\t}\n");
}

/// One rule's statements (without indentation or newline).
pub fn rule_text(t: &NftTable, r: &NftRule) -> String {
    let mut p = Printer::new(t);
    if let Some(raw) = &r.raw {
        return format!(
            "[undecodable rule: {}; {} bytes]",
            r.problems.join("; "),
            raw.len()
        );
    }
    for e in &r.exprs {
        p.expr(e);
    }
    let mut s = p.finish();
    if let Some(c) = &r.comment {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str("comment ");
        s.push_str(&quote(c));
    }
    s
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
            dt::IFINDEX => Fmt::HostInt,
            _ => Fmt::Int,
        }
    }

    fn value(&self, b: &[u8]) -> String {
        match self {
            Fmt::Ipv4 => match <[u8; 4]>::try_from(b) {
                Ok(a) => Ipv4Addr::from(a).to_string(),
                Err(_) => hex_int(b),
            },
            Fmt::Ipv6 => match <[u8; 16]>::try_from(b) {
                Ok(a) => Ipv6Addr::from(a).to_string(),
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
                let mut s = String::from_utf8_lossy(name).into_owned();
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
            Fmt::Int => be_uint(b).to_string(),
            Fmt::HostInt => host_uint(b).to_string(),
        }
    }
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

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp",
        2 => "igmp",
        4 => "ipencap",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        41 => "ipv6",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        132 => "sctp",
        136 => "udplite",
        _ => return p.to_string(),
    }
    .into()
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
}

struct Item {
    text: String,
    dep: Option<(DepKind, u64)>,
    killed: bool,
}

struct Printer<'t> {
    table: &'t NftTable,
    regs: [Option<RegVal>; 24],
    items: Vec<Item>,
}

impl<'t> Printer<'t> {
    fn new(table: &'t NftTable) -> Self {
        Self {
            table,
            regs: Default::default(),
            items: Vec::new(),
        }
    }

    fn finish(self) -> String {
        self.items
            .into_iter()
            .filter(|i| !i.killed)
            .map(|i| i.text)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn push(&mut self, text: String) {
        self.items.push(Item {
            text,
            dep: None,
            killed: false,
        });
    }

    /// The last live dependency of `kind`, if any: its value.
    fn dep_value(&self, kind: DepKind) -> Option<u64> {
        self.items
            .iter()
            .rev()
            .find_map(|i| i.dep.filter(|d| d.0 == kind).map(|d| d.1))
    }

    fn kill_dep(&mut self, kind: DepKind) {
        if let Some(i) = self
            .items
            .iter_mut()
            .rev()
            .find(|i| !i.killed && i.dep.is_some_and(|d| d.0 == kind))
        {
            i.killed = true;
        }
    }

    fn reg(&self, n: u32) -> Option<RegVal> {
        self.regs.get(n as usize).cloned().flatten()
    }

    fn set(&mut self, n: u32, v: RegVal) {
        if let Some(slot) = self.regs.get_mut(n as usize) {
            *slot = Some(v);
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Meta(m) => self.meta(m),
            Expr::Payload(p) => self.payload(p, e),
            Expr::Ct(c) => self.ct(c),
            Expr::Fib(f) => {
                let mut parts = Vec::new();
                if f.flags & fib::F_SADDR != 0 {
                    parts.push("saddr");
                }
                if f.flags & fib::F_DADDR != 0 {
                    parts.push("daddr");
                }
                if f.flags & fib::F_MARK != 0 {
                    parts.push("mark");
                }
                if f.flags & fib::F_IIF != 0 {
                    parts.push("iif");
                }
                if f.flags & fib::F_OIF != 0 {
                    parts.push("oif");
                }
                let (res, fmt) = match f.result {
                    fib::RESULT_OIF => ("oif", Fmt::HostInt),
                    fib::RESULT_OIFNAME => ("oifname", Fmt::Ifname),
                    _ => ("type", Fmt::FibAddr),
                };
                let text = format!("fib {} {res}", parts.join(" . "));
                self.set(f.dreg, field(text, fmt, 4, None));
            }
            Expr::Bitwise(b) => self.bitwise(b),
            Expr::Cmp(c) => self.cmp(c.sreg, c.op, &c.data, e),
            Expr::Range(r) => match self.reg(r.sreg) {
                Some(RegVal::Field(f)) => {
                    let op = if r.op == 1 { "!= " } else { "" };
                    let t = format!(
                        "{} {op}{}-{}",
                        f.text,
                        f.fmt.value(&r.from),
                        f.fmt.value(&r.to)
                    );
                    self.push(t);
                }
                _ => self.unknown(e, "range on an unknown register"),
            },
            Expr::Lookup(l) => self.lookup(l, e),
            Expr::Immediate(i) => self.immediate(i),
            Expr::Counter(c) => {
                self.push(format!("counter packets {} bytes {}", c.packets, c.bytes))
            }
            Expr::Limit(l) => self.push(limit_str(l)),
            Expr::Log(l) => self.push(log_str(l)),
            Expr::Reject(r) => self.push(self.reject_str(r)),
            Expr::Nat(n) => self.nat(n, e),
            Expr::Masq(m) => {
                let mut s = "masquerade".to_owned();
                s.push_str(&self.proto_range(m.reg_proto_min, m.reg_proto_max));
                s.push_str(&nat_flags(m.flags.unwrap_or(0)));
                self.push(s);
            }
            Expr::Redir(r) => {
                let mut s = "redirect".to_owned();
                s.push_str(&self.proto_range(r.reg_proto_min, r.reg_proto_max));
                s.push_str(&nat_flags(r.flags.unwrap_or(0)));
                self.push(s);
            }
            Expr::Objref(o) => match (o.imm_type, &o.imm_name) {
                (Some(t), Some(n)) => {
                    let kind = match t {
                        1 => "counter",
                        2 => "quota",
                        3 => "ct helper",
                        4 => "limit",
                        5 => "ct count",
                        7 => "ct timeout",
                        8 => "meta secmark",
                        9 => "ct expectation",
                        10 => "synproxy",
                        _ => "object",
                    };
                    self.push(format!("{kind} name {}", quote(n)));
                }
                _ => self.unknown(e, "objref map"),
            },
            Expr::Notrack(_) => self.push("notrack".into()),
            Expr::Quota(q) => {
                let over = if q.flags.unwrap_or(0) & 1 != 0 {
                    "over "
                } else {
                    ""
                };
                self.push(format!("quota {over}{}", bytes_str(q.bytes)));
            }
            Expr::Match(x) => self.push(format!("xt match {}", quote(&x.name))),
            Expr::Target(x) => self.push(format!("xt target {}", quote(&x.name))),
            Expr::Raw(r) => self.push(format!("[raw {}: {}]", r.name, r.reason)),
            other => self.unknown(other, "not rendered"),
        }
    }

    fn unknown(&mut self, e: &Expr, why: &str) {
        self.push(format!("[expr {} {why}]", e.name()));
    }

    fn meta(&mut self, m: &meta::Meta) {
        let name = meta::key_name(m.key).unwrap_or("unknown");
        if let (Some(d), None) = (m.dreg, m.sreg) {
            let (fmt, dep) = match m.key {
                meta::KEY_IIFNAME
                | meta::KEY_OIFNAME
                | meta::KEY_BRI_IIFNAME
                | meta::KEY_BRI_OIFNAME => (Fmt::Ifname, None),
                meta::KEY_L4PROTO => (Fmt::Proto, Some(DepKind::L4)),
                meta::KEY_NFPROTO => (Fmt::Nfproto, Some(DepKind::L3)),
                meta::KEY_IIFTYPE => (Fmt::HostInt, Some(DepKind::Ll)),
                meta::KEY_MARK => (Fmt::Mark, None),
                _ => (Fmt::HostInt, None),
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
            }
            self.set(d, f);
        } else if let Some(s) = m.sreg {
            let v = match self.reg(s) {
                Some(RegVal::Imm(v)) => match m.key {
                    meta::KEY_MARK => Fmt::Mark.value(&v),
                    _ => Fmt::HostInt.value(&v),
                },
                Some(RegVal::Field(f)) => f.text,
                None => "?".into(),
            };
            self.push(format!("meta {name} set {v}"));
        }
    }

    fn ct(&mut self, c: &ct::Ct) {
        let name = ct::key_name(c.key).unwrap_or("unknown");
        let dir = match c.direction {
            Some(0) => "original ",
            Some(1) => "reply ",
            _ => "",
        };
        if let Some(d) = c.dreg {
            let fmt = match c.key {
                ct::KEY_STATE => Fmt::CtState,
                ct::KEY_MARK => Fmt::Mark,
                _ => Fmt::HostInt,
            };
            self.set(d, field(format!("ct {dir}{name}"), fmt, 4, None));
        } else if let Some(s) = c.sreg {
            let v = match self.reg(s) {
                Some(RegVal::Imm(v)) => match c.key {
                    ct::KEY_MARK => Fmt::Mark.value(&v),
                    _ => Fmt::HostInt.value(&v),
                },
                Some(RegVal::Field(f)) => f.text,
                None => "?".into(),
            };
            self.push(format!("ct {dir}{name} set {v}"));
        }
    }

    fn payload(&mut self, p: &payload::Payload, e: &Expr) {
        let Some(d) = p.dreg else {
            return self.unknown(e, "payload write");
        };
        let fam = self.table.family;
        let (off, len) = (p.offset, p.len);
        let l3 = match fam {
            NftFamily::Ip => Some(2),
            NftFamily::Ip6 => Some(10),
            _ => self.dep_value(DepKind::L3),
        };
        let named: Option<(String, Fmt, Option<usize>, DepKind)> = match p.base {
            payload::BASE_NETWORK => match l3 {
                Some(2) => match (off, len) {
                    (12, 1..=4) => Some(("ip saddr".into(), Fmt::Ipv4, Some(4), DepKind::L3)),
                    (16, 1..=4) => Some(("ip daddr".into(), Fmt::Ipv4, Some(4), DepKind::L3)),
                    (9, 1) => Some(("ip protocol".into(), Fmt::Proto, None, DepKind::L3)),
                    (8, 1) => Some(("ip ttl".into(), Fmt::Int, None, DepKind::L3)),
                    _ => None,
                },
                Some(10) => match (off, len) {
                    (8, 1..=16) => Some(("ip6 saddr".into(), Fmt::Ipv6, Some(16), DepKind::L3)),
                    (24, 1..=16) => Some(("ip6 daddr".into(), Fmt::Ipv6, Some(16), DepKind::L3)),
                    (6, 1) => Some(("ip6 nexthdr".into(), Fmt::Proto, None, DepKind::L3)),
                    (7, 1) => Some(("ip6 hoplimit".into(), Fmt::Int, None, DepKind::L3)),
                    _ => None,
                },
                _ => None,
            },
            payload::BASE_TRANSPORT => {
                let proto = self.dep_value(DepKind::L4);
                match (proto, off, len) {
                    (Some(6 | 17 | 132 | 33 | 136), 0, 2) => {
                        let n = proto_name(proto.unwrap_or(0) as u8);
                        Some((format!("{n} sport"), Fmt::Port, None, DepKind::L4))
                    }
                    (Some(6 | 17 | 132 | 33 | 136), 2, 2) => {
                        let n = proto_name(proto.unwrap_or(0) as u8);
                        Some((format!("{n} dport"), Fmt::Port, None, DepKind::L4))
                    }
                    (Some(6), 13, 1) => {
                        Some(("tcp flags".into(), Fmt::TcpFlags, None, DepKind::L4))
                    }
                    (Some(1), 0, 1) => Some(("icmp type".into(), Fmt::IcmpType, None, DepKind::L4)),
                    (Some(1), 1, 1) => Some(("icmp code".into(), Fmt::Int, None, DepKind::L4)),
                    (Some(58), 0, 1) => {
                        Some(("icmpv6 type".into(), Fmt::Icmp6Type, None, DepKind::L4))
                    }
                    (Some(58), 1, 1) => Some(("icmpv6 code".into(), Fmt::Int, None, DepKind::L4)),
                    _ => None,
                }
            }
            payload::BASE_LL
                if self.dep_value(DepKind::Ll) == Some(1) || fam == NftFamily::Bridge =>
            {
                match (off, len) {
                    (0, 6) => Some(("ether daddr".into(), Fmt::Ether, None, DepKind::Ll)),
                    (6, 6) => Some(("ether saddr".into(), Fmt::Ether, None, DepKind::Ll)),
                    (12, 2) => Some(("ether type".into(), Fmt::Int, None, DepKind::Ll)),
                    _ => None,
                }
            }
            _ => None,
        };
        let v = match named {
            Some((text, fmt, bits, dep)) => {
                // The header dependency (and, for icmp/icmpv6, the family) is implied.
                self.kill_dep(dep);
                if dep == DepKind::L4 && matches!(fmt, Fmt::IcmpType | Fmt::Icmp6Type) {
                    self.kill_dep(DepKind::L3);
                }
                let mut f = field(text, fmt, len as usize, bits);
                // `ip protocol`/`ip6 nexthdr` tell which transport header follows.
                if let RegVal::Field(ff) = &mut f
                    && matches!(ff.text.as_str(), "ip protocol" | "ip6 nexthdr")
                {
                    ff.dep = Some(DepKind::L4);
                }
                f
            }
            None => {
                let base = ["ll", "nh", "th", "ih"]
                    .get(p.base as usize)
                    .unwrap_or(&"?");
                field(
                    format!("@{base},{},{}", u64::from(off) * 8, u64::from(len) * 8),
                    Fmt::Int,
                    len as usize,
                    None,
                )
            }
        };
        self.set(d, v);
    }

    fn bitwise(&mut self, b: &bitwise::Bitwise) {
        let Some(RegVal::Field(mut f)) = self.reg(b.sreg) else {
            return self.push("[expr bitwise on an unknown register]".into());
        };
        if b.op.is_some_and(|o| o != bitwise::OP_BOOL) {
            return self.push("[expr bitwise shift]".into());
        }
        f.mask = b.mask.clone();
        self.set(b.dreg, RegVal::Field(f));
    }

    fn cmp(&mut self, sreg: u32, op: u32, data: &[u8], e: &Expr) {
        let Some(RegVal::Field(f)) = self.reg(sreg) else {
            return self.unknown(e, "cmp on an unknown register");
        };
        let ops = cmp::op_str(op).unwrap_or("?");
        let sp = if ops.is_empty() { "" } else { " " };
        // Flag-like fields: `ct state established,related` is `state & mask != 0`.
        if let Some(mask) = &f.mask {
            if matches!(f.fmt, Fmt::CtState) && op == cmp::OP_NEQ && data.iter().all(|&b| b == 0) {
                let t = format!("{} {}", f.text, f.fmt.value(mask));
                return self.push(t);
            }
            if matches!(f.fmt, Fmt::CtState) && op == cmp::OP_EQ && data.iter().all(|&b| b == 0) {
                let t = format!("{} ! {}", f.text, f.fmt.value(mask));
                return self.push(t);
            }
            if matches!(f.fmt, Fmt::TcpFlags) && op == cmp::OP_EQ {
                let t = format!("{} {} / {}", f.text, f.fmt.value(data), f.fmt.value(mask));
                return self.push(t);
            }
            if let (Some(bits), Some(pl)) = (f.addr_bits, prefix_len(mask)) {
                let mut full = data.to_vec();
                full.resize(bits, 0);
                let t = format!("{} {ops}{sp}{}/{pl}", f.text, f.fmt.value(&full));
                return self.push(t);
            }
            let t = format!(
                "{} & {} {} {}",
                f.text,
                f.fmt.value(mask),
                if ops.is_empty() { "==" } else { ops },
                f.fmt.value(data)
            );
            return self.push(t);
        }
        if let Some(bits) = f.addr_bits
            && f.len < bits
        {
            let mut full = data.to_vec();
            full.resize(bits, 0);
            let t = format!("{} {ops}{sp}{}/{}", f.text, f.fmt.value(&full), f.len * 8);
            return self.push(t);
        }
        let text = format!("{} {ops}{sp}{}", f.text, f.fmt.value(data));
        let dep = match (f.dep, op) {
            (Some(k), cmp::OP_EQ) => Some((k, host_or_byte(data))),
            _ => None,
        };
        self.items.push(Item {
            text,
            dep,
            killed: false,
        });
    }

    fn lookup(&mut self, l: &Lookup, e: &Expr) {
        let Some(RegVal::Field(f)) = self.reg(l.sreg) else {
            return self.unknown(e, "lookup on an unknown register");
        };
        let inv = if l.flags.unwrap_or(0) & 1 != 0 {
            "!= "
        } else {
            ""
        };
        let set = self.table.sets.iter().find(|s| s.name == l.set);
        let rhs = match set {
            Some(s) if s.flags & F_ANONYMOUS != 0 => {
                format!("{{ {} }}", set_elements(s, true).join(", "))
            }
            _ => format!("@{}", l.set),
        };
        let kw = match (l.dreg, set.and_then(|s| s.data_type)) {
            (Some(0), _) => "vmap ",
            (Some(_), _) => "map ",
            (None, _) => "",
        };
        match l.dreg {
            Some(d) if d != 0 => {
                let t = format!("{} {kw}{rhs}", f.text);
                self.set(d, field(t, Fmt::Int, 4, None));
            }
            _ => self.push(format!("{} {inv}{kw}{rhs}", f.text)),
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

    fn proto_range(&self, min: Option<u32>, max: Option<u32>) -> String {
        match (self.imm(min), self.imm(max)) {
            (Some(a), Some(b)) if a != b => format!(" to :{}-{}", be_uint(&a), be_uint(&b)),
            (Some(a), _) => format!(" to :{}", be_uint(&a)),
            _ => String::new(),
        }
    }

    fn nat(&mut self, n: &Nat, e: &Expr) {
        let kind = match n.nat_type {
            0 => "snat",
            1 => "dnat",
            _ => return self.unknown(e, "nat type"),
        };
        let fam = match (self.table.family, n.family) {
            (NftFamily::Inet, 2) => " ip",
            (NftFamily::Inet, 10) => " ip6",
            _ => "",
        };
        let afmt = if n.family == 10 { Fmt::Ipv6 } else { Fmt::Ipv4 };
        let amin = self.imm(n.reg_addr_min);
        let amax = self.imm(n.reg_addr_max);
        let mut addr = match (&amin, &amax) {
            (Some(a), Some(b)) if a != b => format!("{}-{}", afmt.value(a), afmt.value(b)),
            (Some(a), _) => afmt.value(a),
            _ => String::new(),
        };
        if n.family == 10 && !addr.is_empty() && n.reg_proto_min.is_some() {
            addr = format!("[{addr}]");
        }
        let port = match (self.imm(n.reg_proto_min), self.imm(n.reg_proto_max)) {
            (Some(a), Some(b)) if a != b => format!(":{}-{}", be_uint(&a), be_uint(&b)),
            (Some(a), _) => format!(":{}", be_uint(&a)),
            _ => String::new(),
        };
        // NF_NAT_RANGE_MAP_IPS | PROTO_SPECIFIED are implied by the addresses and ports.
        let flags = nat_flags(n.flags.unwrap_or(0) & !0x3);
        self.push(format!("{kind}{fam} to {addr}{port}{flags}"));
    }

    fn reject_str(&self, r: &Reject) -> String {
        use crate::kernel::nft::expr::reject::{
            TYPE_ICMP_UNREACH, TYPE_ICMPX_UNREACH, TYPE_TCP_RST,
        };
        let code = r.icmp_code.unwrap_or(0);
        match (r.reject_type, self.table.family, code) {
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
                .get(c as usize)
                .map_or_else(|| c.to_string(), |s| (*s).to_owned());
                format!("reject with icmpx {n}")
            }
            (_, NftFamily::Ip6, c) => format!("reject with icmpv6 {c}"),
            (_, _, c) => {
                let n = [
                    "net-unreachable",
                    "host-unreachable",
                    "prot-unreachable",
                    "port-unreachable",
                    "frag-needed",
                    "5",
                    "net-unknown",
                    "host-unknown",
                    "8",
                    "net-prohibited",
                    "host-prohibited",
                    "11",
                    "12",
                    "admin-prohibited",
                ]
                .get(c as usize)
                .map_or_else(|| c.to_string(), |s| (*s).to_owned());
                format!("reject with icmp {n}")
            }
        }
    }
}

fn host_or_byte(data: &[u8]) -> u64 {
    host_uint(data)
}

fn field(text: String, fmt: Fmt, len: usize, addr_bits: Option<usize>) -> RegVal {
    RegVal::Field(Field {
        text,
        fmt,
        len,
        addr_bits,
        mask: None,
        dep: None,
    })
}

fn nat_flags(f: u32) -> String {
    let mut s = String::new();
    if f & 0x4 != 0 {
        s.push_str(" random");
    }
    if f & 0x10 != 0 {
        s.push_str(" fully-random");
    }
    if f & 0x8 != 0 {
        s.push_str(" persistent");
    }
    s
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

fn log_str(l: &Log) -> String {
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
        let mut fl = Vec::new();
        if f & 0x0f == 0x0f {
            fl.push("all".to_owned());
        } else {
            for (bit, n) in [
                (1, "tcp sequence"),
                (2, "tcp options"),
                (4, "ip options"),
                (8, "skuid"),
                (32, "ether"),
            ] {
                if f & bit != 0 {
                    fl.push(n.to_owned());
                }
            }
        }
        let _ = write!(s, " flags {}", fl.join(","));
    }
    s
}
