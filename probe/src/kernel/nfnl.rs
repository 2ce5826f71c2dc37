//! nfnetlink client for nf_tables (NETLINK_NETFILTER): a raw, blocking libc socket, request
//! building, a dump loop over one reusable bounded buffer, and a checked attribute iterator.
//!
//! Every byte the kernel hands us goes through [`NlaIter`] or [`crate::bytes::Reader`]; a
//! malformed message is an error value, never a panic.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use thiserror::Error;

pub const NETLINK_NETFILTER: libc::c_int = 12;
pub const NFNL_SUBSYS_NFTABLES: u16 = 10;

const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_DUMP: u16 = 0x300;

pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// Receive buffer: the kernel sizes dump skbs after the reader's buffer, capped near 32 KiB,
/// so 64 KiB always holds one skb; a bigger single message is grown into, up to the bound.
const RECV_BUF: usize = 64 * 1024;
const RECV_BUF_MAX: usize = 4 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum NfnlError {
    #[error("cannot open a NETLINK_NETFILTER socket: {source}")]
    Socket {
        #[source]
        source: io::Error,
    },
    #[error("{call} on the nfnetlink socket failed: {source}")]
    Io {
        call: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "nf_tables refused {what}: permission denied (reading the ruleset needs CAP_NET_ADMIN in the target network namespace; run as root)"
    )]
    PermissionDenied { what: &'static str },
    #[error("nf_tables request {what} failed: {source}")]
    Kernel {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("malformed netlink reply to {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// Retriable: the buffer has grown; restart the request on a fresh socket.
    #[error("netlink reply to {what} of {size} bytes did not fit the receive buffer")]
    Truncated { what: &'static str, size: usize },
    #[error("netlink reply to {what} is {size} bytes, above the {max}-byte bound")]
    TooBig {
        what: &'static str,
        size: usize,
        max: usize,
    },
}

/// A malformed attribute: where and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed netlink attribute at offset {offset}: {reason}")]
pub struct NlaError {
    pub offset: usize,
    pub reason: String,
}

impl NlaError {
    pub fn new(offset: usize, reason: impl Into<String>) -> Self {
        Self {
            offset,
            reason: reason.into(),
        }
    }
}

/// One netlink attribute: its type (flags masked off), whether NLA_F_NESTED was set, payload.
#[derive(Debug, Clone, Copy)]
pub struct Nla<'a> {
    pub kind: u16,
    pub nested_flag: bool,
    pub data: &'a [u8],
    /// Offset of the header inside the buffer that was iterated (for error messages).
    pub offset: usize,
}

impl<'a> Nla<'a> {
    #[inline]
    fn exact<const N: usize>(&self) -> Result<[u8; N], NlaError> {
        <[u8; N]>::try_from(self.data).map_err(|_| {
            NlaError::new(
                self.offset,
                format!(
                    "attribute {} has {} bytes, expected {N}",
                    self.kind,
                    self.data.len()
                ),
            )
        })
    }
    pub fn u8(&self) -> Result<u8, NlaError> {
        // u8 attributes are padded to 4 on the wire but nla_len says 1.
        Ok(self.exact::<1>()?[0])
    }
    pub fn be16(&self) -> Result<u16, NlaError> {
        Ok(u16::from_be_bytes(self.exact()?))
    }
    pub fn be32(&self) -> Result<u32, NlaError> {
        Ok(u32::from_be_bytes(self.exact()?))
    }
    pub fn be64(&self) -> Result<u64, NlaError> {
        Ok(u64::from_be_bytes(self.exact()?))
    }
    pub fn ne32(&self) -> Result<u32, NlaError> {
        Ok(u32::from_ne_bytes(self.exact()?))
    }
    /// A NUL-terminated string attribute (the NUL is optional; bytes after it are ignored).
    pub fn string(&self) -> String {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.data.len());
        String::from_utf8_lossy(&self.data[..end]).into_owned()
    }
    /// The bytes of a NUL-terminated string attribute, up to the first NUL.
    pub fn cstr_bytes(&self) -> &'a [u8] {
        until_nul(self.data)
    }
    /// Iterate the attributes nested in this one.
    pub fn nested(&self) -> NlaIter<'a> {
        NlaIter::new(self.data)
    }
}

