//! Where an extension's iptables-save words go: a list (the model's `ExtBody::Decoded`) or
//! straight into a line of text (the save path, for blobs that are unique per rule and so
//! are rendered once per rule: comments, ports). Both get the very same words.

use crate::ruleset::render;

pub(crate) trait WordSink {
    fn word(&mut self, w: &str);
    /// A decimal number as one word.
    fn num(&mut self, v: u32);
    /// `a:b` as one word.
    fn range(&mut self, a: u32, b: u32);
    /// One word written by `f`.
    fn with_word(&mut self, f: &mut dyn FnMut(&mut String));
}

impl WordSink for Vec<String> {
    fn word(&mut self, w: &str) {
        self.push(w.to_owned());
    }
    fn num(&mut self, v: u32) {
        self.push(v.to_string());
    }
    fn range(&mut self, a: u32, b: u32) {
        self.push(format!("{a}:{b}"));
    }
    fn with_word(&mut self, f: &mut dyn FnMut(&mut String)) {
        let mut s = String::new();
        f(&mut s);
        self.push(s);
    }
}

/// Words appended to a line, each with its leading space.
pub(crate) struct Line<'a>(pub &'a mut String);

impl Line<'_> {
    /// Starts a word; the caller writes the rest of it.
    fn start(&mut self) -> &mut String {
        self.0.push(' ');
        self.0
    }
}

impl WordSink for Line<'_> {
    fn word(&mut self, w: &str) {
        self.start().push_str(w);
    }
    fn num(&mut self, v: u32) {
        render::push_u32(self.start(), v);
    }
    fn range(&mut self, a: u32, b: u32) {
        let out = self.start();
        render::push_u32(out, a);
        out.push(':');
        render::push_u32(out, b);
    }
    fn with_word(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(self.start());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_holds_the_words_of_the_list() {
        let fill = |s: &mut dyn FnMut(&str, u32)| {
            s("--dport", 0);
            s("", 7);
            s("x y", 65535);
        };
        let mut list: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut line = Line(&mut text);
        fill(&mut |w, n| {
            list.word(w);
            list.num(n);
            list.range(n, n + 1);
            list.with_word(&mut |s| s.push_str("[w]"));
        });
        fill(&mut |w, n| {
            line.word(w);
            line.num(n);
            line.range(n, n + 1);
            line.with_word(&mut |s| s.push_str("[w]"));
        });
        let joined: String = list.iter().map(|w| format!(" {w}")).collect();
        assert_eq!(text, joined);
        assert_eq!(
            text,
            " --dport 0 0:1 [w]  7 7:8 [w] x y 65535 65535:65536 [w]"
        );
    }
}
