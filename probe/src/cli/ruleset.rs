//! `nfprobe ruleset`: the kernel's ruleset of one backend and family, as iptables-save text,
//! or JSON (schema `nfprobe.ruleset/1`, see docs/ruleset-json.md); or the whole nf_tables
//! ruleset (every family) in `nft list ruleset` syntax.

use anyhow::{Context, bail};
use clap::ValueEnum;
use nfprobe::ruleset::{Backend, Family, nft_stream, nft_text, read};

use super::{Global, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Nft,
    Legacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// What iptables-save / ip6tables-save prints (without its `#` comment lines).
    Save,
    /// nf_tables syntax, exactly as `nft list ruleset` (nftables 1.0.6) prints it; what
    /// nfprobe cannot print exactly is one `# undecodable ...` line instead (exit code 1).
    Nft,
    /// Versioned JSON (schema nfprobe.ruleset/1).
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which kernel subsystem to read.
    #[arg(long, value_enum, default_value = "nft")]
    pub backend: BackendArg,
    #[arg(long, value_enum, default_value = "ipv4")]
    pub family: FamilyArg,
    #[arg(long, value_enum, default_value = "save")]
    pub format: Format,
    /// Print per-rule packet/byte counters (`iptables-save -c`).
    #[arg(long, short = 'c')]
    pub counters: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let backend = match args.backend {
        BackendArg::Nft => Backend::Nft,
        BackendArg::Legacy => Backend::Legacy,
    };
    let family = match args.family {
        FamilyArg::Ipv4 => Family::Ipv4,
        FamilyArg::Ipv6 => Family::Ipv6,
    };
    let format = if global.json {
        Format::Json
    } else {
        args.format
    };
    if format == Format::Nft {
        return nft_text(global, backend);
    }
    if format == Format::Save {
        // Straight to text (nf_tables: translated on the dump threads as it is read;
        // legacy: rendered from the kernel's blobs and written as it goes).
        use std::io::Write;
        let mut stdout = std::io::stdout();
        let undecoded = read::write_save(
            global.netns.as_ref(),
            backend,
            family,
            args.counters,
            &mut stdout,
        )
        .with_context(|| format!("reading the {backend} {family} ruleset"))?;
        stdout.flush()?;
        return Ok(undecoded_outcome(undecoded));
    }
    // JSON: written table by table and rule by rule as it is decoded (docs/ruleset-json.md).
    let mut stdout = std::io::stdout();
    let undecoded = read::write_json(global.netns.as_ref(), backend, family, &mut stdout)
        .with_context(|| format!("reading the {backend} {family} ruleset"))?;
    Ok(undecoded_outcome(undecoded))
}

fn undecoded_outcome(undecoded: usize) -> Outcome {
    if undecoded > 0 {
        log::warn!("{undecoded} rule(s) could not be fully decoded (marked [undecoded ...])");
        return Outcome::Findings;
    }
    Outcome::Clean
}

/// `--format nft`: every nf_tables table of every family, as `nft list ruleset` prints them
/// (`--family` and `--counters` do not apply: nft shows all families and its counters).
fn nft_text(global: &Global, backend: Backend) -> anyhow::Result<Outcome> {
    if backend != Backend::Nft {
        bail!("--format nft needs --backend nft (legacy xtables has no nf_tables syntax)");
    }
    // nft prints `iif`/`oif` as the interface's name in the namespace read.
    let links = nfprobe::kernel::link::snapshot(global.netns.as_ref())
        .context("reading the namespace's interfaces")?;
    let names = nft_text::Ifnames::from_pairs(links.links.into_iter().map(|l| (l.ifindex, l.name)));
    // Written chain by chain as the rules are read (the whole text is never held).
    let mut stdout = std::io::stdout();
    let marks = nft_stream::write_ruleset(global.netns.as_ref(), &names, &mut stdout)
        .context("reading the nf_tables ruleset")?
        .marks;
    if marks > 0 {
        log::warn!(
            "{marks} rule(s), set(s) or object(s) could not be rendered exactly as nft would (marked `{}`)",
            nft_text::MARK
        );
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Clean)
}
