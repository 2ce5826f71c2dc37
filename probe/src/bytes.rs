//! A bounds-checked little reader for kernel blobs (netlink payloads, xtables entries).
//! Every accessor returns an error instead of panicking on short input.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("truncated input: needed {needed} bytes at offset {offset}, only {len} available")]
pub struct Truncated {
    pub offset: usize,
    pub needed: usize,
    pub len: usize,
}

/// Cursor over a byte slice; native-endian reads unless the name says `be`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Truncated {
                offset: self.pos,
                needed: n,
                len: self.buf.len(),
            }),
        }
    }
    pub fn skip(&mut self, n: usize) -> Result<(), Truncated> {
        self.bytes(n).map(|_| ())
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_ne_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_ne_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_ne_bytes(self.array()?))
    }
    pub fn u16_be(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32_be(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64_be(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A fixed-size, NUL-padded C string field (e.g. `char name[29]`); stops at the first NUL.
    pub fn cstr(&mut self, n: usize) -> Result<String, Truncated> {
        let s = self.bytes(n)?;
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        Ok(lossy(&s[..end]))
    }
    /// Advance to the next multiple of `align` (relative to the start of the buffer).
    pub fn align(&mut self, align: usize) -> Result<(), Truncated> {
        let rem = self.pos % align;
        if rem != 0 {
            self.skip(align - rem)
        } else {
            Ok(())
        }
    }
}

/// `String::from_utf8_lossy(b)` as an owned string, with the validation fast path first
/// (kernel names and comments are nearly always valid UTF-8).
pub fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_are_errors_not_panics() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16_be().unwrap(), 0x0102);
        assert!(r.u32().is_err());
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.u8().is_err());
        assert!(Reader::new(&[]).bytes(usize::MAX).is_err());
    }

    #[test]
    fn cstr_stops_at_nul() {
        let mut r = Reader::new(b"ab\0cd\0\0\0x");
        assert_eq!(r.cstr(8).unwrap(), "ab");
        assert_eq!(r.u8().unwrap(), b'x');
    }
}
