//! The nft comparison on views built by hand: a kernel holding exactly the expectation, then
//! one fault at a time.

use super::*;
use crate::docker::expect::tests::example_state;
use crate::docker::expect::{self, Layout};

fn expectation(proxy: bool) -> Expectation {
    let mut s = example_state(proxy, true);
    s.engine_version = Some("29.0.0".into());
    s.daemon.firewall_backend = Some("nftables".into());
    expect::expect(&s, Layout::V29Nft)
}

/// A kernel view holding every expected object, rules in Docker's order, with nft's counter
/// values in the text (as the renderer prints them).
fn perfect(e: &Expectation) -> NftView {
    let mut view = NftView::default();
    let mut handle = 100;
    for x in &e.nft {
        let t = match view.tables.iter().position(|t| t.family == x.family) {
            Some(i) => &mut view.tables[i],
            None => {
                view.tables.push(NftTableView {
                    family: x.family,
                    name: TABLE.into(),
                    chains: vec![],
                    maps: vec![],
                });
                view.tables.last_mut().unwrap()
            }
        };
        match &x.item {
            NftItem::Chain { base } => t.chains.push(NftChainView {
                name: x.chain.clone(),
                base: base.clone(),
                policy: base.as_ref().map(|_| "accept".into()),
                rules: vec![],
                comments: None,
            }),
            NftItem::Map => t.maps.push(NftMapView {
                name: x.chain.clone(),
                elements: vec![],
                undecodable: None,
            }),
            NftItem::Element { key, verdict } => t
                .maps
                .iter_mut()
                .find(|m| m.name == x.chain)
                .unwrap()
                .elements
                .push(format!("\"{key}\" : {verdict}")),
            NftItem::Rule { rule } => {
                handle += 1;
                t.chains
                    .iter_mut()
                    .find(|c| c.name == x.chain)
                    .unwrap()
                    .rules
                    .push(NftRuleView {
                        handle,
                        text: rule.replace("counter ", "counter packets 7 bytes 420 "),
                        decoded: true,
                    });
            }
        }
    }
    view
}

fn chain<'a>(v: &'a mut NftView, fam: Family, name: &str) -> &'a mut NftChainView {
    v.tables
        .iter_mut()
        .find(|t| t.family == fam)
        .unwrap()
        .chains
        .iter_mut()
        .find(|c| c.name == name)
        .unwrap()
}

fn problems(f: &[Finding]) -> Vec<&Finding> {
    f.iter().filter(|f| f.status != Status::Ok).collect()
}

#[test]
fn perfect_kernel_is_all_ok() {
    let e = expectation(false);
    let v = perfect(&e);
    let (f, h) = audit(&e, Some(&v));
    assert!(problems(&f).is_empty(), "{:#?}", problems(&f));
    assert!(h.is_empty(), "{h:#?}");
    let rules_and_elements = e
        .nft
        .iter()
        .filter(|x| matches!(x.item, NftItem::Rule { .. } | NftItem::Element { .. }))
        .count();
    assert_eq!(f.len(), rules_and_elements);
}

#[test]
fn missing_rule_is_named_with_its_place() {
    let e = expectation(true);
    let mut v = perfect(&e);
    let c = chain(&mut v, Family::Ipv4, "filter-forward-in__bridge1");
    // ct, ICC, port accept, final drop: remove the port accept.
    let removed = c.rules.remove(2);
    let drop_handle = c.rules[2].handle;
    let (f, h) = audit(&e, Some(&v));
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(h.is_empty());
    assert_eq!(p[0].status, Status::Missing);
    assert_eq!(p[0].chain, "filter-forward-in__bridge1");
    assert_eq!(canonical(&p[0].rule), canonical(&removed.text));
    assert_eq!(
        p[0].fix.as_deref().unwrap(),
        format!(
            "nft 'insert rule ip docker-bridges filter-forward-in__bridge1 handle {drop_handle} ip daddr 192.0.2.2 tcp dport 80 counter accept'"
        )
    );
    assert!(p[0].effect.as_deref().unwrap().contains("8080"));
}

