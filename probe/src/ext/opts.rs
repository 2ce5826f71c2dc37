//! Helpers shared by the extension files: blob size checks, walking the command-line words
//! after `-m NAME`/`-j NAME`, iptables' number syntax, and iptables-save spellings.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{ExtError, ExtKind, truncated};
use crate::bytes::{Reader, Truncated};

/// `XT_ALIGN`: the kernel pads every match/target payload to 8 bytes.
pub(crate) const fn xt_align(n: usize) -> usize {
    (n + 7) & !7
}

pub(crate) fn bad(name: &str, reason: impl Into<String>) -> ExtError {
    ExtError::BadArgument {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

pub(crate) fn malformed(name: &str, len: usize, reason: impl Into<String>) -> ExtError {
    ExtError::Malformed {
        name: name.to_owned(),
        len,
        reason: reason.into(),
    }
}

/// A revision this decoder does not know: the caller keeps the blob raw.
/// `inv` with no bit outside `known`: a flag we do not know would change the rule's meaning.
pub(crate) fn known_invflags(name: &str, len: usize, inv: u8, known: u8) -> Result<u8, ExtError> {
    if inv & !known != 0 {
        return Err(malformed(name, len, format!("unknown invflags {inv:#x}")));
    }
    Ok(inv)
}

/// The decode of an extension without data (`-m eui64`, `-j TRACE`): zero padding at most,
/// and nothing to print.
pub(crate) fn no_data(name: &str, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    // The struct has size 0, but tolerate zero padding.
    if blob.len() > 8 || blob.iter().any(|&b| b != 0) {
        return Err(malformed(name, blob.len(), "expected no data"));
    }
    Ok(Vec::new())
}

/// The parse of an extension without options: any option is unknown.
pub(crate) fn no_options(name: &'static str, words: &[String]) -> Result<Vec<String>, ExtError> {
    let mut a = Args::new(name, words);
    if let Some((_, o)) = a.next_opt()? {
        return Err(a.unknown(o));
    }
    Ok(Vec::new())
}

pub(crate) fn unknown_revision(kind: ExtKind, name: &str, revision: u8) -> ExtError {
    ExtError::Unknown {
        kind,
        name: name.to_owned(),
        revision,
    }
}

/// A reader over a blob whose C struct is `size` bytes: the kernel hands over the struct
/// padded to `XT_ALIGN(size)`; nf_tables compat may hand over exactly `size`.
pub(crate) fn sized<'a>(name: &str, blob: &'a [u8], size: usize) -> Result<Reader<'a>, ExtError> {
    if blob.len() < size || blob.len() > xt_align(size) {
        return Err(malformed(
            name,
            blob.len(),
            format!("expected {size} bytes (padded to {})", xt_align(size)),
        ));
    }
    Ok(Reader::new(blob))
}

/// Map a short read to the extension's error.
pub(crate) fn tr<T>(name: &str, r: Result<T, Truncated>) -> Result<T, ExtError> {
    r.map_err(truncated(name))
}

/// Walks the words a user types after `-m NAME` / `-j NAME`.
pub(crate) struct Args<'a> {
    ext: &'static str,
    words: &'a [String],
    pos: usize,
}

impl<'a> Args<'a> {
    pub(crate) fn new(ext: &'static str, words: &'a [String]) -> Self {
        Self { ext, words, pos: 0 }
    }

    /// The next option and whether a `!` preceded it.
    pub(crate) fn next_opt(&mut self) -> Result<Option<(bool, &'a str)>, ExtError> {
        let Some(w) = self.words.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let (invert, opt) = if w == "!" {
            let Some(o) = self.words.get(self.pos) else {
                return Err(bad(self.ext, "`!` at the end"));
            };
            self.pos += 1;
            (true, o)
        } else {
            (false, w)
        };
        if !opt.starts_with("--") {
            return Err(bad(self.ext, format!("unexpected word `{opt}`")));
        }
        Ok(Some((invert, opt.as_str())))
    }

