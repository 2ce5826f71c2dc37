//! Reads of /proc/sys/net values. /proc/sys/net shows the network namespace of the reading
//! thread, so the reads run inside the target namespace.

use std::collections::BTreeMap;

use super::netns::{NetnsError, NetnsSpec, run_in};

/// Read each dotted sysctl name (`net.ipv4.ip_forward`) inside `ns`; absent or unreadable
/// keys map to None (e.g. `net.bridge.*` without br_netfilter loaded).
pub fn read(
    ns: Option<&NetnsSpec>,
    names: &[String],
) -> Result<BTreeMap<String, Option<String>>, NetnsError> {
    run_in(ns, || {
        names
            .iter()
            .map(|n| (n.clone(), read_one(n)))
            .collect::<BTreeMap<_, _>>()
    })
}

fn read_one(name: &str) -> Option<String> {
    // Interface names may hold dots (vlan `eth0.10`); sysctl spells those with `/`, so only
    // the fixed prefix is dotted here and the caller passes the interface part verbatim
    // after `conf.`.
    let path = sysctl_path(name)?;
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn sysctl_path(name: &str) -> Option<String> {
    if name.contains("..") || name.contains('\0') {
        return None;
    }
    let mut parts: Vec<&str> = name.split('.').collect();
    // net.ipv4.conf.<iface>.key: iface may contain dots.
    if parts.len() > 5 && parts.get(2) == Some(&"conf") {
        let key = parts.pop()?;
        let iface = parts[3..].join(".");
        return Some(format!(
            "/proc/sys/{}/{}/{}/{iface}/{key}",
            parts[0], parts[1], parts[2]
        ));
    }
    Some(format!("/proc/sys/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth0.10.route_localnet").unwrap(),
            "/proc/sys/net/ipv4/conf/eth0.10/route_localnet"
        );
        assert!(sysctl_path("net..x").is_none());
        let m = read(None, &["net.ipv4.ip_forward".into(), "net.nope.x".into()]).unwrap();
        assert!(m["net.ipv4.ip_forward"].is_some());
        assert!(m["net.nope.x"].is_none());
    }
}
