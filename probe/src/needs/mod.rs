//! What each command needs from the process and the kernel, and one line for people when it
//! is not there: which capability or kernel feature is missing, what it was needed for, and
//! which commands still work here.
//!
//! Two ways in, one wording: [`preflight`] checks the capabilities up front (cheap and certain:
//! nothing is loaded, attached or entered when one is missing), and [`explain`] reads a failed
//! command's error chain (the kernel's EPERM from bpf(2), netlink or setns; unreadable BTF; no
//! tracepoint), because a capability can be present and a sysctl or security module still refuse.

use std::fmt;

use crate::kernel::caps::{Capability, Caps, Restrictions};

mod explain;
pub use explain::explain;

/// The commands that need privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Features,
    Ruleset,
    Check,
    Collect,
    Drops,
    Prove,
    Serve,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Features => "features",
            Command::Ruleset => "ruleset",
            Command::Check => "check",
            Command::Collect => "collect",
            Command::Drops => "drops",
            Command::Prove => "prove",
            Command::Serve => "serve",
        }
    }
}

/// The options of a run that change what it needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Use {
    /// `--netns`: enters another network namespace.
    pub netns: bool,
    /// `drops --tc`: attaches tc counters.
    pub tc: bool,
    /// `prove --dry-run`: plans only (no drop probe, no connection).
    pub dry_run: bool,
    /// `serve --no-drops`.
    pub no_drops: bool,
    /// `check`/`collect --docker-state FILE`: a bundle may hold the kernel's sections, so
    /// whether the firewall is read live is not known up front (a refusal is still named
    /// when it happens).
    pub bundle: bool,
}

/// Why a capability is needed, in the words of the one-line message.
fn purpose(cmd: Command, cap: Capability) -> &'static str {
    match (cmd, cap) {
        (Command::Drops, Capability::NetAdmin) => "to attach the tc counters (--tc)",
        (_, Capability::NetAdmin) => "to read the firewall (nf_tables netlink, legacy tables)",
        (_, Capability::NetRaw) => "to open the socket legacy ip_tables are read through",
        (Command::Prove, Capability::SysAdmin) => {
            "to connect from inside the containers' network namespaces"
        }
        (_, Capability::SysAdmin) => "to enter another network namespace (--netns)",
        (_, Capability::Bpf) => "to load its eBPF programs",
        (_, Capability::Perfmon) => "to attach its eBPF program to the kernel's drop tracepoint",
        (_, Capability::Syslog) => "to read kernel addresses from /proc/kallsyms",
    }
}

/// A capability a command needs; `or` is one the kernel accepts instead (CAP_SYS_ADMIN still
/// stands in for CAP_BPF and CAP_PERFMON, which were split out of it in Linux 5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub cap: Capability,
    pub or: Option<Capability>,
}

impl Need {
    const fn only(cap: Capability) -> Self {
        Self { cap, or: None }
    }

    const fn or_sys_admin(cap: Capability) -> Self {
        Self {
            cap,
            or: Some(Capability::SysAdmin),
        }
    }

    pub fn met(self, caps: Caps) -> bool {
        caps.has(self.cap) || self.or.is_some_and(|c| caps.has(c))
    }

    /// Held, but inside a user namespace where it does not reach what it is needed for:
    /// the kernel's eBPF and kallsyms (checked in the initial user namespace), or the
    /// firewall of a network namespace another user namespace owns.
    pub(crate) fn out_of_reach(self, r: &Restrictions) -> bool {
        r.user_namespace
            && (self.cap.initial_userns_only()
                || (self.cap == Capability::NetAdmin && r.foreign_netns))
    }

    /// Every capability that can meet it.
    pub fn caps(self) -> Vec<Capability> {
        std::iter::once(self.cap).chain(self.or).collect()
    }

    fn words(self) -> String {
        match self.or {
            Some(alt) => format!("{} (or {alt})", self.cap),
            None => self.cap.name().to_owned(),
        }
    }
}

