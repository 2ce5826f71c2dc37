//! One NFT_MSG_NEWRULE payload (after the nfgenmsg): the owned decoder, the borrowed
//! fixed-layout reader and its expression walk. Seeds: rule messages recorded from the kernel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::kernel::nft::{NftRule, RuleRef};

fuzz_target!(|data: &[u8]| {
    let _ = NftRule::decode(data);
    if let Some(r) = RuleRef::decode(data) {
        let _ = (r.table(), r.chain());
        for e in r.exprs() {
            let _ = e;
        }
    }
});