/// Checked iterator over a run of netlink attributes (4-byte aligned). Yields one error and
/// stops on a header that lies about its length.
#[derive(Debug, Clone)]
pub struct NlaIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> NlaIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for NlaIter<'a> {
    type Item = Result<Nla<'a>, NlaError>;
    // Inlined: every decoder runs this per attribute (dozens per rule).
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let Some((head, _)) = rest.split_first_chunk::<4>() else {
            return Some(Err(self.fail(None)));
        };
        let len = u16::from_ne_bytes([head[0], head[1]]) as usize;
        let ty = u16::from_ne_bytes([head[2], head[3]]);
        if len < 4 || len > rest.len() {
            return Some(Err(self.fail(Some((len, ty)))));
        }
        let nla = Nla {
            kind: ty & NLA_TYPE_MASK,
            nested_flag: ty & NLA_F_NESTED != 0,
            data: &rest[4..len],
            offset: self.pos,
        };
        self.pos += align4(len);
        Some(Ok(nla))
    }
}

impl NlaIter<'_> {
    /// The error for a lying header at `pos` (`None`: too few bytes for one); stops the walk.
    #[cold]
    fn fail(&mut self, header: Option<(usize, u16)>) -> NlaError {
        self.done = true;
        let rest = self.buf.len() - self.pos;
        match header {
            None => NlaError::new(
                self.pos,
                format!("{rest} trailing bytes, shorter than an attribute header"),
            ),
            Some((len, ty)) => NlaError::new(
                self.pos,
                format!("attribute length {len} outside 4..={rest} (type {ty:#x})"),
            ),
        }
    }
}

/// Reads a run of attributes laid out exactly as the kernel dumps them: each in an expected
/// order, with exact type words (no flags) and exact sizes, every one padded to 4, the run
/// ending with the last. Any other layout gives `None` (never an error value: building one
/// costs an allocation); callers then use their [`NlaIter`] decoder, which accepts every
/// layout. Where both accept, both read the same bytes, so their results agree.
#[derive(Debug, Clone, Copy)]
pub struct Fixed<'a> {
    buf: &'a [u8],
}

/// An attribute header as it appears on the wire.
#[inline]
pub const fn header(len: u16, kind: u16) -> [u8; 4] {
    let l = len.to_ne_bytes();
    let k = kind.to_ne_bytes();
    [l[0], l[1], k[0], k[1]]
}

impl<'a> Fixed<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }
    /// Nothing left (the kernel's run ends right after its last padded attribute).
    #[inline]
    pub fn end(&self) -> bool {
        self.buf.is_empty()
    }
    /// The type word of the next attribute, flags included, without consuming it.
    #[inline]
    pub fn peek_kind(&self) -> Option<u16> {
        let (h, _) = self.buf.split_first_chunk::<4>()?;
        Some(u16::from_ne_bytes([h[2], h[3]]))
    }
    /// The next attribute of any type: (type word with flags, payload).
    #[inline]
    pub fn any(&mut self) -> Option<(u16, &'a [u8])> {
        let (h, rest) = self.buf.split_first_chunk::<4>()?;
        let len = usize::from(u16::from_ne_bytes([h[0], h[1]]));
        let data = rest.get(..len.checked_sub(4)?)?;
        // The padding must be there too: a run cut inside it is not the kernel's layout.
        self.buf = self.buf.get(align4(len)..)?;
        Some((u16::from_ne_bytes([h[2], h[3]]), data))
    }
    /// The next attribute, which must be of type `kind` (no flags).
    #[inline]
    pub fn attr(&mut self, kind: u16) -> Option<&'a [u8]> {
        match self.any()? {
            (k, d) if k == kind => Some(d),
            _ => None,
        }
    }
    /// The next attribute, of type `kind`, holding exactly one attribute of type `inner`:
    /// the payload of that one (both headers checked from one 8-byte read).
    #[inline]
    pub fn nest_of_one(&mut self, kind: u16, inner: u16) -> Option<&'a [u8]> {
        let (h, rest) = self.buf.split_first_chunk::<8>()?;
        let outer_len = usize::from(u16::from_ne_bytes([h[0], h[1]]));
        let len = usize::from(u16::from_ne_bytes([h[4], h[5]]));
        let kinds_ok =
            u16::from_ne_bytes([h[2], h[3]]) == kind && u16::from_ne_bytes([h[6], h[7]]) == inner;
        if !kinds_ok || len < 4 || outer_len != 4 + align4(len) {
            return None;
        }
        let v = rest.get(..len - 4)?;
        self.buf = self.buf.get(outer_len..)?;
        Some(v)
    }
    /// A big-endian u32 attribute of type `kind`.
    #[inline]
    pub fn be32(&mut self, kind: u16) -> Option<u32> {
        let (a, rest) = self.buf.split_first_chunk::<8>()?;
        let (h, v) = a.split_first_chunk::<4>()?;
        // The header compared as one word: length and type in one comparison.
        if *h != header(8, kind) {
            return None;
        }
        self.buf = rest;
        Some(u32::from_be_bytes(*v.first_chunk::<4>()?))
    }
    /// A big-endian u64 attribute of type `kind`.
    #[inline]
    pub fn be64(&mut self, kind: u16) -> Option<u64> {
        let (a, rest) = self.buf.split_first_chunk::<12>()?;
        let (h, v) = a.split_first_chunk::<4>()?;
        if *h != header(12, kind) {
            return None;
        }
        self.buf = rest;
        Some(u64::from_be_bytes(*v.first_chunk::<8>()?))
    }
}

