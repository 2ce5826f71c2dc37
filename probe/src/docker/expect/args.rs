//! Docker's iptables argument lists → canonical `Rule`, for exactly the vocabulary Docker
//! uses (`-s -d -i -o -p`, `!`, `--dport/--sport` with their implicit protocol match,
//! `-m addrtype|conntrack|comment`, `-j` verdicts, chains, MASQUERADE, SNAT, DNAT, CHECKSUM).
//!
//! The extension words are produced exactly as iptables-save 1.8.9 prints them, which is
//! what the kernel decoders produce, so a parsed rule equals the decoded kernel rule.
//! This is a stop-gap behind `to_rule` until the general `ruleset::parse` lands; anything
//! outside the vocabulary is an error, never a guess.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use crate::ruleset::{
    AddrMatch, ExtBody, Family, IfaceMatch, Match, ProtoMatch, Rule, Target, Verdict,
};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot parse `{args}`: {reason}")]
pub struct ArgsError {
    pub args: String,
    pub reason: String,
}

#[derive(Default)]
struct Parts {
    sport: Option<String>,
    dport: Option<String>,
    proto_match_explicit: bool,
    src_type: Option<(bool, String)>,
    dst_type: Option<(bool, String)>,
    ctstate: Option<(bool, String)>,
    comment: Option<String>,
    target: Option<String>,
    to_dest: Option<String>,
    to_src: Option<String>,
    checksum_fill: bool,
    order: Vec<&'static str>,
}

