//! The iptables argument parser (`-A CHAIN` words, as Docker and users write them) and the
//! iptables-save text parser, on any text. Seeds: real rulesets and iptables' own test lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfprobe::ruleset::Family;
use nfprobe::ruleset::parse::{parse_args, parse_save};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for family in [Family::Ipv4, Family::Ipv6] {
        for line in text.lines() {
            let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            let _ = parse_args(family, &words);
        }
        let _ = parse_save(family, &text);
    }
});
