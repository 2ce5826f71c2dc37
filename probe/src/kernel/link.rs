//! rtnetlink over our own raw netlink socket: links (name, kind, master, veth peer), addresses,
//! the kernel's own per-interface statistics (IFLA_STATS64), and the Docker bridges with their
//! veth ports.
//!
//! A netlink socket belongs to the network namespace it was created in, so [`snapshot`] opens its
//! socket inside the namespace asked for (through [`crate::kernel::netns::run_in`]).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use serde::Serialize;
use thiserror::Error;

use crate::bytes::{Reader, Truncated};
use crate::kernel::netns::{NetnsError, NetnsSpec, run_in};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub(super) const NLM_F_REQUEST: u16 = 1;
pub(super) const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_DUMP_INTR: u16 = 0x10;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_STATS64: u16 = 23;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_LINK_NETNSID: u16 = 37;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
const IFF_UP: u32 = 1;

const DUMP_RETRIES: usize = 5;

#[derive(Debug, Error)]
pub enum LinkError {
    #[error("netlink {call} failed: {source}")]
    Syscall {
        call: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("rtnetlink request failed: {0}")]
    Kernel(std::io::Error),
    #[error("malformed rtnetlink message: {0}")]
    Malformed(String),
    #[error("rtnetlink dump kept being interrupted by changes")]
    Interrupted,
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

impl From<Truncated> for LinkError {
    fn from(t: Truncated) -> Self {
        LinkError::Malformed(t.to_string())
    }
}

/// One network interface as rtnetlink describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub ifindex: u32,
    pub name: String,
    /// `IFLA_INFO_KIND`: "bridge", "veth", ... (None for physical/loopback).
    pub kind: Option<String>,
    /// Bridge (or bond) this interface is enslaved to.
    pub master: Option<u32>,
    /// `IFLA_LINK`: for a veth, the peer's ifindex (in `link_netnsid`'s namespace if set).
    pub link: Option<u32>,
    /// `IFLA_LINK_NETNSID`: id, relative to this namespace, of the peer's namespace.
    pub link_netnsid: Option<i32>,
    pub up: bool,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
}

/// The kernel's statistics of one interface (`struct rtnl_link_stats64`, attribute
/// IFLA_STATS64): counters since the interface was created, as `ip -s link` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Packets the interface received but the kernel dropped before they reached the stack
    /// (no buffer, a full backlog, ...), as the driver counts them.
    pub rx_dropped: u64,
    /// Packets the kernel dropped on their way out of the interface (a full queue, a peer
    /// that is down, ...), as the driver counts them.
    pub tx_dropped: u64,
    pub multicast: u64,
    /// Received, but no protocol handler wanted them (0 on kernels that do not report it).
    pub rx_nohandler: u64,
    /// Dropped because addressed to another host (kernels ≥ 6.0; 0 otherwise).
    pub rx_otherhost_dropped: u64,
}

/// Index of a field in `struct rtnl_link_stats64` (an array of `__u64` in UAPI order).
const STATS64_RX_NOHANDLER: usize = 23;
const STATS64_RX_OTHERHOST_DROPPED: usize = 24;

impl LinkStats {
    /// Parse the IFLA_STATS64 payload. The first eight counters are required; later ones
    /// (added over kernel versions) are read when present.
    pub fn parse(v: &[u8]) -> Result<Self, LinkError> {
        let field = |i: usize| -> Option<u64> {
            let b = v.get(i * 8..i * 8 + 8)?;
            Some(u64::from_ne_bytes(b.try_into().ok()?))
        };
        let need = |i: usize| {
            field(i).ok_or_else(|| {
                LinkError::Malformed(format!("IFLA_STATS64 of {} bytes, need 64", v.len()))
            })
        };
        Ok(Self {
            rx_packets: need(0)?,
            tx_packets: need(1)?,
            rx_bytes: need(2)?,
            tx_bytes: need(3)?,
            rx_errors: need(4)?,
            tx_errors: need(5)?,
            rx_dropped: need(6)?,
            tx_dropped: need(7)?,
            multicast: field(8).unwrap_or(0),
            rx_nohandler: field(STATS64_RX_NOHANDLER).unwrap_or(0),
            rx_otherhost_dropped: field(STATS64_RX_OTHERHOST_DROPPED).unwrap_or(0),
        })
    }

