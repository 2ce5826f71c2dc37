//! `nfprobe ruleset --format json` (schema `nfprobe.ruleset/1`, docs/ruleset-json.md) written
//! as the ruleset is decoded: table by table, chain by chain, rule by rule, so only the rule
//! being written is held. The text is byte for byte what `serde_json::to_string_pretty` of the
//! whole document (`{"schema", "undecoded_rules", "ruleset"}` as a `serde_json::Value`, keys
//! sorted) prints: every piece goes through a `Value` too, and the containers around them are
//! written here in the same key order and indentation.

use std::io::{self, Write};

use serde::Serialize;

use super::{Backend, Chain, Family, Rule, Ruleset};

pub const SCHEMA: &str = "nfprobe.ruleset/1";

/// Indentation of the pieces: `{ "ruleset": { "tables": [ {table} ] } }` puts a table at 6
/// spaces, its chains at 10 and their rules at 14.
const TABLE: usize = 6;
const CHAIN: usize = 10;
const RULE: usize = 14;

/// The writer's state; call in order: [`JsonStream::new`], then per table
/// [`table`](JsonStream::table), per chain [`chain`](JsonStream::chain), its
/// [`rule`](JsonStream::rule)s, [`end_chain`](JsonStream::end_chain), then
/// [`end_table`](JsonStream::end_table); [`finish`](JsonStream::finish) at the end.
pub struct JsonStream<W: Write> {
    w: W,
    tables: usize,
    chains: usize,
    rules: usize,
    undecoded: usize,
    /// Scratch for one piece's text.
    buf: Vec<u8>,
}

impl<W: Write> JsonStream<W> {
    pub fn new(mut w: W, backend: Backend, family: Family, genid: Option<u32>) -> io::Result<Self> {
        let v = |x: &dyn erased::Ser| x.to_value();
        write!(
            w,
            "{{\n  \"ruleset\": {{\n    \"backend\": {},\n    \"family\": {},\n    \"genid\": {},\n    \"tables\": [",
            v(&backend),
            v(&family),
            v(&genid)
        )?;
        Ok(Self {
            w,
            tables: 0,
            chains: 0,
            rules: 0,
            undecoded: 0,
            buf: Vec::with_capacity(4096),
        })
    }

    pub fn table(&mut self) -> io::Result<()> {
        let sep = if self.tables == 0 { "" } else { "," };
        write!(
            self.w,
            "{sep}\n{:TABLE$}{{\n{:w$}\"chains\": [",
            "",
            "",
            w = TABLE + 2
        )?;
        self.tables += 1;
        self.chains = 0;
        Ok(())
    }

    /// A chain's fields (its `rules` are ignored: give them one by one to [`Self::rule`]).
    pub fn chain(&mut self, c: &Chain) -> io::Result<()> {
        let sep = if self.chains == 0 { "" } else { "," };
        let i = CHAIN + 2;
        write!(self.w, "{sep}\n{:CHAIN$}{{\n", "")?;
        writeln!(self.w, "{:i$}\"builtin\": {},", "", c.builtin)?;
        write!(self.w, "{:i$}\"counters\": ", "")?;
        self.piece(&c.counters, i)?;
        write!(self.w, ",\n{:i$}\"name\": ", "")?;
        self.piece(&c.name, i)?;
        write!(self.w, ",\n{:i$}\"policy\": ", "")?;
        self.piece(&c.policy, i)?;
        write!(self.w, ",\n{:i$}\"rules\": [", "")?;
        self.chains += 1;
        self.rules = 0;
        Ok(())
    }

    pub fn rule(&mut self, r: &Rule) -> io::Result<()> {
        let sep = if self.rules == 0 { "" } else { "," };
        write!(self.w, "{sep}\n{:RULE$}", "")?;
        self.piece(r, RULE)?;
        self.rules += 1;
        self.undecoded += usize::from(!r.is_decoded());
        Ok(())
    }

    /// A chain's rules rendered apart (on a dump thread): the same text as giving them one by
    /// one to [`Self::rule`] right after [`Self::chain`].
    /// A big chain may come in several batches ([`RulesText::next_batch`]).
    pub fn rules(&mut self, t: &RulesText) -> io::Result<()> {
        self.w.write_all(&t.text)?;
        self.rules = t.rules;
        self.undecoded += t.undecoded;
        Ok(())
    }

