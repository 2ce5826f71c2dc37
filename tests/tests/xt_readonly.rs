//! Reading legacy xtables must change nothing: asking the kernel for a table that does not
//! exist would create it, so /proc/net/ip{,6}_tables_names must be identical before and after
//! every read — in a namespace with some tables, one with none, and on the host.

mod xt_support;

use nfprobe::ruleset::{Backend, Family, read};
use xt_support::Netns;

fn names(ns: &Netns) -> (String, String) {
    let r = |f: &str| {
        let out = ns.run("cat", &[f], None);
        // A missing file (module not loaded in this namespace yet) reads as "".
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    (
        r("/proc/net/ip_tables_names"),
        r("/proc/net/ip6_tables_names"),
    )
}

fn host_names() -> (String, String) {
    let r = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    (
        r("/proc/net/ip_tables_names"),
        r("/proc/net/ip6_tables_names"),
    )
}

fn read_everything(ns: &Netns) {
    let spec = ns.spec();
    for family in [Family::Ipv4, Family::Ipv6] {
        read::read(Some(&spec), Backend::Legacy, family).unwrap();
        read::save_text(Some(&spec), Backend::Legacy, family, true).unwrap();
    }
    // The binary too, as an operator would run it.
    let bin = lab::bin_path::nfprobe_bin().expect("the nfprobe binary");
    for fam in ["ipv4", "ipv6"] {
        for format in ["save", "json"] {
            let out = std::process::Command::new(&bin)
                .args([
                    "--netns",
                    &ns.name,
                    "ruleset",
                    "--backend",
                    "legacy",
                    "--family",
                    fam,
                    "--format",
                    format,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "nfprobe ruleset failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn legacy_reads_create_no_table() {
    let host_before = host_names();

    // Some tables: filter and mangle for IPv4, only raw for IPv6.
    let ns = Netns::new("ro");
    let out = ns.sh(
        "iptables-legacy -A INPUT -j ACCEPT && iptables-legacy -t mangle -A OUTPUT -j ACCEPT \
         && ip6tables-legacy -t raw -A OUTPUT -j ACCEPT",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = names(&ns);
    assert!(before.0.contains("filter") && before.0.contains("mangle"));
    assert!(!before.0.contains("nat") && !before.0.contains("raw"));
    assert!(before.1.contains("raw") && !before.1.contains("filter"));
    read_everything(&ns);
    assert_eq!(names(&ns), before, "a legacy read created a table");

    // No tables at all.
    let empty = Netns::new("ro0");
    let before = names(&empty);
    assert!(
        !before.0.contains("filter"),
        "fresh namespace already has tables: {before:?}"
    );
    read_everything(&empty);
    assert_eq!(names(&empty), before, "a legacy read created a table");

    assert_eq!(host_names(), host_before, "the host's table list changed");
}
