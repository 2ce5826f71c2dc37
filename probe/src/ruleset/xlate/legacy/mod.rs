//! Legacy xtables tables (`kernel::xt`: table info and entry blobs read through
//! getsockopt) → the canonical model and iptables-save text, the way iptables-legacy-save
//! reads them: the sibling of the nf_tables translation in `xlate`, sharing its extension
//! decoding (`compat`), its text cache and the renderer.
//!
//! Entry points: [`read_ruleset`] (the model) and [`save_text`] (straight to text, the
//! least memory); [`decode_table`] and [`save_table_text`] take one table blob (tests,
//! fuzzing).

mod rule;
mod save;
mod table;

use super::with_ipset_names;
use crate::kernel::netns::{NetnsSpec, run_in};
use crate::kernel::xt::{self, TableInfo, XtError};
use crate::ruleset::{Backend, Family, Ruleset, Table};

pub use save::CHUNK as SAVE_CHUNK;

/// The legacy ruleset of one family, read inside `ns` (or the current namespace).
pub fn read_ruleset(ns: Option<&NetnsSpec>, family: Family) -> Result<Ruleset, XtError> {
    let tables = run_in(ns, || {
        let mut tables = Vec::new();
        with_ipset_names(|| {
            xt::visit_blobs_here(family, &mut |name, info, blob| {
                tables.push(table::decode(family, name, info, blob))
            })
        })?;
        Ok::<_, XtError>(tables)
    })??;
    Ok(Ruleset {
        backend: Backend::Legacy,
        family,
        genid: None,
        tables,
    })
}

/// The iptables-save text (`-c` with `counters`) of every table of the family inside `ns`
/// (or the current namespace), rendered entry by entry straight from the kernel's blobs:
/// handed to `spill` in pieces of about [`SAVE_CHUNK`] bytes, each ending with a line;
/// `spill` takes the text out of the buffer (leaves it empty). Returns how many rules could
/// not be fully decoded. Same text as rendering [`read_ruleset`].
pub fn save_text(
    ns: Option<&NetnsSpec>,
    family: Family,
    counters: bool,
    spill: &mut (dyn FnMut(&mut String) + Send),
) -> Result<usize, XtError> {
    run_in(ns, || {
        let mut out = String::with_capacity(SAVE_CHUNK + 4096);
        let mut undecoded = 0;
        with_ipset_names(|| {
            xt::visit_blobs_here(family, &mut |name, info, blob| {
                undecoded += save::save_table(family, name, info, blob, counters, &mut out, spill);
            })
        })?;
        if !out.is_empty() {
            spill(&mut out);
        }
        Ok(undecoded)
    })?
}

/// Decode a table blob as returned by `*_SO_GET_ENTRIES` (for tests and fuzzing).
pub fn decode_table(family: Family, name: &str, info: &TableInfo, blob: &[u8]) -> Table {
    table::decode(family, name, info, blob)
}

/// One table blob as [`save_text`] renders it (for tests and fuzzing): the text and the
/// number of rules not fully decoded.
pub fn save_table_text(
    family: Family,
    name: &str,
    info: &TableInfo,
    blob: &[u8],
    counters: bool,
) -> (String, usize) {
    let mut text = String::new();
    let mut pieces = String::new();
    let n = save::save_table(family, name, info, blob, counters, &mut text, &mut |s| {
        pieces.push_str(s);
        s.clear();
    });
    pieces.push_str(&text);
    (pieces, n)
}

#[cfg(test)]
mod tests {
    //! Both paths (model and straight to text) on table blobs built by hand.

    use super::*;
    use crate::kernel::xt::NUMHOOKS;
    use crate::kernel::xt::entry::{self, ERROR_TARGET, EXT_HDR};
    use crate::kernel::xt::testutil::{
        Spec, V_ACCEPT, V_DROP, V_RETURN, entry, error, ext_blob, offsets_at, verdict,
    };
    use crate::ruleset::render;

