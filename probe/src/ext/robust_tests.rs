//! Decoders of the `ext` branch never panic: random, truncated and oversized blobs for every
//! revision and family give words or an `ExtError`, nothing else.

use super::{DecodeCtx, EXT_REGISTRY};
use crate::ruleset::Family;

/// xorshift64*: deterministic bytes, no dependency.
fn bytes(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed >> 12;
            *seed ^= *seed << 25;
            *seed ^= *seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn decoders_survive_garbage() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut decoded = 0usize;
    for def in EXT_REGISTRY {
        for family in [Family::Ipv4, Family::Ipv6] {
            if def.family.is_some_and(|f| f != family) {
                continue;
            }
            for revision in 0..5u8 {
                let ctx = DecodeCtx { family, revision };
                for len in (0..64).chain([120, 160, 264, 280, 292, 308, 312, 528, 1984, 4112, 5000])
                {
                    for fill in 0..3 {
                        let blob = match fill {
                            0 => vec![0u8; len],
                            1 => vec![0xffu8; len],
                            _ => bytes(&mut seed, len),
                        };
                        let r = std::panic::catch_unwind(|| (def.decode)(&ctx, &blob));
                        match r {
                            Ok(Ok(_)) => decoded += 1,
                            Ok(Err(_)) => {}
                            Err(_) => panic!(
                                "{} rev {revision} {family:?} panicked on {len} bytes (fill {fill})",
                                def.name
                            ),
                        }
                    }
                }
            }
        }
    }
    assert!(decoded > 0);
}

#[test]
fn parsers_survive_garbage() {
    let words: Vec<Vec<String>> = vec![
        vec![],
        vec!["!".into()],
        vec!["--".into()],
        vec!["!".into(), "!".into()],
        vec!["--x".into(), "".into()],
        vec!["x".into()],
    ];
    for def in EXT_REGISTRY {
        for w in &words {
            for family in [Family::Ipv4, Family::Ipv6] {
                let r = std::panic::catch_unwind(|| (def.parse)(family, w));
                assert!(r.is_ok(), "{} parse panicked on {w:?}", def.name);
            }
        }
    }
}

#[test]
fn extreme_fields_do_not_overflow() {
    let ctx = DecodeCtx {
        family: Family::Ipv4,
        revision: 0,
    };
    for interval in [-2i8, 3, 18, 127, -128] {
        for ewma in [0u8, 1, 31, 255] {
            let mut blob = vec![0u8; 32];
            blob[16] = interval as u8;
            blob[17] = ewma;
            let r = std::panic::catch_unwind(|| {
                super::decode(super::ExtKind::Target, "RATEEST", &ctx, &blob)
            });
            assert!(r.is_ok(), "RATEEST {interval} {ewma}");
        }
    }
}
