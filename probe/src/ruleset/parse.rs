//! iptables syntax → canonical `Rule`: command lines as Docker passes them
//! (`-t nat -A POSTROUTING -o br0 -m addrtype --src-type LOCAL -j MASQUERADE`, `-I`, `-C`,
//! `-D`, `!` before options, implicit `-m tcp` after `-p tcp --dport`), and whole
//! iptables-save files. Every match and target goes through its `ext` parser, so a parsed
//! rule equals the decoded kernel rule when they mean the same thing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::model::*;
use super::render::{self, protocols};
use crate::ext::{self, ExtError, ExtKind};

#[derive(Debug, Error, PartialEq)]
pub enum ParseError {
    #[error("{0}")]
    Syntax(String),
    #[error(transparent)]
    Ext(#[from] ExtError),
    #[error("line {line}: {source}")]
    Line {
        line: usize,
        #[source]
        source: Box<ParseError>,
    },
}

fn syntax(s: impl Into<String>) -> ParseError {
    ParseError::Syntax(s.into())
}

/// What the command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Append,
    /// `-I CHAIN [N]` (1-based position, default 1).
    Insert(u32),
    Check,
    Delete,
}

/// One parsed iptables command.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRule {
    pub table: String,
    pub chain: String,
    pub command: Command,
    pub rule: Rule,
}

/// Split a line into words as iptables-restore does: whitespace separates, double quotes
/// group (the closing quote ends the word), and inside quotes a backslash takes the next
/// character literally.
pub fn split_words(line: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '\\' => match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err(syntax("line ends inside a quoted string")),
                },
                '"' => {
                    // The closing quote ends the word, as in iptables-restore.
                    quoted = false;
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
                c => cur.push(c),
            }
        } else if c == '"' {
            quoted = true;
            have = true;
        } else if c.is_whitespace() {
            if have {
                out.push(std::mem::take(&mut cur));
                have = false;
            }
        } else {
            cur.push(c);
            have = true;
        }
    }
    if quoted {
        return Err(syntax("unterminated double quote"));
    }
    if have {
        out.push(cur);
    }
    Ok(out)
}

/// Options that belong to iptables itself, not to a match or target.
fn header_opt(w: &str) -> Option<&'static str> {
    Some(match w {
        "-t" | "--table" => "t",
        "-A" | "--append" => "A",
        "-I" | "--insert" => "I",
        "-C" | "--check" => "C",
        "-D" | "--delete" => "D",
        "-s" | "--source" | "--src" => "s",
        "-d" | "--destination" | "--dst" => "d",
        "-i" | "--in-interface" => "i",
        "-o" | "--out-interface" => "o",
        "-p" | "--protocol" => "p",
        "-f" | "--fragment" => "f",
        "-m" | "--match" => "m",
        "-j" | "--jump" => "j",
        "-g" | "--goto" => "g",
        "-c" | "--set-counters" => "c",
        "-w" | "--wait" => "w",
        _ => return None,
    })
}

fn is_header(words: &[String], i: usize) -> bool {
    match words.get(i).map(String::as_str) {
        Some("!") => words.get(i + 1).is_some_and(|w| header_opt(w).is_some()),
        Some(w) => header_opt(w).is_some(),
        None => true,
    }
}

/// Protocol by name or number (`all` = 0).
pub fn proto_number(s: &str) -> Result<u8, ParseError> {
    if let Some(v) = ext::args_num_u8(s) {
        return Ok(v);
    }
    let l = s.to_ascii_lowercase();
    // iptables' own list, plus the spellings it also accepts.
    const ALSO: &[(&str, u8)] = &[("icmpv6", 58), ("ipv6-mh", 135), ("mh", 135), ("all", 0)];
    if let Some((_, n)) = render::XT_PROTOS.iter().chain(ALSO).find(|(n, _)| *n == l) {
        return Ok(*n);
    }
    protocols()
        .by_name
        .get(s)
        .copied()
        .ok_or_else(|| syntax(format!("unknown protocol `{s}`")))
}

