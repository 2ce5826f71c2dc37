//! nfprobe's eBPF programs, built for `bpfel-unknown-none` by `probe/build.rs` and embedded in the
//! `nfprobe` binary. One module per program (with the maps it owns); shared types live in
//! `probe-common`.
#![no_std]
#![no_main]

mod drop_counter;
mod drops;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never executed.
    loop {}
}

// The BPF target has no license by default; GPL is required for bpf_probe_read_kernel.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
