//! `nfprobe drops`: what the kernel dropped on the Docker bridges (or named interfaces), where
//! and why. The kernel side lives in `kernel::drop_probe`; this module chooses what to watch,
//! names reasons (BTF) and locations (kallsyms), infers the netfilter hook and builds reports.

pub mod hook;
pub mod reasons;
pub mod report;
pub mod session;
pub mod watch;

pub use session::{DropsError, FlowDropEvent, Options, Session};
