//! Docker's intent: what the Engine says exists (`discover`, `state`) and the firewall rules
//! each Docker version installs for it (`expect`).

pub mod discover;
pub mod expect;
pub mod http;
pub mod infer;
pub mod state;
