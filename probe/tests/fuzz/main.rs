//! Property-based fuzzing of everything that parses kernel or user bytes: no input may panic.
//!
//! Every `cargo test` runs each target with proptest's default case count; `cargo xtask fuzz
//! TARGET --cases N` runs one optimised with many more (PROPTEST_CASES). One module per target;
//! register new ones in xtask/src/fuzz.rs too.

mod btf_parse;
mod bytes_reader;
mod ext_decode;
