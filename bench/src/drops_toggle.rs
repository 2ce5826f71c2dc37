//! The probe's data-path cost, measured on a running stream: the probe stays loaded (the same
//! library session `nfprobe drops` runs) and only its data path — the `kfree_skb` tracepoint,
//! and in `--tc` mode the tc counters in both directions on the bridge and its port — is detached and
//! re-attached between short windows. Windows come in blocks of four, ABBA then BAAB
//! (A = detached), so a linear load drift cancels within a block and neither state always
//! comes first; a short settle follows every switch. Per block: the with/without ratio of the
//! throughput and of the stream threads' CPU time per packet.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::drops_flow::{Counts, Snap, Stream};
use super::paired;
use super::procstat;

/// Fewer blocks give no useful interval.
const MIN_BLOCKS: usize = 10;

/// One measured window: its state and what happened in it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub on: bool,
    pub counts: Totals,
}

impl Window {
    fn between(on: bool, a: &Snap, b: &Snap) -> Self {
        let counts = Totals {
            secs: b.at.duration_since(a.at).as_secs_f64(),
            n: b.n.since(&a.n),
        };
        Self { on, counts }
    }
}

/// Counts over one window, or summed over the windows of one state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub secs: f64,
    pub n: Counts,
}

impl Totals {
    fn add(&mut self, w: &Totals) {
        self.secs += w.secs;
        self.n.add(&w.n);
    }

    pub fn rate(&self) -> f64 {
        self.n.bytes as f64 / self.secs.max(1e-9)
    }

    /// The stream threads' CPU time per packet (ns).
    pub fn thread_ns_per_packet(&self) -> f64 {
        self.n.thread_cpu_ns as f64 / self.n.packets.max(1) as f64
    }

    /// The sender thread's CPU time per packet (ns).
    pub fn sender_ns_per_packet(&self) -> f64 {
        self.n.sender_cpu_ns as f64 / self.n.packets.max(1) as f64
    }

    /// The receiver's CPU time per packet (ns).
    pub fn receiver_ns_per_packet(&self) -> f64 {
        (self.n.thread_cpu_ns - self.n.sender_cpu_ns) as f64 / self.n.packets.max(1) as f64
    }

    /// Receiver sleeps per 1000 packets.
    pub fn sleeps_per_kpacket(&self) -> f64 {
        1e3 * self.n.receiver_sleeps as f64 / self.n.packets.max(1) as f64
    }

    /// The whole machine's busy CPU time per packet (ns; tick-sampled).
    pub fn busy_ns_per_packet(&self) -> f64 {
        self.n.cpu.busy as f64 * procstat::ns_per_tick() / self.n.packets.max(1) as f64
    }
}

/// Per state (without, with) totals of a block.
fn split(ws: &[Window]) -> (Totals, Totals) {
    let (mut off, mut on) = (Totals::default(), Totals::default());
    for w in ws {
        if w.on {
            on.add(&w.counts)
        } else {
            off.add(&w.counts)
        }
    }
    (off, on)
}

pub struct Toggled {
    pub blocks: Vec<[Window; 4]>,
    pub window: Duration,
    /// Data-path switches and the wall time they took together.
    pub switches: usize,
    pub switch_secs: f64,
}

/// Blocks of four `window`s on `stream` until `budget` is spent (at least `MIN_BLOCKS`);
/// `attach(on)` switches the data path.
pub fn measure(
    stream: &Stream,
    attach: &mut dyn FnMut(bool) -> Result<()>,
    budget: Duration,
    window: Duration,
    settle: Duration,
    progress: &mut dyn FnMut(usize, &[Window; 4]),
) -> Result<Toggled> {
    let mut out = Vec::new();
    let mut state = None;
    let (mut switches, mut switch_secs) = (0, 0.0);
    let start = Instant::now();
    let mut b = 0;
    while b < MIN_BLOCKS || start.elapsed() < budget {
        let order = if b % 2 == 0 {
            [false, true, true, false]
        } else {
            [true, false, false, true]
        };
        let mut ws = Vec::with_capacity(4);
        for on in order {
            if state != Some(on) {
                let t = Instant::now();
                attach(on)?;
                switch_secs += t.elapsed().as_secs_f64();
                switches += 1;
                state = Some(on);
            }
            std::thread::sleep(settle);
            let a = stream.snap()?;
            std::thread::sleep(window);
            let z = stream.snap()?;
            ws.push(Window::between(on, &a, &z));
        }
        let block = [ws[0], ws[1], ws[2], ws[3]];
        progress(b, &block);
        out.push(block);
        b += 1;
    }
    attach(false)?;
    Ok(Toggled {
        blocks: out,
        window,
        switches,
        switch_secs,
    })
}

