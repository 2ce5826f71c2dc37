//! The lab: network namespaces that play a Docker host, its containers and an external client.
//!
//! Two flavours, both built only inside namespaces and folders the lab creates:
//! - [`real::Lab`]: Debian's dockerd 20.10 + containerd run inside a lab netns (optionally with the
//!   [`bugmodel`] wrapper as its `iptables`), real user networks and busybox containers.
//! - [`docker28::Lab`]: the Docker 28.0.1 layout without Docker: bridges, veths into container
//!   netns running busybox httpd, Docker's sysctls, and the 28.0.1 rules applied by the real
//!   iptables (nft or legacy), with fault injection.
//!
//! Both deref to [`LabCore`], which has the common accessors (netns names, networks, published
//! ports, connectivity probes, `iptables_save`). A lab is torn down by [`LabCore::down`] or when it
//! is dropped (also on test failure or panic); [`LabCore::persist`] hands it over to a later
//! `cargo xtask lab down` instead. Every lab records its objects in
//! `/run/nfprobe-lab/<name>/state.json` ([`state`]), so another process can list or remove it.
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
pub mod names;
pub mod net;
pub mod netns;
pub mod prereq;
pub mod real;
pub mod state;
pub mod teardown;
pub mod topology;

pub use crate::core::{LabCore, Vantage};
pub use crate::net::Outcome;
pub use crate::topology::{Container, Flavour, Ipv4Net, Network, Proto, PublishedPort, Topology};
