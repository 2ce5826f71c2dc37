//! ipset names by index (`SO_IP_SET` getsockopt, IP_SET_OP_VERSION then
//! IP_SET_OP_GET_BYINDEX): what `-m set` blobs refer to. Read-only.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SO_IP_SET: libc::c_int = 83;
const OP_VERSION: u32 = 0x100;
const OP_GET_BYINDEX: u32 = 0x7;
const MAXNAMELEN: usize = 32;

/// A socket to ask ipset in the current thread's namespace.
pub struct IpsetNames {
    fd: OwnedFd,
    version: u32,
}

impl IpsetNames {
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::IPPROTO_RAW,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut req = [0u8; 8];
        req[..4].copy_from_slice(&OP_VERSION.to_ne_bytes());
        getsockopt(&fd, &mut req)?;
        let version = u32::from_ne_bytes([req[4], req[5], req[6], req[7]]);
        Ok(Self { fd, version })
    }

    /// The name of set `index`, None when there is none.
    pub fn name(&self, index: u16) -> Option<String> {
        let mut req = [0u8; 8 + MAXNAMELEN];
        req[..4].copy_from_slice(&OP_GET_BYINDEX.to_ne_bytes());
        req[4..8].copy_from_slice(&self.version.to_ne_bytes());
        req[8..10].copy_from_slice(&index.to_ne_bytes());
        getsockopt(&self.fd, &mut req).ok()?;
        let name = &req[8..];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        (end > 0).then(|| String::from_utf8_lossy(&name[..end]).into_owned())
    }
}

fn getsockopt(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<()> {
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: buf is valid for len bytes during the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_IP,
            SO_IP_SET,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
