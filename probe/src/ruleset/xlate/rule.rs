//! One nf_tables rule → one canonical [`Rule`]: a small register machine over the
//! expressions, recognising exactly the sequences iptables-nft 1.8.9 emits.

use super::text::{FragCache, RuleText};
use super::{compat, header, native, ports};
use crate::ext::cache::ExtCache;
use crate::kernel::nft::data::DataRef;
use crate::kernel::nft::data::VALUE_MAXLEN;
use crate::kernel::nft::expr::{ExprRef, bitwise, meta, payload};
use crate::kernel::nft::{Expr, NftRule, RuleRef};
use crate::ruleset::{Counters, Family, Match, Rule, Target, Undecoded, Verdict};

/// What a register holds: the source of the last load into it, and a mask applied since.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reg {
    pub load: Load,
    pub mask: Option<Mask>,
}

/// A bitwise mask (at most NFT_DATA_VALUE_MAXLEN bytes), kept inline: registers are copied
/// around for every comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mask {
    len: u8,
    bytes: [u8; VALUE_MAXLEN],
}

impl Mask {
    fn new(m: &[u8]) -> Option<Self> {
        let mut bytes = [0; VALUE_MAXLEN];
        bytes.get_mut(..m.len())?.copy_from_slice(m);
        Some(Self {
            len: u8::try_from(m.len()).ok()?,
            bytes,
        })
    }
}

impl std::ops::Deref for Mask {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Load {
    Meta(u32),
    Payload { base: u32, offset: u32, len: u32 },
}

/// nf_tables has registers 0..=23 (four 128-bit, sixteen 32-bit aliases).
const NREGS: usize = 24;

pub(super) struct Xlate<'c> {
    pub family: Family,
    /// Where matches and extension targets go, and the cache of this read for them.
    pub ext: Exts<'c>,
    pub rule: &'c mut Rule,
    regs: [Option<Reg>; NREGS],
    pub ports: Option<ports::PortState>,
    /// Matches of earlier rules, kept for their allocations (see [`Scratch`]).
    pub spare: &'c mut Vec<Match>,
    /// A jump target's string of an earlier rule, for its allocation.
    chain: &'c mut String,
    /// Interface names of earlier rules, for their allocations.
    pub names: &'c mut Vec<String>,
}

/// Matches and extension targets: as model values in `Rule` (decoded once per distinct
/// blob with a cache, None: decode every blob), or as their iptables-save text.
pub(super) enum Exts<'c> {
    Model(Option<&'c mut ExtCache>),
    Text(&'c mut FragCache, &'c mut RuleText),
}

/// Spare matches kept at most.
const SPARE_MAX: usize = 16;

/// What translating rule after rule reuses: the last rule and the matches of the rules
/// before it (their strings are overwritten in place instead of allocated and freed for
/// every rule).
#[derive(Debug, Default)]
pub struct Scratch {
    rule: Rule,
    spare: Vec<Match>,
    /// The jump target of an earlier rule (its allocation reused).
    chain: String,
    /// Interface names of earlier rules (their allocations reused).
    names: Vec<String>,
    text: RuleText,
}

impl Scratch {
    /// Empties the rule in place, keeping its matches' allocations for the next one.
    fn recycle(&mut self) {
        let rule = &mut self.rule;
        self.spare.append(&mut rule.matches);
        // (The text path's target marker has nothing to reuse; the bound keeps it from
        // piling up there.)
        match std::mem::take(&mut rule.target) {
            Target::Ext { name, body, .. } if self.spare.len() < SPARE_MAX => {
                self.spare.push(Match {
                    name,
                    revision: 0,
                    body,
                });
            }
            Target::Jump(c) | Target::Goto(c) => self.chain = c,
            _ => {}
        }
        // Interface names keep their allocations for the next rule's.
        for i in [rule.ip.in_iface.take(), rule.ip.out_iface.take()]
            .into_iter()
            .flatten()
        {
            if self.names.len() < SPARE_MAX {
                self.names.push(i.name);
            }
        }
        rule.ip = Default::default();
        rule.counters = None;
        rule.handle = None;
        rule.undecoded.clear();
        self.text.clear();
    }
}

/// Translates one rule. Never fails: what does not map goes to `Rule::undecoded`.
pub fn xlate_rule(r: &NftRule, family: Family) -> Rule {
    if let Some(raw) = &r.raw {
        let mut rule = Rule {
            handle: Some(r.handle),
            ..Rule::default()
        };
        rule.undecoded.push(Undecoded {
            what: "rule".into(),
            reason: r.problems.join("; "),
            raw: raw.to_vec(),
        });
        return rule;
    }
    let mut s = Scratch::default();
    // Owned expressions were checked when decoded: the walk cannot fail.
    xlate_exprs(
        r.handle,
        r.exprs
            .iter()
            .map(|e| Ok::<_, std::convert::Infallible>(ExprRef::of(e))),
        family,
        Caches::Model(None),
        &mut s,
    );
    s.rule
}

