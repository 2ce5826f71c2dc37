//! A rule as iptables-save words (`-s 10.0.0.0/8 -o br -m tcp --dport 80 -j ACCEPT`), for
//! reports and for asking the CLI about kernel rules. Kept local to the audit until the
//! shared `ruleset::render` lands.

use std::net::IpAddr;

use crate::ruleset::{AddrMatch, ExtBody, IfaceMatch, Rule, Target, Verdict};

pub fn words(r: &Rule) -> Vec<String> {
    let mut w: Vec<String> = Vec::new();
    let addr = |w: &mut Vec<String>, opt: &str, a: &AddrMatch| {
        if a.invert {
            w.push("!".into());
        }
        w.push(opt.into());
        w.push(format!("{}/{}", a.addr, mask_text(a.mask)));
    };
    let iface = |w: &mut Vec<String>, opt: &str, i: &IfaceMatch| {
        if i.invert {
            w.push("!".into());
        }
        w.push(opt.into());
        w.push(format!("{}{}", i.name, if i.wildcard { "+" } else { "" }));
    };
    if let Some(a) = &r.ip.src {
        addr(&mut w, "-s", a);
    }
    if let Some(a) = &r.ip.dst {
        addr(&mut w, "-d", a);
    }
    if let Some(i) = &r.ip.in_iface {
        iface(&mut w, "-i", i);
    }
    if let Some(i) = &r.ip.out_iface {
        iface(&mut w, "-o", i);
    }
    if let Some(p) = &r.ip.proto {
        if p.invert {
            w.push("!".into());
        }
        w.push("-p".into());
        w.push(proto_name(p.proto));
    }
    if let Some(inv) = r.ip.fragment {
        if inv {
            w.push("!".into());
        }
        w.push("-f".into());
    }
    for m in &r.matches {
        w.push("-m".into());
        w.push(m.name.clone());
        body(&mut w, &m.body);
    }
    match &r.target {
        Target::None => {}
        Target::Verdict(v) => {
            w.push("-j".into());
            w.push(
                match v {
                    Verdict::Accept => "ACCEPT",
                    Verdict::Drop => "DROP",
                    Verdict::Return => "RETURN",
                    Verdict::Queue => "QUEUE",
                }
                .into(),
            );
        }
        Target::Jump(c) => w.extend(["-j".into(), c.clone()]),
        Target::Goto(c) => w.extend(["-g".into(), c.clone()]),
        Target::Ext { name, body: b, .. } => {
            w.push("-j".into());
            w.push(name.clone());
            body(&mut w, b);
        }
    }
    for u in &r.undecoded {
        w.push(format!("<undecoded {}: {}>", u.what, u.reason));
    }
    w
}

fn body(w: &mut Vec<String>, b: &ExtBody) {
    match b {
        ExtBody::Decoded(words) => w.extend(words.iter().cloned()),
        ExtBody::Raw(bytes) => w.push(format!("<{} undecoded bytes>", bytes.len())),
    }
}

/// `-A CHAIN words...`
pub fn spec(chain: &str, r: &Rule) -> String {
    let mut s = format!("-A {chain}");
    for x in words(r) {
        s.push(' ');
        s.push_str(&x);
    }
    s
}

fn mask_text(m: IpAddr) -> String {
    let (bits, ones) = match m {
        IpAddr::V4(a) => (32, u32::from(a).leading_ones()),
        IpAddr::V6(a) => (128, u128::from(a).leading_ones()),
    };
    let contiguous = match m {
        IpAddr::V4(a) => u32::from(a).checked_shl(ones).unwrap_or(0) == 0,
        IpAddr::V6(a) => u128::from(a).checked_shl(ones).unwrap_or(0) == 0,
    };
    let _ = bits;
    if contiguous {
        ones.to_string()
    } else {
        m.to_string()
    }
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        n => n.to_string(),
    }
}

/// Shell-quote a word for a fix script.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:,=+@[]".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::expect::to_rule;
    use crate::ruleset::Family;

    #[test]
    fn round_trip_docker_rules() {
        for l in [
            "-d 192.0.2.2/32 ! -i bridge1 -o bridge1 -p tcp -m tcp --dport 80 -j ACCEPT",
            "-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
            "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
            "-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ] {
            let args: Vec<String> = l.split_whitespace().map(String::from).collect();
            let r = to_rule(Family::Ipv4, &args).unwrap();
            assert_eq!(words(&r).join(" "), l);
        }
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("RELATED,ESTABLISHED"), "RELATED,ESTABLISHED");
    }
}
