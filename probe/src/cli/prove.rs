//! `nfprobe prove`: make the failing connection on purpose and prove why it fails.
//! Exit 0 every attempt went as Docker means it to, 1 any failed, 2 could not run.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use nfprobe::drops::{self, Session};
use nfprobe::host;
use nfprobe::kernel::netns::NetnsSpec;
use nfprobe::prove::{self, plan};

use super::check::SourceArgs;
use super::{Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub src: SourceArgs,
    /// Attempt this address instead of every published port (repeatable).
    #[arg(long = "target", value_name = "HOST:PORT")]
    pub targets: Vec<SocketAddr>,
    /// The outside client: a network namespace routed to the host (name under /run/netns,
    /// or a path such as /proc/PID/ns/net).
    #[arg(long, value_name = "NAME|PATH")]
    pub from_netns: Option<String>,
    /// Seconds each connection attempt may take.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub connect_timeout: f64,
    /// Seconds after a timed-out attempt started to keep listening for its late drops
    /// (a packet waiting for a neighbour that never answers is dropped about 3 s later).
    #[arg(long, default_value_t = 4.0, value_name = "SECONDS")]
    pub late_drops: f64,
    /// Only from these vantage points (comma-separated): outside, host-loopback,
    /// host-address, container. Default: every one that applies.
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    pub from: Vec<String>,
    /// Only connect; do not send the one-line HTTP GET.
    #[arg(long)]
    pub no_http: bool,
    /// Print the attempts that would be made, and make none.
    #[arg(long)]
    pub dry_run: bool,
}

fn secs(v: f64, what: &str) -> anyhow::Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v <= 600.0) {
        bail!("{what} must be between 0 and 600 seconds, not {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let timeout = secs(args.connect_timeout, "--connect-timeout")?;
    let late = secs(args.late_drops, "--late-drops")?;
    let (b, e) = host::gather(global.netns.as_ref(), &args.src.sources(), true)?;
    let audit = host::audit(&b, &e);
    let input = plan::PlanInput {
        host: global.netns.clone(),
        from_netns: args.from_netns.as_deref().map(NetnsSpec::parse),
        targets: args.targets.clone(),
        only: args
            .from
            .iter()
            .map(|k| {
                plan::VantageKind::parse(k).with_context(|| {
                    format!("unknown vantage point `{k}` (outside, host-loopback, host-address, container)")
                })
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let plan = plan::build(&b.docker, &input).context("planning the attempts")?;
    if args.dry_run {
        if global.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print!("{}", prove::plan_text(&plan));
        }
        return Ok(Outcome::Clean);
    }
    if plan.attempts.is_empty() {
        let why = if plan.notes.is_empty() {
            "nothing to attempt".to_owned()
        } else {
            plan.notes.join("; ")
        };
        bail!("nothing to attempt: {why} (use --target HOST:PORT)");
    }
    let mut session = Session::start(drops::Options {
        netns: global.netns.clone(),
        ..Default::default()
    })
    .context("starting the drop probe")?;
    let opts = prove::Options {
        host: global.netns.clone(),
        timeout,
        late_drops: late,
        http: !args.no_http,
    };
    let report = prove::run(
        &plan,
        &opts,
        &mut session,
        prove::Context {
            bundle: &b,
            audit: &audit,
        },
    )?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", prove::report::text(&report));
    }
    Ok(if report.all_ok() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}
