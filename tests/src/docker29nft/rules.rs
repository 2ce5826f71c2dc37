//! What Docker 29.0 with `firewall-backend: nftables` writes, as the lab's own model: each
//! rule in the words Docker hands to `nft -f` (unquoted names, `iifname ==`, one-element
//! sets `{ br, }`, bare comments) and in the words `nft list` prints back, so a test can see
//! that nfprobe compares meanings, not spellings. Userland proxy off (the incident's
//! setting), gateway mode nat, icc and masquerade on, no IPv6 networks.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fakehost::{NetSpec, PortSpec};

/// What a piece is for; the fault selectors name these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `filter-FORWARD`: `oifname vmap @filter-forward-in-jumps`.
    ForwardInDispatch,
    /// `nat-PREROUTING`: jump to the DNAT chain for local addresses.
    PreroutingJump,
    /// Per network: the four verdict-map elements.
    FwdInElement,
    FwdOutElement,
    PostInElement,
    PostOutElement,
    /// `filter-forward-in__BR`: conntrack accept.
    CtAccept,
    Icc,
    /// Per published port: accept into the bridge.
    PortAccept,
    UnpublishedDrop,
    Outgoing,
    Masquerade,
    MasqFromHost,
    MasqOwnPort,
    Dnat,
    DropDirect,
    /// Anything else (base chain plumbing not offered for deletion).
    Other,
}

impl Kind {
    pub const DELETABLE: [Kind; 16] = [
        Kind::ForwardInDispatch,
        Kind::PreroutingJump,
        Kind::FwdInElement,
        Kind::FwdOutElement,
        Kind::PostInElement,
        Kind::PostOutElement,
        Kind::CtAccept,
        Kind::Icc,
        Kind::PortAccept,
        Kind::UnpublishedDrop,
        Kind::Outgoing,
        Kind::Masquerade,
        Kind::MasqFromHost,
        Kind::MasqOwnPort,
        Kind::Dnat,
        Kind::DropDirect,
    ];

    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn parse(s: &str) -> Option<Kind> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One rule or verdict-map element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    pub kind: Kind,
    /// Network index in creation order (None: table-wide).
    pub network: Option<usize>,
    /// `ip` or `ip6`.
    pub family: String,
    /// Chain, or map for an element.
    pub chain: String,
    /// Docker's words (a rule, or `KEY : VERDICT` for an element).
    pub text: String,
    /// What `nft list` prints (without counter values); for an element
    /// `element MAP "KEY" : VERDICT`.
    pub listed: String,
    pub element: bool,
}

const MAPS: [(&str, &str, Kind); 4] = [
    (
        "filter-forward-in-jumps",
        "filter-forward-in__",
        Kind::FwdInElement,
    ),
    (
        "filter-forward-out-jumps",
        "filter-forward-out__",
        Kind::FwdOutElement,
    ),
    (
        "nat-postrouting-in-jumps",
        "nat-postrouting-in__",
        Kind::PostInElement,
    ),
    (
        "nat-postrouting-out-jumps",
        "nat-postrouting-out__",
        Kind::PostOutElement,
    ),
];

const BASE: [(&str, &str); 5] = [
    (
        "filter-FORWARD",
        "type filter hook forward priority filter; policy accept;",
    ),
    // nft 1.0.6 refuses the name `dstnat` on the output hook; Docker writes numbers.
    (
        "nat-OUTPUT",
        "type nat hook output priority -100; policy accept;",
    ),
    (
        "nat-POSTROUTING",
        "type nat hook postrouting priority srcnat; policy accept;",
    ),
    (
        "nat-PREROUTING",
        "type nat hook prerouting priority dstnat; policy accept;",
    ),
    (
        "raw-PREROUTING",
        "type filter hook prerouting priority raw; policy accept;",
    ),
];

fn piece(
    kind: Kind,
    network: Option<usize>,
    family: &str,
    chain: &str,
    text: &str,
    listed: &str,
) -> Piece {
    Piece {
        kind,
        network,
        family: family.into(),
        chain: chain.into(),
        text: text.into(),
        listed: listed.into(),
        element: false,
    }
}