    fn comment(text: &str) -> Vec<u8> {
        let mut c = [0u8; 256];
        c[..text.len()].copy_from_slice(text.as_bytes());
        ext_blob("comment", 0, &c)
    }

    /// filter with INPUT (DROP policy, `extra` plain rules, then a mix: matches with
    /// comments, an unknown match, an unknown target, a jump and a goto to user chains),
    /// FORWARD, OUTPUT, and user chains X (an `-i eth+` rule) and A (empty), listed
    /// after X in the blob.
    fn table(family: Family, extra: usize) -> (TableInfo, Vec<u8>) {
        let mut info = TableInfo {
            valid_hooks: 0b1110,
            hook_entry: [0; NUMHOOKS],
            underflow: [0; NUMHOOKS],
            num_entries: 0,
            size: 0,
        };
        let mut blob = Vec::new();
        info.hook_entry[1] = 0;
        let mut tcp = [0u8; 12];
        tcp[2..4].copy_from_slice(&u16::MAX.to_ne_bytes()); // sports 0:65535
        tcp[4..6].copy_from_slice(&80u16.to_ne_bytes());
        tcp[6..8].copy_from_slice(&80u16.to_ne_bytes());
        let tcp = ext_blob("tcp", 0, &tcp);
        let spec = |counters| Spec {
            src8: true,
            tcp: true,
            counters,
            ..Spec::default()
        };
        for i in 0..extra {
            let c = comment(&format!("rule {i} {}", "x".repeat(150)));
            blob.extend(entry(
                family,
                &spec((1, 2)),
                &[c, tcp.clone()],
                &verdict(V_ACCEPT),
            ));
        }
        for _ in 0..3 {
            // The same comment three times (a cache hit); jumps patched below.
            blob.extend(entry(
                family,
                &spec((3, 4)),
                &[comment("a b"), tcp.clone()],
                &verdict(0),
            ));
        }
        // Jumps are patched once X's offset is known: remember where their verdicts sit.
        let mut patch = Vec::new();
        let mut off = 0;
        while off < blob.len() {
            let toff_at = offsets_at(family);
            let t = u16::from_ne_bytes([blob[off + toff_at], blob[off + toff_at + 1]]) as usize;
            let n = u16::from_ne_bytes([blob[off + toff_at + 2], blob[off + toff_at + 3]]) as usize;
            let v = off + t + EXT_HDR;
            if i32::from_ne_bytes(blob[v..v + 4].try_into().unwrap()) == 0 {
                patch.push(v);
            }
            off += n;
        }
        blob.extend(entry(
            family,
            &Spec::default(),
            &[ext_blob("nosuchmatch", 0, &[1, 2, 3, 4])],
            &verdict(V_ACCEPT),
        ));
        blob.extend(entry(
            family,
            &Spec::default(),
            &[comment("unknown target")],
            &ext_blob("NOSUCH", 1, &[9; 8]),
        ));
        let goto_at = blob.len();
        blob.extend(entry(
            family,
            &Spec {
                goto: true,
                ..Spec::default()
            },
            &[],
            &verdict(0),
        ));
        patch.push(goto_at + entry::entry_size(family) + EXT_HDR);
        info.underflow[1] = blob.len() as u32;
        blob.extend(entry(
            family,
            &Spec {
                counters: (5, 500),
                ..Spec::default()
            },
            &[],
            &verdict(V_DROP),
        ));
        for h in [2, 3] {
            info.hook_entry[h] = blob.len() as u32;
            info.underflow[h] = blob.len() as u32;
            blob.extend(entry(family, &Spec::default(), &[], &verdict(V_ACCEPT)));
        }
        blob.extend(error(family, "X"));
        let x_start = blob.len() as i32;
        let eth = Spec {
            in_eth: true,
            ..Spec::default()
        };
        blob.extend(entry(family, &eth, &[], &verdict(V_RETURN)));
        blob.extend(entry(family, &Spec::default(), &[], &verdict(V_RETURN)));
        blob.extend(error(family, "A"));
        blob.extend(entry(family, &Spec::default(), &[], &verdict(V_RETURN)));
        blob.extend(error(family, ERROR_TARGET));
        for v in patch {
            blob[v..v + 4].copy_from_slice(&x_start.to_ne_bytes());
        }
        info.size = blob.len() as u32;
        (info, blob)
    }

