//! `nfprobe collect -o FILE`: write the bundle (Docker's state, the kernel's rulesets, the
//! iptables binaries and their claims about Docker's rules, the sysctls) for analysis
//! elsewhere with `nfprobe check --docker-state FILE` (docs/bundle.md).

use std::path::PathBuf;

use anyhow::Context;

use nfprobe::host;

use super::check::SourceArgs;
use super::{Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub src: SourceArgs,
    /// Where to write the bundle (`-` for stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Free text stored in the bundle (host name, ticket, ...).
    #[arg(long)]
    pub label: Option<String>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (mut b, _) = host::gather(global.netns.as_ref(), &args.src.sources(), false)?;
    b.host = args.label.clone().or(b.host);
    // Serialized straight into the output (the text of 100k rules is 100+ MiB: never held).
    if args.output.as_os_str() == "-" {
        b.write_json(&mut std::io::stdout().lock())?;
    } else {
        std::fs::File::create(&args.output)
            .and_then(|f| b.write_json(&mut std::io::BufWriter::with_capacity(1 << 16, f)))
            .with_context(|| format!("writing {}", args.output.display()))?;
        eprintln!(
            "nfprobe: bundle written to {} ({} networks, {} containers, {} rulesets, {} claims)",
            args.output.display(),
            b.docker.networks.len(),
            b.docker.containers.len(),
            b.kernel.as_ref().map_or(0, |k| k.rulesets.len()),
            b.iptables.as_ref().map_or(0, |i| i.claims.len())
        );
    }
    Ok(Outcome::Clean)
}
