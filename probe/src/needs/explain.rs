//! A failed command's error, read for the causes people can act on: a capability the kernel
//! wanted (EPERM/EACCES from bpf(2), nfnetlink, getsockopt, setns), a setting or security module
//! that refused although the capability is there, unreadable BTF, no tracepoint, hidden kernel
//! addresses. Everything else is left as it was.

use std::error::Error;

use super::{Command, DROP_PROBE, Missing, Need, Use, capabilities_line, still_works};
use crate::drops::DropsError;
use crate::kernel::btf::BtfError;
use crate::kernel::caps::{Capability, Caps, Restrictions, is_permission_denied};
use crate::kernel::conntrack::ConntrackError;
use crate::kernel::drop_probe::DropProbeError;
use crate::kernel::ebpf::EbpfError;
use crate::kernel::kallsyms::KallsymsError;
use crate::kernel::link::LinkError;
use crate::kernel::netns::NetnsError;
use crate::kernel::nfnl::NfnlError;
use crate::kernel::nft::NftError;
use crate::kernel::xt::XtError;

const USERNS_WHO: &str = " (a rootless or unprivileged container)";

/// What the kernel refused or lacked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cause {
    /// bpf(2) refused `what` (loading, attaching; `tc` when it was the tc counters).
    Ebpf {
        what: String,
        tc: bool,
    },
    /// setns(2) into this namespace refused.
    Setns {
        path: String,
    },
    /// nfnetlink refused (nf_tables, conntrack).
    Netlink,
    /// The raw socket for legacy ip_tables refused.
    RawSocket,
    /// A legacy ip_tables getsockopt refused.
    Getsockopt,
    /// /proc/kallsyms shows zeros.
    KallsymsHidden,
    /// The BTF file could not be read or parsed.
    Btf {
        detail: String,
    },
    NoTracepoint {
        name: String,
    },
}

/// The one line for `err`, when its cause is one of those above.
pub fn explain(cmd: Command, u: Use, err: &(dyn Error + 'static)) -> Option<Missing> {
    let cause = find(err)?;
    let caps = Caps::current().ok()?;
    let r = Restrictions::read();
    Some(line(cmd, u, &cause, caps, &r))
}

/// Walk the chain; `#[error(transparent)]` wrappers hide their inner error from `source()`,
/// so those are opened by hand.
fn find(err: &(dyn Error + 'static)) -> Option<Cause> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(c) = classify(e) {
            return Some(c);
        }
        cur = e.source();
    }
    None
}

