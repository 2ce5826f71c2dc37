//! `#[repr(C)]` types shared by the eBPF programs and userspace. Nothing else.
#![no_std]
pub mod drops;
