//! The lab: network namespaces that play a Docker host, its containers and an external client.
//!
//! Three flavours, all built only inside namespaces and folders the lab creates:
//! - [`real::Lab`]: Debian's dockerd 20.10 + containerd run inside a lab netns (optionally with the
//!   [`bugmodel`] wrapper as its `iptables`), real user networks and busybox containers.
//! - [`docker28::Lab`]: the Docker 28.0.1 layout without Docker: bridges, veths into container
//!   netns running busybox httpd, Docker's sysctls, and the 28.0.1 rules applied by the real
//!   iptables (nft or legacy), with fault injection.
//! - [`docker29nft::Lab`]: the same fake host ([`fakehost`]) with the `ip`/`ip6 docker-bridges`
//!   tables Docker 29.0 writes with `firewall-backend: nftables` (userland proxy off), loaded
//!   with `nft -f`, with faults (deleted rules or map elements, an ACCEPT moved below a DROP).
//!
//! All deref to [`LabCore`], which has the common accessors (netns names, networks, published
//! ports, connectivity probes, `iptables_save`). A lab is torn down by [`LabCore::down`] or when it
//! is dropped (also on test failure or panic); [`LabCore::persist`] hands it over to a later
//! `cargo xtask lab down` instead. Every lab records its objects in
//! `/run/nfprobe-lab/<name>/state.json` ([`state`]), so another process can list or remove it.
//!
//! Pointing nfprobe at a lab: the Docker host is `lab.host_netns()` (`/run/netns/<lab>-host`);
//! run `nsenter --net=<lab.host_netns_path()> nfprobe ...` or `nfprobe --netns <name>`. The
//! iptables 1.8.11 bug model for `--iptables` is [`bugmodel::script_path`] (it refuses to run
//! outside a named netns). The Docker state a docker28 lab plays is
//! [`docker28::Lab::docker_state`] (serde); the real lab's dockerd is at
//! [`LabCore::docker_socket`]. The rules a healthy Docker 28.0.1 would have are
//! [`docker28::Lab::expected_rules`], the ones removed on purpose
//! [`docker28::Lab::removed_rules`].
//!
//! By hand: `cargo xtask lab up [--flavour real|docker28|docker29-nft] [--networks N] [--faulty]
//! [--faults iptables-1.8.11,...] [--backend nft|legacy]`, then `cargo xtask lab status`,
//! `cargo xtask lab down NAME`.
//!
//! Typical test:
//! ```no_run
//! use std::time::Duration;
//! let lab = lab::docker28::Lab::up(lab::docker28::Options::default()).unwrap();
//! for port in lab.published_ports() {
//!     assert!(lab.http_from_client(port.host_port, Duration::from_secs(2)).is_ok());
//! }
//! lab.down().unwrap();
//! ```

pub mod bin_path;
pub mod bugmodel;
pub mod cmd;
pub mod core;
pub mod docker28;
pub mod docker29nft;
pub mod fakehost;
pub mod names;
pub mod net;
pub mod netns;
pub mod prereq;
pub mod real;
pub mod running;
pub mod scratch;
pub mod state;
pub mod teardown;
pub mod testing;
pub mod topology;

pub use crate::core::{LabCore, Vantage};
pub use crate::net::Outcome;
pub use crate::topology::{Container, Flavour, Ipv4Net, Network, Proto, PublishedPort, Topology};
