//! `nfprobe serve`: the always-on exporter. Keeps the drop probe attached, re-runs the check
//! every interval and as soon as the ruleset changes, and serves `/metrics` and `/healthz`.
//! SIGINT/SIGTERM detach everything and exit 0.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nfprobe::drops::Session;
use nfprobe::kernel::signals;
use nfprobe::metrics::checker::Checker;
use nfprobe::metrics::server::Server;
use nfprobe::metrics::{DropFacts, Exporter, Limits, State, drops, watch};

use super::check::SourceArgs;
use super::{Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address for /metrics and /healthz. The default is loopback only: expose it on purpose
    /// (e.g. 0.0.0.0:9830) where Prometheus scrapes from another host.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9830")]
    pub listen: String,
    /// Seconds between checks when the ruleset does not change (a change checks at once).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub interval: u64,
    /// Do not attach the kernel drop probe (rules only).
    #[arg(long)]
    pub no_drops: bool,
    /// Count drops on this interface instead of the Docker bridges (repeatable).
    #[arg(long = "iface", value_name = "NAME")]
    pub ifaces: Vec<String>,
    #[command(flatten)]
    pub src: SourceArgs,
}

/// How often drop counters are read and the watched interfaces followed.
const DROPS_TICK: Duration = Duration::from_secs(1);

static STOPPING: AtomicBool = AtomicBool::new(false);

fn stop() -> bool {
    STOPPING.load(Ordering::SeqCst) || signals::stop_requested()
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    signals::install_stop_handler().context("installing the SIGINT/SIGTERM handler")?;
    let server = Server::bind(&args.listen)?;
    let ns = global.netns.clone();
    let label = ns
        .as_ref()
        .map_or_else(|| "host".to_owned(), |n| n.spec.clone());
    let exporter = Exporter::new(State::new(label, Limits::default()));
    let sources = args.src.sources();
    let interval = Duration::from_secs(args.interval);
    match server.local_addr() {
        Some(a) => eprintln!("nfprobe serve: listening on http://{a}/metrics"),
        None => eprintln!("nfprobe serve: listening on {}", args.listen),
    }

    std::thread::scope(|s| -> anyhow::Result<()> {
        let (tx, rx) = mpsc::channel();
        let http = s.spawn(|| server.run(&exporter, &stop));
        let watcher = s.spawn(|| {
            if let Err(e) = watch::run(ns.as_ref(), &exporter, &tx, &stop) {
                log::error!(
                    "{e}; ruleset changes are now only noticed every {}s",
                    args.interval
                );
            }
            drop(tx);
        });
        let checker = Checker::new(ns.as_ref(), &sources, interval, &exporter);
        let checker = s.spawn(move || checker.run(&rx, &stop));
        let result = if args.no_drops {
            while !stop() {
                exporter.state().beat("drops");
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        } else {
            follow_drops(&exporter, ns.clone(), args.ifaces.clone())
        };
        // Whatever ended the drop loop ends the others (they look every <= 250 ms).
        STOPPING.store(true, Ordering::SeqCst);
        for (name, h) in [
            ("HTTP", http),
            ("ruleset watch", watcher),
            ("check", checker),
        ] {
            if h.join().is_err() {
                log::error!("the {name} thread panicked");
            }
        }
        result
    })?;
    if let Some(sig) = signals::stop_signal() {
        log::info!("stopped by signal {sig}; everything detached");
    }
    Ok(Outcome::Clean)
}

/// The drop probe's loop on this thread (the session owns the kernel objects; dropping it
/// detaches them). A probe that cannot start (no BTF, no bpf permission) is reported in the
/// metrics and /healthz; the rule checks go on.
fn follow_drops(
    exporter: &Exporter,
    ns: Option<nfprobe::kernel::netns::NetnsSpec>,
    ifaces: Vec<String>,
) -> anyhow::Result<()> {
    let netns = ns.is_some();
    let mut session = match Session::start(drops::session_options(ns, ifaces)) {
        Ok(s) => s,
        Err(e) => {
            // The same one line `nfprobe drops` would print, when a privilege or kernel
            // feature is what is missing.
            let u = nfprobe::needs::Use {
                netns,
                ..Default::default()
            };
            let why = nfprobe::needs::explain(nfprobe::needs::Command::Drops, u, &e)
                .map_or_else(|| e.to_string(), |m| m.to_string());
            log::error!("drop probe not started: {why}; serving rule metrics only");
            exporter.state().drop_probe_error = Some(why);
            while !stop() {
                exporter.state().beat("drops");
                std::thread::sleep(Duration::from_millis(200));
            }
            return Ok(());
        }
    };
    for w in session.warnings() {
        log::warn!("{w}");
    }
    // Starting the probe parsed the kernel's BTF and /proc/kallsyms (tens of MiB, freed);
    // hand the freed memory back instead of keeping it for the process's life.
    nfprobe::metrics::checker::trim_heap();
    let mut next = Instant::now();
    while !stop() {
        if Instant::now() >= next {
            next += DROPS_TICK;
            if let Err(e) = session.refresh() {
                log::warn!("following interfaces: {e}");
            }
            match session.summary() {
                Ok(summary) => {
                    let mut st = exporter.state();
                    let facts = DropFacts::from_summary(&summary, &st.netns, &st.limits);
                    st.drops = Some(facts);
                    st.drop_probe_error = None;
                    st.beat("drops");
                }
                Err(e) => {
                    log::warn!("reading drop counters: {e}");
                    exporter.state().drop_probe_error = Some(e.to_string());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(session);
    Ok(())
}
