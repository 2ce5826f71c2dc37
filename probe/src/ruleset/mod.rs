//! The canonical model and its conversions: `xlate` (nf_tables expressions of an iptables-nft
//! rule → `Rule`; `xlate::legacy`: legacy xtables entries → `Rule`; both also straight to
//! iptables-save text), `parse` (iptables argument syntax → `Rule`), `render` (`Rule` →
//! exactly what iptables-save 1.8.9 prints), `read` (either backend's ruleset or text).

pub mod json;
pub mod model;
pub mod nft_stream;
pub mod nft_text;
pub mod parse;
pub mod read;
pub mod render;
pub mod spool;
pub mod xlate;

pub use model::*;