/// `b` up to its first NUL (all of it without one): names are NUL-terminated strings and
/// every rule carries several, so the scan goes a word at a time.
#[inline]
pub fn until_nul(b: &[u8]) -> &[u8] {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Lowest bit set where a byte of `w` is zero (bytes in memory order: from_le_bytes);
    // higher bits may be wrong (borrows), the lowest never is.
    let zero = |w: &[u8; 8]| {
        let x = u64::from_le_bytes(*w);
        x.wrapping_sub(LO) & !x & HI
    };
    let mut rest = b;
    let mut off = 0;
    while let Some((w, tail)) = rest.split_first_chunk::<8>() {
        let z = zero(w);
        if z != 0 {
            return &b[..off + (z.trailing_zeros() / 8) as usize];
        }
        off += 8;
        rest = tail;
    }
    if let Some(w) = b.last_chunk::<8>() {
        // The tail within the last 8 bytes, whose head is known NUL-free.
        let z = zero(w);
        if z == 0 {
            return b;
        }
        return &b[..b.len() - 8 + (z.trailing_zeros() / 8) as usize];
    }
    match rest.iter().position(|&c| c == 0) {
        Some(p) => &b[..off + p],
        None => b,
    }
}

pub const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds one nfnetlink request in place: header, nfgenmsg, attributes.
#[derive(Debug, Default)]
pub struct Request {
    buf: Vec<u8>,
}

impl Request {
    /// `msg` is the NFT_MSG_* number; `family` the NFPROTO_* of the nfgenmsg.
    pub fn new(subsys: u16, msg: u16, flags: u16, family: u8) -> Self {
        Self::new_in(Vec::with_capacity(128), subsys, msg, flags, family)
    }
    /// Starts over in the same allocation (dumps chain by chain reuse one request).
    pub fn reset(&mut self, subsys: u16, msg: u16, flags: u16, family: u8) {
        let fresh = Self::new_in(std::mem::take(&mut self.buf), subsys, msg, flags, family);
        *self = fresh;
    }

    fn new_in(mut buf: Vec<u8>, subsys: u16, msg: u16, flags: u16, family: u8) -> Self {
        buf.clear();
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish()
        buf.extend_from_slice(&((subsys << 8) | msg).to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq, set by send()
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        buf.extend_from_slice(&[family, 0 /* NFNETLINK_V0 */, 0, 0]);
        Self { buf }
    }

    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        // Attribute payloads we build are names (≤ 256 bytes); clamp defensively.
        let len16 = u16::try_from(len).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }
    /// A NUL-terminated string attribute.
    pub fn attr_str(&mut self, kind: u16, s: &str) -> &mut Self {
        let len = u16::try_from(4 + s.len() + 1).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }
    fn finish(&mut self, seq: u32) -> &[u8] {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

/// One nfnetlink message of a reply.
#[derive(Debug, Clone, Copy)]
pub struct NfMsg<'a> {
    /// The NFT_MSG_* number (low byte of nlmsg_type).
    pub msg: u16,
    pub flags: u16,
    pub family: u8,
    /// nfgenmsg.res_id: for nf_tables dumps, the low 16 bits of the ruleset generation.
    pub res_id: u16,
    /// The attributes after the nfgenmsg header.
    pub attrs: &'a [u8],
}

/// What a finished dump reported beside its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpStatus {
    /// A message carried NLM_F_DUMP_INTR: the ruleset changed under the dump.
    pub interrupted: bool,
    pub messages: usize,
}