/// Translates one rule message read in place (same result as decoding it into an
/// [`NftRule`] first and calling [`xlate_rule`]), with the read's extension cache if any.
pub fn xlate_rule_msg(msg: &[u8], family: Family, ext: Option<&mut ExtCache>) -> Rule {
    let mut s = Scratch::default();
    xlate_rule_msg_into(msg, family, ext, &mut s);
    s.rule
}

/// [`xlate_rule_msg`] reusing the allocations of the rules translated before with the
/// same `scratch`; the rule stays in `scratch` until the next call.
pub fn xlate_rule_msg_into<'s>(
    msg: &[u8],
    family: Family,
    ext: Option<&mut ExtCache>,
    scratch: &'s mut Scratch,
) -> &'s Rule {
    xlate_msg(msg, family, Caches::Model(ext), scratch);
    &scratch.rule
}

/// [`xlate_rule_msg_into`] for the save path: the rule's matches and extension target come
/// back as their iptables-save text ([`RuleText`], each distinct blob rendered once per
/// read with `cache`), everything else in the rule. Render both with
/// [`render::rule_line_text`](crate::ruleset::render::rule_line_text): the line is the
/// one [`xlate_rule_msg_into`] + `render::rule_line` gives.
pub fn xlate_rule_msg_text<'s>(
    msg: &[u8],
    family: Family,
    cache: &mut FragCache,
    scratch: &'s mut Scratch,
) -> (&'s Rule, &'s RuleText) {
    xlate_msg(msg, family, Caches::Text(cache), scratch);
    (&scratch.rule, &scratch.text)
}

/// The cache a translation uses, which also says where matches go (see [`Exts`]).
enum Caches<'c> {
    Model(Option<&'c mut ExtCache>),
    Text(&'c mut FragCache),
}

fn xlate_msg(msg: &[u8], family: Family, caches: Caches<'_>, scratch: &mut Scratch) {
    let fast = RuleRef::decode(msg)
        .is_some_and(|r| xlate_exprs(r.handle, r.exprs(), family, caches, scratch));
    if !fast {
        // A problem anywhere in the message: the owned decoder keeps the raw bytes and
        // says why (the rule is then reported undecodable), as model values.
        scratch.text.clear();
        scratch.rule = match NftRule::decode(msg) {
            Ok(r) => xlate_rule(&r.rule, family),
            Err(e) => {
                let mut rule = Rule::default();
                rule.undecoded.push(Undecoded {
                    what: "rule".into(),
                    reason: e.to_string(),
                    raw: msg.to_vec(),
                });
                rule
            }
        }
    }
}

/// Translates the expressions into `scratch`; false (and a half-done rule) when the
/// list turns out to be malformed.
fn xlate_exprs<'a, E>(
    handle: u64,
    exprs: impl Iterator<Item = Result<ExprRef<'a>, E>>,
    family: Family,
    caches: Caches<'_>,
    scratch: &mut Scratch,
) -> bool {
    scratch.recycle();
    scratch.rule.handle = Some(handle);
    let ext = match caches {
        Caches::Model(c) => {
            // Rules rarely have more than four matches: one allocation.
            scratch.rule.matches.reserve(4);
            Exts::Model(c)
        }
        Caches::Text(c) => Exts::Text(c, &mut scratch.text),
    };
    let mut x = Xlate {
        family,
        ext,
        rule: &mut scratch.rule,
        regs: [None; NREGS],
        ports: None,
        spare: &mut scratch.spare,
        chain: &mut scratch.chain,
        names: &mut scratch.names,
    };
    let mut exprs = exprs;
    let mut next = exprs.next();
    while let Some(e) = next.take() {
        let Ok(e) = e else { return false };
        next = exprs.next();
        // Only `immediate` + `meta nftrace set` is translated as a pair.
        if let (ExprRef::Immediate(_), Some(Ok(n))) = (&e, &next)
            && native::trace(&mut x, &e, n)
        {
            next = exprs.next();
            continue;
        }
        x.expr(&e);
    }
    ports::finish(&mut x);
    true
}

