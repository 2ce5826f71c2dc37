//! Decoders of extensions the kernel here does not load (ipvs, LED, SECMARK, CLUSTERIP), fed
//! blobs laid out by hand from the uapi structs, against the `.t` SAVE field. The other
//! extensions are checked against the live kernel by the legacy oracle test.

use super::{DecodeCtx, ExtKind, decode};
use crate::ruleset::Family;

fn ctx(family: Family, revision: u8) -> DecodeCtx {
    DecodeCtx { family, revision }
}

fn words(s: &str) -> Vec<String> {
    super::t_files::save_words(s)
}

#[test]
fn ipvs_blob() {
    let mut b = vec![0u8; 40];
    b[..4].copy_from_slice(&[1, 2, 3, 4]);
    b[16..20].copy_from_slice(&[255, 255, 0, 0]);
    b[32..34].copy_from_slice(&22u16.to_be_bytes());
    b[34] = 6; // l4proto
    b[35] = 3; // IP_VS_CONN_F_DROUTE
    b[39] = 0b0011_1110; // proto, vaddr, vport, dir, method
    let got = decode(ExtKind::Match, "ipvs", &ctx(Family::Ipv4, 0), &b).unwrap();
    assert_eq!(
        got,
        words("--vproto 6 --vaddr 1.2.3.4/16 --vport 22 --vdir ORIGINAL --vmethod GATE")
    );
    b[38] = 0b0010_0000; // invert method
    b[35] = 2;
    b[39] = 0b0010_0000;
    let got = decode(ExtKind::Match, "ipvs", &ctx(Family::Ipv4, 0), &b).unwrap();
    assert_eq!(got, words("! --vmethod IPIP"));
    assert!(decode(ExtKind::Match, "ipvs", &ctx(Family::Ipv4, 0), &b[..39]).is_err());
}

#[test]
fn led_blob() {
    let mut b = vec![0u8; 40];
    b[..13].copy_from_slice(b"netfilter-foo");
    b[27] = 1;
    b[28..32].copy_from_slice(&42u32.to_ne_bytes());
    let got = decode(ExtKind::Target, "LED", &ctx(Family::Ipv4, 0), &b).unwrap();
    assert_eq!(
        got,
        words("--led-trigger-id \"foo\" --led-delay 42 --led-always-blink")
    );
}

#[test]
fn secmark_blob() {
    let ctxs = "system_u:object_r:firewalld_exec_t:s0";
    let mut b = vec![0u8; 264];
    b[0] = 1;
    b[1..1 + ctxs.len()].copy_from_slice(ctxs.as_bytes());
    let got = decode(ExtKind::Target, "SECMARK", &ctx(Family::Ipv4, 1), &b).unwrap();
    assert_eq!(got, words(&format!("--selctx {ctxs}")));
    let mut b0 = vec![0u8; 264];
    b0[0] = 1;
    b0[8..8 + ctxs.len()].copy_from_slice(ctxs.as_bytes());
    let got = decode(ExtKind::Target, "SECMARK", &ctx(Family::Ipv4, 0), &b0).unwrap();
    assert_eq!(got, words(&format!("--selctx {ctxs}")));
}

#[test]
fn clusterip_blob() {
    let mut b = vec![0u8; 64];
    b[..4].copy_from_slice(&1u32.to_ne_bytes());
    b[4..10].copy_from_slice(&[0x01, 0xaa, 0x7b, 0x47, 0xf7, 0xd7]);
    b[10..12].copy_from_slice(&2u16.to_ne_bytes());
    b[12..14].copy_from_slice(&1u16.to_ne_bytes());
    b[14..16].copy_from_slice(&1u16.to_ne_bytes());
    b[48..52].copy_from_slice(&0u32.to_ne_bytes());
    b[52..56].copy_from_slice(&1u32.to_ne_bytes());
    let got = decode(ExtKind::Target, "CLUSTERIP", &ctx(Family::Ipv4, 0), &b).unwrap();
    assert_eq!(
        got,
        words(
            "--new --hashmode sourceip --clustermac 01:AA:7B:47:F7:D7 --total-nodes 2 --local-node 1 --hash-init 1"
        )
    );
    b[0] = 0;
    assert!(
        decode(ExtKind::Target, "CLUSTERIP", &ctx(Family::Ipv4, 0), &b)
            .unwrap()
            .is_empty()
    );
}

