//! A legacy table as `*_SO_GET_ENTRIES` returns it (decoded into the model and rendered
//! straight to text: both must print the same), with the `*_SO_GET_INFO` answer in front:
//! byte 0 the family (even: IPv4), then valid_hooks, 5 hook entries, 5 underflows,
//! num_entries and size (u32, native endian), then the entry blob. Seeds: blobs recorded from
//! the kernel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::kernel::xt::TableInfo;
use nfprobe::ruleset::xlate::legacy;
use nfprobe::ruleset::{Family, render};

fn u32_at(d: &[u8], i: usize) -> u32 {
    d.get(i * 4..i * 4 + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let Some((&fam, rest)) = data.split_first() else {
        return;
    };
    if rest.len() < 48 {
        return;
    }
    let (head, blob) = rest.split_at(48);
    let info = TableInfo {
        valid_hooks: u32_at(head, 0),
        hook_entry: std::array::from_fn(|i| u32_at(head, 1 + i)),
        underflow: std::array::from_fn(|i| u32_at(head, 6 + i)),
        num_entries: u32_at(head, 11),
        size: blob.len() as u32,
    };
    let family = if fam % 2 == 0 {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    let t = legacy::decode_table(family, "filter", &info, blob);
    // The straight-to-text save path prints what rendering the model prints.
    let mut want = String::new();
    render::table(&mut want, &t, true);
    let (text, undecoded) = legacy::save_table_text(family, "filter", &info, blob, true);
    assert_eq!(text, want);
    assert_eq!(undecoded, t.undecoded_rules());
});