    /// Rules written in the current chain so far.
    pub fn chain_rules(&self) -> usize {
        self.rules
    }

    /// The writer, document unfinished (a read that starts over).
    pub fn into_inner(self) -> W {
        self.w
    }

    pub fn end_chain(&mut self) -> io::Result<()> {
        self.close(self.rules, CHAIN + 2, ']')?;
        write!(self.w, "\n{:CHAIN$}}}", "")
    }

    pub fn end_table(&mut self, name: &str) -> io::Result<()> {
        self.close(self.chains, TABLE + 2, ']')?;
        write!(self.w, ",\n{:w$}\"name\": ", "", w = TABLE + 2)?;
        self.piece(&name, TABLE + 2)?;
        write!(self.w, "\n{:TABLE$}}}", "")
    }

    /// Ends the document and returns the writer and how many rules were not fully decoded.
    pub fn finish(mut self) -> io::Result<(W, usize)> {
        self.close(self.tables, 4, ']')?;
        write!(
            self.w,
            "\n  }},\n  \"schema\": \"{SCHEMA}\",\n  \"undecoded_rules\": {}\n}}\n",
            self.undecoded
        )?;
        Ok((self.w, self.undecoded))
    }

    /// Closes an array of `n` items whose opening bracket is at indentation `indent`.
    fn close(&mut self, n: usize, indent: usize, bracket: char) -> io::Result<()> {
        if n == 0 {
            write!(self.w, "{bracket}")
        } else {
            write!(self.w, "\n{:indent$}{bracket}", "")
        }
    }

    /// `x` pretty-printed as a `Value` (keys sorted), its lines after the first indented by
    /// `indent` (JSON strings hold no raw newline, so every newline is the printer's).
    fn piece(&mut self, x: &impl Serialize, indent: usize) -> io::Result<()> {
        piece(&mut self.w, &mut self.buf, x, indent)
    }
}

/// `x` pretty-printed as a `Value` (keys sorted) into `w`, its lines after the first indented
/// by `indent` (JSON strings hold no raw newline, so every newline is the printer's); `buf`
/// is scratch.
fn piece(
    w: &mut impl Write,
    buf: &mut Vec<u8>,
    x: &impl Serialize,
    indent: usize,
) -> io::Result<()> {
    let v = serde_json::to_value(x).map_err(io::Error::other)?;
    buf.clear();
    serde_json::to_writer_pretty(&mut *buf, &v).map_err(io::Error::other)?;
    let mut lines = buf.split(|b| *b == b'\n');
    if let Some(first) = lines.next() {
        w.write_all(first)?;
    }
    for l in lines {
        write!(w, "\n{:indent$}", "")?;
        w.write_all(l)?;
    }
    Ok(())
}

/// One chain's rules as [`JsonStream`] writes them, rendered apart (where the rules are
/// translated, while the writer is busy with earlier chains); give it to
/// [`JsonStream::rules`].
#[derive(Debug, Default)]
pub struct RulesText {
    text: Vec<u8>,
    /// Rules of the chain so far (all batches).
    rules: usize,
    /// Undecoded rules of this batch.
    undecoded: usize,
    buf: Vec<u8>,
}

impl RulesText {
    /// Empties it for the next chain (keeping the allocations).
    pub fn clear(&mut self) {
        self.text.clear();
        self.rules = 0;
        self.undecoded = 0;
    }

    /// Empties it for the next rules of the same chain (the batch before was written).
    pub fn next_batch(&mut self) {
        self.text.clear();
        self.undecoded = 0;
    }

    /// Empties it to go on with a chain of which `written` rules were written already.
    pub fn resume(&mut self, written: usize) {
        self.text.clear();
        self.rules = written;
        self.undecoded = 0;
    }

    /// Bytes of text in this batch.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    pub fn rule(&mut self, r: &Rule) -> io::Result<()> {
        let sep = if self.rules == 0 { "" } else { "," };
        write!(self.text, "{sep}\n{:RULE$}", "")?;
        piece(&mut self.text, &mut self.buf, r, RULE)?;
        self.rules += 1;
        self.undecoded += usize::from(!r.is_decoded());
        Ok(())
    }
}