    /// The mandatory value of `opt`.
    pub(crate) fn value(&mut self, opt: &str) -> Result<&'a str, ExtError> {
        let v = self
            .words
            .get(self.pos)
            .ok_or_else(|| bad(self.ext, format!("`{opt}` needs a value")))?;
        self.pos += 1;
        Ok(v)
    }

    /// An optional value: the next word unless it is an option or `!`.
    pub(crate) fn optional_value(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.pos)?;
        if w == "!" || w.starts_with("--") {
            return None;
        }
        self.pos += 1;
        Some(w)
    }

    pub(crate) fn unknown(&self, opt: &str) -> ExtError {
        bad(self.ext, format!("unknown option `{opt}`"))
    }

    /// `!` given to an option that cannot be inverted.
    pub(crate) fn no_invert(&self, invert: bool, opt: &str) -> Result<(), ExtError> {
        if invert {
            Err(bad(self.ext, format!("`{opt}` cannot be inverted")))
        } else {
            Ok(())
        }
    }
}

/// `strtoumax(s, _, 0)` as iptables uses it: `0x` hex, leading `0` octal, else decimal; the
/// whole word must be a number.
pub(crate) fn strtoul0(s: &str) -> Option<u64> {
    let s = s.trim_start();
    let s = s.strip_prefix('+').unwrap_or(s);
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        return u64::from_str_radix(&s[1..], 8).ok();
    }
    s.parse().ok()
}

/// `xtables_strtoui`-style parse with bounds (inclusive).
pub(crate) fn uint(ext: &str, s: &str, min: u64, max: u64) -> Result<u64, ExtError> {
    strtoul0(s)
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| bad(ext, format!("`{s}` is not a number in {min}..={max}")))
}

/// `A` or `A:B` (either side may be empty: defaults `lo`/`hi`), as `xtables_parse_range`-ish
/// options take them.
pub(crate) fn range(ext: &str, s: &str, lo: u64, hi: u64) -> Result<(u64, u64), ExtError> {
    match s.split_once(':') {
        None => {
            let v = uint(ext, s, lo, hi)?;
            Ok((v, v))
        }
        Some((a, b)) => {
            let a = if a.is_empty() {
                lo
            } else {
                uint(ext, a, lo, hi)?
            };
            let b = if b.is_empty() {
                hi
            } else {
                uint(ext, b, lo, hi)?
            };
            Ok((a, b))
        }
    }
}

/// `VALUE[/MASK]` as `xtables_parse_val_mask` reads it (mask defaults to all ones).
pub(crate) fn val_mask(ext: &str, s: &str, max: u64) -> Result<(u64, u64), ExtError> {
    match s.split_once('/') {
        None => Ok((uint(ext, s, 0, max)?, max)),
        Some((v, m)) => Ok((uint(ext, v, 0, max)?, uint(ext, m, 0, max)?)),
    }
}

/// Push `!` when inverted.
pub(crate) fn push_inv(out: &mut Vec<String>, invert: bool) {
    if invert {
        out.push("!".into());
    }
}

/// `%u` or `%u:%u` when the two ends differ.
pub(crate) fn span(a: u64, b: u64) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}:{b}")
    }
}

/// `union nf_inet_addr` (16 bytes); IPv4 uses the first four.
pub(crate) fn inet_addr(r: &mut Reader<'_>) -> Result<[u8; 16], Truncated> {
    r.array::<16>()
}

/// Prefix length of a contiguous mask, `None` when it has holes.
pub(crate) fn prefix_len(mask: &[u8]) -> Option<u32> {
    let mut bits = 0u32;
    let mut seen_zero = false;
    for &b in mask {
        for i in (0..8).rev() {
            if b & (1 << i) != 0 {
                if seen_zero {
                    return None;
                }
                bits += 1;
            } else {
                seen_zero = true;
            }
        }
    }
    Some(bits)
}

/// Mask bytes of a prefix length.
pub(crate) fn mask_bytes<const N: usize>(len: u32) -> [u8; N] {
    let mut m = [0u8; N];
    for (i, b) in m.iter_mut().enumerate() {
        let start = (i as u32) * 8;
        *b = if len >= start + 8 {
            0xff
        } else if len > start {
            0xffu8 << (8 - (len - start))
        } else {
            0
        };
    }
    m
}

/// XTTYPE_HOSTMASK (`xtopt_parse_hostmask`): `ADDR[/LEN|/MASK]` of one family, the address
/// as given (not masked). A dotted mask with holes cannot be expressed as a prefix length and
/// ends up as a full mask, exactly as iptables 1.8.9 stores it.
pub(crate) fn parse_host_mask<const N: usize>(
    ext: &str,
    s: &str,
) -> Result<([u8; N], [u8; N]), ExtError> {
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let addr: [u8; N] = parse_addr(ext, a)?;
    let mask: [u8; N] = match m {
        None => [0xff; N],
        Some(m) => match strtoul0(m) {
            Some(len) if len as usize <= N * 8 && !m.contains('.') && !m.contains(':') => {
                mask_bytes(len as u32)
            }
            _ => {
                let dotted: [u8; N] = parse_addr(ext, m)?;
                match prefix_len(&dotted) {
                    Some(len) => mask_bytes(len),
                    None => [0xff; N],
                }
            }
        },
    };
    Ok((addr, mask))
}