/// A blocking NETLINK_NETFILTER socket with one reusable receive buffer.
#[derive(Debug)]
pub struct NfnlSocket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl NfnlSocket {
    /// Opens the socket in the calling thread's network namespace.
    pub fn open() -> Result<Self, NfnlError> {
        Self::open_with(0)
    }

    /// Same, with a receive buffer of at least `buf` bytes (bounded).
    pub fn open_with(buf: usize) -> Result<Self, NfnlError> {
        // SAFETY: plain socket(2) call; the fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
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
        // Bigger receive queue so a dump is not throttled by the default socket buffer.
        let rcvbuf: libc::c_int = 1 << 20;
        // SAFETY: valid fd, pointer to a live c_int of the given size. Failure is harmless.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&rcvbuf as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        Ok(Self {
            fd,
            seq: seed,
            buf: vec![0; buf.clamp(RECV_BUF, RECV_BUF_MAX)],
        })
    }

    fn send(&mut self, req: &mut Request) -> Result<u32, NfnlError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = req.finish(seq);
        // SAFETY: an all-zero sockaddr_nl with AF_NETLINK addresses the kernel.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: valid fd, buffer and address of the stated sizes.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(NfnlError::Io {
                call: "sendto",
                source: io::Error::last_os_error(),
            });
        }
        Ok(seq)
    }

    /// Receives one datagram into the reusable buffer; returns its length. A datagram larger
    /// than the buffer is lost: the buffer grows (bounded) and the caller must restart the
    /// request ([`NfnlError::Truncated`]).
    fn recv(&mut self, what: &'static str) -> Result<usize, NfnlError> {
        loop {
            // SAFETY: valid fd and buffer of the stated length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(NfnlError::Io {
                    call: "recv",
                    source: e,
                });
            }
            let n = n as usize;
            if n > self.buf.len() {
                if n > RECV_BUF_MAX {
                    return Err(NfnlError::TooBig {
                        what,
                        size: n,
                        max: RECV_BUF_MAX,
                    });
                }
                self.buf.resize(n, 0);
                return Err(NfnlError::Truncated { what, size: n });
            }
            return Ok(n);
        }
    }

    /// Sends `req` and calls `on_msg` for every reply message until NLMSG_DONE (dumps) or
    /// the single reply / ACK (plain requests). The callback sees slices of the reusable
    /// buffer; it must copy what it keeps.
    pub fn request<F>(
        &mut self,
        what: &'static str,
        req: &mut Request,
        dump: bool,
        mut on_msg: F,
    ) -> Result<DumpStatus, NfnlError>
    where
        F: FnMut(NfMsg<'_>) -> Result<(), NfnlError>,
    {
        let seq = self.send(req)?;
        let mut status = DumpStatus::default();
        loop {
            let n = self.recv(what)?;
            let mut buf = std::mem::take(&mut self.buf);
            let res = walk_datagram(what, &buf[..n], seq, dump, &mut status, &mut on_msg);
            std::mem::swap(&mut self.buf, &mut buf);
            if res? {
                return Ok(status);
            }
        }
    }
}