fn parse_addr(family: Family, s: &str, invert: bool) -> Result<Option<AddrMatch>, ParseError> {
    if s.contains(',') {
        return Err(syntax(format!(
            "`{s}`: several addresses in one rule (iptables expands them into several rules) are not supported"
        )));
    }
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let bad = || syntax(format!("bad address `{s}` (host names are not resolved)"));
    let (addr, mask) = match family {
        Family::Ipv4 => {
            let a = ipv4_network(a).ok_or_else(bad)?;
            let mask = match m {
                None => Ipv4Addr::BROADCAST,
                Some(m) => match m.parse::<u32>() {
                    Ok(l) if l <= 32 => Ipv4Addr::from(u32::MAX.checked_shl(32 - l).unwrap_or(0)),
                    Ok(_) => return Err(bad()),
                    Err(_) => m.parse().map_err(|_| bad())?,
                },
            };
            let masked = Ipv4Addr::from(u32::from(a) & u32::from(mask));
            (IpAddr::V4(masked), IpAddr::V4(mask))
        }
        Family::Ipv6 => {
            let a: Ipv6Addr = a.parse().map_err(|_| bad())?;
            let mask = match m {
                None => Ipv6Addr::from(u128::MAX),
                Some(m) => match m.parse::<u32>() {
                    Ok(l) if l <= 128 => {
                        Ipv6Addr::from(u128::MAX.checked_shl(128 - l).unwrap_or(0))
                    }
                    Ok(_) => return Err(bad()),
                    Err(_) => m.parse().map_err(|_| bad())?,
                },
            };
            let masked = Ipv6Addr::from(u128::from(a) & u128::from(mask));
            (IpAddr::V6(masked), IpAddr::V6(mask))
        }
    };
    // Same rule as the kernel side: what iptables-save would not print is no match.
    let skip =
        mask.is_unspecified() && !invert && (family == Family::Ipv6 || addr.is_unspecified());
    Ok((!skip).then_some(AddrMatch { addr, mask, invert }))
}

