//! `-m comment --comment TEXT` (struct xt_comment_info { char comment[256]; }).

use super::{DecodeCtx, ExtDef, ExtError, ExtKind, push_save_string, save_string, truncated};
use crate::bytes::Reader;
use crate::ruleset::Family;

const NAME: &str = "comment";
const XT_MAX_COMMENT_LEN: usize = 256;

pub static DEF: ExtDef = ExtDef {
    name: NAME,
    kind: ExtKind::Match,
    family: None,
    decode,
    parse,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comment(String);

impl Comment {
    fn words(&self) -> Vec<String> {
        vec!["--comment".into(), save_string(&self.0)]
    }
}

fn decode(_ctx: &DecodeCtx, blob: &[u8]) -> Result<Vec<String>, ExtError> {
    Ok(vec!["--comment".into(), save_string(&text(blob)?)])
}

/// [`decode`] written straight into a line (see `super::decode_into`): comments are unique
/// per rule, so most of them are rendered this way.
pub(super) fn render(_ctx: &DecodeCtx, blob: &[u8], out: &mut String) -> Result<(), ExtError> {
    let text = text(blob)?;
    out.push_str(" --comment ");
    push_save_string(out, &text);
    Ok(())
}

fn text(blob: &[u8]) -> Result<std::borrow::Cow<'_, str>, ExtError> {
    // Same bounds and text as `Reader::cstr`, without copying the text twice (comments
    // are unique per rule: this runs for most of them).
    let field = Reader::new(blob)
        .bytes(XT_MAX_COMMENT_LEN)
        .map_err(truncated(NAME))?;
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let field = &field[..end];
    Ok(match std::str::from_utf8(field) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(field),
    })
}

fn parse(_family: Family, words: &[String]) -> Result<Vec<String>, ExtError> {
    match words {
        [opt, text] if opt == "--comment" => {
            if text.len() >= XT_MAX_COMMENT_LEN {
                return Err(ExtError::BadArgument {
                    name: NAME.into(),
                    reason: format!("comment longer than {} bytes", XT_MAX_COMMENT_LEN - 1),
                });
            }
            Ok(Comment(text.clone()).words())
        }
        _ => Err(ExtError::BadArgument {
            name: NAME.into(),
            reason: format!("expected `--comment TEXT`, got {words:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_parse_agree() {
        let mut blob = vec![0u8; XT_MAX_COMMENT_LEN];
        blob[..9].copy_from_slice(b"a comment");
        let ctx = DecodeCtx {
            family: Family::Ipv4,
            revision: 0,
        };
        let d = decode(&ctx, &blob).unwrap();
        assert_eq!(d, vec!["--comment", "\"a comment\""]);
        let p = parse(Family::Ipv4, &["--comment".into(), "a comment".into()]).unwrap();
        assert_eq!(d, p);
        assert!(decode(&ctx, &blob[..10]).is_err());
    }
}
