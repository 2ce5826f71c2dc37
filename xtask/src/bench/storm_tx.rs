//! The drop storm's sender: pre-built Ethernet/IPv4/UDP frames written to a veth with an
//! AF_PACKET socket (PACKET_QDISC_BYPASS) in batches of `BATCH` per `sendmmsg`, so the
//! per-packet cost is the kernel's receive path and the drop, not one syscall per packet.

use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Messages per `sendmmsg` (the kernel caps vlen at UIO_MAXIOV = 1024).
const BATCH: usize = 1024;

/// One 60-byte frame: Ethernet + IPv4 (valid header checksum, or `ip_rcv` drops it as
/// IP_CSUM before netfilter sees it) + UDP (checksum 0 = none) + 18 bytes of payload.
pub fn udp_frame(dst_mac: [u8; 6], src_mac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let payload = 18u16;
    let ip_len = 20 + 8 + payload;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let mut sum = 0u32;
    for w in ip.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&9000u16.to_be_bytes());
    f.extend_from_slice(&9u16.to_be_bytes());
    f.extend_from_slice(&(8 + payload).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(60, 0x5a);
    f
}

/// An AF_PACKET socket bound to one interface of the current netns, sending only.
pub struct PacketTx(libc::c_int);

impl Drop for PacketTx {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor.
        unsafe { libc::close(self.0) };
    }
}

impl PacketTx {
    pub fn open(ifname: &str) -> io::Result<Self> {
        let name = std::ffi::CString::new(ifname).map_err(io::Error::other)?;
        // SAFETY: plain libc calls on values we own; results are checked.
        unsafe {
            let ifindex = libc::if_nametoindex(name.as_ptr());
            if ifindex == 0 {
                return Err(io::Error::last_os_error());
            }
            // Protocol 0: this socket never receives, so it adds no tap on the receive path.
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let s = Self(fd);
            let one: libc::c_int = 1;
            if libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
            sll.sll_ifindex = ifindex as i32;
            if libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(s)
        }
    }

    /// Sends `frame` over and over for `dur`; returns how many frames the kernel accepted
    /// (sendmmsg's own count: a frame it refused is not counted as sent).
    pub fn blast(&self, frame: &[u8], dur: Duration) -> io::Result<u64> {
        let mut iov = libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        };
        // SAFETY: zeroed mmsghdr is valid; every header points at the one iovec above,
        // which outlives the calls (the kernel only reads from it).
        let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
            .map(|_| {
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = &mut iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed() < dur {
            // SAFETY: msgs is a valid array of BATCH headers.
            let n = unsafe { libc::sendmmsg(self.0, msgs.as_mut_ptr(), BATCH as u32, 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    // Back-pressure: nothing was sent by this call; go on.
                    Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                    _ => return Err(e),
                }
            }
            sent += n as u64;
        }
        Ok(sent)
    }
}