    /// Counters since `earlier` (a counter that went backwards counts from 0: the interface
    /// was reset or replaced).
    pub fn since(&self, earlier: &LinkStats) -> LinkStats {
        let d = |a: u64, b: u64| if a >= b { a - b } else { a };
        LinkStats {
            rx_packets: d(self.rx_packets, earlier.rx_packets),
            tx_packets: d(self.tx_packets, earlier.tx_packets),
            rx_bytes: d(self.rx_bytes, earlier.rx_bytes),
            tx_bytes: d(self.tx_bytes, earlier.tx_bytes),
            rx_errors: d(self.rx_errors, earlier.rx_errors),
            tx_errors: d(self.tx_errors, earlier.tx_errors),
            rx_dropped: d(self.rx_dropped, earlier.rx_dropped),
            tx_dropped: d(self.tx_dropped, earlier.tx_dropped),
            multicast: d(self.multicast, earlier.multicast),
            rx_nohandler: d(self.rx_nohandler, earlier.rx_nohandler),
            rx_otherhost_dropped: d(self.rx_otherhost_dropped, earlier.rx_otherhost_dropped),
        }
    }
}

/// Links and addresses of one namespace at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
}

/// A Docker bridge with its ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bridge {
    pub link: Link,
    pub addresses: Vec<Address>,
    /// Interfaces enslaved to the bridge (veth ports on a Docker host).
    pub ports: Vec<Link>,
}

impl Snapshot {
    pub fn by_name(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    pub fn by_index(&self, ifindex: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.ifindex == ifindex)
    }

    pub fn addresses_of(&self, ifindex: u32) -> Vec<Address> {
        self.addresses
            .iter()
            .filter(|a| a.ifindex == ifindex)
            .cloned()
            .collect()
    }

    pub fn ports_of(&self, bridge: u32) -> Vec<Link> {
        self.links
            .iter()
            .filter(|l| l.master == Some(bridge))
            .cloned()
            .collect()
    }

    /// Bridges named as Docker names them: `docker0` and `br-<12 hex>`.
    pub fn docker_bridges(&self) -> Vec<Bridge> {
        self.links
            .iter()
            .filter(|l| l.kind.as_deref() == Some("bridge") && is_docker_bridge_name(&l.name))
            .map(|l| Bridge {
                link: l.clone(),
                addresses: self.addresses_of(l.ifindex),
                ports: self.ports_of(l.ifindex),
            })
            .collect()
    }
}

/// `docker0`, or `br-` followed by the first 12 hex digits of the network id.
pub fn is_docker_bridge_name(name: &str) -> bool {
    name == "docker0"
        || name
            .strip_prefix("br-")
            .is_some_and(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Links and addresses of the namespace `ns` (the current one when None).
pub fn snapshot(ns: Option<&NetnsSpec>) -> Result<Snapshot, LinkError> {
    run_in(ns, || {
        let sock = Rtnl::open()?;
        Ok(Snapshot {
            links: sock.links()?,
            addresses: sock.addresses()?,
        })
    })?
}

/// The id `ns`'s namespace has in the namespace `from` (None if unassigned). Lets callers map a
/// veth's `link_netnsid` to a named namespace.
pub fn netnsid_of(from: Option<&NetnsSpec>, ns: &NetnsSpec) -> Result<Option<i32>, LinkError> {
    let file = std::fs::File::open(&ns.path).map_err(|source| LinkError::Syscall {
        call: "open netns",
        source,
    })?;
    run_in(from, || Rtnl::open()?.nsid_for_fd(file.as_raw_fd()))?
}

/// Network namespaces visible on this host: names under /run/netns and those of processes,
/// one path per namespace (by inode). Used to map a veth's `link_netnsid` to a namespace.
pub fn namespaces() -> Vec<(std::path::PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut consider = |path: std::path::PathBuf| {
        if let Ok(meta) = std::fs::metadata(&path)
            && seen.insert(meta.ino())
        {
            out.push((path, meta.ino()));
        }
    };
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for entry in dir.flatten() {
            consider(entry.path());
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                consider(entry.path().join("ns/net"));
            }
        }
    }
    out
}

