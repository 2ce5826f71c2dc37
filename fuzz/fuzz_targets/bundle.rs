//! A bundle file (`nfprobe collect`, or written by hand): read, then audited as `check
//! --docker-state` would. Seeds: bundles collected from the labs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::docker::expect::{self, Layout};
use nfprobe::report::bundle::Bundle;

fuzz_target!(|data: &[u8]| {
    let Ok(b) = Bundle::from_json("fuzz", data) else {
        return;
    };
    let e = expect::expect(&b.docker, Layout::V28_0);
    let _ = nfprobe::host::audit(&b, &e);
});
