//! Docker Engine API answers: `{"networks": GET /networks, "containers": GET /containers/json}`
//! as JSON. Seeds: answers recorded from the lab's real dockerd.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::docker::discover::{parse_containers, parse_networks};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(nets) = parse_networks(&v["networks"]) else {
        return;
    };
    let _ = parse_containers(&v["containers"], &nets);
});
