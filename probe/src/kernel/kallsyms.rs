//! /proc/kallsyms: kernel addresses → `function+0xoff`, and names → addresses.
//!
//! Drop locations arrive as raw return addresses from the `kfree_skb` tracepoint; the sorted
//! table turns them into the function that dropped the packet (e.g. `nft_do_chain+0x4a3`).
//! Without root (kptr_restrict) every address reads as 0: that is reported, not guessed around.

use std::path::Path;

use thiserror::Error;

pub const KALLSYMS: &str = "/proc/kallsyms";

#[derive(Debug, Error)]
pub enum KallsymsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{KALLSYMS} shows no addresses (kptr_restrict; needs root)")]
    Hidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub addr: u64,
    pub name: String,
    /// Module name for symbols of loadable modules (`[nf_tables]`), if any.
    pub module: Option<String>,
}

/// Text symbols sorted by address.
#[derive(Debug, Default)]
pub struct Kallsyms {
    syms: Vec<Symbol>,
}

impl Kallsyms {
    pub fn from_proc() -> Result<Self, KallsymsError> {
        Self::from_path(Path::new(KALLSYMS))
    }

    pub fn from_path(path: &Path) -> Result<Self, KallsymsError> {
        let text = std::fs::read_to_string(path).map_err(|source| KallsymsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let k = Self::parse(&text);
        if k.syms.is_empty() {
            return Err(KallsymsError::Hidden);
        }
        Ok(k)
    }

    /// Parse `ADDR TYPE NAME [MODULE]` lines; text symbols only; bad lines are skipped.
    pub fn parse(text: &str) -> Self {
        let mut syms: Vec<Symbol> = text
            .lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace();
                let addr = u64::from_str_radix(it.next()?, 16).ok()?;
                let ty = it.next()?;
                let name = it.next()?;
                if addr == 0 || !matches!(ty, "t" | "T" | "w" | "W") {
                    return None;
                }
                let module = it
                    .next()
                    .map(|m| m.trim_matches(|c| c == '[' || c == ']').to_owned());
                Some(Symbol {
                    addr,
                    name: name.to_owned(),
                    module,
                })
            })
            .collect();
        syms.sort_by_key(|s| s.addr);
        Self { syms }
    }

    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// The symbol containing `addr` and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&Symbol, u64)> {
        let idx = self.syms.partition_point(|s| s.addr <= addr);
        let sym = self.syms.get(idx.checked_sub(1)?)?;
        Some((sym, addr - sym.addr))
    }

    /// `name+0xoff`, or the hex address when unknown.
    pub fn symbolize(&self, addr: u64) -> String {
        match self.lookup(addr) {
            Some((s, off)) => format!("{}+{off:#x}", s.name),
            None => format!("{addr:#x}"),
        }
    }

    /// Just the function name containing `addr`.
    pub fn function(&self, addr: u64) -> Option<&str> {
        self.lookup(addr).map(|(s, _)| s.name.as_str())
    }

    /// Address of a function by name (first match).
    pub fn address(&self, name: &str) -> Option<u64> {
        self.syms.iter().find(|s| s.name == name).map(|s| s.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_sorted() {
        let k = Kallsyms::parse(
            "ffffffff81000200 T b\nffffffff81000100 t a\nffffffff81000300 D data\n\
             ffffffffc0000000 t nft_do_chain\t[nf_tables]\ngarbage\n",
        );
        assert_eq!(k.len(), 3);
        assert_eq!(k.symbolize(0xffffffff81000110), "a+0x10");
        assert_eq!(k.symbolize(0xffffffff81000200), "b+0x0");
        assert_eq!(k.symbolize(0x10), "0x10");
        let (s, _) = k.lookup(0xffffffffc0000042).unwrap();
        assert_eq!(s.module.as_deref(), Some("nf_tables"));
        assert_eq!(k.address("b"), Some(0xffffffff81000200));
    }

    #[test]
    fn running_kernel() {
        let k = Kallsyms::from_proc().expect("this test needs root to read /proc/kallsyms");
        let a = k
            .address("kfree_skb_reason")
            .or(k.address("sk_skb_reason_drop"));
        let a = a.expect("a kfree_skb function");
        assert!(k.symbolize(a + 4).ends_with("+0x4"));
    }
}
