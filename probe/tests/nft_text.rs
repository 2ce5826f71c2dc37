//! `nft_text` against the real `nft list ruleset` (nftables 1.0.6) for a corpus loaded into a
//! private network namespace: Docker 29 nftables-backend-like tables plus general rules.

mod common;

use common::TestNetns;
use nfprobe::kernel::nft;
use nfprobe::ruleset::nft_text;

fn compare(corpus: &str) {
    let ns = TestNetns::new("txt");
    ns.run_stdin(&["nft", "-f", "-"], corpus);
    let expected = ns.run(&["nft", "list", "ruleset"]);
    let rs = nft::read_ruleset(Some(&ns.spec())).unwrap();
    let ours = nft_text::ruleset(&rs);
    assert!(
        expected.lines().count() > 20,
        "corpus did not load: {expected}"
    );
    if ours != expected {
        let mut report = String::new();
        for (i, (a, b)) in expected.lines().zip(ours.lines()).enumerate() {
            if a != b {
                report.push_str(&format!("line {}:\n  nft: {a}\n  us : {b}\n", i + 1));
            }
        }
        panic!(
            "nft_text differs from `nft list ruleset` ({} vs {} lines):\n{report}",
            expected.lines().count(),
            ours.lines().count()
        );
    }
}

#[test]
fn corpus_matches_nft_list_ruleset() {
    compare(include_str!("data/nft_corpus.nft"));
}