/// hashlimit revisions 1 and 2 (older kernels) laid out by hand; revision 3 is what the
/// kernel here uses and is covered live.
#[test]
fn hashlimit_old_revisions() {
    let want = words("--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name mini1");
    // rev 1: name[16], cfg1 { mode, avg, burst, size, max, gc_interval, expire; u8 srcmask,
    // dstmask }, ptr at 48.
    let mut b = vec![0u8; 56];
    b[..5].copy_from_slice(b"mini1");
    for (i, v) in [0u32, 10_000, 5, 0, 0, 1000, 1000].iter().enumerate() {
        b[16 + 4 * i..20 + 4 * i].copy_from_slice(&v.to_ne_bytes());
    }
    b[44] = 32;
    b[45] = 32;
    let got = decode(ExtKind::Match, "hashlimit", &ctx(Family::Ipv4, 1), &b).unwrap();
    assert_eq!(got, want);
    // rev 2: name[255], cfg2 at 256 { u64 avg, burst; u32 mode, size, max, gc, expire; u8
    // srcmask, dstmask }.
    let mut b = vec![0u8; 304];
    b[..5].copy_from_slice(b"mini1");
    b[256..264].copy_from_slice(&1_000_000u64.to_ne_bytes());
    b[264..272].copy_from_slice(&5u64.to_ne_bytes());
    for (i, v) in [0u32, 0, 0, 1000, 1000].iter().enumerate() {
        b[272 + 4 * i..276 + 4 * i].copy_from_slice(&v.to_ne_bytes());
    }
    b[292] = 128;
    b[293] = 128;
    let got = decode(ExtKind::Match, "hashlimit", &ctx(Family::Ipv6, 2), &b).unwrap();
    assert_eq!(got, want);
}

/// Extensions that render straight into a line ([`super::decode_into`]) print exactly what
/// their words give, and fail exactly when decoding fails (then leaving the line as it was).
mod render_into {
    use super::super::{DecodeCtx, ExtKind, decode, decode_into};
    use crate::ruleset::Family;
    use proptest::prelude::*;

    const RENDERED: [(ExtKind, &str); 5] = [
        (ExtKind::Match, "comment"),
        (ExtKind::Match, "tcp"),
        (ExtKind::Match, "udp"),
        (ExtKind::Target, "DNAT"),
        (ExtKind::Target, "SNAT"),
    ];

    fn agree(kind: ExtKind, name: &str, family: Family, revision: u8, blob: &[u8]) {
        let ctx = DecodeCtx { family, revision };
        let mut line = String::from("-A X");
        let r = decode_into(kind, name, &ctx, blob, &mut line);
        match decode(kind, name, &ctx, blob) {
            Ok(words) => {
                assert!(r.is_ok(), "{name} {blob:?}: {r:?}");
                let joined: String = words.iter().map(|w| format!(" {w}")).collect();
                assert_eq!(line, format!("-A X{joined}"), "{name} {blob:?}");
            }
            Err(e) => {
                assert_eq!(r, Err(e), "{name} {blob:?}");
                assert_eq!(line, "-A X");
            }
        }
    }

    #[test]
    fn typical_blobs() {
        let mut comment = b"ns1/svc \"a\" \\ 'b'".to_vec();
        comment.resize(256, 0);
        let mut tcp = [0u8; 12];
        tcp[..8].copy_from_slice(&[0, 0, 0xff, 0xff, 0x50, 0, 0x50, 0]);
        tcp[9..12].copy_from_slice(&[0x17, 0x02, 0x07]);
        let mut dnat = [0u8; 42];
        dnat[..4].copy_from_slice(&7u32.to_ne_bytes());
        dnat[4..8].copy_from_slice(&[10, 0, 0, 1]);
        dnat[20..24].copy_from_slice(&[10, 0, 0, 9]);
        dnat[36..40].copy_from_slice(&[0x1f, 0x90, 0x1f, 0x99]);
        for (kind, name) in RENDERED {
            for blob in [&comment[..], &tcp[..], &dnat[..], &[][..]] {
                for family in [Family::Ipv4, Family::Ipv6] {
                    for rev in 0..3 {
                        agree(kind, name, family, rev, blob);
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn random_blobs(
            which in 0..RENDERED.len(),
            v6 in any::<bool>(),
            rev in 0u8..4,
            blob in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let (kind, name) = RENDERED[which];
            let family = if v6 { Family::Ipv6 } else { Family::Ipv4 };
            agree(kind, name, family, rev, &blob);
        }
    }
}
