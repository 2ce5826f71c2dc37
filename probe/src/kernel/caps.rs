//! What this process may do: its effective capabilities (from /proc/self/status) and the
//! system settings that refuse privileged operations even to a process holding them.
//!
//! Plain typed facts; which command needs what is decided above this module.

use std::fmt;

use thiserror::Error;

/// The capabilities nfprobe's commands depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Netlink (nfnetlink) and getsockopt reads of the firewall, tc/tcx attachment.
    NetAdmin,
    /// The raw socket the legacy ip_tables getsockopt interface is reached through.
    NetRaw,
    /// setns(2) into another network namespace.
    SysAdmin,
    /// Real addresses in /proc/kallsyms.
    Syslog,
    /// Tracing eBPF programs (and reading kernel memory from them).
    Perfmon,
    /// bpf(2): maps and programs.
    Bpf,
}

impl Capability {
    pub const ALL: [Capability; 6] = [
        Capability::NetAdmin,
        Capability::NetRaw,
        Capability::SysAdmin,
        Capability::Syslog,
        Capability::Perfmon,
        Capability::Bpf,
    ];

    /// The bit number (linux/capability.h).
    pub fn bit(self) -> u32 {
        match self {
            Capability::NetAdmin => 12,
            Capability::NetRaw => 13,
            Capability::SysAdmin => 21,
            Capability::Syslog => 34,
            Capability::Perfmon => 38,
            Capability::Bpf => 39,
        }
    }

    /// The kernel checks it in the initial user namespace (capable(), not ns_capable()):
    /// held only in a user namespace of one's own, it does not count.
    pub fn initial_userns_only(self) -> bool {
        matches!(
            self,
            Capability::Bpf | Capability::Perfmon | Capability::Syslog
        )
    }

    /// The name as the man pages (and setpriv, capsh) spell it.
    pub fn name(self) -> &'static str {
        match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
            Capability::SysAdmin => "CAP_SYS_ADMIN",
            Capability::Syslog => "CAP_SYSLOG",
            Capability::Perfmon => "CAP_PERFMON",
            Capability::Bpf => "CAP_BPF",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Error)]
pub enum CapsError {
    #[error("cannot read {STATUS}: {0}")]
    Read(#[source] std::io::Error),
    #[error("{STATUS} has no readable CapEff line")]
    NoCapEff,
}

const STATUS: &str = "/proc/self/status";

/// An effective capability set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    effective: u64,
}

impl Caps {
    /// This process's effective set. (Every thread of ours has the same set: nothing here
    /// changes capabilities per thread.)
    pub fn current() -> Result<Self, CapsError> {
        let status = std::fs::read_to_string(STATUS).map_err(CapsError::Read)?;
        Self::from_status(&status).ok_or(CapsError::NoCapEff)
    }

    /// Parse the `CapEff:\t<16 hex digits>` line of a /proc/PID/status text.
    pub fn from_status(status: &str) -> Option<Self> {
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))?
            .trim();
        u64::from_str_radix(hex, 16)
            .ok()
            .map(|effective| Self { effective })
    }

    pub fn from_bits(effective: u64) -> Self {
        Self { effective }
    }

    pub fn has(self, cap: Capability) -> bool {
        self.effective & (1u64 << cap.bit()) != 0
    }

    /// This set with `caps` taken away (to ask what would still work without them).
    pub fn without(self, caps: &[Capability]) -> Self {
        let mask = caps.iter().fold(0u64, |m, c| m | (1u64 << c.bit()));
        Self {
            effective: self.effective & !mask,
        }
    }

    /// Which of `wanted` are missing, in the order given.
    pub fn missing(self, wanted: &[Capability]) -> Vec<Capability> {
        wanted.iter().copied().filter(|c| !self.has(*c)).collect()
    }
}

/// System settings that refuse privileged operations regardless of capabilities (or that
/// decide what an unprivileged process may do). None: not readable or not present here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Restrictions {
    /// kernel.unprivileged_bpf_disabled: 1 or 2 refuse bpf(2) to processes without CAP_BPF.
    pub unprivileged_bpf_disabled: Option<u32>,
    /// kernel.perf_event_paranoid.
    pub perf_event_paranoid: Option<i32>,
    /// kernel.kptr_restrict: 2 hides kernel addresses from everyone, CAP_SYSLOG or not.
    pub kptr_restrict: Option<u32>,
    /// The kernel lockdown mode (`none`, `integrity`, `confidentiality`) when the lockdown
    /// LSM is active; confidentiality refuses eBPF reads of kernel memory.
    pub lockdown: Option<String>,
    /// This process runs in a user namespace of its own (a rootless or unprivileged
    /// container): its capabilities hold there, and the kernel wants CAP_BPF, CAP_PERFMON and
    /// CAP_SYSLOG in the initial one.
    pub user_namespace: bool,
    /// The network namespace this process is in belongs to a user namespace other than its
    /// own (checked only inside a user namespace; false when unknown): its firewall then
    /// needs CAP_NET_ADMIN held further up.
    pub foreign_netns: bool,
}