    /// Both paths on one blob: same text, same undecodable count.
    fn same(family: Family, info: &TableInfo, blob: &[u8]) {
        for counters in [false, true] {
            let t = decode_table(family, "filter", info, blob);
            let mut want = String::new();
            render::table(&mut want, &t, counters);
            let (got, n) = save_table_text(family, "filter", info, blob, counters);
            assert_eq!(got, want, "{family:?} counters={counters}");
            assert_eq!(n, t.undecoded_rules(), "{family:?} counters={counters}");
        }
    }

    #[test]
    fn plain_path_prints_what_the_model_prints() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let (info, blob) = table(family, 0);
            save::VIA_MODEL.set(0);
            same(family, &info, &blob);
            assert_eq!(
                save::VIA_MODEL.get(),
                0,
                "every entry of a sound blob goes the plain way"
            );
            let (text, n) = save_table_text(family, "filter", &info, &blob, false);
            assert_eq!(n, 2, "{text}");
            if family == Family::Ipv4 {
                let want = "*filter\n\
                    :INPUT DROP [5:500]\n\
                    :FORWARD ACCEPT [0:0]\n\
                    :OUTPUT ACCEPT [0:0]\n\
                    :A - [0:0]\n\
                    :X - [0:0]\n\
                    -A INPUT -s 10.0.0.0/8 -p tcp -m comment --comment \"a b\" -m tcp --dport 80 -j X\n\
                    -A INPUT -s 10.0.0.0/8 -p tcp -m comment --comment \"a b\" -m tcp --dport 80 -j X\n\
                    -A INPUT -s 10.0.0.0/8 -p tcp -m comment --comment \"a b\" -m tcp --dport 80 -j X\n\
                    -A INPUT -m nosuchmatch [undecoded 0x0102030400000000] -j ACCEPT\n\
                    -A INPUT -m comment --comment \"unknown target\" -j NOSUCH [undecoded 0x0909090909090909]\n\
                    -A INPUT -g X\n\
                    -A X -i eth+ -j RETURN\n\
                    COMMIT\n";
                assert_eq!(text, want);
            }
        }
    }

    #[test]
    fn mutated_blobs_print_the_same_both_ways() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let (info, blob) = table(family, 0);
            for n in 0..blob.len() {
                same(family, &info, &blob[..n]);
            }
            for i in 0..blob.len() {
                for x in [0xffu8, 0x01] {
                    let mut b = blob.clone();
                    b[i] ^= x;
                    same(family, &info, &b);
                }
            }
            // Hook offsets that point nowhere or into the middle of entries.
            for h in 0..NUMHOOKS {
                for off in [0u32, 8, 112, 168, info.size, u32::MAX] {
                    let mut i = info;
                    i.valid_hooks |= 1 << h;
                    i.hook_entry[h] = off;
                    same(family, &i, &blob);
                }
            }
        }
    }

    #[test]
    fn text_is_handed_on_in_whole_lines() {
        let (info, blob) = table(Family::Ipv4, 2000);
        let mut pieces = Vec::new();
        let mut out = String::new();
        save::save_table(
            Family::Ipv4,
            "filter",
            &info,
            &blob,
            true,
            &mut out,
            &mut |s| pieces.push(std::mem::take(s)),
        );
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        assert!(
            pieces
                .iter()
                .all(|p| p.len() >= SAVE_CHUNK && p.ends_with('\n'))
        );
        pieces.push(out);
        let t = decode_table(Family::Ipv4, "filter", &info, &blob);
        let mut want = String::new();
        render::table(&mut want, &t, true);
        assert_eq!(pieces.concat(), want);
    }
}
