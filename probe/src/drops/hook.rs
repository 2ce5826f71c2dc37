//! Which netfilter hook (or which other kernel stage) dropped a packet, inferred from what the
//! `kfree_skb` tracepoint sees: the function that freed the skb, whether the skb had a route and
//! of which kind (forwarded, local delivery, locally generated), and whether its device is the
//! route's output device. fentry on the hook functions would say it directly but is refused on
//! many hosts; this inference needs nothing beyond the tracepoint.

use probe_common::drops::{DEV_IS_DST_DEV, HAS_DEV};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::Prerouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::Postrouting => "POSTROUTING",
        }
    }
}

/// Route the skb had when it was freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Path {
    /// No route yet (before the routing decision) or none at all.
    Unrouted,
    Forward,
    LocalIn,
    /// Locally generated (output route).
    LocalOut,
    /// An unreachable/prohibit route (`ip_error`).
    RouteError,
}

impl Path {
    /// Classify by the route's `dst->input` function (`None`: the skb had no route).
    pub fn classify(route_input: Option<&str>) -> Self {
        match route_input {
            None => Path::Unrouted,
            Some("ip_forward" | "ip6_forward") => Path::Forward,
            Some("ip_local_deliver" | "ip6_input" | "ip6_mc_input" | "ip_mr_input") => {
                Path::LocalIn
            }
            Some("ip_error" | "ip6_pkt_discard" | "ip6_pkt_prohibit") => Path::RouteError,
            Some(_) => Path::LocalOut,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Path::Unrouted => "unrouted",
            Path::Forward => "forward",
            Path::LocalIn => "local-in",
            Path::LocalOut => "local-out",
            Path::RouteError => "route-error",
        }
    }
}

/// Functions that free packets on behalf of a netfilter verdict.
pub fn is_netfilter(function: &str) -> bool {
    matches!(
        function,
        "nf_hook_slow" | "nf_hook_slow_list" | "ipt_do_table" | "ip6t_do_table" | "ebt_do_table"
    ) || function.starts_with("nft_do_chain")
}

/// The netfilter hook that dropped the packet, when the drop was a netfilter one.
pub fn infer(function: Option<&str>, path: Path, flags: u8) -> Option<Hook> {
    if !function.is_some_and(is_netfilter) {
        return None;
    }
    let has_dev = flags & HAS_DEV != 0;
    // ip_output sets skb->dev to the route's device just before POSTROUTING; before that a
    // forwarded skb still carries its input device and a local one has none.
    let at_output_dev = flags & DEV_IS_DST_DEV != 0;
    Some(match path {
        Path::Unrouted => {
            if has_dev {
                Hook::Prerouting
            } else {
                Hook::Output
            }
        }
        Path::Forward => {
            if at_output_dev {
                Hook::Postrouting
            } else {
                Hook::Forward
            }
        }
        Path::LocalIn | Path::RouteError => Hook::Input,
        Path::LocalOut => {
            if at_output_dev {
                Hook::Postrouting
            } else {
                Hook::Output
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Path::classify(Some("ip_forward")), Path::Forward);
        assert_eq!(Path::classify(Some("ip6_input")), Path::LocalIn);
        assert_eq!(Path::classify(Some("ip_rt_bug")), Path::LocalOut);
        assert_eq!(Path::classify(None), Path::Unrouted);
    }

    #[test]
    fn forward_policy_drop() {
        assert_eq!(
            infer(Some("nft_do_chain"), Path::Forward, HAS_DEV),
            Some(Hook::Forward)
        );
        assert_eq!(
            infer(
                Some("nft_do_chain"),
                Path::Forward,
                HAS_DEV | DEV_IS_DST_DEV
            ),
            Some(Hook::Postrouting)
        );
        assert_eq!(
            infer(Some("nf_hook_slow"), Path::Unrouted, HAS_DEV),
            Some(Hook::Prerouting)
        );
        assert_eq!(
            infer(Some("nft_do_chain"), Path::LocalIn, HAS_DEV),
            Some(Hook::Input)
        );
        assert_eq!(
            infer(Some("nft_do_chain"), Path::LocalOut, 0),
            Some(Hook::Output)
        );
        assert_eq!(
            infer(Some("neigh_invalidate"), Path::LocalOut, HAS_DEV),
            None
        );
        assert_eq!(infer(None, Path::Forward, HAS_DEV), None);
    }
}