#[test]
fn accept_below_final_drop_is_wrong_order() {
    let e = expectation(true);
    let mut v = perfect(&e);
    let c = chain(&mut v, Family::Ipv4, "filter-forward-in__bridge1");
    c.rules.swap(2, 3);
    let (f, _) = audit(&e, Some(&v));
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].status, Status::WrongOrder);
    assert!(p[0].rule.contains("tcp dport 80 counter accept"));
    assert!(
        p[0].fix
            .as_deref()
            .unwrap()
            .contains("&& nft 'delete rule ip docker-bridges")
    );
    // Two rules with the same verdict may swap freely.
    let mut v = perfect(&e);
    let c = chain(&mut v, Family::Ipv4, "filter-forward-in__bridge1");
    c.rules.swap(0, 1);
    let (f, _) = audit(&e, Some(&v));
    assert!(problems(&f).is_empty(), "{:#?}", problems(&f));
}

#[test]
fn undecodable_rule_makes_a_missing_one_undecodable() {
    let e = expectation(true);
    let mut v = perfect(&e);
    let c = chain(&mut v, Family::Ipv4, "nat-prerouting-and-output");
    c.rules[0].text = "[raw foo: unknown] counter dnat to 192.0.2.2:80".into();
    c.rules[0].decoded = false;
    let (f, _) = audit(&e, Some(&v));
    let p = problems(&f);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p.iter().all(|f| f.status == Status::Undecodable));
    assert!(!p.iter().any(|f| f.status == Status::Missing));
}

#[test]
fn map_elements_and_extras() {
    let e = expectation(true);
    let mut v = perfect(&e);
    let t = &mut v.tables[0];
    let m = t
        .maps
        .iter_mut()
        .find(|m| m.name == "filter-forward-in-jumps")
        .unwrap();
    let i = m
        .elements
        .iter()
        .position(|x| x.contains("bridge1"))
        .unwrap();
    m.elements[i] = "\"bridge1\" : jump filter-forward-in__docker0".into();
    chain(&mut v, Family::Ipv4, "raw-PREROUTING")
        .rules
        .push(NftRuleView {
            handle: 9,
            text: "tcp dport 22 accept".into(),
            decoded: true,
        });
    let (f, h) = audit(&e, Some(&v));
    assert!(h.is_empty());
    let p = problems(&f);
    assert_eq!(p.len(), 3, "{p:#?}");
    let miss = p.iter().find(|f| f.status == Status::Missing).unwrap();
    assert_eq!(
        miss.rule,
        "element filter-forward-in-jumps \"bridge1\" : jump filter-forward-in__bridge1"
    );
    assert!(
        miss.detail
            .as_deref()
            .unwrap()
            .contains("filter-forward-in__docker0")
    );
    assert_eq!(
        miss.fix.as_deref().unwrap(),
        "nft 'add element ip docker-bridges filter-forward-in-jumps { \"bridge1\" : jump filter-forward-in__bridge1 }'"
    );
    assert_eq!(p.iter().filter(|f| f.status == Status::Extra).count(), 2);
}

#[test]
fn missing_chain_table_and_hooks() {
    let e = expectation(true);
    let mut v = perfect(&e);
    v.tables[0]
        .chains
        .retain(|c| c.name != "nat-postrouting-out__bridge1");
    // nft 1.0.x prints the output hook's priority as a number.
    chain(&mut v, Family::Ipv4, "nat-OUTPUT")
        .base
        .as_mut()
        .unwrap()
        .priority = "-100".into();
    chain(&mut v, Family::Ipv4, "raw-PREROUTING")
        .base
        .as_mut()
        .unwrap()
        .priority = "filter".into();
    let (f, h) = audit(&e, Some(&v));
    let kinds: Vec<&str> = h.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["nft_chain_hook", "chain_missing"], "{h:#?}");
    assert!(h[0].message.contains("raw-PREROUTING"));
    assert_eq!(
        h[1].fix.as_deref().unwrap(),
        "nft 'add chain ip docker-bridges nat-postrouting-out__bridge1'"
    );
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].detail.as_deref().unwrap().contains("does not exist"));
    // No table at all.
    let (f, h) = audit(&e, None);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].kind, "nft_table_missing");
    assert!(f.iter().all(|f| f.status == Status::Missing));
}

#[test]
fn old_bundle_view_is_not_compared() {
    let e = expectation(true);
    let old: NftView = serde_json::from_str(
        r#"{"tables":[{"family":"ipv4","name":"docker-bridges",
            "chains":[{"name":"filter-FORWARD","comments":[null,null]}]}]}"#,
    )
    .unwrap();
    let (f, h) = audit(&e, Some(&old));
    assert!(f.is_empty());
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].kind, "nft_view_old");
}