/// A with/without ratio over blocks: the Hodges–Lehmann estimate of the per-block log ratios
/// with its signed-rank confidence interval (the verdict), and the plain median with its
/// sign-test interval.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    pub est: f64,
    pub lo: f64,
    pub hi: f64,
    pub coverage: f64,
    pub median: f64,
    pub median_lo: f64,
    pub median_hi: f64,
    pub median_coverage: f64,
}

impl Ratio {
    fn of(v: &[f64]) -> Self {
        let logs: Vec<f64> = v.iter().map(|r| r.max(1e-9).ln()).collect();
        let (est, lo, hi, coverage) = paired::hodges_lehmann(&logs);
        let (median_lo, median_hi, median_coverage) = paired::median_ci(v);
        Self {
            est: est.exp(),
            lo: lo.exp(),
            hi: hi.exp(),
            coverage,
            median: paired::median(v),
            median_lo,
            median_hi,
            median_coverage,
        }
    }

    pub fn show(&self) -> String {
        format!(
            "{:.2}%, {:.1}% CI {:.2}-{:.2}% (half-width {:.2} points; Hodges-Lehmann, signed-rank \
             interval); median {:.2}%, {:.1}% CI {:.2}-{:.2}% (sign test)",
            100.0 * self.est,
            100.0 * self.coverage,
            100.0 * self.lo,
            100.0 * self.hi,
            50.0 * (self.hi - self.lo),
            100.0 * self.median,
            100.0 * self.median_coverage,
            100.0 * self.median_lo,
            100.0 * self.median_hi,
        )
    }
}

impl Toggled {
    pub fn totals(&self) -> (Totals, Totals) {
        let all: Vec<Window> = self.blocks.iter().flatten().copied().collect();
        split(&all)
    }

    /// Per block: throughput with / without.
    pub fn throughput(&self) -> Ratio {
        let v: Vec<f64> = self.blocks.iter().map(throughput_ratio).collect();
        Ratio::of(&v)
    }

    /// Per block: the sender thread's CPU time per byte, with / without. The sender does the
    /// softirq work of its packets (forwarding, the bridge, the tc hooks), so this is the
    /// probe's cost on the CPU that limits the stream, free of how much CPU other work left.
    pub fn sender_cpu_per_byte(&self) -> Ratio {
        self.per_byte(|t| t.n.sender_cpu_ns)
    }

    /// Per block: the stream threads' CPU time per byte delivered, with / without (per
    /// byte, not per packet: TCP's segments vary in size from window to window).
    pub fn cpu_per_byte(&self) -> Ratio {
        self.per_byte(|t| t.n.thread_cpu_ns)
    }

    /// Per block: `cpu_ns` of the totals per byte, with / without.
    fn per_byte(&self, cpu_ns: impl Fn(&Totals) -> u64) -> Ratio {
        let v: Vec<f64> = self
            .blocks
            .iter()
            .map(|b| {
                let (off, on) = split(b);
                let per_byte = |t: &Totals| cpu_ns(t) as f64 / t.n.bytes.max(1) as f64;
                per_byte(&on) / per_byte(&off).max(1e-12)
            })
            .collect();
        Ratio::of(&v)
    }
}

/// Throughput with / without in one block.
pub fn throughput_ratio(b: &[Window; 4]) -> f64 {
    let (off, on) = split(b);
    on.rate() / off.rate().max(1e-9)
}
