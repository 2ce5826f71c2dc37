//! nfprobe: reads the kernel's firewall and drop counters, compares them with what Docker
//! intended and what the iptables CLI claims.
//!
//! Only `kernel/` talks to the kernel (sockets, getsockopt, setns, bpf, /proc and /sys reads);
//! everything else works on typed data and can be tested on bytes.

pub mod audit;
pub mod bytes;
pub mod claims;
pub mod docker;
pub mod drops;
pub mod ext;
pub mod host;
pub mod kernel;
pub mod metrics;
pub mod needs;
pub mod prove;
pub mod report;
pub mod ruleset;