/// A whole model written the streamed way (tests compare it with the one-piece document).
pub fn write_ruleset<W: Write>(w: W, rs: &Ruleset) -> io::Result<(W, usize)> {
    let mut s = JsonStream::new(w, rs.backend, rs.family, rs.genid)?;
    for t in &rs.tables {
        s.table()?;
        for c in &t.chains {
            s.chain(c)?;
            for r in &c.rules {
                s.rule(r)?;
            }
            s.end_chain()?;
        }
        s.end_table(&t.name)?;
    }
    s.finish()
}

mod erased {
    //! Scalars of the document head, as compact JSON text.
    pub trait Ser {
        fn to_value(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{Counters, Policy, Table, Target, Undecoded, Verdict, parse};

    /// What the command printed before it streamed: the whole model in one `Value`.
    fn whole(rs: &Ruleset) -> String {
        let undecoded: usize = rs.tables.iter().map(|t| t.undecoded_rules()).sum();
        let doc = serde_json::json!({
            "schema": SCHEMA,
            "undecoded_rules": undecoded,
            "ruleset": rs,
        });
        format!("{}\n", serde_json::to_string_pretty(&doc).unwrap())
    }

    fn streamed(rs: &Ruleset) -> String {
        let (buf, n) = write_ruleset(Vec::new(), rs).unwrap();
        let want: usize = rs.tables.iter().map(|t| t.undecoded_rules()).sum();
        assert_eq!(n, want);
        String::from_utf8(buf).unwrap()
    }

    fn chain(name: &str, builtin: bool, rules: Vec<Rule>) -> Chain {
        Chain {
            name: name.into(),
            builtin,
            policy: builtin.then_some(Policy::Drop),
            counters: builtin.then_some(Counters {
                packets: 3,
                bytes: 400,
            }),
            rules,
        }
    }

    fn rule(args: &str) -> Rule {
        let words = parse::split_words(&format!("-A INPUT {args}")).unwrap();
        parse::parse_args(Family::Ipv4, &words).unwrap().rule
    }

    #[test]
    fn streamed_equals_the_whole_document() {
        let empty = Ruleset {
            backend: Backend::Nft,
            family: Family::Ipv4,
            genid: Some(7),
            tables: Vec::new(),
        };
        assert_eq!(streamed(&empty), whole(&empty));

        let undecodable = Rule {
            undecoded: vec![Undecoded {
                what: "expr \"x\"\nq".into(),
                reason: "unknown".into(),
                raw: vec![1, 2, 255],
            }],
            target: Target::Verdict(Verdict::Accept),
            ..Rule::default()
        };
        let rs = Ruleset {
            backend: Backend::Legacy,
            family: Family::Ipv6,
            genid: None,
            tables: vec![
                Table {
                    name: "filter".into(),
                    chains: vec![
                        chain(
                            "INPUT",
                            true,
                            vec![
                                rule("-s 10.0.0.0/8 -p tcp -m tcp --dport 80 -j ACCEPT"),
                                rule("! -i eth+ -m comment --comment \"a b\" -j DOCKER"),
                                undecodable,
                            ],
                        ),
                        chain("FORWARD", true, Vec::new()),
                        chain("DOCKER", false, vec![rule("-j RETURN")]),
                        chain("EMPTY", false, Vec::new()),
                    ],
                },
                Table {
                    name: "nat".into(),
                    chains: Vec::new(),
                },
            ],
        };
        assert_eq!(streamed(&rs), whole(&rs));

        // Rules rendered apart give the same text.
        let mut s = JsonStream::new(Vec::new(), rs.backend, rs.family, rs.genid).unwrap();
        let mut apart = RulesText::default();
        for t in &rs.tables {
            s.table().unwrap();
            for c in &t.chains {
                s.chain(c).unwrap();
                apart.clear();
                // One rule per batch: a big chain's way.
                for r in &c.rules {
                    apart.next_batch();
                    apart.rule(r).unwrap();
                    s.rules(&apart).unwrap();
                }
                if c.rules.is_empty() {
                    s.rules(&apart).unwrap();
                }
                s.end_chain().unwrap();
            }
            s.end_table(&t.name).unwrap();
        }
        let (buf, n) = s.finish().unwrap();
        assert_eq!(n, 1);
        assert_eq!(String::from_utf8(buf).unwrap(), whole(&rs));
    }
}
