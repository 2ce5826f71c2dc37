mod lab;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stand up / list / remove a lab (see tests/src).
    Lab(lab::LabArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Lab(a) => lab::run(a),
    }
}