fn classify(e: &(dyn Error + 'static)) -> Option<Cause> {
    if let Some(e) = e.downcast_ref::<DropsError>() {
        return match e {
            DropsError::Probe(p) => probe(p),
            DropsError::Btf(b) => btf(b),
            DropsError::Kallsyms(k) => kallsyms(k),
            DropsError::Link(LinkError::Netns(n)) => netns(n),
            _ => None,
        };
    }
    if let Some(p) = e.downcast_ref::<DropProbeError>() {
        return probe(p);
    }
    if let Some(e) = e.downcast_ref::<EbpfError>() {
        return match e {
            EbpfError::NotPermitted { what, .. } => Some(Cause::Ebpf {
                what: (*what).to_owned(),
                tc: false,
            }),
            EbpfError::Btf(b) => btf(b),
            EbpfError::AyaBtf(b) => Some(Cause::Btf {
                detail: b.to_string(),
            }),
            _ => None,
        };
    }
    if let Some(b) = e.downcast_ref::<BtfError>() {
        return btf(b);
    }
    if let Some(k) = e.downcast_ref::<KallsymsError>() {
        return kallsyms(k);
    }
    if let Some(n) = e.downcast_ref::<NetnsError>() {
        return netns(n);
    }
    if let Some(n) = e.downcast_ref::<NfnlError>() {
        return nfnl(n);
    }
    if let Some(e) = e.downcast_ref::<NftError>() {
        return match e {
            NftError::Netns(n) => netns(n),
            NftError::Nfnl(n) => nfnl(n),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<XtError>() {
        return match e {
            XtError::Socket { source, .. } if is_permission_denied(source) => {
                Some(Cause::RawSocket)
            }
            XtError::Read { source, .. } if is_permission_denied(source) => Some(Cause::Getsockopt),
            XtError::Netns(n) => netns(n),
            _ => None,
        };
    }
    if let Some(LinkError::Netns(n)) = e.downcast_ref::<LinkError>() {
        return netns(n);
    }
    if let Some(ConntrackError::Netns(n)) = e.downcast_ref::<ConntrackError>() {
        return netns(n);
    }
    None
}

fn probe(p: &DropProbeError) -> Option<Cause> {
    match p {
        DropProbeError::NotPermitted { what, .. } => Some(Cause::Ebpf {
            what: what.clone(),
            tc: what.contains("nfp_tc") || what.contains("tc "),
        }),
        DropProbeError::NoTracepoint { name } => Some(Cause::NoTracepoint { name: name.clone() }),
        DropProbeError::Btf(b) => btf(b),
        DropProbeError::Netns(n) => netns(n),
        _ => None,
    }
}

fn btf(b: &BtfError) -> Option<Cause> {
    match b {
        // A readable BTF that lacks a type or member is a different kernel, not a missing
        // feature: the error names the field.
        BtfError::NoType(_) | BtfError::NoMember { .. } | BtfError::Bitfield { .. } => None,
        _ => Some(Cause::Btf {
            detail: b.to_string(),
        }),
    }
}

fn kallsyms(k: &KallsymsError) -> Option<Cause> {
    match k {
        KallsymsError::Hidden => Some(Cause::KallsymsHidden),
        KallsymsError::Read { .. } => None,
    }
}

fn netns(n: &NetnsError) -> Option<Cause> {
    match n {
        NetnsError::Enter { path, source } if is_permission_denied(source) => Some(Cause::Setns {
            path: path.display().to_string(),
        }),
        _ => None,
    }
}

fn nfnl(n: &NfnlError) -> Option<Cause> {
    match n {
        NfnlError::PermissionDenied { .. } => Some(Cause::Netlink),
        NfnlError::Socket { source }
        | NfnlError::Io { source, .. }
        | NfnlError::Kernel { source, .. }
            if is_permission_denied(source) =>
        {
            Some(Cause::Netlink)
        }
        _ => None,
    }
}

fn line(cmd: Command, u: Use, cause: &Cause, caps: Caps, r: &Restrictions) -> Missing {
    // The capabilities the refused operation depends on: missing ones are the answer; when
    // all are there, a setting or security module refused and is named instead.
    let (wanted, refused): (Vec<Need>, String) = match cause {
        Cause::Ebpf { what, tc } => {
            let mut w = vec![DROP_PROBE[0], DROP_PROBE[1]];
            if *tc {
                w.push(Need::or_sys_admin(Capability::NetAdmin));
            }
            let why = if r.lockdown.as_deref() == Some("confidentiality") {
                "kernel lockdown is in confidentiality mode (/sys/kernel/security/lockdown)"
                    .to_owned()
            } else {
                "a security module (SELinux, AppArmor, a BPF LSM) or a seccomp profile refuses bpf()"
                    .to_owned()
            };
            (w, format!("the kernel refused {what}: {why}"))
        }
        Cause::Setns { path } => (
            vec![Need::only(Capability::SysAdmin)],
            if r.user_namespace {
                format!(
                    "the kernel refused to enter network namespace {path}: this process runs in \
                     a user namespace of its own{USERNS_WHO}, and that network namespace \
                     belongs to another"
                )
            } else {
                format!(
                    "the kernel refused to enter network namespace {path} (it belongs to \
                     another user namespace, or a security module refuses setns)"
                )
            },
        ),
        Cause::Netlink | Cause::Getsockopt => (
            vec![Need::only(Capability::NetAdmin)],
            if r.user_namespace {
                format!(
                    "the kernel refused to show the firewall: this process runs in a user \
                     namespace of its own{USERNS_WHO}, and this network namespace belongs to \
                     another"
                )
            } else {
                "the kernel refused to show the firewall (the network namespace belongs to \
                 another user namespace, or a security module refuses it)"
                    .to_owned()
            },
        ),
        Cause::RawSocket => (
            vec![Need::only(Capability::NetRaw)],
            "the kernel refused the raw socket legacy ip_tables are read through (a security \
             module or seccomp profile refuses it)"
                .to_owned(),
        ),
        Cause::KallsymsHidden => {
            let why = if r.kptr_restrict == Some(2) {
                "kernel.kptr_restrict=2 hides them from every process, CAP_SYSLOG or not \
                 (kernel.kptr_restrict=1 shows them to CAP_SYSLOG)"
            } else {
                "a security module hides them"
            };
            (
                vec![Need::only(Capability::Syslog)],
                format!(
                    "/proc/kallsyms shows no kernel addresses, which drops needs to name drop locations: {why}"
                ),
            )
        }
        Cause::Btf { detail } => {
            return Missing {
                line: format!(
                    "{}: the kernel's BTF cannot be read ({detail}); drops needs BTF (a kernel \
                     built with CONFIG_DEBUG_INFO_BTF); {}",
                    cmd.name(),
                    still_works(Command::Drops, u, caps, r, &DROP_PROBE)
                ),
            };
        }
        Cause::NoTracepoint { name } => {
            return Missing {
                line: format!(
                    "{}: the kernel has no tracepoint skb:{name} (its BTF lacks \
                     btf_trace_{name}), where drops counts the kernel's drops; {}",
                    cmd.name(),
                    still_works(Command::Drops, u, caps, r, &DROP_PROBE)
                ),
            };
        }
    };
    let lacking: Vec<Need> = wanted
        .iter()
        .copied()
        .filter(|n| !n.met(caps) || n.out_of_reach(r))
        .collect();
    // kptr_restrict=2 hides addresses whatever the capabilities: granting one would not help.
    let setting_decides = *cause == Cause::KallsymsHidden && r.kptr_restrict == Some(2);
    if !lacking.is_empty() && !setting_decides {
        return capabilities_line(cmd, u, &lacking, caps, r);
    }
    Missing {
        line: format!(
            "{}: {refused}{}; {}",
            cmd.name(),
            if setting_decides || r.user_namespace {
                String::new()
            } else {
                format!(
                    ", although this process has {}",
                    super::join_and(
                        &wanted
                            .iter()
                            .map(|n| n.cap.name().to_owned())
                            .collect::<Vec<_>>()
                    )
                )
            },
            still_works(cmd, u, caps, r, &wanted)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Caps {
        Caps::from_bits(u64::MAX >> 23)
    }

    fn eperm() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::EPERM)
    }

    #[test]
    fn setns_refusal_is_found_through_transparent_wrappers() {
        let inner = NetnsError::Enter {
            path: "/run/netns/x".into(),
            source: eperm(),
        };
        let e = DropsError::Probe(DropProbeError::Netns(inner));
        assert_eq!(
            find(&e),
            Some(Cause::Setns {
                path: "/run/netns/x".into()
            })
        );
        let e = crate::ruleset::read::ReadError::Nft(NftError::Nfnl(NfnlError::PermissionDenied {
            what: "GETTABLE",
        }));
        assert_eq!(find(&e), Some(Cause::Netlink));
    }

    #[test]
    fn other_errors_are_left_alone() {
        let e = NetnsError::Open {
            spec: "x".into(),
            path: "/run/netns/x".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(find(&e), None);
        assert_eq!(find(&BtfError::NoType("sk_buff".into())), None);
    }

    #[test]
    fn refused_with_the_capability_names_the_setting() {
        let r = Restrictions {
            kptr_restrict: Some(2),
            ..Restrictions::default()
        };
        let l = line(
            Command::Drops,
            Use::default(),
            &Cause::KallsymsHidden,
            all(),
            &r,
        );
        assert!(
            l.line().contains("kernel.kptr_restrict=2 hides them"),
            "{l}"
        );
        assert!(!l.line().contains("although"), "{l}");
        assert!(!l.line().contains("still works here: drops"), "{l}");
    }

    #[test]
    fn ebpf_refused_with_its_capabilities_names_lockdown() {
        let r = Restrictions {
            lockdown: Some("confidentiality".into()),
            kptr_restrict: Some(1),
            ..Restrictions::default()
        };
        let cause = Cause::Ebpf {
            what: "loading the eBPF object".into(),
            tc: false,
        };
        let l = line(Command::Drops, Use::default(), &cause, all(), &r);
        assert_eq!(
            l.line(),
            "drops: the kernel refused loading the eBPF object: kernel lockdown is in \
             confidentiality mode (/sys/kernel/security/lockdown), although this process has \
             CAP_BPF and CAP_PERFMON; still works here: ruleset, check, collect, prove \
             --dry-run, serve without drop counters"
        );
        // Without lockdown, the other usual suspects.
        let l = line(
            Command::Drops,
            Use::default(),
            &cause,
            all(),
            &Restrictions::default(),
        );
        assert!(
            l.line()
                .contains("a security module (SELinux, AppArmor, a BPF LSM)"),
            "{l}"
        );
    }

    #[test]
    fn refused_without_the_capability_names_it() {
        let caps = all().without(&[Capability::NetRaw]);
        let l = line(
            Command::Ruleset,
            Use::default(),
            &Cause::RawSocket,
            caps,
            &Restrictions::default(),
        );
        assert!(
            l.line()
                .starts_with("ruleset needs CAP_NET_RAW to open the socket"),
            "{l}"
        );
    }
}
