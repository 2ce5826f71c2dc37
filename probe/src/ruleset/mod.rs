//! The canonical model and its conversions: `xlate` (nf_tables expressions of an iptables-nft
//! rule → `Rule`), `parse` (iptables argument syntax → `Rule`), `render` (`Rule` → exactly what
//! iptables-save 1.8.9 prints).

pub mod model;
pub mod nft_text;
pub mod read;
pub mod render;
pub mod xlate;

pub use model::*;