/// An IPv4 address as iptables reads it: 1 to 4 decimal octets, missing trailing octets are 0
/// (`0/0`, `10.1/16`), the "network address autocomplete" of libxtables.
fn ipv4_network(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    for (o, p) in octets.iter_mut().zip(&parts) {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

fn parse_iface(s: &str, invert: bool) -> Result<Option<IfaceMatch>, ParseError> {
    if s.len() > 15 {
        return Err(syntax(format!(
            "interface name `{s}` longer than 15 characters"
        )));
    }
    let (name, wildcard) = match s.strip_suffix('+') {
        Some(n) => (n, true),
        None => (s, false),
    };
    if name.is_empty() {
        // `-i +` matches every interface; iptables-save leaves it out.
        return Ok(None);
    }
    Ok(Some(IfaceMatch {
        name: name.to_owned(),
        wildcard,
        invert,
    }))
}

fn implicit_match(family: Family, proto: u8) -> Option<&'static str> {
    match (proto, family) {
        (6, _) => Some("tcp"),
        (17, _) => Some("udp"),
        (132, _) => Some("sctp"),
        (33, _) => Some("dccp"),
        (1, Family::Ipv4) => Some("icmp"),
        (58, Family::Ipv6) => Some("icmp6"),
        _ => None,
    }
}

/// Whether the protocol match `name` has option `--opt` (prefixes count, as in getopt);
/// None when `name` is not a protocol match.
fn proto_match_knows(name: &str, opt: &str) -> Option<bool> {
    let opt = opt.trim_start_matches("--");
    let opt = opt.split_once('=').map_or(opt, |(k, _)| k);
    let known: &[&str] = match name {
        "tcp" => &[
            "sport",
            "source-port",
            "dport",
            "destination-port",
            "syn",
            "tcp-flags",
            "tcp-option",
        ],
        "udp" => &["sport", "source-port", "dport", "destination-port"],
        "sctp" => &[
            "sport",
            "source-port",
            "dport",
            "destination-port",
            "chunk-types",
        ],
        "dccp" => &[
            "sport",
            "source-port",
            "dport",
            "destination-port",
            "dccp-types",
            "dccp-option",
        ],
        "icmp" => &["icmp-type"],
        "icmp6" => &["icmpv6-type"],
        _ => return None,
    };
    Some(known.iter().any(|k| k.starts_with(opt) && !opt.is_empty()))
}

fn is_verdict(name: &str) -> Option<Verdict> {
    Some(match name {
        "ACCEPT" => Verdict::Accept,
        "DROP" => Verdict::Drop,
        "RETURN" => Verdict::Return,
        "QUEUE" => Verdict::Queue,
        _ => return None,
    })
}

/// Parse one iptables command line (without the program name), e.g.
/// `-t nat -A POSTROUTING -o br0 -j MASQUERADE`.
pub fn parse_args(family: Family, words: &[String]) -> Result<ParsedRule, ParseError> {
    let mut table = "filter".to_owned();
    let mut cmd: Option<(Command, String)> = None;
    let mut rule = Rule::default();
    let mut target_set = false;
    let mut i = 0;
    // An open match: (name, words) — or the implicit protocol match.
    let mut open: Option<(String, Vec<String>)> = None;
    let mut matches: Vec<(String, Vec<String>)> = Vec::new();
    // An earlier match that the current option (and its arguments) belong to.
    let mut redirect: Option<usize> = None;
    let arg = |i: usize, what: &str| -> Result<String, ParseError> {
        words
            .get(i)
            .cloned()
            .ok_or_else(|| syntax(format!("option {what} needs an argument")))
    };
    while i < words.len() {
        let mut invert = false;
        let mut w = words[i].as_str();
        if w == "!" && is_header(words, i) {
            invert = true;
            i += 1;
            w = words[i].as_str();
        }
        let Some(h) = header_opt(w) else {
            // Extension words: to the open match/target, or to the implicit proto match.
            if open.is_none() {
                let p = rule.ip.proto.map(|p| p.proto).unwrap_or(0);
                let name = implicit_match(family, p).ok_or_else(|| {
                    syntax(format!("unknown option `{w}` (no -m or -p before it)"))
                })?;
                if let Some(pos) = matches.iter().position(|(n, _)| n == name) {
                    open = Some(matches.remove(pos));
                } else {
                    open = Some((name.to_owned(), Vec::new()));
                }
            }
            // iptables gives each option to the loaded match that knows it: in
            // `-m state -p tcp --sport 80 --state X` (Docker < 25), `--state` is state's.
            if w.starts_with("--") {
                redirect = None;
                if let Some((name, _)) = &open
                    && proto_match_knows(name, w) == Some(false)
                {
                    redirect = matches
                        .iter()
                        .rposition(|(n, _)| proto_match_knows(n, w).is_none());
                }
            }
            match (redirect, open.as_mut()) {
                (Some(pos), _) => matches[pos].1.push(words[i].clone()),
                (None, Some((_, ws))) => ws.push(words[i].clone()),
                (None, None) => {}
            }
            i += 1;
            continue;
        };
        redirect = None;
        if invert && !matches!(h, "s" | "d" | "i" | "o" | "p" | "f") {
            return Err(syntax(format!("`!` cannot invert {w}")));
        }
        if let Some(m) = open.take() {
            if target_set {
                return Err(syntax(format!("option {w} after the target's options")));
            }
            matches.push(m);
        }
        match h {
            "t" => {
                table = arg(i + 1, w)?;
                i += 2;
            }
            "A" | "C" | "D" | "I" => {
                if cmd.is_some() {
                    return Err(syntax("more than one command (-A/-I/-C/-D)"));
                }
                let chain = arg(i + 1, w)?;
                i += 2;
                let c = match h {
                    "A" => Command::Append,
                    "C" => Command::Check,
                    "D" => {
                        if words.len() == i + 1 && words[i].parse::<u32>().is_ok() {
                            return Err(syntax(
                                "-D CHAIN NUMBER (delete by position) is not a rule",
                            ));
                        }
                        Command::Delete
                    }
                    _ => match words.get(i).and_then(|n| n.parse::<u32>().ok()) {
                        Some(n) if n >= 1 => {
                            i += 1;
                            Command::Insert(n)
                        }
                        Some(_) => return Err(syntax("-I position must be at least 1")),
                        None => Command::Insert(1),
                    },
                };
                cmd = Some((c, chain));
            }
            "s" | "d" => {
                let a = parse_addr(family, &arg(i + 1, w)?, invert)?;
                if h == "s" {
                    rule.ip.src = a;
                } else {
                    rule.ip.dst = a;
                }
                i += 2;
            }
            "i" | "o" => {
                let f = parse_iface(&arg(i + 1, w)?, invert)?;
                if h == "i" {
                    rule.ip.in_iface = f;
                } else {
                    rule.ip.out_iface = f;
                }
                i += 2;
            }
            "p" => {
                let p = proto_number(&arg(i + 1, w)?)?;
                if p == 0 && invert {
                    return Err(syntax(
                        "`! -p all` matches nothing and is refused by iptables",
                    ));
                }
                rule.ip.proto = (p != 0).then_some(ProtoMatch { proto: p, invert });
                i += 2;
            }
            "f" => {
                if family == Family::Ipv6 {
                    return Err(syntax("-f is IPv4 only (use -m frag)"));
                }
                rule.ip.fragment = Some(invert);
                i += 1;
            }
            "m" => {
                let name = arg(i + 1, w)?;
                open = Some((name, Vec::new()));
                i += 2;
            }
            "j" | "g" => {
                if target_set {
                    return Err(syntax("more than one target"));
                }
                target_set = true;
                let name = arg(i + 1, w)?;
                i += 2;
                let mut tw = Vec::new();
                while i < words.len() && !is_header(words, i) {
                    tw.push(words[i].clone());
                    i += 1;
                }
                rule.target = if h == "g" {
                    if !tw.is_empty() {
                        return Err(syntax("-g takes no options"));
                    }
                    Target::Goto(name)
                } else if let Some(v) = is_verdict(&name) {
                    if !tw.is_empty() {
                        return Err(syntax(format!("-j {name} takes no options")));
                    }
                    Target::Verdict(v)
                } else {
                    match ext::parse(ExtKind::Target, &name, family, &tw) {
                        Ok(body) => Target::Ext {
                            name,
                            revision: 0,
                            body: ExtBody::Decoded(body),
                        },
                        Err(ExtError::Unknown { .. }) if tw.is_empty() => Target::Jump(name),
                        Err(e) => return Err(e.into()),
                    }
                };
            }
            "c" => {
                let p = arg(i + 1, w)?;
                let b = arg(i + 2, w)?;
                let n = |s: &str| {
                    s.parse::<u64>()
                        .map_err(|_| syntax(format!("bad counter `{s}`")))
                };
                rule.counters = Some(Counters {
                    packets: n(&p)?,
                    bytes: n(&b)?,
                });
                i += 3;
            }
            _ => {
                // -w [seconds]: irrelevant to the rule.
                i += 1;
                if words.get(i).is_some_and(|s| s.parse::<u32>().is_ok()) {
                    i += 1;
                }
            }
        }
    }
    if let Some(m) = open.take() {
        matches.push(m);
    }
    for (name, ws) in matches {
        let body = ext::parse(ExtKind::Match, &name, family, &ws)?;
        rule.matches.push(Match {
            name,
            revision: 0,
            body: ExtBody::Decoded(body),
        });
    }
    let (command, chain) = cmd.ok_or_else(|| syntax("no command (-A, -I, -C or -D) given"))?;
    Ok(ParsedRule {
        table,
        chain,
        command,
        rule,
    })
}

/// Parse a whole iptables-save file (with or without `-c` counters) into tables.
pub fn parse_save(family: Family, text: &str) -> Result<Vec<Table>, ParseError> {
    let mut tables: Vec<Table> = Vec::new();
    let mut open = false;
    for (n, line) in text.lines().enumerate() {
        let at = |e: ParseError| ParseError::Line {
            line: n + 1,
            source: Box::new(e),
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(t) = line.strip_prefix('*') {
            if open {
                return Err(at(syntax("new table before COMMIT")));
            }
            tables.push(Table {
                name: t.to_owned(),
                chains: Vec::new(),
            });
            open = true;
            continue;
        }
        let Some(table) = tables.last_mut().filter(|_| open) else {
            return Err(at(syntax("line outside a *table ... COMMIT block")));
        };
        if line == "COMMIT" {
            open = false;
            continue;
        }
        if let Some(rest) = line.strip_prefix(':') {
            let w: Vec<&str> = rest.split_whitespace().collect();
            let (name, policy) = match w.as_slice() {
                [n, p, ..] => (*n, *p),
                _ => return Err(at(syntax("chain line needs `:NAME POLICY [p:b]`"))),
            };
            let counters = w
                .get(2)
                .map(|c| parse_counters(c))
                .transpose()
                .map_err(at)?;
            let policy = match policy {
                "-" => None,
                "ACCEPT" => Some(Policy::Accept),
                "DROP" => Some(Policy::Drop),
                p => return Err(at(syntax(format!("bad policy `{p}`")))),
            };
            table.chains.push(Chain {
                name: name.to_owned(),
                builtin: policy.is_some(),
                policy,
                counters: policy.and(counters),
                rules: Vec::new(),
            });
            continue;
        }
        let mut words = split_words(line).map_err(at)?;
        let mut counters = None;
        if words.first().is_some_and(|w| w.starts_with('[')) {
            counters = Some(parse_counters(&words.remove(0)).map_err(at)?);
        }
        let mut p = parse_args(family, &words).map_err(at)?;
        if p.command != Command::Append {
            return Err(at(syntax("only -A lines belong in a save file")));
        }
        if counters.is_some() {
            p.rule.counters = counters;
        }
        let chain = table
            .chains
            .iter_mut()
            .find(|c| c.name == p.chain)
            .ok_or_else(|| at(syntax(format!("chain `{}` not declared", p.chain))))?;
        chain.rules.push(p.rule);
    }
    if open {
        return Err(syntax("missing COMMIT at end of input"));
    }
    Ok(tables)
}

fn parse_counters(s: &str) -> Result<Counters, ParseError> {
    let inner = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| syntax(format!("bad counters `{s}`")))?;
    let (p, b) = inner
        .split_once(':')
        .ok_or_else(|| syntax(format!("bad counters `{s}`")))?;
    let n = |x: &str| {
        x.parse::<u64>()
            .map_err(|_| syntax(format!("bad counters `{s}`")))
    };
    Ok(Counters {
        packets: n(p)?,
        bytes: n(b)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::render::rule_text;

    fn p(s: &str) -> ParsedRule {
        parse_args(Family::Ipv4, &split_words(s).unwrap()).unwrap()
    }

    #[test]
    fn short_ipv4_forms_autocomplete_like_libxtables() {
        assert_eq!(ipv4_network("0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(ipv4_network("10.1"), Some(Ipv4Addr::new(10, 1, 0, 0)));
        assert_eq!(ipv4_network("1.2.3.4.5"), None);
        assert_eq!(ipv4_network("1..2"), None);
        assert_eq!(ipv4_network("256"), None);
        // `-d 0/0` matches everything: no address match at all, as iptables-save shows it.
        let r =
            p("-t nat -A DOCKER -p tcp -d 0/0 --dport 8000 -j DNAT --to-destination 172.18.0.2:80");
        assert!(r.rule.ip.dst.is_none());
        assert!(p("-A X -s 10.1/16 -j DROP").rule.ip.src.is_some());
    }

    #[test]
    fn docker_commands() {
        let r = p("-t nat -A POSTROUTING -o br0 -m addrtype --src-type LOCAL -j MASQUERADE");
        assert_eq!((r.table.as_str(), r.chain.as_str()), ("nat", "POSTROUTING"));
        assert_eq!(
            rule_text(&r.rule),
            "-o br0 -m addrtype --src-type LOCAL -j MASQUERADE"
        );
        let r = p("-I DOCKER-USER ! -i docker0 -p tcp --dport 80 --dst 172.17.0.2 -j ACCEPT");
        assert_eq!(r.command, Command::Insert(1));
        assert_eq!(
            rule_text(&r.rule),
            "-d 172.17.0.2/32 ! -i docker0 -p tcp -m tcp --dport 80 -j ACCEPT"
        );
        let r = p("-C FORWARD -s 10.1.2.3/8 --destination 1.2.3.4/255.0.255.0 -j DOCKER");
        assert_eq!(r.command, Command::Check);
        assert_eq!(
            rule_text(&r.rule),
            "-s 10.0.0.0/8 -d 1.0.3.0/255.0.255.0 -j DOCKER"
        );
        let r = p("-A X -m comment --comment \"a b\" -j LOG --log-prefix \"x: \"");
        assert_eq!(
            rule_text(&r.rule),
            "-m comment --comment \"a b\" -j LOG --log-prefix \"x: \""
        );
        let r = p("-D X -m state ! --state NEW -j MARK --or-mark 0x4000");
        assert_eq!(r.command, Command::Delete);
        assert_eq!(
            rule_text(&r.rule),
            "-m state ! --state NEW -j MARK --set-xmark 0x4000/0x4000"
        );
        // Docker < 25 swarm ingress: `--state` after the implicit tcp match is state's.
        let r = p("-I X -m state -p tcp --sport 8080 --state ESTABLISHED,RELATED -j ACCEPT");
        assert_eq!(
            rule_text(&r.rule),
            "-p tcp -m state --state RELATED,ESTABLISHED -m tcp --sport 8080 -j ACCEPT"
        );
        assert!(
            parse_args(
                Family::Ipv4,
                &split_words("-A X -p tcp --sport 1 --bogus 2").unwrap()
            )
            .is_err()
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let e = |s: &str| parse_args(Family::Ipv4, &split_words(s).unwrap()).unwrap_err();
        assert!(e("-A X --dport 80").to_string().contains("--dport"));
        assert!(e("-A X -s 1.2.3.4,5.6.7.8").to_string().contains("several"));
        assert!(e("-A X -m nosuchmatch").to_string().contains("nosuchmatch"));
        assert!(e("-s 1.2.3.4").to_string().contains("no command"));
        assert!(split_words("-A X -m comment --comment \"open").is_err());
    }

    #[test]
    fn save_file() {
        let t = parse_save(
            Family::Ipv4,
            "# c\n*filter\n:INPUT ACCEPT [1:2]\n:U - [0:0]\n[3:4] -A INPUT -p tcp -m tcp --dport 22 -j U\n-A U -j RETURN\nCOMMIT\n",
        )
        .unwrap();
        assert_eq!(
            t[0].chains[0].rules[0].counters,
            Some(Counters {
                packets: 3,
                bytes: 4
            })
        );
        assert_eq!(
            t[0].chains[0].counters,
            Some(Counters {
                packets: 1,
                bytes: 2
            })
        );
        let rs = Ruleset {
            backend: Backend::Legacy,
            family: Family::Ipv4,
            genid: None,
            tables: t,
        };
        assert_eq!(
            crate::ruleset::render::save(&rs, true),
            "*filter\n:INPUT ACCEPT [1:2]\n:U - [0:0]\n[3:4] -A INPUT -p tcp -m tcp --dport 22 -j U\n[0:0] -A U -j RETURN\nCOMMIT\n"
        );
    }
}
