//! The two getsockopt calls of ip_tables / ip6_tables: `*_SO_GET_INFO` (size and hook offsets
//! of one table) and `*_SO_GET_ENTRIES` (the entry blob with counters).
//!
//! Never call these for a table that is not listed in /proc/net/ip{,6}_tables_names: the
//! kernel instantiates (creates) a missing table on first access.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::kernel::family::Family;

/// `XT_TABLE_MAXNAMELEN`.
pub const TABLE_MAXNAMELEN: usize = 32;
/// `NF_INET_NUMHOOKS`.
pub const NUMHOOKS: usize = 5;

// IPT_BASE_CTL = IP6T_BASE_CTL = 64.
const SO_GET_INFO: libc::c_int = 64;
const SO_GET_ENTRIES: libc::c_int = 65;

/// `struct ipt_getinfo` / `struct ip6t_getinfo` (same layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableInfo {
    pub valid_hooks: u32,
    pub hook_entry: [u32; NUMHOOKS],
    pub underflow: [u32; NUMHOOKS],
    pub num_entries: u32,
    pub size: u32,
}

const GETINFO_LEN: usize = TABLE_MAXNAMELEN + 4 + 4 * NUMHOOKS * 2 + 4 + 4;
/// `sizeof(struct ipt_get_entries)`: name, size, padding to the 8-byte aligned entry table.
pub const GET_ENTRIES_HDR: usize = 40;

/// A raw socket of the family, the handle the getsockopt calls need.
pub struct XtSocket {
    fd: OwnedFd,
    family: Family,
}

impl XtSocket {
    pub fn open(family: Family) -> io::Result<Self> {
        let af = match family {
            Family::Ipv4 => libc::AF_INET,
            Family::Ipv6 => libc::AF_INET6,
        };
        // SAFETY: plain socket(2) call; the fd is owned right away.
        let fd =
            unsafe { libc::socket(af, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd, family })
    }

    fn level(&self) -> libc::c_int {
        match self.family {
            Family::Ipv4 => libc::IPPROTO_IP,
            Family::Ipv6 => libc::IPPROTO_IPV6,
        }
    }

    fn getsockopt(&self, opt: libc::c_int, buf: &mut [u8]) -> io::Result<usize> {
        let mut len = libc::socklen_t::try_from(buf.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "buffer too large"))?;
        // SAFETY: buf is valid for len bytes and outlives the call.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                self.level(),
                opt,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(len as usize)
    }

    /// `*_SO_GET_INFO` for one table.
    pub fn info(&self, table: &str) -> io::Result<TableInfo> {
        let mut buf = [0u8; GETINFO_LEN];
        put_name(&mut buf, table)?;
        let n = self.getsockopt(SO_GET_INFO, &mut buf)?;
        if n < GETINFO_LEN {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("GET_INFO returned {n} bytes, expected {GETINFO_LEN}"),
            ));
        }
        let word = |i: usize| {
            let o = TABLE_MAXNAMELEN + 4 * i;
            u32::from_ne_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]])
        };
        let mut hook_entry = [0; NUMHOOKS];
        let mut underflow = [0; NUMHOOKS];
        for h in 0..NUMHOOKS {
            hook_entry[h] = word(1 + h);
            underflow[h] = word(1 + NUMHOOKS + h);
        }
        Ok(TableInfo {
            valid_hooks: word(0),
            hook_entry,
            underflow,
            num_entries: word(1 + 2 * NUMHOOKS),
            size: word(2 + 2 * NUMHOOKS),
        })
    }

    /// `*_SO_GET_ENTRIES` into `buf` (resized to the answer's length, reusing its memory:
    /// a fresh multi-megabyte buffer costs a page fault per 4 KiB): the entry blob of exactly
    /// `size` bytes starts at [`GET_ENTRIES_HDR`] (left in place: no copy). `EAGAIN` means
    /// the table changed size since `info`; the caller asks again.
    pub fn entries_into(&self, table: &str, size: u32, buf: &mut Vec<u8>) -> io::Result<()> {
        // Bytes kept from an earlier answer are all overwritten: the kernel writes exactly
        // `size` bytes of entries or fails.
        let need = GET_ENTRIES_HDR + size as usize;
        if buf.capacity() < need {
            // Fresh zeroed pages rather than growing: nothing of the old answer is worth
            // copying (and it is freed first).
            *buf = Vec::new();
            *buf = vec![0u8; need];
        }
        buf.resize(need, 0);
        buf[..GET_ENTRIES_HDR].fill(0);
        put_name(buf, table)?;
        buf[TABLE_MAXNAMELEN..TABLE_MAXNAMELEN + 4].copy_from_slice(&size.to_ne_bytes());
        let n = self.getsockopt(SO_GET_ENTRIES, buf)?;
        if n < GET_ENTRIES_HDR {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("GET_ENTRIES returned {n} bytes"),
            ));
        }
        Ok(())
    }
}

fn put_name(buf: &mut [u8], table: &str) -> io::Result<()> {
    let b = table.as_bytes();
    if b.is_empty() || b.len() >= TABLE_MAXNAMELEN || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad table name {table:?}"),
        ));
    }
    buf[..b.len()].copy_from_slice(b);
    Ok(())
}
