//! Text on its way out of a streamed read: held in memory up to [`HOLD`] bytes (a read that
//! must start over because the ruleset changed then prints nothing of the first attempt),
//! written through beyond (memory stays bounded; a change found later can no longer be taken
//! back, and the writer must say so).

use std::io::{self, BufWriter, Write};

use crate::kernel::nft::{NftError, NftRuleset};

/// How much text a streamed read holds before it starts writing.
pub const HOLD: usize = 4 << 20;

pub struct Spool<'w> {
    out: BufWriter<&'w mut (dyn Write + Send)>,
    held: Vec<u8>,
    streaming: bool,
}

impl<'w> Spool<'w> {
    pub fn new(out: &'w mut (dyn Write + Send)) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 16, out),
            held: Vec::new(),
            streaming: false,
        }
    }

    /// True once text went out (it cannot be taken back).
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// Forgets the held text (before anything went out): a read starting over.
    pub fn restart(&mut self) {
        self.held.clear();
    }

    /// Writes the held text and flushes: the read is confirmed.
    pub fn finish(&mut self) -> io::Result<()> {
        let held = std::mem::take(&mut self.held);
        self.out.write_all(&held)?;
        self.streaming = true;
        self.out.flush()
    }
}

impl Write for Spool<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.streaming {
            return self.out.write(buf);
        }
        self.held.extend_from_slice(buf);
        if self.held.len() >= HOLD {
            self.streaming = true;
            let held = std::mem::take(&mut self.held);
            self.out.write_all(&held)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.streaming {
            self.out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_then_writes_through() {
        let mut out = Vec::new();
        {
            let mut s = Spool::new(&mut out);
            s.write_all(b"first attempt").unwrap();
            assert!(!s.streaming());
            s.restart();
            s.write_all(b"second").unwrap();
            s.finish().unwrap();
        }
        assert_eq!(out, b"second");

        let mut out = Vec::new();
        {
            let mut s = Spool::new(&mut out);
            s.write_all(&vec![b'x'; HOLD]).unwrap();
            assert!(s.streaming());
            s.write_all(b"tail").unwrap();
            s.finish().unwrap();
        }
        assert_eq!(out.len(), HOLD + 4);
        assert!(out.ends_with(b"xtail"));
    }
}

/// The generations a streamed writer met during an ordered read: the one whose text it is
/// writing, and the one of an attempt it had to refuse because that text was already out.
#[derive(Debug, Default, Clone, Copy)]
pub struct Generations {
    pub writing: u32,
    pub refused: Option<u32>,
}

/// How an ordered read ended badly for a streamed writer.
#[derive(Debug)]
pub enum ReadEnd {
    /// The ruleset changed after text of generation `before` was out.
    Changed {
        before: u32,
        after: u32,
    },
    Failed(NftError),
}

impl Generations {
    /// What the ordered read's result means for the text written.
    pub fn end(&self, read: Result<NftRuleset, NftError>) -> Result<(), ReadEnd> {
        match read {
            Ok(_) => Ok(()),
            Err(NftError::NoRestart) => Err(ReadEnd::Changed {
                before: self.writing,
                after: self.refused.unwrap_or(self.writing),
            }),
            Err(e) => Err(ReadEnd::Failed(e)),
        }
    }
}