pub fn parse(family: Family, args: &[String]) -> Result<Rule, ArgsError> {
    let err = |reason: String| ArgsError {
        args: args.join(" "),
        reason,
    };
    let mut r = Rule::default();
    let mut p = Parts::default();
    let mut inv = false;
    let mut it = args.iter().map(String::as_str);
    let need = |it: &mut dyn Iterator<Item = &str>, opt: &str| {
        it.next()
            .map(str::to_owned)
            .ok_or_else(|| err(format!("`{opt}` needs a value")))
    };
    let push = |order: &mut Vec<&'static str>, m: &'static str| {
        if !order.contains(&m) {
            order.push(m);
        }
    };
    while let Some(a) = it.next() {
        if a == "!" {
            inv = true;
            continue;
        }
        let was_inv = std::mem::take(&mut inv);
        match a {
            "-s" | "--src" | "--source" | "-d" | "--dst" | "--destination" => {
                let v = need(&mut it, a)?;
                let m = addr(family, &v, was_inv).map_err(err)?;
                if a.starts_with("-s") || a == "--src" || a == "--source" {
                    r.ip.src = m;
                } else {
                    r.ip.dst = m;
                }
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                let v = need(&mut it, a)?;
                let (name, wildcard) = match v.strip_suffix('+') {
                    Some(n) => (n.to_owned(), true),
                    None => (v.clone(), false),
                };
                if name.len() > 15 {
                    return Err(err(format!("interface name `{v}` longer than 15")));
                }
                let m = Some(IfaceMatch {
                    name,
                    wildcard,
                    invert: was_inv,
                });
                if a.starts_with("-i") || a == "--in-interface" {
                    r.ip.in_iface = m;
                } else {
                    r.ip.out_iface = m;
                }
            }
            "-p" | "--protocol" => {
                let v = need(&mut it, a)?;
                let proto = proto_number(&v).ok_or_else(|| err(format!("protocol `{v}`")))?;
                r.ip.proto = (proto != 0).then_some(ProtoMatch {
                    proto,
                    invert: was_inv,
                });
            }
            "-m" | "--match" => {
                let v = need(&mut it, a)?;
                match v.as_str() {
                    "tcp" | "udp" | "sctp" => {
                        p.proto_match_explicit = true;
                        push(&mut p.order, "proto");
                    }
                    "addrtype" => push(&mut p.order, "addrtype"),
                    "conntrack" => push(&mut p.order, "conntrack"),
                    "comment" => push(&mut p.order, "comment"),
                    other => {
                        return Err(err(format!("match `{other}` not in Docker's vocabulary")));
                    }
                }
            }
            "--dport" | "--destination-port" | "--sport" | "--source-port" => {
                if was_inv {
                    return Err(err("inverted port".into()));
                }
                let v = need(&mut it, a)?;
                v.parse::<u16>().map_err(|_| err(format!("port `{v}`")))?;
                push(&mut p.order, "proto");
                if a.contains('d') && a != "--sport" && a != "--source-port" {
                    p.dport = Some(v);
                } else {
                    p.sport = Some(v);
                }
            }
            "--src-type" | "--dst-type" => {
                let v = need(&mut it, a)?;
                push(&mut p.order, "addrtype");
                if a == "--src-type" {
                    p.src_type = Some((was_inv, v));
                } else {
                    p.dst_type = Some((was_inv, v));
                }
            }
            "--ctstate" => {
                let v = need(&mut it, a)?;
                push(&mut p.order, "conntrack");
                p.ctstate = Some((was_inv, ctstates(&v).map_err(err)?));
            }
            "--comment" => {
                let v = need(&mut it, a)?;
                push(&mut p.order, "comment");
                p.comment = Some(v);
            }
            "-j" | "--jump" => p.target = Some(need(&mut it, a)?),
            "--to-destination" => p.to_dest = Some(need(&mut it, a)?),
            "--to-source" => p.to_src = Some(need(&mut it, a)?),
            "--checksum-fill" => p.checksum_fill = true,
            other => return Err(err(format!("option `{other}` not in Docker's vocabulary"))),
        }
    }
    if inv {
        return Err(err("dangling `!`".into()));
    }
    for m in &p.order {
        let (name, words): (String, Vec<String>) = match *m {
            "proto" => {
                let Some(pm) = r.ip.proto.filter(|p| !p.invert) else {
                    return Err(err("--dport/--sport need `-p tcp|udp|sctp`".into()));
                };
                let name = match pm.proto {
                    6 => "tcp",
                    17 => "udp",
                    132 => "sctp",
                    _ => return Err(err("--dport/--sport need `-p tcp|udp|sctp`".into())),
                };
                let mut w = Vec::new();
                if let Some(s) = &p.sport {
                    w.extend(["--sport".to_owned(), s.clone()]);
                }
                if let Some(d) = &p.dport {
                    w.extend(["--dport".to_owned(), d.clone()]);
                }
                (name.to_owned(), w)
            }
            "addrtype" => {
                let mut w = Vec::new();
                for (opt, v) in [("--src-type", &p.src_type), ("--dst-type", &p.dst_type)] {
                    if let Some((i, t)) = v {
                        if *i {
                            w.push("!".into());
                        }
                        w.extend([opt.to_owned(), t.to_ascii_uppercase()]);
                    }
                }
                ("addrtype".into(), w)
            }
            "conntrack" => {
                let mut w = Vec::new();
                if let Some((i, s)) = &p.ctstate {
                    if *i {
                        w.push("!".into());
                    }
                    w.extend(["--ctstate".to_owned(), s.clone()]);
                }
                ("conntrack".into(), w)
            }
            _ => {
                let c = p.comment.clone().unwrap_or_default();
                (
                    "comment".into(),
                    vec!["--comment".into(), crate::ext::save_string(&c)],
                )
            }
        };
        r.matches.push(Match {
            name,
            revision: 0,
            body: ExtBody::Decoded(words),
        });
    }
    let _ = p.proto_match_explicit;
    r.target = match p.target.as_deref() {
        None => Target::None,
        Some("ACCEPT") => Target::Verdict(Verdict::Accept),
        Some("DROP") => Target::Verdict(Verdict::Drop),
        Some("RETURN") => Target::Verdict(Verdict::Return),
        Some(t @ ("MASQUERADE" | "SNAT" | "DNAT" | "CHECKSUM")) => {
            let words = match t {
                "MASQUERADE" => vec![],
                "SNAT" => vec![
                    "--to-source".into(),
                    p.to_src
                        .clone()
                        .ok_or_else(|| err("SNAT needs --to-source".into()))?,
                ],
                "DNAT" => vec![
                    "--to-destination".into(),
                    p.to_dest
                        .clone()
                        .ok_or_else(|| err("DNAT needs --to-destination".into()))?,
                ],
                _ => {
                    if !p.checksum_fill {
                        return Err(err("CHECKSUM needs --checksum-fill".into()));
                    }
                    vec!["--checksum-fill".into()]
                }
            };
            Target::Ext {
                name: t.to_owned(),
                revision: 0,
                body: ExtBody::Decoded(words),
            }
        }
        Some(chain) if !chain.is_empty() && !chain.starts_with('-') => {
            Target::Jump(chain.to_owned())
        }
        Some(t) => return Err(err(format!("target `{t}`"))),
    };
    Ok(r)
}

