//! `cargo xtask lab up|down|status`: stand a lab up by hand, see it, remove it.
//! The lab itself is the `lab` library (tests/src); this is its command line.

use std::time::Instant;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

/// `cargo xtask lab ...`
#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build a lab and leave it running; prints what it created.
    Up(UpArgs),
    /// Remove a lab (by name), the stale ones (--stale), or every lab (--all).
    Down {
        /// Lab name as printed by `up` / `status` (nfl<pid>-<n>).
        name: Option<String>,
        /// Remove every lab under /run/nfprobe-lab, including other people's running ones.
        #[arg(long)]
        all: bool,
        /// Remove only labs whose creating process is gone and that were not persisted.
        #[arg(long)]
        stale: bool,
    },
    /// List the labs under /run/nfprobe-lab and what they contain.
    Status {
        /// Print the full state record as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// real: dockerd 20.10 in a netns; docker28: the 28.0.1 layout without Docker;
    /// docker29-nft: Docker 29.0's nftables tables without Docker.
    #[arg(long, default_value = "docker28", value_parser = ["real", "docker28", "docker29-nft"])]
    pub flavour: String,
    /// User networks.
    #[arg(long, default_value_t = 2)]
    pub networks: usize,
    /// Containers per network.
    #[arg(long, default_value_t = 1)]
    pub containers: usize,
    /// real: dockerd runs with the iptables-1.8.11 bug model as its iptables.
    /// docker28: same as `--faults iptables-1.8.11`.
    #[arg(long)]
    pub faulty: bool,
    /// docker28 faults, comma separated: iptables-1.8.11 (alias preset), iptables-1.8.11-skips,
    /// both-backends, forward-accept, forward-drop, delete:KIND[@NET].
    /// docker29-nft faults: delete:KIND[@NET] (dnat, port-accept, fwd-in-element, ...),
    /// port-accept-below-drop@NET.
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// docker28: iptables backend for the rules.
    #[arg(long, default_value = "nft", value_parser = ["nft", "legacy"])]
    pub backend: String,
    /// docker28, docker29-nft: also the default bridge docker0.
    #[arg(long)]
    pub docker0: bool,
    /// real: dual-stack networks (ip6tables on, `--ipv6` with fd00:0:0:NN::/64).
    #[arg(long)]
    pub ipv6: bool,
}

/// Entry point for `cargo xtask lab ...` (parsed args).
pub fn run(args: LabArgs) -> Result<()> {
    match args.command {
        LabCommand::Up(up) => run_up(up),
        LabCommand::Down { name, all, stale } => {
            if stale {
                let gone = lab::core::cleanup_stale();
                println!("removed {} stale lab(s) {}", gone.len(), gone.join(" "));
                return Ok(());
            }
            run_down(name, all)
        }
        LabCommand::Status { json } => run_status(json),
    }
}

fn run_up(a: UpArgs) -> Result<()> {
    let t0 = Instant::now();
    let stale = lab::core::cleanup_stale();
    if !stale.is_empty() {
        eprintln!("removed stale labs: {}", stale.join(" "));
    }
    if a.ipv6 && a.flavour != "real" {
        bail!("--ipv6 is for --flavour real");
    }
    let state = if a.flavour == "real" {
        if !a.faults.is_empty() || a.backend != "nft" || a.docker0 {
            bail!("--faults, --backend and --docker0 are for --flavour docker28");
        }
        let lab = lab::real::Lab::up(lab::real::Options {
            networks: a.networks,
            containers_per_network: a.containers,
            faulty_iptables: a.faulty,
            ipv6: a.ipv6,
            ..Default::default()
        })?;
        for (stage, t) in lab.timings() {
            eprintln!("  {t:>8.2?}  {stage}");
        }
        lab.persist()?
    } else if a.flavour == "docker29-nft" {
        if a.faulty || a.backend != "nft" {
            bail!("--faulty and --backend are for --flavour docker28 (docker29-nft: --faults)");
        }
        let faults = a
            .faults
            .iter()
            .map(|f| f.parse())
            .collect::<Result<Vec<lab::docker29nft::Fault>>>()?;
        let lab = lab::docker29nft::Lab::up(lab::docker29nft::Options {
            plan: lab::fakehost::Plan {
                networks: a.networks,
                containers_per_network: a.containers,
                default_bridge: a.docker0,
                ..Default::default()
            },
            faults,
        })?;
        lab.persist()?
    } else {
        let mut faults = Vec::new();
        if a.faulty {
            faults.push(lab::docker28::Fault::Iptables1811);
        }
        for f in &a.faults {
            faults.push(f.parse()?);
        }
        let lab = lab::docker28::Lab::up(lab::docker28::Options {
            networks: a.networks,
            containers_per_network: a.containers,
            default_bridge: a.docker0,
            backend: a.backend.parse()?,
            faults,
            ..Default::default()
        })?;
        lab.persist()?
    };
    print!("{}", state.summary());
    if state.flavour == lab::Flavour::Docker29Nft {
        println!(
            "check: nfprobe --netns /run/netns/{} check --docker-state {}",
            state
                .topology
                .as_ref()
                .map(|t| t.host_netns.as_str())
                .unwrap_or("?"),
            state.dir.join(lab::docker29nft::BUNDLE).display()
        );
    }
    println!("up in {:.2?}", t0.elapsed());
    println!(
        "try: nsenter --net=/run/netns/{} curl -m 2 {}:PORT    remove: cargo xtask lab down {}",
        state
            .topology
            .as_ref()
            .map(|t| t.client.netns.as_str())
            .unwrap_or("?"),
        lab::core::CLIENT_HOST_ADDR,
        state.name
    );
    Ok(())
}

fn run_down(name: Option<String>, all: bool) -> Result<()> {
    let labs = match (name, all) {
        (Some(n), false) => vec![lab::state::find(&n)?],
        (None, true) => lab::state::list_all(),
        _ => bail!("give a lab name, --stale or --all"),
    };
    let mut failed = 0;
    for st in labs {
        let t0 = Instant::now();
        match lab::teardown::teardown(&st) {
            Ok(()) => println!("removed lab {} in {:.2?}", st.name, t0.elapsed()),
            Err(e) => {
                failed += 1;
                eprintln!("{e:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} lab(s) not fully removed");
    }
    Ok(())
}

fn run_status(json: bool) -> Result<()> {
    let labs = lab::state::list_all();
    if json {
        println!("{}", serde_json::to_string_pretty(&labs)?);
        return Ok(());
    }
    if labs.is_empty() {
        println!("no labs under {}", lab::names::LAB_ROOT);
    }
    for st in labs {
        print!("{}", st.summary());
        let missing: Vec<&String> = st
            .netns
            .iter()
            .filter(|n| !lab::netns::path_of(n).exists())
            .collect();
        if !missing.is_empty() {
            println!("  WARNING: netns gone: {missing:?}");
        }
    }
    Ok(())
}
