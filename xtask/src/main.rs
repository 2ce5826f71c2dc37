//! `cargo xtask ...`: set up the machine, build, test, benchmark and fuzz nfprobe.
//!
//! Every step prints what it does (`xtask: ...` and `+ command`). Only the steps that need root
//! (installing apt packages) ask for it. To add a command: a variant in [`Cmd`], its arm in
//! [`main`], and a file of its own.

use clap::{Parser, Subcommand};

mod bench;
mod bootstrap;
mod build;
mod fuzz;
mod lab;
mod run;
mod sh;
mod test;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "nfprobe's developer tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Stand up / list / remove a lab (see tests/src).
    Lab(lab::LabArgs),
    /// Install what building and testing need (idempotent; fast when done).
    Bootstrap,
    /// Build the eBPF object and nfprobe with it embedded.
    Build {
        /// Optimised build: target/release/nfprobe.
        #[arg(long)]
        release: bool,
    },
    /// Bootstrap, build, lint and run the whole test suite.
    Test {
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
        /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
        #[arg(last = true)]
        cargo_test_args: Vec<String>,
    },
    /// Bootstrap, build --release and run nfprobe's main job against this host.
    RunCheck {
        /// Extra arguments for nfprobe (e.g. --json).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Benchmarks against the real tools (`cargo xtask bench` lists them).
    Bench {
        name: Option<String>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Coverage-guided fuzzing of the decoders (`cargo xtask fuzz` lists the targets).
    Fuzz {
        /// A target, `all`, or `record-seeds`.
        target: Option<String>,
        /// Seconds per target (300 unless --runs is given).
        #[arg(long)]
        seconds: Option<u64>,
        /// Executions per target (libFuzzer's -runs); with --seconds, whichever comes first.
        #[arg(long)]
        runs: Option<u64>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Lab(a) => lab::run(a),
        Cmd::Bootstrap => bootstrap::run(),
        Cmd::Build { release } => build::run(release),
        Cmd::Test {
            no_lint,
            cargo_test_args,
        } => test::run(!no_lint, &cargo_test_args),
        Cmd::RunCheck { args } => run::check(&args),
        Cmd::Bench { name, args } => bench::run(name.as_deref(), &args),
        Cmd::Fuzz {
            target,
            seconds,
            runs,
        } => fuzz::run(target.as_deref(), fuzz::Budget::new(seconds, runs)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