/// What the drop probe needs, in the order checked (and named).
const DROP_PROBE: [Need; 3] = [
    Need::or_sys_admin(Capability::Bpf),
    Need::or_sys_admin(Capability::Perfmon),
    Need::only(Capability::Syslog),
];

fn reads_firewall(cmd: Command) -> bool {
    matches!(
        cmd,
        Command::Ruleset | Command::Check | Command::Collect | Command::Prove | Command::Serve
    )
}

/// Everything `cmd` needs with these options.
pub fn required(cmd: Command, u: Use) -> Vec<Need> {
    let mut out = Vec::new();
    let maybe_offline = u.bundle && matches!(cmd, Command::Check | Command::Collect);
    if reads_firewall(cmd) && !maybe_offline {
        // nfnetlink accepts nothing else (netlink_net_capable(CAP_NET_ADMIN)).
        out.push(Need::only(Capability::NetAdmin));
    }
    let drop_probe = match cmd {
        Command::Drops => true,
        Command::Prove => !u.dry_run,
        // serve reports a drop probe that cannot start in its metrics and goes on: that is
        // said by `explain` in its log, not refused up front.
        _ => false,
    };
    if drop_probe {
        out.extend(DROP_PROBE);
    }
    if cmd == Command::Drops && u.tc {
        // Loading a classifier takes either; attaching it through tcx too.
        out.push(Need::or_sys_admin(Capability::NetAdmin));
    }
    if u.netns || (cmd == Command::Prove && !u.dry_run) {
        out.push(Need::only(Capability::SysAdmin));
    }
    out
}

/// What `cmd` lacks here, or nothing.
pub fn missing(cmd: Command, u: Use, caps: Caps, r: &Restrictions) -> Vec<Need> {
    required(cmd, u)
        .into_iter()
        .filter(|n| !n.met(caps) || n.out_of_reach(r))
        // With kernel.kptr_restrict=0 and perf_event_paranoid <= 1 the kernel shows addresses
        // to everyone (kallsyms_show_value); CAP_SYSLOG is then not needed.
        .filter(|n| n.cap != Capability::Syslog || !kallsyms_open_to_all(r))
        .collect()
}

fn kallsyms_open_to_all(r: &Restrictions) -> bool {
    r.kptr_restrict == Some(0) && r.perf_event_paranoid.is_some_and(|p| p <= 1)
}

/// The one line: what is missing, what for, what still works. Shown as the whole error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    line: String,
}

