//! The iptables argument parser (`-A CHAIN` words, as Docker and users write them) and the
//! iptables-save text parser, on any text. Seeds: real rulesets and iptables' own test lines.
//!
//! Each input is read once, in one family (by the parity of its length, so that the mutator
//! reaches both without a selector byte in front of the text): an iptables-save file (a line
//! starting with `*`) through the save parser, which splits and parses every rule line itself;
//! anything else line by line through the word splitter and the argument parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::ruleset::Family;
use nfprobe::ruleset::parse::{parse_args, parse_save, split_words};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let family = if data.len() % 2 == 0 {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    if text.lines().any(|l| l.trim_start().starts_with('*')) {
        let _ = parse_save(family, &text);
        return;
    }
    for line in text.lines() {
        if let Ok(words) = split_words(line) {
            let _ = parse_args(family, &words);
        }
    }
});