impl Restrictions {
    pub fn read() -> Self {
        fn num<T: std::str::FromStr>(path: &str) -> Option<T> {
            std::fs::read_to_string(path).ok()?.trim().parse().ok()
        }
        let user_namespace =
            std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| !is_initial_uid_map(&m));
        Self {
            unprivileged_bpf_disabled: num("/proc/sys/kernel/unprivileged_bpf_disabled"),
            perf_event_paranoid: num("/proc/sys/kernel/perf_event_paranoid"),
            kptr_restrict: num("/proc/sys/kernel/kptr_restrict"),
            lockdown: std::fs::read_to_string("/sys/kernel/security/lockdown")
                .ok()
                .and_then(|s| parse_lockdown(&s)),
            user_namespace,
            foreign_netns: user_namespace && netns_owner_differs() == Some(true),
        }
    }
}

/// Whether this thread's network namespace is owned by another user namespace than this
/// process's (NS_GET_USERNS); None when the kernel does not say.
fn netns_owner_differs() -> Option<bool> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::MetadataExt;
    // _IO(0xb7, 0x1) from linux/nsfs.h.
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    let net = std::fs::File::open("/proc/thread-self/ns/net").ok()?;
    // SAFETY: ioctl on an open nsfs fd; it returns a new fd (owned right away) or -1.
    let fd = unsafe { libc::ioctl(net.as_raw_fd(), NS_GET_USERNS as _) };
    if fd < 0 {
        // EPERM: the owner is outside this process's user namespace (an ancestor).
        let eperm = std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        return eperm.then_some(true);
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    let owner = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let owner_ino = owner.metadata().ok()?.ino();
    let own_ino = std::fs::metadata("/proc/self/ns/user").ok()?.ino();
    Some(owner_ino != own_ino)
}

/// The initial user namespace maps every uid to itself: one line `0 0 4294967295`.
fn is_initial_uid_map(map: &str) -> bool {
    let lines: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| !f.is_empty())
        .collect();
    matches!(lines.as_slice(), [only] if only.as_slice() == ["0", "0", "4294967295"])
}

/// `none [integrity] confidentiality` → the bracketed (active) mode.
fn parse_lockdown(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let rest = text.get(start + 1..)?;
    let end = rest.find(']')?;
    rest.get(..end).map(str::to_owned)
}

/// Whether an error (or any error it was caused by) is the kernel saying EPERM or EACCES.
pub fn is_permission_denied(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
        {
            return true;
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cap_eff() {
        let status = "Name:\tnfprobe\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
                      CapEff:\t0000007fffffefff\nCapBnd:\t000001ffffffffff\n";
        let caps = Caps::from_status(status).unwrap();
        assert!(!caps.has(Capability::NetAdmin));
        assert!(caps.has(Capability::NetRaw));
        assert!(caps.has(Capability::Perfmon));
        assert!(!caps.has(Capability::Bpf));
        assert_eq!(
            caps.missing(&[Capability::Bpf, Capability::SysAdmin, Capability::NetAdmin]),
            vec![Capability::Bpf, Capability::NetAdmin]
        );
    }

    #[test]
    fn bad_status_is_none() {
        assert_eq!(Caps::from_status(""), None);
        assert_eq!(Caps::from_status("CapEff:\tzz\n"), None);
        assert_eq!(Caps::from_status("CapEff:\t1ffffffffffffffffff\n"), None);
    }

    #[test]
    fn uid_maps() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0       1000          1\n"));
        assert!(!is_initial_uid_map(""));
    }

    #[test]
    fn lockdown_mode() {
        assert_eq!(
            parse_lockdown("none [integrity] confidentiality\n").as_deref(),
            Some("integrity")
        );
        assert_eq!(parse_lockdown("none integrity"), None);
    }

    #[test]
    fn permission_errors_found_in_chains() {
        let e = std::io::Error::from_raw_os_error(libc::EPERM);
        assert!(is_permission_denied(&e));
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert!(!is_permission_denied(&e));
    }

    #[test]
    fn this_process_has_a_readable_set() {
        Caps::current().expect("/proc/self/status has CapEff on every Linux");
    }
}