impl Missing {
    pub fn line(&self) -> &str {
        &self.line
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

impl std::error::Error for Missing {}

/// Check the capabilities `cmd` needs before it touches anything.
pub fn preflight(cmd: Command, u: Use) -> Result<(), Missing> {
    // An unreadable /proc/self/status proves nothing: the calls themselves will say.
    let Ok(caps) = Caps::current() else {
        return Ok(());
    };
    let r = Restrictions::read();
    let lacking = missing(cmd, u, caps, &r);
    if lacking.is_empty() {
        return Ok(());
    }
    Err(capabilities_line(cmd, u, &lacking, caps, &r))
}

/// `drops needs CAP_BPF to load its eBPF programs, and this process lacks it; still works
/// here: ruleset, check, collect, serve without drop counters`.
fn capabilities_line(
    cmd: Command,
    u: Use,
    lacking: &[Need],
    caps: Caps,
    r: &Restrictions,
) -> Missing {
    let parts: Vec<String> = lacking
        .iter()
        .map(|n| format!("{} {}", n.words(), purpose(cmd, n.cap)))
        .collect();
    let it = if lacking.len() == 1 { "it" } else { "them" };
    let lacks = if r.user_namespace && lacking.iter().any(|n| n.met(caps)) {
        format!(
            "this process holds {it} only inside a user namespace of its own (a rootless or \
             unprivileged container), which the kernel does not accept for this"
        )
    } else {
        format!("this process lacks {it}")
    };
    Missing {
        line: format!(
            "{} needs {}, and {lacks}; {}",
            cmd.name(),
            join_and(&parts),
            still_works(cmd, u, caps, r, lacking)
        ),
    }
}

/// The commands (and reduced forms) that do run with these capabilities, other than `cmd`;
/// a command that needs any of `blocked` does not (the kernel refused it whatever the
/// capabilities, or a feature it needs is missing).
pub fn still_works(cmd: Command, u: Use, caps: Caps, r: &Restrictions, blocked: &[Need]) -> String {
    let base = Use {
        netns: u.netns,
        ..Use::default()
    };
    // CAP_NET_RAW is needed only where legacy tables exist, which `required` does not know:
    // when it is the one refused, every command that reads the firewall is out too.
    let raw_refused = blocked.iter().any(|n| n.cap == Capability::NetRaw);
    let ok = |c: Command, u: Use| {
        missing(c, u, caps, r).is_empty()
            && !required(c, u).iter().any(|n| blocked.contains(n))
            && !(raw_refused && reads_firewall(c))
    };
    let mut names: Vec<&str> = Vec::new();
    for c in [Command::Ruleset, Command::Check, Command::Collect] {
        if c != cmd && ok(c, base) {
            names.push(c.name());
        }
    }
    let drops_ok = ok(Command::Drops, base);
    if cmd != Command::Drops && drops_ok {
        names.push("drops");
    } else if cmd == Command::Drops && u.tc && drops_ok {
        names.push("drops without --tc");
    }
    if cmd != Command::Prove && ok(Command::Prove, base) {
        names.push("prove");
    } else if ok(
        Command::Prove,
        Use {
            dry_run: true,
            ..base
        },
    ) {
        names.push("prove --dry-run");
    }
    if ok(Command::Serve, base) {
        if cmd != Command::Serve && drops_ok {
            names.push("serve");
        } else if !drops_ok {
            names.push("serve without drop counters");
        }
    }
    let without_netns = Use { netns: false, ..u };
    if u.netns && !ok(cmd, u) && ok(cmd, without_netns) {
        // Only entering the namespace is refused: from inside it, the command works.
        let also = if names.is_empty() {
            String::new()
        } else {
            format!("; still works here with --netns: {}", names.join(", "))
        };
        return format!(
            "without --netns it works: run it inside the namespace (ip netns exec NAME nfprobe \
             {} ...){also}",
            cmd.name()
        );
    }
    if names.is_empty() {
        "of nfprobe only `features` works here (run it as root)".to_owned()
    } else {
        format!("still works here: {}", names.join(", "))
    }
}

fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_but(missing: &[Capability]) -> Caps {
        let mut bits = u64::MAX >> 23;
        for c in missing {
            bits &= !(1u64 << c.bit());
        }
        Caps::from_bits(bits)
    }

    fn strict() -> Restrictions {
        Restrictions {
            kptr_restrict: Some(0),
            perf_event_paranoid: Some(2),
            ..Restrictions::default()
        }
    }

    fn line(cmd: Command, u: Use, lacking: &[Capability]) -> String {
        let caps = all_but(lacking);
        let r = strict();
        capabilities_line(cmd, u, &missing(cmd, u, caps, &r), caps, &r).line
    }

    #[test]
    fn drops_without_bpf() {
        assert_eq!(
            line(
                Command::Drops,
                Use::default(),
                &[Capability::Bpf, Capability::SysAdmin]
            ),
            "drops needs CAP_BPF (or CAP_SYS_ADMIN) to load its eBPF programs, and this \
             process lacks it; \
             still works here: ruleset, check, collect, prove --dry-run, serve without drop counters"
        );
    }

    #[test]
    fn ruleset_without_net_admin() {
        assert_eq!(
            line(Command::Ruleset, Use::default(), &[Capability::NetAdmin]),
            "ruleset needs CAP_NET_ADMIN to read the firewall (nf_tables netlink, legacy \
             tables), and this process lacks it; still works here: drops"
        );
    }

    #[test]
    fn drops_tc_without_net_admin_still_counts_without_tc() {
        let l = line(
            Command::Drops,
            Use {
                tc: true,
                ..Use::default()
            },
            &[Capability::NetAdmin, Capability::SysAdmin],
        );
        assert!(
            l.starts_with("drops needs CAP_NET_ADMIN (or CAP_SYS_ADMIN) to attach the tc counters"),
            "{l}"
        );
        assert!(l.ends_with("still works here: drops without --tc"), "{l}");
    }

    #[test]
    fn nothing_at_all() {
        let caps = Caps::from_bits(0);
        let r = strict();
        let lacking = missing(Command::Prove, Use::default(), caps, &r);
        assert_eq!(lacking.len(), 5);
        let l = capabilities_line(Command::Prove, Use::default(), &lacking, caps, &r).line;
        assert!(l.contains("and this process lacks them;"), "{l}");
        assert!(
            l.ends_with("of nfprobe only `features` works here (run it as root)"),
            "{l}"
        );
    }

    #[test]
    fn without_sys_admin_netns_points_inside_the_namespace() {
        let u = Use {
            netns: true,
            ..Use::default()
        };
        let l = line(Command::Ruleset, u, &[Capability::SysAdmin]);
        assert_eq!(
            l,
            "ruleset needs CAP_SYS_ADMIN to enter another network namespace (--netns), and this \
             process lacks it; without --netns it works: run it inside the namespace (ip netns \
             exec NAME nfprobe ruleset ...)"
        );
    }

    #[test]
    fn in_a_user_namespace_the_drop_probe_is_out_of_reach() {
        let r = Restrictions {
            user_namespace: true,
            ..strict()
        };
        let caps = all_but(&[]);
        let lacking = missing(Command::Drops, Use::default(), caps, &r);
        assert_eq!(lacking.len(), 3);
        let l = capabilities_line(Command::Drops, Use::default(), &lacking, caps, &r).line;
        assert!(l.contains("only inside a user namespace of its own"), "{l}");
        // The firewall of a namespace the user namespace owns is readable: not refused here.
        assert!(missing(Command::Ruleset, Use::default(), caps, &r).is_empty());
    }

    #[test]
    fn a_bundle_may_hold_the_firewall_so_check_is_not_refused_up_front() {
        let u = Use {
            bundle: true,
            ..Use::default()
        };
        assert!(required(Command::Check, u).is_empty());
        assert!(required(Command::Collect, u).is_empty());
        assert!(!required(Command::Serve, u).is_empty());
    }

    #[test]
    fn sys_admin_stands_in_for_bpf_and_perfmon() {
        let caps = all_but(&[Capability::Bpf, Capability::Perfmon]);
        assert!(missing(Command::Drops, Use::default(), caps, &strict()).is_empty());
    }

    #[test]
    fn syslog_not_needed_where_kallsyms_is_open() {
        let open = Restrictions {
            kptr_restrict: Some(0),
            perf_event_paranoid: Some(1),
            ..Restrictions::default()
        };
        let caps = all_but(&[Capability::Syslog]);
        assert!(missing(Command::Drops, Use::default(), caps, &open).is_empty());
        assert_eq!(
            missing(Command::Drops, Use::default(), caps, &strict()),
            vec![Need::only(Capability::Syslog)]
        );
    }

    #[test]
    fn netns_needs_sys_admin_everywhere() {
        let u = Use {
            netns: true,
            ..Use::default()
        };
        for cmd in [
            Command::Ruleset,
            Command::Check,
            Command::Collect,
            Command::Drops,
            Command::Serve,
            Command::Features,
        ] {
            assert!(
                required(cmd, u).contains(&Need::only(Capability::SysAdmin)),
                "{cmd:?}"
            );
        }
        assert!(required(Command::Features, Use::default()).is_empty());
    }
}