/// The ids the namespaces at `paths` have in the namespace `from` (None: no id assigned or
/// the namespace is gone). One socket, one thread.
pub fn netnsids(
    from: Option<&NetnsSpec>,
    paths: &[std::path::PathBuf],
) -> Result<Vec<Option<i32>>, LinkError> {
    run_in(from, || {
        let sock = Rtnl::open()?;
        Ok(paths
            .iter()
            .map(|p| {
                let file = std::fs::File::open(p).ok()?;
                sock.nsid_for_fd(file.as_raw_fd()).ok().flatten()
            })
            .collect())
    })?
}

/// A NETLINK_ROUTE socket in the namespace of the thread that opened it.
pub struct Rtnl {
    fd: OwnedFd,
    seq: std::cell::Cell<u32>,
}

impl Rtnl {
    pub fn open() -> Result<Self, LinkError> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(LinkError::Syscall {
                call: "socket",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: fd is a fresh, valid descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: zeroed sockaddr_nl is valid (pid 0 = let the kernel pick).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: sa is a valid sockaddr_nl of the given length.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc != 0 {
            return Err(LinkError::Syscall {
                call: "bind",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(Self {
            fd,
            seq: std::cell::Cell::new(1),
        })
    }

    pub fn links(&self) -> Result<Vec<Link>, LinkError> {
        let mut body = vec![0u8; 16]; // struct ifinfomsg, family AF_UNSPEC
        body[0] = libc::AF_UNSPEC as u8;
        self.dump(RTM_GETLINK, &body, |ty, payload| {
            (ty == RTM_NEWLINK).then(|| parse_link(payload)).transpose()
        })
    }

    /// The kernel's statistics of every interface of this socket's namespace, by ifindex.
    pub fn link_stats(&self) -> Result<BTreeMap<u32, LinkStats>, LinkError> {
        let mut body = vec![0u8; 16]; // struct ifinfomsg, family AF_UNSPEC
        body[0] = libc::AF_UNSPEC as u8;
        let rows = self.dump(RTM_GETLINK, &body, |ty, payload| {
            (ty == RTM_NEWLINK)
                .then(|| parse_stats(payload))
                .transpose()
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(ifindex, st)| Some((ifindex, st?)))
            .collect())
    }

    /// The kernel's statistics of one interface (None: no such interface here).
    pub fn link_stats_of(&self, ifindex: u32) -> Result<Option<LinkStats>, LinkError> {
        let mut body = vec![0u8; 16]; // struct ifinfomsg with ifi_index set
        body[0] = libc::AF_UNSPEC as u8;
        body[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        let res = self.request(RTM_GETLINK, NLM_F_REQUEST, &body, |ty, payload| {
            (ty == RTM_NEWLINK)
                .then(|| parse_stats(payload))
                .transpose()
        });
        match res {
            Ok(rows) => Ok(rows
                .into_iter()
                .find(|(ix, _)| *ix == ifindex)
                .and_then(|(_, st)| st)),
            Err(LinkError::Kernel(e)) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn addresses(&self) -> Result<Vec<Address>, LinkError> {
        let body = vec![0u8; 8]; // struct ifaddrmsg, family AF_UNSPEC
        let mut out = self.dump(RTM_GETADDR, &body, |ty, payload| {
            (ty == RTM_NEWADDR).then(|| parse_addr(payload)).transpose()
        })?;
        Ok(out.drain(..).flatten().collect())
    }

    fn nsid_for_fd(&self, fd: i32) -> Result<Option<i32>, LinkError> {
        let mut body = vec![0u8; 4]; // struct rtgenmsg, padded
        push_attr(&mut body, NETNSA_FD, &(fd as u32).to_ne_bytes());
        let replies = self.request(RTM_GETNSID, NLM_F_REQUEST, &body, |ty, payload| {
            if ty != RTM_NEWNSID {
                return Ok(None);
            }
            let mut nsid = None;
            for (t, v) in attrs(payload.get(4..).unwrap_or_default()) {
                if t == NETNSA_NSID {
                    nsid = Some(i32::from_ne_bytes(array(v)?));
                }
            }
            Ok(Some(nsid))
        })?;
        // -1 (NETNSA_NSID_NOT_ASSIGNED) means no id.
        Ok(replies.into_iter().flatten().find(|&id| id >= 0))
    }

    pub(super) fn dump<T>(
        &self,
        ty: u16,
        body: &[u8],
        mut parse: impl FnMut(u16, &[u8]) -> Result<Option<T>, LinkError>,
    ) -> Result<Vec<T>, LinkError> {
        for _ in 0..DUMP_RETRIES {
            match self.request(ty, NLM_F_REQUEST | NLM_F_DUMP, body, &mut parse) {
                Err(LinkError::Interrupted) => continue,
                other => return other,
            }
        }
        Err(LinkError::Interrupted)
    }

    /// Send one request and collect parsed replies until DONE (dumps) or the ack/answer.
    pub(super) fn request<T>(
        &self,
        ty: u16,
        flags: u16,
        body: &[u8],
        mut parse: impl FnMut(u16, &[u8]) -> Result<Option<T>, LinkError>,
    ) -> Result<Vec<T>, LinkError> {
        let seq = self.seq.get().wrapping_add(1);
        self.seq.set(seq);
        let mut msg = Vec::with_capacity(16 + body.len());
        msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: msg is a valid buffer of msg.len() bytes; the socket is bound to the kernel.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(LinkError::Syscall {
                call: "send",
                source: std::io::Error::last_os_error(),
            });
        }
        let dump = flags & NLM_F_DUMP != 0;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut interrupted = false;
        loop {
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(LinkError::Syscall {
                    call: "recv",
                    source: e,
                });
            }
            let n = n as usize;
            if n > buf.len() {
                return Err(LinkError::Malformed(format!(
                    "netlink datagram of {n} bytes larger than the buffer"
                )));
            }
            let mut r = Reader::new(&buf[..n]);
            while r.remaining() >= 16 {
                let start = r.pos();
                let len = r.u32()? as usize;
                let mty = r.u16()?;
                let mflags = r.u16()?;
                let mseq = r.u32()?;
                let _pid = r.u32()?;
                let payload = len
                    .checked_sub(16)
                    .ok_or_else(|| LinkError::Malformed(format!("nlmsg length {len}")))?;
                let payload = r.bytes(payload)?;
                let _ = r.skip(align4(start + len) - (start + len));
                if mseq != seq {
                    continue;
                }
                if mflags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match mty {
                    NLMSG_DONE => {
                        return if interrupted {
                            Err(LinkError::Interrupted)
                        } else {
                            Ok(out)
                        };
                    }
                    NLMSG_ERROR => {
                        let errno = i32::from_ne_bytes(array(payload)?);
                        if errno == 0 {
                            return Ok(out);
                        }
                        return Err(LinkError::Kernel(std::io::Error::from_raw_os_error(
                            errno.saturating_neg(),
                        )));
                    }
                    _ => {
                        if let Some(v) = parse(mty, payload)? {
                            out.push(v);
                        }
                        if !dump {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn array<const N: usize>(v: &[u8]) -> Result<[u8; N], LinkError> {
    Ok(Reader::new(v).array::<N>()?)
}

pub(super) fn push_attr(buf: &mut Vec<u8>, ty: u16, value: &[u8]) {
    buf.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(align4(buf.len()), 0);
}

/// Iterate `(type, value)` over netlink attributes; stops at the first malformed one.
pub(super) fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let mut r = Reader::new(buf);
        let len = r.u16().ok()? as usize;
        let ty = r.u16().ok()? & 0x3fff;
        let value = buf.get(4..len)?;
        buf = buf.get(align4(len)..).unwrap_or_default();
        Some((ty, value))
    })
}

pub(super) fn cstring(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn parse_link(payload: &[u8]) -> Result<Link, LinkError> {
    let mut r = Reader::new(payload);
    let _family = r.u8()?;
    let _pad = r.u8()?;
    let _type = r.u16()?;
    let ifindex = r.u32()?;
    let flags = r.u32()?;
    let _change = r.u32()?;
    let mut link = Link {
        ifindex,
        name: String::new(),
        kind: None,
        master: None,
        link: None,
        link_netnsid: None,
        up: flags & IFF_UP != 0,
        mtu: None,
        mac: None,
    };
    for (ty, v) in attrs(payload.get(16..).unwrap_or_default()) {
        match ty {
            IFLA_IFNAME => link.name = cstring(v),
            IFLA_MTU => link.mtu = Some(u32::from_ne_bytes(array(v)?)),
            IFLA_LINK => link.link = Some(u32::from_ne_bytes(array(v)?)),
            IFLA_MASTER => link.master = Some(u32::from_ne_bytes(array(v)?)),
            IFLA_LINK_NETNSID => link.link_netnsid = Some(i32::from_ne_bytes(array(v)?)),
            IFLA_ADDRESS if v.len() == 6 => link.mac = Some(array(v)?),
            IFLA_LINKINFO => {
                for (ity, iv) in attrs(v) {
                    if ity == IFLA_INFO_KIND {
                        link.kind = Some(cstring(iv));
                    }
                }
            }
            _ => {}
        }
    }
    // IFLA_LINK equal to the own index carries no peer information.
    if link.link == Some(ifindex) {
        link.link = None;
    }
    Ok(link)
}

/// (ifindex, IFLA_STATS64) of one RTM_NEWLINK message.
fn parse_stats(payload: &[u8]) -> Result<(u32, Option<LinkStats>), LinkError> {
    let mut r = Reader::new(payload);
    r.skip(4)?; // family, pad, type
    let ifindex = r.u32()?;
    let mut stats = None;
    for (ty, v) in attrs(payload.get(16..).unwrap_or_default()) {
        if ty == IFLA_STATS64 {
            stats = Some(LinkStats::parse(v)?);
        }
    }
    Ok((ifindex, stats))
}

/// The kernel's statistics of the interfaces of namespace `ns` (the current one when None).
pub fn stats(ns: Option<&NetnsSpec>) -> Result<BTreeMap<u32, LinkStats>, LinkError> {
    run_in(ns, || Rtnl::open()?.link_stats())?
}

/// Above this many interfaces in one namespace, one dump is cheaper than a request each.
const STATS_DUMP_ABOVE: usize = 4;

/// The kernel's statistics of the interfaces `ifindexes` in each namespace of `wanted` (None:
/// the caller's), in `wanted`'s order. One thread enters each namespace in turn and opens a
/// socket there only for the read: a socket kept open would keep its namespace alive after
/// its container is gone. An interface missing from a namespace is missing from its map; a
/// namespace that cannot be entered is an error of its own entry only.
pub fn stats_in(
    wanted: &[(Option<&NetnsSpec>, &[u32])],
) -> Vec<Result<BTreeMap<u32, LinkStats>, LinkError>> {
    let read = |ifindexes: &[u32]| -> Result<BTreeMap<u32, LinkStats>, LinkError> {
        let sock = Rtnl::open()?;
        if ifindexes.len() > STATS_DUMP_ABOVE {
            let mut all = sock.link_stats()?;
            all.retain(|ix, _| ifindexes.contains(ix));
            return Ok(all);
        }
        let mut out = BTreeMap::new();
        for &ix in ifindexes {
            if let Some(st) = sock.link_stats_of(ix)? {
                out.insert(ix, st);
            }
        }
        Ok(out)
    };
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let mut out: Vec<Option<Result<_, LinkError>>> = wanted.iter().map(|_| None).collect();
            // The caller's namespace first: this thread starts in it and leaves it below.
            for (i, (ns, ifs)) in wanted.iter().enumerate() {
                if ns.is_none() {
                    out[i] = Some(read(ifs));
                }
            }
            for (i, (ns, ifs)) in wanted.iter().enumerate() {
                let Some(ns) = ns else { continue };
                out[i] = Some(enter(ns).and_then(|()| read(ifs)));
            }
            out
        });
        match worker.join() {
            Ok(out) => out
                .into_iter()
                .map(|r| r.unwrap_or_else(|| Err(LinkError::Malformed("not read".into()))))
                .collect(),
            Err(_) => wanted
                .iter()
                .map(|_| Err(LinkError::Malformed("the reading thread panicked".into())))
                .collect(),
        }
    })
}

/// Move the calling thread into `ns`.
fn enter(ns: &NetnsSpec) -> Result<(), LinkError> {
    let file = std::fs::File::open(&ns.path).map_err(|source| NetnsError::Open {
        spec: ns.spec.clone(),
        path: ns.path.clone(),
        source,
    })?;
    // SAFETY: setns on a valid, open namespace fd affects only this thread.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(NetnsError::Enter {
            path: ns.path.clone(),
            source: std::io::Error::last_os_error(),
        }
        .into());
    }
    Ok(())
}

fn parse_addr(payload: &[u8]) -> Result<Option<Address>, LinkError> {
    let mut r = Reader::new(payload);
    let family = r.u8()?;
    let prefix_len = r.u8()?;
    let _flags = r.u8()?;
    let _scope = r.u8()?;
    let ifindex = r.u32()?;
    let mut local = None;
    let mut address = None;
    for (ty, v) in attrs(payload.get(8..).unwrap_or_default()) {
        let ip = match (family as i32, v.len()) {
            (libc::AF_INET, 4) => IpAddr::from(array::<4>(v)?),
            (libc::AF_INET6, 16) => IpAddr::from(array::<16>(v)?),
            _ => continue,
        };
        match ty {
            IFA_LOCAL => local = Some(ip),
            IFA_ADDRESS => address = Some(ip),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address on point-to-point links; prefer it.
    Ok(local.or(address).map(|addr| Address {
        ifindex,
        addr,
        prefix_len,
    }))
}

/// Links keyed by ifindex, for diffing two snapshots (new interfaces while running).
pub fn index(links: &[Link]) -> BTreeMap<u32, &Link> {
    links.iter().map(|l| (l.ifindex, l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names() {
        assert!(is_docker_bridge_name("docker0"));
        assert!(is_docker_bridge_name("br-0123456789ab"));
        assert!(!is_docker_bridge_name("br-0123456789"));
        assert!(!is_docker_bridge_name("br-0123456789ag"));
        assert!(!is_docker_bridge_name("virbr0"));
    }

    #[test]
    fn malformed_link_messages_do_not_panic() {
        let mut msg = vec![0u8; 16];
        msg[4] = 7;
        push_attr(&mut msg, IFLA_IFNAME, b"eth0\0");
        push_attr(&mut msg, IFLA_MASTER, &[1, 2]); // too short
        assert!(parse_link(&msg).is_err());
        for n in 0..msg.len() {
            let _ = parse_link(&msg[..n]);
        }
        let mut ok = vec![0u8; 16];
        ok[4] = 7;
        push_attr(&mut ok, IFLA_IFNAME, b"eth0\0");
        push_attr(&mut ok, IFLA_MASTER, &3u32.to_ne_bytes());
        let l = parse_link(&ok).unwrap();
        assert_eq!((l.ifindex, l.name.as_str(), l.master), (7, "eth0", Some(3)));
    }

    #[test]
    fn stats64_of_any_length_never_panics() {
        let mut v = Vec::new();
        for i in 0..25u64 {
            v.extend_from_slice(&(i + 1).to_ne_bytes());
        }
        let st = LinkStats::parse(&v).unwrap();
        assert_eq!((st.rx_packets, st.tx_dropped, st.multicast), (1, 8, 9));
        assert_eq!((st.rx_nohandler, st.rx_otherhost_dropped), (24, 25));
        // An older kernel's shorter struct: the later counters read 0.
        let st = LinkStats::parse(&v[..23 * 8]).unwrap();
        assert_eq!((st.rx_nohandler, st.rx_otherhost_dropped), (0, 0));
        for n in 0..64 {
            assert!(LinkStats::parse(&v[..n]).is_err());
        }
        let later = LinkStats {
            rx_packets: 10,
            tx_packets: 3,
            ..LinkStats::default()
        };
        let earlier = LinkStats {
            rx_packets: 4,
            tx_packets: 5,
            ..LinkStats::default()
        };
        let d = later.since(&earlier);
        assert_eq!((d.rx_packets, d.tx_packets), (6, 3));
    }

    /// Datagrams to a bound socket on 127.0.0.1 in a fresh namespace: `lo` sends and receives
    /// each exactly once, and the kernel's counters (dump and single-interface read) say so.
    #[test]
    fn loopback_counters_count_exactly_what_was_sent() {
        let name = format!("nfpl-s{}", std::process::id());
        let _guard = Netns(vec![name.clone()]);
        ip(&format!("netns add {name}"));
        ip(&format!("-n {name} link set lo up"));
        let ns = NetnsSpec::parse(&name);
        let lo = snapshot(Some(&ns)).unwrap().by_name("lo").unwrap().ifindex;
        let before = stats(Some(&ns)).unwrap()[&lo];
        const N: u64 = 23;
        const PAYLOAD: u64 = 100;
        run_in(Some(&ns), || {
            let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            for _ in 0..N {
                tx.send_to(&[0u8; PAYLOAD as usize], rx.local_addr().unwrap())
                    .unwrap();
            }
        })
        .unwrap();
        let sock = run_in(Some(&ns), Rtnl::open).unwrap().unwrap();
        let after = sock.link_stats_of(lo).unwrap().unwrap();
        let d = after.since(&before);
        assert_eq!((d.rx_packets, d.tx_packets), (N, N), "{d:?}");
        // IPv4 (20) + UDP (8) + payload: loopback counts after its Ethernet header is pulled.
        assert_eq!(d.rx_bytes, N * (20 + 8 + PAYLOAD), "{d:?}");
        assert_eq!(sock.link_stats_of(99_999).unwrap(), None);
        // The same read through a thread that enters the namespace (and the current one).
        let cur = snapshot(None).unwrap().by_name("lo").unwrap().ifindex;
        let both = stats_in(&[(Some(&ns), &[lo, 99_999]), (None, &[cur])]);
        assert_eq!(both[0].as_ref().unwrap().get(&lo), Some(&after));
        assert_eq!(both[0].as_ref().unwrap().len(), 1);
        assert!(both[1].as_ref().unwrap().contains_key(&cur));
        let gone = NetnsSpec::parse("/nonexistent/netns");
        assert!(stats_in(&[(Some(&gone), &[1])])[0].is_err());
    }

    #[test]
    fn loopback_in_a_fresh_namespace() {
        // The current namespace always has `lo` with 127.0.0.1.
        let s = snapshot(None).expect("rtnetlink dump");
        let lo = s.by_name("lo").expect("lo");
        assert!(
            s.addresses_of(lo.ifindex)
                .iter()
                .any(|a| a.addr == IpAddr::from([127, 0, 0, 1]))
        );
    }

    /// Removes the test namespaces even when an assertion fails.
    struct Netns(Vec<String>);
    impl Drop for Netns {
        fn drop(&mut self) {
            for n in &self.0 {
                let _ = std::process::Command::new("ip")
                    .args(["netns", "del", n])
                    .status();
            }
        }
    }

    fn ip(args: &str) {
        let ok = std::process::Command::new("ip")
            .args(args.split_whitespace())
            .status()
            .expect("this test needs iproute2 (`ip`)")
            .success();
        assert!(ok, "ip {args} failed (needs root)");
    }

    #[test]
    fn docker_bridge_ports_and_peers_across_namespaces() {
        let pid = std::process::id();
        let (host, ctr) = (format!("nfpl-h{pid}"), format!("nfpl-c{pid}"));
        let _guard = Netns(vec![host.clone(), ctr.clone()]);
        ip(&format!("netns add {host}"));
        ip(&format!("netns add {ctr}"));
        ip(&format!("-n {host} link add br-0123456789ab type bridge"));
        ip(&format!(
            "-n {host} link add vethA type veth peer name eth0 netns {ctr}"
        ));
        ip(&format!("-n {host} link set vethA master br-0123456789ab"));
        ip(&format!(
            "-n {host} addr add 172.30.0.1/16 dev br-0123456789ab"
        ));
        let hs = NetnsSpec::parse(&host);
        let cs = NetnsSpec::parse(&ctr);
        let snap = snapshot(Some(&hs)).unwrap();
        let bridges = snap.docker_bridges();
        assert_eq!(bridges.len(), 1, "{bridges:?}");
        let br = &bridges[0];
        assert_eq!(br.link.name, "br-0123456789ab");
        assert_eq!(br.addresses[0].addr, IpAddr::from([172, 30, 0, 1]));
        assert_eq!(br.ports.len(), 1);
        let port = &br.ports[0];
        assert_eq!(port.kind.as_deref(), Some("veth"));
        let nsid = netnsid_of(Some(&hs), &cs).unwrap();
        assert!(nsid.is_some());
        assert_eq!(port.link_netnsid, nsid);
        let cs_snap = snapshot(Some(&cs)).unwrap();
        assert_eq!(cs_snap.by_name("eth0").unwrap().ifindex, port.link.unwrap());
    }
}
