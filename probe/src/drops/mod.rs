//! `nfprobe drops`: what the kernel dropped on the Docker bridges (or named interfaces), where
//! and why. The kernel side lives in `kernel::drop_probe`; this module chooses what to watch,
//! names reasons (BTF) and locations (kallsyms), infers the netfilter hook, reads the kernel's
//! statistics of the watched interfaces and builds reports.

pub mod hook;
pub mod ifstats;
pub mod reasons;
pub mod report;
pub mod session;
pub mod watch;

pub use ifstats::{IfaceRates, IfaceStats};
pub use session::{DropsError, FlowDropEvent, Options, Session};
