//! The command line: one file per command, each thin (parse, call the library, print).
//!
//! To add a command: `mod NAME;`, a variant in [`Command`] and its arm in [`Cli::run`].

use clap::{CommandFactory, Parser, Subcommand};
use nfprobe::kernel::netns::NetnsSpec;
use nfprobe::needs;

mod check;
mod collect;
mod drops;
mod features;
mod prove;
mod ruleset;
mod serve;

#[derive(Debug, Parser)]
#[command(
    name = "nfprobe",
    version,
    about = "The kernel's truth about this host's firewall and dropped packets"
)]
pub struct Cli {
    /// Work inside this network namespace: a name under /run/netns, or a path such as
    /// /proc/PID/ns/net.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub netns: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Which kernel features nfprobe can use here (nf_tables, legacy tables, BTF, tcx, eBPF).
    Features(features::Args),
    /// The kernel's ruleset (nf_tables or legacy xtables), as iptables-save would print it.
    Ruleset(ruleset::Args),
    /// The truth report: Docker's expected rules vs the kernel vs the iptables CLI.
    Check(check::Args),
    /// Write a bundle (Docker state, kernel rulesets, iptables claims, sysctls) to a file.
    Collect(collect::Args),
    /// Live drop counters on the Docker bridges (or named interfaces): what the kernel dropped,
    /// where and why.
    Drops(drops::Args),
    /// Prometheus exporter: drop counters, the check's findings (re-run when the ruleset
    /// changes), ruleset generation; serves /metrics and /healthz.
    Serve(serve::Args),
    /// Make the failing connections on purpose (every published port, from outside, from the
    /// host, from other networks) and prove why each fails: kernel drops of exactly that flow,
    /// the rule or policy that took its packets, and the missing rules.
    Prove(prove::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: `nfprobe man > nfprobe.1`.
    #[command(hide = true)]
    Man,
}

/// `nfprobe --version`: the version and the eBPF object this binary carries.
pub fn long_version() -> String {
    format!(
        "{}\neBPF object: {}",
        env!("CARGO_PKG_VERSION"),
        nfprobe::kernel::ebpf::object_identity()
    )
}

/// The command line definition, with the long version filled in.
pub fn command() -> clap::Command {
    Cli::command().long_version(long_version())
}

/// Options every command understands.
#[derive(Debug, Clone)]
pub struct Global {
    pub netns: Option<NetnsSpec>,
    pub json: bool,
}

/// How a command that ran to the end went; errors (could not run) are `Err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report: exit 0.
    Clean,
    /// The command found problems and reported them: exit 1.
    Findings,
}

impl Command {
    /// What this run needs from the process (None: nothing privileged).
    fn needs(&self, netns: bool) -> Option<(needs::Command, needs::Use)> {
        let u = needs::Use {
            netns,
            ..needs::Use::default()
        };
        let (cmd, u) = match self {
            Command::Features(_) => (needs::Command::Features, u),
            Command::Ruleset(_) => (needs::Command::Ruleset, u),
            Command::Check(a) => (
                needs::Command::Check,
                needs::Use {
                    bundle: a.src.docker_state.is_some(),
                    ..u
                },
            ),
            Command::Collect(a) => (
                needs::Command::Collect,
                needs::Use {
                    bundle: a.src.docker_state.is_some(),
                    ..u
                },
            ),
            Command::Drops(a) => (needs::Command::Drops, needs::Use { tc: a.tc, ..u }),
            Command::Prove(a) => (
                needs::Command::Prove,
                needs::Use {
                    dry_run: a.dry_run,
                    ..u
                },
            ),
            Command::Serve(a) => (
                needs::Command::Serve,
                needs::Use {
                    no_drops: a.no_drops,
                    ..u
                },
            ),
            Command::Completions { .. } | Command::Man => return None,
        };
        Some((cmd, u))
    }
}

impl Cli {
    /// Run the command. A missing capability is refused before anything is touched, and a
    /// failure whose cause is a missing privilege or kernel feature becomes the one line
    /// that names it (`needs`).
    pub fn run(self) -> anyhow::Result<Outcome> {
        let needs = self.command.needs(self.netns.is_some());
        if let Some((cmd, u)) = needs {
            needs::preflight(cmd, u)?;
        }
        self.run_command().map_err(|err| {
            match needs.and_then(|(cmd, u)| needs::explain(cmd, u, err.as_ref())) {
                Some(line) => anyhow::Error::new(line),
                None => err,
            }
        })
    }

    fn run_command(self) -> anyhow::Result<Outcome> {
        let global = Global {
            netns: self.netns.as_deref().map(NetnsSpec::parse),
            json: self.json,
        };
        match self.command {
            Command::Features(args) => features::run(&global, args),
            Command::Ruleset(args) => ruleset::run(&global, args),
            Command::Check(args) => check::run(&global, args),
            Command::Collect(args) => collect::run(&global, args),
            Command::Drops(args) => drops::run(&global, args),
            Command::Serve(args) => serve::run(&global, args),
            Command::Prove(args) => prove::run(&global, args),
            Command::Completions { shell } => {
                // Into a buffer first: clap_complete panics on a write error (a closed pipe).
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut command(), "nfprobe", &mut script);
                std::io::Write::write_all(&mut std::io::stdout(), &script)?;
                Ok(Outcome::Clean)
            }
            Command::Man => {
                clap_mangen::Man::new(command()).render(&mut std::io::stdout())?;
                Ok(Outcome::Clean)
            }
        }
    }
}
