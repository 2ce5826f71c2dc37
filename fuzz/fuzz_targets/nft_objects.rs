//! The other nf_tables dump messages: the first byte picks table, chain, set, set element,
//! object or flowtable; the rest is the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::kernel::nft::chain::NftChain;
use nfprobe::kernel::nft::{NftFlowtable, NftObject, NftSet, NftSetElem, NftTable};

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => {
            let _ = NftTable::decode(2, payload);
        }
        1 => {
            let _ = NftChain::decode(payload);
        }
        2 => {
            let _ = NftSet::decode(payload);
        }
        3 => {
            let _ = NftSetElem::decode_msg(payload);
        }
        4 => {
            let _ = NftObject::decode(payload);
        }
        _ => {
            let _ = NftFlowtable::decode(payload);
        }
    }
});
