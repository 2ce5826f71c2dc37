//! Issue 2, point 6: the eBPF object embedded in nfprobe loads, its `tp_btf/kfree_skb` program
//! attaches, and it counts exactly the drops we provoke: UDP datagrams to a closed port on
//! 127.0.0.1 inside a private network namespace (reason SKB_DROP_REASON_NO_SOCKET), and none of
//! the drops made in another namespace.
//!
//! Needs root (netns, bpf), iproute2 and kernel BTF; fails naming what is missing.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use nfprobe::kernel::btf::Btf;
use nfprobe::kernel::ebpf::{DropCounter, loaded_program_ids, netns_inode};
use nfprobe::kernel::netns::run_in;

mod common;
use common::{TestNetns, require_root_and_btf};

/// Send `n` datagrams to a port nobody listens on, from inside `ns`.
fn send_to_closed_port(ns: &TestNetns, n: u32) {
    run_in(Some(&ns.spec), move || {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind UDP socket");
        // Port 9 (discard): nothing listens in a namespace we just made.
        let dst = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9);
        for i in 0..n {
            sock.send_to(&i.to_ne_bytes(), dst).expect("send_to");
        }
    })
    .expect("enter the test namespace");
}

fn no_socket_reason() -> u32 {
    let btf = Btf::from_sys_fs().expect("kernel BTF");
    let v = btf
        .enum_value("skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET")
        .expect("enum skb_drop_reason has NO_SOCKET");
    u32::try_from(v).expect("reason fits u32")
}

/// Wait (bounded) until the counter reaches `want`; loopback delivers in softirq, usually
/// before send_to returns, but not always on the same CPU.
fn no_socket_drops(counter: &DropCounter, reason: u32, want: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let got = counter
            .by_reason()
            .expect("read DROP_REASONS")
            .get(&reason)
            .copied()
            .unwrap_or(0);
        if got >= want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kfree_skb_counts_exactly_the_drops_of_its_own_namespace() {
    require_root_and_btf();
    const N: u32 = 100;
    let watched = TestNetns::new("ebpfw");
    let other = TestNetns::new("ebpfo");
    let reason = no_socket_reason();

    let ino = netns_inode(&watched.spec.path).expect("netns inode");
    let counter = DropCounter::attach(Some(ino)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counter.by_reason().unwrap().get(&reason), None);

    // Drops elsewhere (other namespace) are seen by the program but not counted.
    send_to_closed_port(&other, N);
    std::thread::sleep(Duration::from_millis(100));
    let totals = counter.totals().unwrap();
    assert!(
        totals.seen >= u64::from(N),
        "the program saw only {} kfree_skb events for {N} drops: {totals:?}",
        totals.seen
    );
    assert_eq!(
        no_socket_drops(&counter, reason, 0),
        0,
        "drops of another namespace were counted: {totals:?}"
    );

    // Drops in the watched namespace: one NO_SOCKET drop per datagram, no more.
    send_to_closed_port(&watched, N);
    let got = no_socket_drops(&counter, reason, u64::from(N));
    let totals = counter.totals().unwrap();
    assert_eq!(
        got,
        u64::from(N),
        "expected {N} NO_SOCKET drops in {}, counted {got}; totals {totals:?}, by reason {:?}",
        watched.name,
        counter.by_reason().unwrap()
    );
    assert_eq!(totals.read_errors, 0, "{totals:?}");
    assert!(totals.counted >= u64::from(N), "{totals:?}");
}

#[test]
fn unfiltered_counter_sees_at_least_the_provoked_drops_and_detaches_on_drop() {
    require_root_and_btf();
    const N: u32 = 20;
    let ns = TestNetns::new("ebpfa");
    let reason = no_socket_reason();
    let counter = DropCounter::attach(None).unwrap_or_else(|e| panic!("{e}"));
    send_to_closed_port(&ns, N);
    let got = no_socket_drops(&counter, reason, u64::from(N));
    assert!(
        got >= u64::from(N),
        "expected at least {N} NO_SOCKET drops host-wide, counted {got}"
    );

    // Dropping the counter detaches and unloads the program.
    let id = counter.program_id().unwrap();
    assert!(loaded_program_ids().unwrap().contains(&id));
    drop(counter);
    let deadline = Instant::now() + Duration::from_secs(3);
    while loaded_program_ids().unwrap().contains(&id) {
        // The kernel frees programs after an RCU grace period.
        assert!(
            Instant::now() < deadline,
            "program {id} still loaded after drop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