fn proto_number(p: &str) -> Option<u8> {
    Some(match p {
        "all" | "0" => 0,
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        "icmpv6" | "ipv6-icmp" => 58,
        "sctp" => 132,
        n => n.parse().ok()?,
    })
}

fn ctstates(v: &str) -> Result<String, String> {
    const ORDER: [&str; 7] = [
        "INVALID",
        "NEW",
        "RELATED",
        "ESTABLISHED",
        "UNTRACKED",
        "SNAT",
        "DNAT",
    ];
    let given: Vec<String> = v
        .split(',')
        .map(|s| s.trim().to_ascii_uppercase())
        .collect();
    if let Some(bad) = given.iter().find(|g| !ORDER.contains(&g.as_str())) {
        return Err(format!("conntrack state `{bad}`"));
    }
    Ok(ORDER
        .iter()
        .filter(|s| given.iter().any(|g| g == *s))
        .copied()
        .collect::<Vec<_>>()
        .join(","))
}

/// `ADDR[/PREFIX]`; `0/0` and `::/0` mean "any" (no match at all, as iptables-save prints).
fn addr(family: Family, v: &str, invert: bool) -> Result<Option<AddrMatch>, String> {
    let (a, p) = match v.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let max: u8 = if family == Family::Ipv4 { 32 } else { 128 };
    let prefix: u8 = match p {
        None => max,
        Some(p) => p
            .parse()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("prefix in `{v}`"))?,
    };
    let ip: IpAddr = match (family, a) {
        (Family::Ipv4, "0") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => a.parse().map_err(|_| format!("address `{v}`"))?,
    };
    let (addr, mask) = match (family, ip) {
        (Family::Ipv4, IpAddr::V4(ip)) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            (IpAddr::V4((u32::from(ip) & m).into()), IpAddr::V4(m.into()))
        }
        (Family::Ipv6, IpAddr::V6(ip)) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            (
                IpAddr::V6(Ipv6Addr::from(u128::from(ip) & m)),
                IpAddr::V6(Ipv6Addr::from(m)),
            )
        }
        _ => return Err(format!("`{v}` is not an {family:?} address")),
    };
    if prefix == 0 && !invert {
        return Ok(None);
    }
    Ok(Some(AddrMatch { addr, mask, invert }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Rule {
        parse(
            Family::Ipv4,
            &s.split_whitespace().map(String::from).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn option_order_does_not_matter() {
        let a = p("-p tcp -d 0/0 --dport 8080 -j DNAT --to-destination 192.0.2.2:80 ! -i bridge1");
        let b = p("! -i bridge1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80");
        assert_eq!(a, b);
        assert!(a.ip.dst.is_none());
        let c = p("-p tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80");
        assert_ne!(a, c);
    }

    #[test]
    fn masks_and_matches() {
        let r = p("-s 172.17.0.1/16 ! -o docker0 -j MASQUERADE");
        let s = r.ip.src.unwrap();
        assert_eq!(s.addr.to_string(), "172.17.0.0");
        assert_eq!(s.mask.to_string(), "255.255.0.0");
        let r = p("-o br -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT");
        assert_eq!(
            r.matches[0].body,
            ExtBody::Decoded(vec!["--ctstate".into(), "RELATED,ESTABLISHED".into()])
        );
        let r = p("-m addrtype --dst-type LOCAL -j DOCKER ! --dst 127.0.0.0/8");
        assert!(r.ip.dst.unwrap().invert);
        assert_eq!(r.target, Target::Jump("DOCKER".into()));
        assert!(
            parse(Family::Ipv4, &["-m".into(), "string".into()]).is_err(),
            "unknown match is an error"
        );
        assert!(parse(Family::Ipv4, &["--dport".into(), "80".into()]).is_err());
        let r = parse(
            Family::Ipv6,
            &"-p tcp -d ::/0 --dport 80 -j DNAT --to-destination [2001:db8::2]:80 ! -s fe80::/10"
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(r.ip.dst.is_none());
        assert_eq!(r.ip.src.unwrap().mask.to_string(), "ffc0::");
    }
}
