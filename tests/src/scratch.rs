//! A bare lab: one empty network namespace (loopback up) with the same naming, state record and
//! teardown guarantees as the full labs. For tests that only need "somewhere safe to run
//! iptables" (e.g. the bug-model wrapper, parsers against real iptables output).

use std::ops::Deref;

use anyhow::Result;

use crate::core::LabCore;
use crate::netns::{self, Netns};
use crate::state::LabState;
use crate::topology::{Client, Flavour, Topology};
use std::net::Ipv4Addr;

/// One empty netns `<lab>-s`, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    core: LabCore,
    ns: Netns,
}

impl Deref for Scratch {
    type Target = LabCore;
    fn deref(&self) -> &LabCore {
        &self.core
    }
}

impl Scratch {
    pub fn new() -> Result<Scratch> {
        crate::prereq::require_root()?;
        crate::prereq::require_programs(&["ip", "nsenter"])?;
        let mut core = LabCore::begin(Flavour::Scratch)?;
        let ns = core.add_netns("s")?;
        netns::ensure_named(&ns)?;
        // A topology so the common accessors work: the one netns plays host (and client).
        core.set_topology(Topology {
            flavour: Flavour::Scratch,
            host_netns: ns.name().to_owned(),
            client: Client {
                netns: ns.name().to_owned(),
                addr: Ipv4Addr::LOCALHOST,
                host_addr: Ipv4Addr::LOCALHOST,
                host_if: "lo".to_owned(),
            },
            networks: Vec::new(),
            docker_socket: None,
            backend: "nft".to_owned(),
            userland_proxy: false,
        })?;
        Ok(Scratch { core, ns })
    }

    /// The namespace.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Run `program args` inside it; error unless it exits 0.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        self.ns.run(program, args)
    }

    pub fn state(&self) -> &LabState {
        self.core.state()
    }

    pub fn down(self) -> Result<()> {
        self.core.down()
    }
}
