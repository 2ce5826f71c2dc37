//! nf_tables change notifications: a NETLINK_NETFILTER socket subscribed to the
//! `NFNLGRP_NFTABLES` multicast group. Every committed transaction (an `nft -f`, one
//! iptables-nft command, `nft flush ruleset`) ends with one `NFT_MSG_NEWGEN` carrying the new
//! generation id and the process that made it; the rule, chain and table messages before it
//! are only counted. Waiting for this costs nothing while the ruleset does not change, unlike
//! polling the generation.
//!
//! The socket belongs to the network namespace of the thread that opens it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::nfnl::{NETLINK_NETFILTER, NFNL_SUBSYS_NFTABLES, NfnlError, NlaError, NlaIter};

/// `NFNLGRP_NFTABLES` (include/uapi/linux/netfilter/nfnetlink.h).
const NFNLGRP_NFTABLES: libc::c_int = 7;
/// `NFT_MSG_NEWGEN`.
const NFT_MSG_NEWGEN: u16 = 15;
const NFTA_GEN_ID: u16 = 1;
const NFTA_GEN_PROC_PID: u16 = 2;
const NFTA_GEN_PROC_NAME: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_OVERRUN: u16 = 4;
/// Big enough for any one notification (a rule with its expressions); a larger one is
/// counted, not decoded (MSG_TRUNC tells us its size).
const RECV_BUF: usize = 64 * 1024;
/// Queue for bursts (a Docker restart re-adds hundreds of rules, each echoed); overflowing it
/// is reported as [`Batch::overrun`], never silently.
const RCVBUF: libc::c_int = 4 << 20;

/// One committed nf_tables transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGen {
    /// The ruleset generation after the commit.
    pub id: u32,
    /// The process that committed it, when the kernel said.
    pub pid: Option<u32>,
    pub process: Option<String>,
}

/// What arrived during one [`NftSubscriber::wait`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub generations: Vec<NewGen>,
    /// Other nf_tables notifications (new or deleted tables, chains, rules, sets, ...).
    pub other_messages: usize,
    /// The kernel dropped notifications (our queue was full): the ruleset changed in ways
    /// not all seen here.
    pub overrun: bool,
}

impl Batch {
    pub fn changed(&self) -> bool {
        self.overrun || !self.generations.is_empty() || self.other_messages > 0
    }
}

/// A socket subscribed to nf_tables notifications.
#[derive(Debug)]
pub struct NftSubscriber {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl NftSubscriber {
    /// Subscribe in the calling thread's network namespace (needs CAP_NET_ADMIN there).
    pub fn open() -> Result<Self, NfnlError> {
        // SAFETY: plain socket(2) call; the fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(NfnlError::Socket {
                source: io::Error::last_os_error(),
            });
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF, "SO_RCVBUF")?;
        // An unbound netlink socket receives no multicast even when subscribed: bind it
        // (port id chosen by the kernel) first.
        // SAFETY: an all-zero sockaddr_nl is valid; only the family is set.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: valid fd and an address of the stated size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(NfnlError::Io {
                call: "bind",
                source: io::Error::last_os_error(),
            });
        }
        setsockopt_int(
            &fd,
            libc::SOL_NETLINK,
            libc::NETLINK_ADD_MEMBERSHIP,
            NFNLGRP_NFTABLES,
            "NETLINK_ADD_MEMBERSHIP(NFNLGRP_NFTABLES)",
        )
        .map_err(|e| match e {
            NfnlError::Io { source, .. }
                if source.raw_os_error() == Some(libc::EPERM)
                    || source.raw_os_error() == Some(libc::EACCES) =>
            {
                NfnlError::PermissionDenied {
                    what: "a subscription to ruleset changes",
                }
            }
            other => other,
        })?;
        Ok(Self {
            fd,
            buf: vec![0; RECV_BUF],
        })
    }

    /// Wait up to `timeout` for notifications, then take every one already queued.
    /// An empty batch means nothing changed in that time.
    pub fn wait(&mut self, timeout: Duration) -> Result<Batch, NfnlError> {
        let mut batch = Batch::default();
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(batch);
            }
            return Err(NfnlError::Io {
                call: "poll",
                source: e,
            });
        }
        if rc == 0 {
            return Ok(batch);
        }
        loop {
            // SAFETY: valid fd and buffer of the stated length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(batch),
                    Some(libc::EINTR) => continue,
                    // The kernel could not queue a notification for us.
                    Some(libc::ENOBUFS) => {
                        batch.overrun = true;
                        continue;
                    }
                    _ => {
                        return Err(NfnlError::Io {
                            call: "recv",
                            source: e,
                        });
                    }
                }
            }
            let n = n as usize;
            if n > self.buf.len() {
                // One notification bigger than the buffer (a huge rule): it was a change,
                // whatever it said.
                batch.other_messages += 1;
                continue;
            }
            if let Err(e) = parse_datagram(&self.buf[..n], &mut batch) {
                log::debug!("malformed nf_tables notification: {e}");
                batch.other_messages += 1;
            }
        }
    }
}

