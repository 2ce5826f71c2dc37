//! The save path's shortcut past the canonical model: a rule's matches and extension target
//! kept as the iptables-save text they render to (` -m NAME words...`, ` -j NAME words...`),
//! each distinct blob rendered once per read. Header fields, verdicts, counters and
//! undecoded parts stay in the scratch [`Rule`](crate::ruleset::Rule): they are cheap.

use std::ops::Range;

use crate::ext::cache::ExtCache;
use crate::ruleset::{ExtBody, render};

/// One extension rendered: its text with the leading space and `-m`/`-j`, and whether the
/// body was undecodable (then the rule is reported undecodable, as with the model).
#[derive(Debug, Clone)]
pub struct Frag {
    text: Box<str>,
    raw: bool,
}

impl Frag {
    /// `flag` is `-m` or `-j`.
    pub(super) fn new(flag: &str, name: &str, body: &ExtBody) -> Self {
        let mut s = String::with_capacity(64);
        head(&mut s, flag, name);
        render::body(&mut s, body);
        Self {
            text: s.into(),
            raw: matches!(body, ExtBody::Raw(_)),
        }
    }

    /// The text, with its leading space.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the body was undecodable.
    pub(super) fn is_raw(&self) -> bool {
        self.raw
    }
}

/// Where an extension goes in the rule being translated.
#[derive(Debug, Clone, Copy)]
pub(super) enum At {
    /// Appended to the matches.
    Push,
    /// Into the match position reserved earlier (a placeholder).
    Match(usize),
    Target,
}

/// The extension cache of the text path.
pub type FragCache = ExtCache<Frag>;

/// ` -m NAME` / ` -j NAME`.
pub(super) fn head(out: &mut String, flag: &str, name: &str) {
    out.push(' ');
    out.push_str(flag);
    out.push(' ');
    out.push_str(name);
}

/// The matches and extension target of the rule being translated, as text.
#[derive(Debug, Default)]
pub struct RuleText {
    buf: String,
    /// The matches in rule order (a placeholder is filled later, out of order).
    parts: Vec<Range<usize>>,
    target: Option<Range<usize>>,
    raw: bool,
}

impl RuleText {
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.parts.clear();
        self.target = None;
        self.raw = false;
    }

    /// Writes one extension's text with `write` (which says whether its body was
    /// undecodable) and puts it at `at`.
    pub(super) fn put(&mut self, at: At, write: impl FnOnce(&mut String) -> bool) {
        let start = self.buf.len();
        self.raw |= write(&mut self.buf);
        let r = start..self.buf.len();
        match at {
            At::Push => self.parts.push(r),
            At::Match(i) => {
                if let Some(slot) = self.parts.get_mut(i) {
                    *slot = r;
                }
            }
            At::Target => self.target = Some(r),
        }
    }

    /// Reserves the next match position; returns it for `At::Match`.
    pub(super) fn placeholder(&mut self) -> usize {
        self.parts.push(0..0);
        self.parts.len() - 1
    }

    /// The match texts, in rule order.
    pub fn matches(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|r| self.buf.get(r.clone()))
    }

    /// The extension target's text, when the target is one.
    pub fn target(&self) -> Option<&str> {
        self.target.clone().and_then(|r| self.buf.get(r))
    }

    /// Whether every extension body was decoded.
    pub fn is_decoded(&self) -> bool {
        !self.raw
    }
}