/// Every piece Docker 29.0 writes for these networks and ports, in its order per chain.
pub fn docker_29_0(nets: &[NetSpec], ports: &[PortSpec]) -> Vec<Piece> {
    let mut v = Vec::new();
    for fam in ["ip", "ip6"] {
        let pre = |k, t: &str, l: &str, c: &str| piece(k, None, fam, c, t, l);
        v.push(pre(
            Kind::ForwardInDispatch,
            "oifname vmap @filter-forward-in-jumps",
            "oifname vmap @filter-forward-in-jumps",
            "filter-FORWARD",
        ));
        v.push(pre(
            Kind::Other,
            "iifname vmap @filter-forward-out-jumps",
            "iifname vmap @filter-forward-out-jumps",
            "filter-FORWARD",
        ));
        v.push(pre(
            Kind::Other,
            "iifname vmap @nat-postrouting-out-jumps",
            "iifname vmap @nat-postrouting-out-jumps",
            "nat-POSTROUTING",
        ));
        v.push(pre(
            Kind::Other,
            "oifname vmap @nat-postrouting-in-jumps",
            "oifname vmap @nat-postrouting-in-jumps",
            "nat-POSTROUTING",
        ));
        v.push(pre(
            Kind::PreroutingJump,
            "fib daddr type local counter jump nat-prerouting-and-output",
            "fib daddr type local counter jump nat-prerouting-and-output",
            "nat-PREROUTING",
        ));
        // Proxy off: no loopback exception.
        v.push(pre(
            Kind::Other,
            " fib daddr type local counter jump nat-prerouting-and-output",
            "fib daddr type local counter jump nat-prerouting-and-output",
            "nat-OUTPUT",
        ));
        if fam == "ip6" {
            continue;
        }
        for (i, n) in nets.iter().enumerate() {
            let br = n.bridge.as_str();
            let p = |k, c: &str, t: String, l: String| piece(k, Some(i), fam, c, &t, &l);
            for (map, prefix, kind) in MAPS {
                v.push(Piece {
                    kind,
                    network: Some(i),
                    family: fam.into(),
                    chain: map.into(),
                    text: format!("{br} : jump {prefix}{br}"),
                    listed: format!("element {map} \"{br}\" : jump {prefix}{br}"),
                    element: true,
                });
            }
            let fin = format!("filter-forward-in__{br}");
            let fout = format!("filter-forward-out__{br}");
            let pin = format!("nat-postrouting-in__{br}");
            let pout = format!("nat-postrouting-out__{br}");
            let ct = "ct state established,related counter accept".to_owned();
            v.push(p(Kind::CtAccept, &fin, ct.clone(), ct.clone()));
            v.push(p(Kind::Other, &fout, ct.clone(), ct));
            v.push(p(
                Kind::Icc,
                &fin,
                format!("iifname == {br} counter accept comment ICC"),
                format!("iifname \"{br}\" counter accept comment \"ICC\""),
            ));
            for port in ports.iter().filter(|p| p.network == i) {
                let accept = format!(
                    "ip daddr {} {} dport {} counter accept",
                    port.container_ip, port.proto, port.container_port
                );
                v.push(p(Kind::PortAccept, &fin, accept.clone(), accept));
            }
            v.push(p(
                Kind::UnpublishedDrop,
                &fin,
                "counter drop comment \"UNPUBLISHED PORT DROP\"".into(),
                "counter drop comment \"UNPUBLISHED PORT DROP\"".into(),
            ));
            v.push(p(
                Kind::Outgoing,
                &fout,
                "counter accept comment OUTGOING".into(),
                "counter accept comment \"OUTGOING\"".into(),
            ));
            v.push(p(
                Kind::Masquerade,
                &pout,
                format!(
                    "oifname != {br} ip saddr {} counter masquerade comment MASQUERADE",
                    n.subnet
                ),
                format!(
                    "oifname != \"{br}\" ip saddr {} counter masquerade comment \"MASQUERADE\"",
                    n.subnet
                ),
            ));
            let from_host =
                "fib saddr type local counter masquerade comment \"MASQUERADE FROM HOST\"";
            v.push(p(
                Kind::MasqFromHost,
                &pin,
                from_host.into(),
                from_host.into(),
            ));
            for port in ports.iter().filter(|p| p.network == i) {
                let c = port.container_ip;
                let own = format!(
                    "ip saddr {c} ip daddr {c} {} dport {} counter masquerade comment \"MASQ TO OWN PORT\"",
                    port.proto, port.container_port
                );
                v.push(p(Kind::MasqOwnPort, &pin, own.clone(), own));
                v.push(p(
                    Kind::Dnat,
                    "nat-prerouting-and-output",
                    format!(
                        "{} dport {} counter dnat to {c}:{} comment DNAT",
                        port.proto, port.host_port, port.container_port
                    ),
                    format!(
                        "{} dport {} counter dnat to {c}:{} comment \"DNAT\"",
                        port.proto, port.host_port, port.container_port
                    ),
                ));
                v.push(p(
                    Kind::DropDirect,
                    "raw-PREROUTING",
                    format!("ip daddr {c} iifname != {{ {br}, }} counter drop comment \"DROP DIRECT ACCESS\""),
                    format!("ip daddr {c} iifname != \"{br}\" counter drop comment \"DROP DIRECT ACCESS\""),
                ));
            }
        }
    }
    v
}

/// The `nft -f` script that replaces both `docker-bridges` tables with `pieces` (Docker
/// re-creates its tables the same way: add, delete, define).
pub fn script(pieces: &[Piece], nets: &[NetSpec]) -> String {
    let mut s = String::new();
    for fam in ["ip", "ip6"] {
        s.push_str(&format!(
            "table {fam} docker-bridges {{}}\ndelete table {fam} docker-bridges\n"
        ));
    }
    for fam in ["ip", "ip6"] {
        s.push_str(&format!("table {fam} docker-bridges {{\n"));
        for (map, _, _) in MAPS {
            s.push_str(&format!("\tmap {map} {{\n\t\ttype ifname : verdict\n"));
            let els: Vec<&str> = pieces
                .iter()
                .filter(|p| p.element && p.family == fam && p.chain == map)
                .map(|p| p.text.as_str())
                .collect();
            if !els.is_empty() {
                s.push_str(&format!("\t\telements = {{ {} }}\n", els.join(", ")));
            }
            s.push_str("\t}\n");
        }
        let mut chains: Vec<String> = BASE.iter().map(|(c, _)| (*c).to_owned()).collect();
        chains.push("nat-prerouting-and-output".into());
        if fam == "ip" {
            for n in nets {
                for (_, prefix, _) in MAPS {
                    chains.push(format!("{prefix}{}", n.bridge));
                }
            }
        }
        for c in &chains {
            s.push_str(&format!("\tchain {c} {{\n"));
            if let Some((_, hook)) = BASE.iter().find(|(b, _)| b == c) {
                s.push_str(&format!("\t\t{hook}\n"));
            }
            for p in pieces
                .iter()
                .filter(|p| !p.element && p.family == fam && &p.chain == c)
            {
                s.push_str(&format!("\t\t{}\n", p.text.trim()));
            }
            s.push_str("\t}\n");
        }
        s.push_str("}\n");
    }
    s
}
