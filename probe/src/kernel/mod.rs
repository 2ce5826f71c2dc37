//! The only module that talks to the kernel: netlink sockets, getsockopt, setns, bpf(2),
//! /proc and /sys. Everything it returns is typed, bounds-checked data.
pub mod btf;
pub mod caps;
pub mod clsact;
pub mod conntrack;
pub mod drop_probe;
pub mod ebpf;
pub mod exec;
pub mod family;
pub mod features;
pub mod kallsyms;
pub mod link;
pub mod netns;
pub mod nfnl;
pub mod nft;
pub mod nftmon;
pub mod proc;
pub mod signals;
pub mod sysctl;
pub mod tcp;
pub mod xt;
