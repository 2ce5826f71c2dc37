//! `nfprobe::bytes::Reader`: any sequence of reads on any buffer returns data or `Truncated`,
//! never panics, and never moves past the end.

use nfprobe::bytes::Reader;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Bytes(usize),
    Skip(usize),
    U8,
    U16,
    U32,
    U64,
    U16Be,
    U32Be,
    U64Be,
    Cstr(usize),
    Align(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..64).prop_map(Op::Bytes),
        prop_oneof![Just(usize::MAX), Just(usize::MAX - 1), 0usize..64].prop_map(Op::Skip),
        Just(Op::U8),
        Just(Op::U16),
        Just(Op::U32),
        Just(Op::U64),
        Just(Op::U16Be),
        Just(Op::U32Be),
        Just(Op::U64Be),
        (0usize..40).prop_map(Op::Cstr),
        (1usize..16).prop_map(Op::Align),
    ]
}

proptest! {
    #[test]
    fn reads_never_panic(buf in prop::collection::vec(any::<u8>(), 0..128),
                         ops in prop::collection::vec(op(), 0..32)) {
        let mut r = Reader::new(&buf);
        for op in ops {
            let before = r.pos();
            let ok = match op {
                Op::Bytes(n) => r.bytes(n).map(|s| assert_eq!(s.len(), n)).is_ok(),
                Op::Skip(n) => r.skip(n).is_ok(),
                Op::U8 => r.u8().is_ok(),
                Op::U16 => r.u16().is_ok(),
                Op::U32 => r.u32().is_ok(),
                Op::U64 => r.u64().is_ok(),
                Op::U16Be => r.u16_be().is_ok(),
                Op::U32Be => r.u32_be().is_ok(),
                Op::U64Be => r.u64_be().is_ok(),
                Op::Cstr(n) => r.cstr(n).is_ok(),
                Op::Align(a) => r.align(a).is_ok(),
            };
            prop_assert!(r.pos() <= buf.len());
            if !ok {
                prop_assert_eq!(r.pos(), before, "a failed read must not consume input");
            }
        }
    }
}
