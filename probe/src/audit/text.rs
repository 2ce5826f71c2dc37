//! Text helpers for findings: kernel rules as `-A CHAIN ...` (iptables-save words, via
//! `ruleset::render`) and shell quoting for fix commands.

use crate::ruleset::{Rule, render};

/// `-A CHAIN words...`
pub fn spec(chain: &str, r: &Rule) -> String {
    let t = render::rule_text(r);
    if t.is_empty() {
        format!("-A {chain}")
    } else {
        format!("-A {chain} {t}")
    }
}

/// Shell-quote a word for a fix script.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:,=+@[]!".contains(&b))
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
    fn parsed_docker_rules_render_as_iptables_save() {
        for l in [
            "-d 192.0.2.2/32 ! -i bridge1 -o bridge1 -p tcp -m tcp --dport 80 -j ACCEPT",
            "-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
            "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
            "-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "! -i bridge1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80",
        ] {
            let args: Vec<String> = l.split_whitespace().map(String::from).collect();
            let r = to_rule(Family::Ipv4, &args).unwrap();
            assert_eq!(spec("X", &r), format!("-A X {l}"));
        }
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("RELATED,ESTABLISHED"), "RELATED,ESTABLISHED");
    }
}
