//! `#[repr(C)]` types shared by the eBPF programs and userspace. Nothing else.
//!
//! Every type here crosses the kernel boundary byte for byte: keep them `#[repr(C)]`, `Copy`,
//! free of padding holes (explicit `_pad` fields), and add new ones in their own module.
#![no_std]

pub mod drop_counter;
pub mod drops;
pub mod flow;

pub use drop_counter::{DropFilter, ReasonKey, counter};
