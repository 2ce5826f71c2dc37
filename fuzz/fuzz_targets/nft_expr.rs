//! One NFTA_LIST_ELEM of a rule's expression list, through every expression decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::kernel::nft::expr::decode_expr;

fuzz_target!(|data: &[u8]| {
    let _ = decode_expr(data);
});
