//! libnftnl "userdata" TLVs (`u8 type, u8 len, value`) stored by nft and iptables-nft on
//! tables, chains, rules and sets; the comment is the one everybody reads.

use crate::bytes::Reader;

/// NFTNL_UDATA_RULE_COMMENT / NFTNL_UDATA_CHAIN_COMMENT / NFTNL_UDATA_TABLE_COMMENT.
pub const COMMENT: u8 = 0;
/// NFTNL_UDATA_SET_COMMENT.
pub const SET_COMMENT: u8 = 7;

/// Iterates the TLVs; stops quietly at a truncated tail (it is kept raw by the caller).
pub fn tlvs(buf: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut r = Reader::new(buf);
    std::iter::from_fn(move || {
        let ty = r.u8().ok()?;
        let len = r.u8().ok()?;
        let v = r.bytes(len as usize).ok()?;
        Some((ty, v))
    })
}

/// The string value of the first TLV of type `ty` (NUL-terminated on the wire).
pub fn string(buf: &[u8], ty: u8) -> Option<String> {
    let (_, v) = tlvs(buf).find(|(t, _)| *t == ty)?;
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    Some(String::from_utf8_lossy(&v[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_and_truncation() {
        let b = [1, 1, 9, 0, 3, b'h', b'i', 0, 5, 200];
        assert_eq!(string(&b, 0).as_deref(), Some("hi"));
        assert_eq!(tlvs(&b).count(), 2);
        assert_eq!(string(&b, 7), None);
    }
}
