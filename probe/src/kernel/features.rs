//! What this kernel offers nfprobe, read without changing anything: nf_tables, legacy xtables
//! tables already in use, BTF, tcx, and whether our eBPF object loads.

use std::io::{BufRead, BufReader};

use serde::Serialize;

use super::family::Family;
use super::netns::{NetnsError, NetnsSpec, run_in};

/// A kernel symbol that exists exactly when nf_tables is built in or loaded.
const NF_TABLES_SYMBOL: &str = "nft_do_chain";
/// tcx (BPF_TCX_INGRESS/EGRESS links) arrived in Linux 6.6.
const TCX_MIN: (u32, u32) = (6, 6);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Features {
    pub kernel_release: String,
    /// None when /proc/kallsyms could not be read.
    pub nf_tables: Option<bool>,
    /// Legacy IPv4 tables that exist in the namespace (never created by asking).
    pub legacy_ipv4_tables: Vec<String>,
    /// Legacy IPv6 tables that exist in the namespace.
    pub legacy_ipv6_tables: Vec<String>,
    pub btf: bool,
    pub tcx: bool,
    /// Whether our eBPF object loads and attaches here (it is detached at once).
    pub ebpf_load: bool,
    /// Why it does not, when it does not.
    pub ebpf_error: Option<String>,
}

/// Collect the features; the legacy table lists are read inside `netns` when given.
pub fn detect(netns: Option<&NetnsSpec>) -> Result<Features, NetnsError> {
    // The same lists the legacy reader goes by (an unreadable one counts as no table).
    let (v4, v6) = run_in(netns, || {
        let names = |f| super::xt::table_names(f).unwrap_or_default();
        (names(Family::Ipv4), names(Family::Ipv6))
    })?;
    let kernel_release = kernel_release();
    let ebpf_error = super::ebpf::probe_load().err().map(|e| e.to_string());
    Ok(Features {
        tcx: parse_release(&kernel_release).is_some_and(|v| v >= TCX_MIN),
        kernel_release,
        nf_tables: kallsyms_has(NF_TABLES_SYMBOL),
        legacy_ipv4_tables: v4,
        legacy_ipv6_tables: v6,
        // Parsed, not just present: an empty or broken file is no BTF.
        btf: super::btf::Btf::from_sys().is_ok(),
        ebpf_load: ebpf_error.is_none(),
        ebpf_error,
    })
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// `6.18.44-foo` → (6, 18).
pub fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

fn kallsyms_has(symbol: &str) -> Option<bool> {
    let file = std::fs::File::open("/proc/kallsyms").ok()?;
    let mut found = false;
    for line in BufReader::new(file).lines() {
        let line = line.ok()?;
        // "ADDR TYPE NAME [MODULE]"
        if line.split_whitespace().nth(2) == Some(symbol) {
            found = true;
            break;
        }
    }
    Some(found)
}

impl Features {
    /// What nfprobe needs and this kernel lacks (empty when all is there).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.nf_tables != Some(true) {
            out.push("nf_tables");
        }
        if !self.btf {
            out.push("BTF");
        }
        if !self.ebpf_load {
            out.push("eBPF load");
        }
        out
    }

    /// One short line for humans.
    pub fn summary(&self) -> String {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let legacy = if self.legacy_ipv4_tables.is_empty() && self.legacy_ipv6_tables.is_empty() {
            "none".to_owned()
        } else {
            let mut parts = Vec::new();
            if !self.legacy_ipv4_tables.is_empty() {
                parts.push(format!("ipv4: {}", self.legacy_ipv4_tables.join(",")));
            }
            if !self.legacy_ipv6_tables.is_empty() {
                parts.push(format!("ipv6: {}", self.legacy_ipv6_tables.join(",")));
            }
            parts.join("; ")
        };
        format!(
            "kernel {}: nf_tables {}, legacy tables {}, BTF {}, tcx {}, eBPF load {}",
            self.kernel_release,
            self.nf_tables.map_or("unknown", yes_no),
            legacy,
            yes_no(self.btf),
            yes_no(self.tcx),
            match &self.ebpf_error {
                None => "ok".to_owned(),
                Some(e) => format!("FAILED ({e})"),
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases() {
        assert_eq!(parse_release("6.18.44-fc-v782"), Some((6, 18)));
        assert_eq!(parse_release("5.10.0"), Some((5, 10)));
        assert_eq!(parse_release("garbage"), None);
        assert_eq!(parse_release(""), None);
    }
}