/// Walks the netlink messages of one datagram. Ok(true) when the reply is complete.
fn walk_datagram<F>(
    what: &'static str,
    data: &[u8],
    seq: u32,
    dump: bool,
    status: &mut DumpStatus,
    on_msg: &mut F,
) -> Result<bool, NfnlError>
where
    F: FnMut(NfMsg<'_>) -> Result<(), NfnlError>,
{
    let mut pos = 0;
    let mut finished = false;
    while pos + NLMSG_HDRLEN <= data.len() {
        let h = &data[pos..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        let flags = u16::from_ne_bytes([h[6], h[7]]);
        let mseq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        if len < NLMSG_HDRLEN || len > h.len() {
            return Err(NfnlError::Malformed {
                what,
                reason: format!(
                    "message length {len} at offset {pos} (datagram {})",
                    data.len()
                ),
            });
        }
        let body = &h[NLMSG_HDRLEN..len];
        pos += align4(len);
        if mseq != seq {
            // A late reply to an earlier request on this socket: not ours.
            continue;
        }
        if flags & NLM_F_DUMP_INTR != 0 {
            status.interrupted = true;
        }
        match ty {
            NLMSG_NOOP => continue,
            NLMSG_DONE => {
                finished = true;
                // A dump's DONE carries an errno (0 on success).
                if body.len() >= 4 {
                    let errno = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
                    if errno != 0 {
                        return Err(kernel_error(what, errno));
                    }
                }
                break;
            }
            NLMSG_ERROR => {
                if body.len() < 4 {
                    return Err(NfnlError::Malformed {
                        what,
                        reason: "short NLMSG_ERROR".into(),
                    });
                }
                let errno = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
                if errno != 0 {
                    return Err(kernel_error(what, errno));
                }
                finished = true; // an ACK
                break;
            }
            NLMSG_OVERRUN => {
                return Err(NfnlError::Malformed {
                    what,
                    reason: "NLMSG_OVERRUN: the kernel dropped data".into(),
                });
            }
            _ => {
                if body.len() < NFGENMSG_LEN {
                    return Err(NfnlError::Malformed {
                        what,
                        reason: format!("message type {ty:#x} without nfgenmsg"),
                    });
                }
                status.messages += 1;
                on_msg(NfMsg {
                    msg: ty & 0xff,
                    flags,
                    family: body[0],
                    res_id: u16::from_be_bytes([body[2], body[3]]),
                    attrs: &body[NFGENMSG_LEN..],
                })?;
                if !dump && flags & NLM_F_MULTI == 0 {
                    finished = true;
                }
            }
        }
    }
    Ok(finished)
}

fn kernel_error(what: &'static str, errno: i32) -> NfnlError {
    let code = errno.checked_neg().unwrap_or(i32::MAX);
    if code == libc::EPERM || code == libc::EACCES {
        NfnlError::PermissionDenied { what }
    } else {
        NfnlError::Kernel {
            what,
            source: io::Error::from_raw_os_error(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(data);
        v.resize(align4(v.len()), 0);
        v
    }

    #[test]
    fn iterates_and_rejects_lies() {
        let mut b = nla(1, b"abc\0");
        b.extend(nla(2 | NLA_F_NESTED, &nla(3, &7u32.to_be_bytes())));
        let v: Vec<_> = NlaIter::new(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].string(), "abc");
        assert!(v[1].nested_flag);
        let inner: Vec<_> = v[1].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].be32().unwrap(), 7);
        assert!(inner[0].be64().is_err());
        // length beyond the buffer
        let bad = [200u8, 0, 1, 0, 1, 2];
        let r: Vec<_> = NlaIter::new(&bad).collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_err());
        // trailing junk shorter than a header
        let r: Vec<_> = NlaIter::new(&[1, 2]).collect();
        assert!(r[0].is_err());
    }

    #[test]
    fn datagram_walk_maps_errors() {
        let mut d = Vec::new();
        d.extend_from_slice(&20u32.to_ne_bytes());
        d.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        d.extend_from_slice(&0u16.to_ne_bytes());
        d.extend_from_slice(&5u32.to_ne_bytes());
        d.extend_from_slice(&0u32.to_ne_bytes());
        d.extend_from_slice(&(-libc::EPERM).to_ne_bytes());
        let mut st = DumpStatus::default();
        let e = walk_datagram("GETGEN", &d, 5, false, &mut st, &mut |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("CAP_NET_ADMIN"), "{e}");
        // a lying length is an error, not a panic
        d[0] = 200;
        assert!(walk_datagram("x", &d, 5, false, &mut st, &mut |_| Ok(())).is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_datagrams_never_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), seq in 0u32..4) {
            let mut st = DumpStatus::default();
            let _ = walk_datagram("x", &d, seq, true, &mut st, &mut |m| {
                for a in NlaIter::new(m.attrs).flatten() {
                    let _ = (a.be32(), a.be64(), a.u8(), a.string());
                    for n in a.nested() { let _ = n; }
                }
                Ok(())
            });
        }
    }
}
