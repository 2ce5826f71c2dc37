//! `cargo xtask fuzz TARGET [--cases N]`: long proptest runs of the decoders.
//!
//! Targets live in probe/tests/fuzz/ (one module each, registered in its main.rs) and run with
//! a small case count in every `cargo test`; here they run optimised with many cases.
//! Add a target: its module there and one line in [`TARGETS`].

use anyhow::{Result, bail};

use crate::sh::{self, step};

/// (name, test-name filter in probe's `fuzz` test binary, what it feeds).
pub const TARGETS: &[(&str, &str, &str)] = &[
    (
        "bytes",
        "bytes_reader::",
        "nfprobe::bytes::Reader on random buffers and reads",
    ),
    (
        "ext",
        "ext_decode::",
        "nfprobe::ext::decode on random names, revisions and blobs",
    ),
    (
        "btf",
        "btf_parse::",
        "nfprobe::kernel::btf::Btf::parse on mutated BTF",
    ),
];

pub fn run(target: Option<&str>, cases: u64) -> Result<()> {
    let Some(target) = target else {
        list();
        return Ok(());
    };
    let filters: Vec<&str> = if target == "all" {
        TARGETS.iter().map(|t| t.1).collect()
    } else {
        match TARGETS.iter().find(|t| t.0 == target) {
            Some(t) => vec![t.1],
            None => {
                list();
                bail!("no fuzz target named `{target}`");
            }
        }
    };
    crate::bootstrap::require_bpf_linker()?;
    for filter in filters {
        step(&format!("fuzzing {filter} with {cases} cases"));
        sh::run(
            sh::cargo()
                .env("PROPTEST_CASES", cases.to_string())
                .args([
                    "test",
                    "--release",
                    "-p",
                    "probe",
                    "--test",
                    "fuzz",
                    "--",
                    filter,
                ])
                .arg("--nocapture"),
        )?;
    }
    Ok(())
}

fn list() {
    eprintln!("fuzz targets (cargo xtask fuzz NAME|all [--cases N]):");
    for (name, _, about) in TARGETS {
        eprintln!("  {name:<8} {about}");
    }
}
