//! One nf_tables rule → one canonical [`Rule`]: a small register machine over the
//! expressions, recognising exactly the sequences iptables-nft 1.8.9 emits.

use super::{compat, header, native, ports};
use crate::kernel::nft::expr::{bitwise, meta, payload};
use crate::kernel::nft::{Expr, NftData, NftRule, Verdict as NftVerdict};
use crate::ruleset::{Counters, Family, Rule, Target, Undecoded, Verdict};

/// What a register holds: the source of the last load into it, and a mask applied since.
#[derive(Debug, Clone)]
pub(super) struct Reg {
    pub load: Load,
    pub mask: Option<Box<[u8]>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Load {
    Meta(u32),
    Payload { base: u32, offset: u32, len: u32 },
}

/// nf_tables has registers 0..=23 (four 128-bit, sixteen 32-bit aliases).
const NREGS: usize = 24;

pub(super) struct Xlate {
    pub family: Family,
    pub rule: Rule,
    regs: [Option<Reg>; NREGS],
    pub ports: Option<ports::PortState>,
}

/// Translates one rule. Never fails: what does not map goes to `Rule::undecoded`.
pub fn xlate_rule(r: &NftRule, family: Family) -> Rule {
    let mut x = Xlate {
        family,
        rule: Rule {
            handle: Some(r.handle),
            ..Rule::default()
        },
        regs: Default::default(),
        ports: None,
    };
    if let Some(raw) = &r.raw {
        x.rule.undecoded.push(Undecoded {
            what: "rule".into(),
            reason: r.problems.join("; "),
            raw: raw.to_vec(),
        });
        return x.rule;
    }
    let mut exprs = r.exprs.iter().peekable();
    while let Some(e) = exprs.next() {
        if let Some(next) = exprs.peek()
            && native::trace(&mut x, e, next)
        {
            exprs.next();
            continue;
        }
        x.expr(e);
    }
    ports::finish(&mut x);
    x.rule
}

impl Xlate {
    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Meta(m) => match (m.dreg, m.sreg) {
                (Some(d), None) => self.set_reg(d, Load::Meta(m.key), e),
                _ => self.undecoded(e, "meta set"),
            },
            Expr::Payload(p) => match (p.dreg, p.sreg) {
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
            Expr::Bitwise(b) => self.bitwise(b, e),
            Expr::Cmp(c) => {
                let Some(reg) = self.reg(c.sreg) else {
                    return self.undecoded(e, "cmp on an unloaded register");
                };
                if !self.cmp(&reg, c.op, &c.data) {
                    self.undecoded(e, "comparison iptables-nft does not emit");
                }
            }
            Expr::Range(r) => {
                let Some(reg) = self.reg(r.sreg) else {
                    return self.undecoded(e, "range on an unloaded register");
                };
                if !ports::range(self, &reg, r.op, &r.from, &r.to) {
                    self.undecoded(e, "range iptables-nft does not emit");
                }
            }
            Expr::Counter(c) => {
                self.rule.counters = Some(Counters {
                    packets: c.packets,
                    bytes: c.bytes,
                });
            }
            Expr::Immediate(i) => match (&i.data, i.dreg) {
                (NftData::Verdict(v), 0) => self.verdict(v, e),
                _ => self.undecoded(e, "immediate value"),
            },
            Expr::Match(m) => compat::add_match(self, m),
            Expr::Target(t) => {
                if self.rule.target != Target::None {
                    return self.undecoded(e, "second target");
                }
                self.rule.target = compat::target(self.family, t);
            }
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

    fn bitwise(&mut self, b: &bitwise::Bitwise, e: &Expr) {
        let plain_and = b.op.is_none_or(|op| op == bitwise::OP_BOOL)
            && b.xor.as_deref().is_some_and(|x| x.iter().all(|&v| v == 0))
            && b.mask.is_some();
        match (plain_and, self.reg(b.sreg)) {
            (true, Some(mut r)) if r.mask.is_none() => {
                r.mask = b.mask.clone();
                self.put_reg(b.dreg, r, e);
            }
            _ => self.undecoded(e, "bitwise iptables-nft does not emit"),
        }
    }

    fn verdict(&mut self, v: &NftVerdict, e: &Expr) {
        if self.rule.target != Target::None {
            return self.undecoded(e, "second verdict");
        }
        self.rule.target = match v {
            NftVerdict::Accept => Target::Verdict(Verdict::Accept),
            NftVerdict::Drop => Target::Verdict(Verdict::Drop),
            NftVerdict::Return => Target::Verdict(Verdict::Return),
            NftVerdict::Queue => Target::Verdict(Verdict::Queue),
            NftVerdict::Jump(c) => Target::Jump(c.clone()),
            NftVerdict::Goto(c) => Target::Goto(c.clone()),
            _ => return self.undecoded(e, "verdict iptables does not have"),
        };
    }

    fn reg(&self, n: u32) -> Option<Reg> {
        self.regs.get(n as usize).cloned().flatten()
    }

    fn set_reg(&mut self, n: u32, load: Load, e: &Expr) {
        self.put_reg(n, Reg { load, mask: None }, e);
    }

    fn put_reg(&mut self, n: u32, r: Reg, e: &Expr) {
        match self.regs.get_mut(n as usize) {
            Some(slot) => *slot = Some(r),
            None => self.undecoded(e, "register out of range"),
        }
    }

    /// Records an expression that does not map, with its bytes for the report.
    pub(super) fn undecoded(&mut self, e: &Expr, reason: impl Into<String>) {
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
