//! Helpers shared by the end-to-end tests: private network namespaces and prerequisites.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nfprobe::kernel::netns::NetnsSpec;

/// A network namespace this test created; deleted on drop (also when the test panics).
pub struct TestNetns {
    pub name: String,
    pub spec: NetnsSpec,
}

impl TestNetns {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "nfp-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Self {
            spec: NetnsSpec::parse(&name),
            name,
        };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// `n` UDP datagrams to a closed port on 127.0.0.1 in this namespace: `n` drops on lo,
    /// reason NO_SOCKET.
    pub fn udp_to_closed_port(&self, n: u32) {
        nfprobe::kernel::netns::run_in(Some(&self.spec), move || {
            let sock = std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind");
            for i in 0..n {
                sock.send_to(&i.to_ne_bytes(), (std::net::Ipv4Addr::LOCALHOST, 9))
                    .expect("send_to");
            }
        })
        .expect("enter netns");
    }

    /// Make the legacy IPv4 table `table` exist in this namespace only: listing a legacy
    /// table makes the kernel create it.
    pub fn make_legacy_table(&self, table: &str) {
        let made = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "iptables-legacy",
                "-t",
                table,
                "-S",
            ])
            .output()
            .expect("this test needs iptables-legacy (package iptables)");
        assert!(made.status.success(), "{made:?}");
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("this test needs iproute2 (`ip`): {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn require_root_and_btf() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (network namespaces, bpf); run it as root (CI does)"
    );
    assert!(
        std::path::Path::new(nfprobe::kernel::btf::VMLINUX).exists(),
        "this test needs kernel BTF at {} (CONFIG_DEBUG_INFO_BTF)",
        nfprobe::kernel::btf::VMLINUX
    );
}