/// `parse_host_mask` into `union nf_inet_addr`-sized arrays (IPv4 in the first 4 bytes).
pub(crate) fn parse_host_mask16(
    ext: &str,
    family: crate::ruleset::Family,
    s: &str,
) -> Result<([u8; 16], [u8; 16]), ExtError> {
    let mut a16 = [0u8; 16];
    let mut m16 = [0u8; 16];
    match family {
        crate::ruleset::Family::Ipv4 => {
            let (a, m) = parse_host_mask::<4>(ext, s)?;
            a16[..4].copy_from_slice(&a);
            m16[..4].copy_from_slice(&m);
        }
        crate::ruleset::Family::Ipv6 => (a16, m16) = parse_host_mask::<16>(ext, s)?,
    }
    Ok((a16, m16))
}

pub(crate) fn parse_addr<const N: usize>(ext: &str, s: &str) -> Result<[u8; N], ExtError> {
    let err = || bad(ext, format!("bad address `{s}`"));
    let mut out = [0u8; N];
    match N {
        4 => out.copy_from_slice(&s.parse::<Ipv4Addr>().map_err(|_| err())?.octets()),
        16 => out.copy_from_slice(&s.parse::<Ipv6Addr>().map_err(|_| err())?.octets()),
        _ => return Err(err()),
    }
    Ok(out)
}

/// `ADDR/LEN` when the mask is contiguous, else `ADDR/MASK`, the way iptables prints
/// masked addresses (`xtables_ipaddr_to_numeric` + `xtables_ipmask_to_numeric`).
pub(crate) fn addr_mask(addr: &[u8], mask: &[u8]) -> String {
    let a = addr_str(addr);
    match prefix_len(mask) {
        Some(l) => format!("{a}/{l}"),
        None => format!("{a}/{}", addr_str(mask)),
    }
}

/// `xtables_ip(6)addr_to_numeric` + `xtables_ip(6)mask_to_numeric`: like `addr_mask` but a
/// full mask prints nothing.
pub(crate) fn addr_opt_mask(addr: &[u8], mask: &[u8]) -> String {
    if mask.iter().all(|&b| b == 0xff) {
        addr_str(addr)
    } else {
        addr_mask(addr, mask)
    }
}

pub(crate) fn addr_str(b: &[u8]) -> String {
    match b.len() {
        4 => Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            // glibc's inet_ntop prints an IPv4-compatible address (first 96 bits zero, the
            // seventh group non-zero) as `::a.b.c.d`; Rust prints hex groups.
            if a[..12].iter().all(|&x| x == 0) && (a[12] != 0 || a[13] != 0) {
                return format!("::{}", Ipv4Addr::new(a[12], a[13], a[14], a[15]));
            }
            Ipv6Addr::from(a).to_string()
        }
        _ => String::new(),
    }
}

/// `(number, official name, aliases)` from /etc/protocols, read once: what
/// getprotobynumber/getprotobyname answer for iptables on this host.
fn protocols() -> &'static [(u8, Vec<String>)] {
    static MAP: std::sync::OnceLock<Vec<(u8, Vec<String>)>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let l = l.split('#').next()?;
                let mut it = l.split_whitespace();
                let name = it.next()?.to_owned();
                let num: u8 = it.next()?.parse().ok()?;
                let mut names = vec![name];
                names.extend(it.map(str::to_owned));
                Some((num, names))
            })
            .collect()
    })
}

/// getprotobynumber's official name.
pub(crate) fn proto_name(n: u8) -> Option<&'static str> {
    protocols()
        .iter()
        .find(|(p, _)| *p == n)
        .and_then(|(_, names)| names.first())
        .map(String::as_str)
}

/// getprotobyname: official name or alias.
pub(crate) fn proto_number(name: &str) -> Option<u8> {
    protocols()
        .iter()
        .find(|(_, names)| names.iter().any(|n| n == name))
        .map(|(p, _)| *p)
}

