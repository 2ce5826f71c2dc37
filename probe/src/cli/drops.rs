//! `nfprobe drops`: live drop counters on the Docker bridges (or named interfaces).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use nfprobe::drops::{Options, Session};
use nfprobe::kernel::signals;

use super::{Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Watch this interface instead of the Docker bridges (repeatable).
    #[arg(long = "iface", value_name = "NAME")]
    pub ifaces: Vec<String>,
    /// Stop after this many seconds (default: until Ctrl-C / SIGTERM).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Sample dropped flows: print each (NDJSON with --json).
    #[arg(long)]
    pub samples: bool,
    /// Samples per second per CPU (with --samples).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub sample_rate: u32,
    /// Also count packets in and out per interface with tc programs (tcx; clsact on kernels
    /// < 6.6) on the bridges and their ports. Off by default because every packet then runs
    /// two tc hooks: measured on a 2-core VM, routed 1400-byte UDP kept 90-97 % of its
    /// throughput (97 %, 95 % CI 96.4-97.4 %, on an idle machine) and its sender spent
    /// 2.5-3.5 % more CPU per byte (docs/benchmarks.md). Without it nothing of nfprobe runs on a packet the kernel
    /// forwards: packets and bytes per interface come from the kernel's own statistics.
    #[arg(long)]
    pub tc: bool,
    /// The default since the tc counters became opt-in; accepted for old scripts.
    #[arg(long, hide = true, conflicts_with = "tc")]
    pub no_tc: bool,
    /// Attach the tc counters as clsact filters even where tcx links exist: the fallback used
    /// on kernels < 6.6, for testing it (filters left by a SIGKILLed run are removed on the
    /// next start; a clean exit removes ours and the clsact qdiscs we created).
    #[arg(long, hide = true, requires = "tc")]
    pub force_clsact: bool,
}

const TICK: Duration = Duration::from_millis(100);
const REFRESH: Duration = Duration::from_secs(1);

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    signals::install_stop_handler().context("installing the SIGINT/SIGTERM handler")?;
    let opts = Options {
        netns: global.netns.clone(),
        ifaces: args.ifaces.clone(),
        sample_per_sec: if args.samples { args.sample_rate } else { 0 },
        tc: args.tc,
        force_clsact: args.force_clsact,
    };
    // The session owns every program and link: returning (by error, signal or duration)
    // drops it, which detaches everything.
    let mut session = Session::start(opts).context("starting the drop probe")?;
    for w in session.warnings() {
        log::warn!("{w}");
    }
    let live = !global.json && std::io::stdout().is_terminal();
    let start = Instant::now();
    let deadline = args.duration.map(|s| start + Duration::from_secs(s));
    let mut next_refresh = start + REFRESH;
    let mut out = std::io::stdout().lock();
    if !live {
        // On stderr, so scripts (and the tests) know when counting has begun.
        let targets: Vec<_> = session.targets().map(|t| t.name.clone()).collect();
        let uplinks: Vec<_> = session.uplinks().map(|t| t.name.clone()).collect();
        eprintln!(
            "nfprobe drops: watching {}{}",
            targets.join(", "),
            if uplinks.is_empty() {
                String::new()
            } else {
                format!(
                    "; interface statistics also of {} (uplink)",
                    uplinks.join(", ")
                )
            }
        );
    }
    loop {
        if signals::stop_requested() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        std::thread::sleep(TICK);
        if args.samples {
            for ev in session.samples() {
                if global.json {
                    writeln!(out, "{}", serde_json::to_string(&ev)?)?;
                } else {
                    writeln!(out, "{}", ev.line())?;
                }
            }
            out.flush()?;
        }
        if Instant::now() >= next_refresh {
            next_refresh += REFRESH;
            // Also reads the watched interfaces' statistics (each second).
            for t in session.refresh().context("following interfaces")? {
                log::info!("now watching {} ({})", t.name, t.role.as_str());
            }
            if live && !args.samples {
                let summary = session.summary()?;
                // Clear the screen and redraw.
                write!(out, "\x1b[H\x1b[2J{}", summary.render(true))?;
                out.flush()?;
            }
        }
    }
    if args.samples {
        for ev in session.samples() {
            if global.json {
                writeln!(out, "{}", serde_json::to_string(&ev)?)?;
            } else {
                writeln!(out, "{}", ev.line())?;
            }
        }
    }
    let summary = session.summary()?;
    drop(session);
    if global.json {
        let mut v = serde_json::to_value(&summary)?;
        if args.samples
            && let Some(obj) = v.as_object_mut()
        {
            obj.insert("type".into(), "summary".into());
        }
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
    } else {
        write!(out, "{}", summary.render(false))?;
    }
    out.flush()?;
    if let Some(sig) = signals::stop_signal() {
        log::info!("stopped by signal {sig}; everything detached");
    }
    Ok(Outcome::Clean)
}
