//! `nfprobe check`: for every rule Docker should have, is it in the kernel, in a working
//! order, and what does the iptables CLI claim? Exit 0 all ok, 1 findings, 2 could not run.

use std::path::PathBuf;
use std::time::Duration;

use nfprobe::docker::state::StateSource;
use nfprobe::host;
use nfprobe::report;

use super::{Global, Outcome};

/// Where Docker's state comes from (shared by `check` and `collect`).
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Docker Engine socket: unix:///path (default: $DOCKER_HOST, else /var/run/docker.sock).
    #[arg(long, value_name = "unix:///PATH")]
    pub docker_host: Option<String>,
    /// Do not ask the Engine API: bridges and addresses from the kernel only (degraded view).
    #[arg(long)]
    pub no_docker_api: bool,
    /// Read Docker's state (and any kernel, claims and sysctl sections) from a bundle written
    /// by `nfprobe collect` or by hand (docs/bundle.md).
    #[arg(long, value_name = "FILE")]
    pub docker_state: Option<PathBuf>,
    /// Rule layout to expect instead of the one the engine version implies:
    /// 20, 28.0, 28.2, 28.3, 29, 29-nft.
    #[arg(long)]
    pub layout: Option<String>,
    /// Also ask this iptables binary `-C` (repeatable).
    #[arg(long = "iptables", value_name = "PATH")]
    pub iptables: Vec<PathBuf>,
    /// Do not run any iptables binary (no claims).
    #[arg(long)]
    pub no_claims: bool,
    /// Seconds before an iptables call is given up.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Seconds iptables may wait for the xtables lock (`--wait`).
    #[arg(long, default_value_t = 5)]
    pub wait: u32,
}

impl SourceArgs {
    pub fn sources(&self) -> host::Sources {
        host::Sources {
            docker_host: self.docker_host.clone(),
            no_docker_api: self.no_docker_api,
            docker_state: self.docker_state.clone(),
            layout: self.layout.clone(),
            iptables: self.iptables.clone(),
            no_claims: self.no_claims,
            timeout: Duration::from_secs(self.timeout),
            wait: self.wait,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub src: SourceArgs,
    /// Print the commands that would restore every missing rule (applies nothing).
    #[arg(long)]
    pub fix_script: bool,
    /// Also list the rules that are fine.
    #[arg(long)]
    pub all: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (b, e) = host::gather(global.netns.as_ref(), &args.src.sources(), true)?;
    if args.src.docker_state.is_none()
        && b.docker.source == StateSource::Netlink
        && b.docker.networks.is_empty()
    {
        // No Engine API and no Docker bridge in the kernel: there is no Docker here, so no
        // rule is expected. Saying "everything is missing" would be a false alarm.
        let why = b.docker.degraded.as_deref().unwrap_or("no Docker found");
        if global.json {
            let doc = serde_json::json!({
                "kind": "nfprobe-check",
                "schema": 1,
                "docker": "absent",
                "problems": 0,
                "reason": why,
            });
            println!("{doc:#}");
        } else {
            println!(
                "nfprobe check — no Docker on this host: no Engine API answered and the kernel has \
                 no Docker bridge (docker0, br-<id>), so Docker expects no rule here. Nothing to \
                 check.\n({why})"
            );
        }
        return Ok(Outcome::Clean);
    }
    let a = host::audit(&b, &e);
    if args.fix_script {
        print!("{}", report::fix_script(&a));
    } else if global.json {
        println!("{}", report::json(&a));
    } else {
        print!("{}", report::text(&a, args.all));
    }
    Ok(if a.problems() == 0 {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}