impl Xlate<'_> {
    fn expr(&mut self, e: &ExprRef<'_>) {
        match e {
            ExprRef::Meta(m) => match (m.dreg, m.sreg) {
                (Some(d), None) => self.set_reg(d, Load::Meta(m.key), e),
                _ => self.undecoded(e, "meta set"),
            },
            ExprRef::Payload(p) => match (p.dreg, p.sreg) {
                (Some(d), None) => self.set_reg(
                    d,
                    Load::Payload {
                        base: p.base,
                        offset: p.offset,
                        len: p.len,
                    },
                    e,
                ),
                _ => self.undecoded(e, "payload write"),
            },
            ExprRef::Bitwise(b) => self.bitwise(b, e),
            ExprRef::Cmp(c) => {
                let Some(reg) = self.reg(c.sreg) else {
                    return self.undecoded(e, "cmp on an unloaded register");
                };
                if !self.cmp(&reg, c.op, c.data) {
                    self.undecoded(e, "comparison iptables-nft does not emit");
                }
            }
            ExprRef::Range(r) => {
                let Some(reg) = self.reg(r.sreg) else {
                    return self.undecoded(e, "range on an unloaded register");
                };
                if !ports::range(self, &reg, r.op, r.from, r.to) {
                    self.undecoded(e, "range iptables-nft does not emit");
                }
            }
            ExprRef::Counter(c) => {
                self.rule.counters = Some(Counters {
                    packets: c.packets,
                    bytes: c.bytes,
                });
            }
            ExprRef::Immediate(i) => match (i.data, i.dreg) {
                (DataRef::Verdict { code, chain }, 0) => self.verdict(code, chain, e),
                _ => self.undecoded(e, "immediate value"),
            },
            ExprRef::Match(m) => compat::add_match(self, m),
            ExprRef::Target(t) => {
                if self.rule.target != Target::None {
                    return self.undecoded(e, "second target");
                }
                self.rule.target = compat::target(self, t);
            }
            ExprRef::Other(o) => match &**o {
                Expr::Limit(l) => {
                    if let Err(why) = native::limit(self, l) {
                        self.undecoded(e, why);
                    }
                }
                Expr::Log(l) => {
                    if let Err(why) = native::nflog(self, l) {
                        self.undecoded(e, why);
                    }
                }
                _ => self.undecoded(e, "expression iptables-nft does not emit"),
            },
        }
    }

    fn cmp(&mut self, reg: &Reg, op: u32, data: &[u8]) -> bool {
        match reg.load {
            Load::Meta(meta::KEY_MARK) => native::mark(self, reg, op, data),
            Load::Meta(_) => header::meta_cmp(self, reg, op, data),
            Load::Payload {
                base: payload::BASE_NETWORK,
                ..
            } => header::network_cmp(self, reg, op, data),
            Load::Payload {
                base: payload::BASE_TRANSPORT,
                ..
            } => ports::cmp(self, reg, op, data),
            _ => false,
        }
    }

    fn bitwise(&mut self, b: &bitwise::BitwiseRef<'_>, e: &ExprRef<'_>) {
        let plain_and = b.op.is_none_or(|op| op == bitwise::OP_BOOL)
            && b.xor.is_some_and(|x| x.iter().all(|&v| v == 0));
        let mask = b.mask.and_then(Mask::new);
        match (plain_and, mask, self.reg(b.sreg)) {
            (true, Some(mask), Some(mut r)) if r.mask.is_none() => {
                r.mask = Some(mask);
                self.put_reg(b.dreg, r, e);
            }
            _ => self.undecoded(e, "bitwise iptables-nft does not emit"),
        }
    }

    /// `code` is the kernel's verdict code; `chain` the target of a jump/goto.
    fn verdict(&mut self, code: i32, chain: Option<&[u8]>, e: &ExprRef<'_>) {
        if self.rule.target != Target::None {
            return self.undecoded(e, "second verdict");
        }
        let mut name = || {
            let mut s = std::mem::take(&mut *self.chain);
            s.clear();
            // Chain names are ASCII; the lossy form only for anything else.
            let chain = chain.unwrap_or_default();
            match std::str::from_utf8(chain) {
                Ok(c) => s.push_str(c),
                Err(_) => s.push_str(&String::from_utf8_lossy(chain)),
            }
            s
        };
        self.rule.target = match code {
            1 => Target::Verdict(Verdict::Accept),
            0 => Target::Verdict(Verdict::Drop),
            -5 => Target::Verdict(Verdict::Return),
            3 => Target::Verdict(Verdict::Queue),
            -3 => Target::Jump(name()),
            -4 => Target::Goto(name()),
            _ => return self.undecoded(e, "verdict iptables does not have"),
        };
    }

    fn reg(&self, n: u32) -> Option<Reg> {
        self.regs.get(n as usize).copied().flatten()
    }

    fn set_reg(&mut self, n: u32, load: Load, e: &ExprRef<'_>) {
        self.put_reg(n, Reg { load, mask: None }, e);
    }

    fn put_reg(&mut self, n: u32, r: Reg, e: &ExprRef<'_>) {
        match self.regs.get_mut(n as usize) {
            Some(slot) => *slot = Some(r),
            None => self.undecoded(e, "register out of range"),
        }
    }

    /// Records an expression that does not map, with its bytes for the report.
    pub(super) fn undecoded(&mut self, e: &ExprRef<'_>, reason: impl Into<String>) {
        let e = &e.to_expr();
        let raw = match e {
            Expr::Raw(r) => r.data.to_vec(),
            other => serde_json::to_vec(other).unwrap_or_default(),
        };
        self.rule.undecoded.push(Undecoded {
            what: format!("expr \"{}\"", e.name()),
            reason: match e {
                Expr::Raw(r) => format!("{}: {}", reason.into(), r.reason),
                _ => reason.into(),
            },
            raw,
        });
    }
}