impl AsRawFd for NftSubscriber {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

fn setsockopt_int(
    fd: &OwnedFd,
    level: libc::c_int,
    opt: libc::c_int,
    value: libc::c_int,
    call: &'static str,
) -> Result<(), NfnlError> {
    // SAFETY: valid fd, pointer to a live c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(NfnlError::Io {
            call,
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Adds the notifications of one datagram to `batch`. Bounds-checked: a lying length is an
/// error for the rest of the datagram, never a panic.
pub fn parse_datagram(data: &[u8], batch: &mut Batch) -> Result<(), NlaError> {
    let mut pos = 0;
    while pos + NLMSG_HDRLEN <= data.len() {
        let h = &data[pos..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        if len < NLMSG_HDRLEN || len > h.len() {
            return Err(NlaError::new(
                pos,
                format!("message length {len} in a {}-byte datagram", data.len()),
            ));
        }
        let body = &h[NLMSG_HDRLEN..len];
        pos += (len + 3) & !3;
        match ty {
            NLMSG_OVERRUN => batch.overrun = true,
            NLMSG_ERROR => {}
            _ if ty >> 8 == NFNL_SUBSYS_NFTABLES && ty & 0xff == NFT_MSG_NEWGEN => {
                let attrs = body
                    .get(NFGENMSG_LEN..)
                    .ok_or_else(|| NlaError::new(pos, "NEWGEN without nfgenmsg"))?;
                batch.generations.push(decode_newgen(attrs)?);
            }
            _ if ty >> 8 == NFNL_SUBSYS_NFTABLES => batch.other_messages += 1,
            _ => {}
        }
    }
    Ok(())
}

fn decode_newgen(attrs: &[u8]) -> Result<NewGen, NlaError> {
    let mut g = NewGen {
        id: 0,
        pid: None,
        process: None,
    };
    let mut has_id = false;
    for a in NlaIter::new(attrs) {
        let a = a?;
        match a.kind {
            NFTA_GEN_ID => {
                g.id = a.be32()?;
                has_id = true;
            }
            NFTA_GEN_PROC_PID => g.pid = Some(a.be32()?),
            NFTA_GEN_PROC_NAME => g.process = Some(a.string()),
            _ => {}
        }
    }
    if !has_id {
        return Err(NlaError::new(0, "NEWGEN without NFTA_GEN_ID"));
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(data);
        v.resize((v.len() + 3) & !3, 0);
        v
    }

    fn msg(ty: u16, attrs: &[u8]) -> Vec<u8> {
        let len = (NLMSG_HDRLEN + NFGENMSG_LEN + attrs.len()) as u32;
        let mut v = len.to_ne_bytes().to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&[0; 10]); // flags, seq, pid
        v.extend_from_slice(&[0, 0, 0, 0]); // nfgenmsg
        v.extend_from_slice(attrs);
        v
    }

    #[test]
    fn newgen_and_other_messages() {
        let sub = NFNL_SUBSYS_NFTABLES << 8;
        let mut gen_attrs = nla(NFTA_GEN_ID, &42u32.to_be_bytes());
        gen_attrs.extend(nla(NFTA_GEN_PROC_PID, &1234u32.to_be_bytes()));
        gen_attrs.extend(nla(NFTA_GEN_PROC_NAME, b"iptables\0"));
        let mut d = msg(sub | 6, &nla(1, b"filter\0")); // NEWRULE
        d.extend(msg(sub | NFT_MSG_NEWGEN, &gen_attrs));
        let mut b = Batch::default();
        parse_datagram(&d, &mut b).unwrap();
        assert_eq!(b.other_messages, 1);
        assert_eq!(
            b.generations,
            vec![NewGen {
                id: 42,
                pid: Some(1234),
                process: Some("iptables".into())
            }]
        );
        assert!(b.changed());
        // No id: an error, not a generation 0.
        let mut b = Batch::default();
        assert!(parse_datagram(&msg(sub | NFT_MSG_NEWGEN, &[]), &mut b).is_err());
        // A lying length.
        let mut bad = msg(sub | NFT_MSG_NEWGEN, &gen_attrs);
        bad[0] = 255;
        assert!(parse_datagram(&bad, &mut Batch::default()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_datagrams_never_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_datagram(&d, &mut Batch::default());
        }
    }
}