/// `(port, protocol, names)` from /etc/services, read once (what getservbyname answers).
fn services() -> &'static [(u16, String, Vec<String>)] {
    static MAP: std::sync::OnceLock<Vec<(u16, String, Vec<String>)>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/services").unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let l = l.split('#').next()?;
                let mut it = l.split_whitespace();
                let name = it.next()?.to_owned();
                let (port, proto) = it.next()?.split_once('/')?;
                let mut names = vec![name];
                names.extend(it.map(str::to_owned));
                Some((port.parse().ok()?, proto.to_owned(), names))
            })
            .collect()
    })
}

/// `xtables_parse_port`: a number 0-65535 or a service name for `proto`.
pub(crate) fn parse_port(ext: &str, s: &str, proto: &str) -> Result<u16, ExtError> {
    if let Some(v) = strtoul0(s) {
        return u16::try_from(v).map_err(|_| bad(ext, format!("port `{s}` out of range")));
    }
    services()
        .iter()
        .find(|(_, p, names)| p == proto && names.iter().any(|n| n == s))
        .map(|(port, _, _)| *port)
        .ok_or_else(|| bad(ext, format!("invalid port/service `{s}`")))
}

/// `PORT[:PORT]` with empty ends defaulting to 0 and 65535.
pub(crate) fn parse_port_range(ext: &str, s: &str, proto: &str) -> Result<(u16, u16), ExtError> {
    match s.split_once(':') {
        None => {
            let p = parse_port(ext, s, proto)?;
            Ok((p, p))
        }
        Some((a, b)) => {
            let lo = if a.is_empty() {
                0
            } else {
                parse_port(ext, a, proto)?
            };
            let hi = if b.is_empty() {
                0xffff
            } else {
                parse_port(ext, b, proto)?
            };
            if lo > hi {
                return Err(bad(ext, "invalid portrange (min > max)"));
            }
            Ok((lo, hi))
        }
    }
}

/// An iproute2-style `id name` file (rt_realms, group), as `xtables_lmap_init` reads it.
pub(crate) fn read_lmap(path: &str) -> Vec<(u32, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            if l.starts_with('#') {
                return None;
            }
            let mut it = l.split_whitespace();
            let id = strtoul0(it.next()?)?;
            let name = it.next()?;
            Some((u32::try_from(id).ok()?, name.to_owned()))
        })
        .collect()
}

/// `xtables_print_val_mask`: `0xV/0xM`, or with a full mask the map's name or `0xV`.
pub(crate) fn val_mask_str(val: u32, mask: u32, map: &[(u32, String)]) -> String {
    if mask != u32::MAX {
        return format!("{val:#x}/{mask:#x}");
    }
    match map.iter().find(|(i, _)| *i == val) {
        Some((_, n)) => n.clone(),
        None => format!("{val:#x}"),
    }
}

/// `xtables_parse_val_mask` with a name map: `V[/M]` numbers, or a name (mask all ones).
pub(crate) fn parse_val_mask_named(
    ext: &str,
    s: &str,
    map: &[(u32, String)],
) -> Result<(u32, u32), ExtError> {
    if let Some((v, m)) = s.split_once('/') {
        return Ok((
            uint(ext, v, 0, u32::MAX.into())? as u32,
            uint(ext, m, 0, u32::MAX.into())? as u32,
        ));
    }
    if let Some(v) = strtoul0(s) {
        return Ok((
            u32::try_from(v).map_err(|_| bad(ext, format!("`{s}` out of range")))?,
            u32::MAX,
        ));
    }
    map.iter()
        .find(|(_, n)| n == s)
        .map(|(i, _)| (*i, u32::MAX))
        .ok_or_else(|| bad(ext, format!("unknown name `{s}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_strtoul_base0() {
        assert_eq!(strtoul0("0x1f"), Some(31));
        assert_eq!(strtoul0("010"), Some(8));
        assert_eq!(strtoul0("0"), Some(0));
        assert_eq!(strtoul0("12a"), None);
        assert_eq!(strtoul0(""), None);
        assert_eq!(strtoul0("-1"), None);
    }

    #[test]
    fn masks() {
        assert_eq!(prefix_len(&[255, 255, 255, 0]), Some(24));
        assert_eq!(prefix_len(&[255, 0, 255, 0]), None);
        assert_eq!(mask_bytes::<4>(20), [255, 255, 240, 0]);
        assert_eq!(addr_mask(&[10, 0, 0, 0], &[255, 0, 0, 0]), "10.0.0.0/8");
    }
}
