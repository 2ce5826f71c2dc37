//! `nfprobe::kernel::btf::Btf::parse`: random bytes and mutated real BTF (this kernel's, when
//! readable) give types or an error, never a panic or a hang.

use nfprobe::kernel::btf::Btf;
use proptest::prelude::*;

/// The first 64 KiB of this kernel's BTF (header, early types and strings), if readable.
fn real_prefix() -> Vec<u8> {
    std::fs::read(nfprobe::kernel::btf::VMLINUX)
        .map(|mut v| {
            v.truncate(64 * 1024);
            v
        })
        .unwrap_or_default()
}

proptest! {
    #[test]
    fn random_bytes_never_panic(blob in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Btf::parse(&blob);
    }

    #[test]
    fn mutated_real_btf_never_panics(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..16),
                                      cut in any::<usize>()) {
        let mut blob = real_prefix();
        if blob.is_empty() {
            return Ok(());
        }
        for (at, byte) in flips {
            let i = at % blob.len();
            blob[i] = byte;
        }
        // Keep the header lengths honest sometimes, so the type section itself gets fuzzed.
        let keep = 24 + cut % blob.len().saturating_sub(24).max(1);
        blob.truncate(keep);
        if let Ok(btf) = Btf::parse(&blob) {
            let _ = btf.member_offset("sk_buff", &["dev"]);
            let _ = btf.enum_values("skb_drop_reason");
        }
    }
}
