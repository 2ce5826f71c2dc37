//! ctnetlink: one conntrack entry, looked up by a tuple of either direction
//! (IPCTNL_MSG_CT_GET). Returns the kernel's original and reply tuples, typed: the reply tuple
//! is what NAT made of the connection (DNAT changes its source, SNAT/MASQUERADE its
//! destination).

use std::net::IpAddr;

use thiserror::Error;

use super::netns::{NetnsError, NetnsSpec, run_in};
use super::nfnl::{
    NLA_F_NESTED, NLM_F_ACK, NfnlError, NfnlSocket, Nla, NlaError, NlaIter, Request,
};

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_PROTOINFO: u16 = 4;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const CTA_PROTOINFO_TCP: u16 = 1;
const CTA_PROTOINFO_TCP_STATE: u16 = 1;

/// `enum ip_conntrack_status` bits.
pub const IPS_SEEN_REPLY: u32 = 1 << 1;
pub const IPS_ASSURED: u32 = 1 << 2;
pub const IPS_CONFIRMED: u32 = 1 << 3;
pub const IPS_SRC_NAT: u32 = 1 << 4;
pub const IPS_DST_NAT: u32 = 1 << 5;

#[derive(Debug, Error)]
pub enum ConntrackError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("conntrack lookup (ctnetlink): {0}")]
    Nfnl(#[from] NfnlError),
    #[error("malformed conntrack entry: {0}")]
    Malformed(#[from] NlaError),
    #[error("malformed conntrack entry: {0}")]
    Incomplete(&'static str),
}

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPPROTO_*.
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

/// A conntrack entry as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub orig: Tuple,
    pub reply: Tuple,
    /// `IPS_*` bits.
    pub status: u32,
    /// `enum tcp_conntrack` (TCP only).
    pub tcp_state: Option<u8>,
}

impl Entry {
    pub fn confirmed(&self) -> bool {
        self.status & IPS_CONFIRMED != 0
    }
    pub fn seen_reply(&self) -> bool {
        self.status & IPS_SEEN_REPLY != 0
    }
}

/// Name of `enum tcp_conntrack` values, as conntrack(8) prints them.
pub fn tcp_state_name(s: u8) -> &'static str {
    match s {
        0 => "NONE",
        1 => "SYN_SENT",
        2 => "SYN_RECV",
        3 => "ESTABLISHED",
        4 => "FIN_WAIT",
        5 => "CLOSE_WAIT",
        6 => "LAST_ACK",
        7 => "TIME_WAIT",
        8 => "CLOSE",
        9 => "SYN_SENT2",
        _ => "?",
    }
}

/// The entry holding `t` (as its original or reply direction) in `ns`, or None.
pub fn lookup(ns: Option<&NetnsSpec>, t: &Tuple) -> Result<Option<Entry>, ConntrackError> {
    let t = *t;
    run_in(ns, move || lookup_here(&t))?
}

fn lookup_here(t: &Tuple) -> Result<Option<Entry>, ConntrackError> {
    let family = match t.src {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    };
    let mut sock = NfnlSocket::open()?;
    // The kernel sends the entry flagged NLM_F_MULTI without a DONE: ask for the ACK that ends it.
    let mut req = Request::new(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET, NLM_F_ACK, family);
    req.attr(CTA_TUPLE_ORIG | NLA_F_NESTED, &encode_tuple(t));
    let mut found = None;
    let res = sock.request("conntrack GET", &mut req, false, |m| {
        found = Some(m.attrs.to_vec());
        Ok(())
    });
    match res {
        Ok(_) => {}
        Err(NfnlError::Kernel { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    match found {
        Some(attrs) => decode_entry(&attrs).map(Some),
        None => Ok(None),
    }
}

fn nla(kind: u16, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
    let mut v = len.to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(data);
    v.resize(super::nfnl::align4(v.len()), 0);
    v
}

fn encode_tuple(t: &Tuple) -> Vec<u8> {
    let ip = match (t.src, t.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut v = nla(CTA_IP_V4_SRC, &s.octets());
            v.extend(nla(CTA_IP_V4_DST, &d.octets()));
            v
        }
        (s, d) => {
            let six = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            let mut v = nla(CTA_IP_V6_SRC, &six(s));
            v.extend(nla(CTA_IP_V6_DST, &six(d)));
            v
        }
    };
    let mut proto = nla(CTA_PROTO_NUM, &[t.proto]);
    proto.extend(nla(CTA_PROTO_SRC_PORT, &t.sport.to_be_bytes()));
    proto.extend(nla(CTA_PROTO_DST_PORT, &t.dport.to_be_bytes()));
    let mut out = nla(CTA_TUPLE_IP | NLA_F_NESTED, &ip);
    out.extend(nla(CTA_TUPLE_PROTO | NLA_F_NESTED, &proto));
    out
}

/// An entry from the attributes of a conntrack message (after nfgenmsg).
pub fn decode_entry(attrs: &[u8]) -> Result<Entry, ConntrackError> {
    let (mut orig, mut reply, mut status, mut tcp_state) = (None, None, 0, None);
    for a in NlaIter::new(attrs) {
        let a = a?;
        match a.kind {
            CTA_TUPLE_ORIG => orig = Some(decode_tuple(&a)?),
            CTA_TUPLE_REPLY => reply = Some(decode_tuple(&a)?),
            CTA_STATUS => status = a.be32()?,
            CTA_PROTOINFO => {
                for p in a.nested() {
                    let p = p?;
                    if p.kind == CTA_PROTOINFO_TCP {
                        for x in p.nested() {
                            let x = x?;
                            if x.kind == CTA_PROTOINFO_TCP_STATE {
                                tcp_state = Some(x.u8()?);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Entry {
        orig: orig.ok_or(ConntrackError::Incomplete("no original tuple"))?,
        reply: reply.ok_or(ConntrackError::Incomplete("no reply tuple"))?,
        status,
        tcp_state,
    })
}

fn decode_tuple(a: &Nla<'_>) -> Result<Tuple, ConntrackError> {
    let (mut src, mut dst, mut proto, mut sport, mut dport) = (None, None, None, 0, 0);
    for x in a.nested() {
        let x = x?;
        match x.kind {
            CTA_TUPLE_IP => {
                for ip in x.nested() {
                    let ip = ip?;
                    let addr = match ip.data.len() {
                        4 => <[u8; 4]>::try_from(ip.data).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(ip.data).ok().map(IpAddr::from),
                        _ => None,
                    };
                    match ip.kind {
                        CTA_IP_V4_SRC | CTA_IP_V6_SRC => src = addr,
                        CTA_IP_V4_DST | CTA_IP_V6_DST => dst = addr,
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for p in x.nested() {
                    let p = p?;
                    match p.kind {
                        CTA_PROTO_NUM => proto = Some(p.u8()?),
                        CTA_PROTO_SRC_PORT => sport = p.be16()?,
                        CTA_PROTO_DST_PORT => dport = p.be16()?,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Tuple {
        src: src.ok_or(ConntrackError::Incomplete("tuple without source address"))?,
        dst: dst.ok_or(ConntrackError::Incomplete(
            "tuple without destination address",
        ))?,
        proto: proto.ok_or(ConntrackError::Incomplete("tuple without protocol"))?,
        sport,
        dport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn t(s: [u8; 4], sp: u16, d: [u8; 4], dp: u16) -> Tuple {
        Tuple {
            src: IpAddr::V4(Ipv4Addr::from(s)),
            dst: IpAddr::V4(Ipv4Addr::from(d)),
            proto: 6,
            sport: sp,
            dport: dp,
        }
    }

    #[test]
    fn an_entry_round_trips_through_its_attributes() {
        let orig = t([127, 0, 0, 1], 40000, [127, 0, 0, 1], 8010);
        let reply = t([172, 19, 0, 2], 80, [127, 0, 0, 1], 40000);
        let mut attrs = nla(CTA_TUPLE_ORIG | NLA_F_NESTED, &encode_tuple(&orig));
        attrs.extend(nla(CTA_TUPLE_REPLY | NLA_F_NESTED, &encode_tuple(&reply)));
        attrs.extend(nla(
            CTA_STATUS,
            &(IPS_CONFIRMED | IPS_DST_NAT).to_be_bytes(),
        ));
        let tcp = nla(
            CTA_PROTOINFO_TCP | NLA_F_NESTED,
            &nla(CTA_PROTOINFO_TCP_STATE, &[1]),
        );
        attrs.extend(nla(CTA_PROTOINFO | NLA_F_NESTED, &tcp));
        let e = decode_entry(&attrs).unwrap();
        assert_eq!(e.orig, orig);
        assert_eq!(e.reply, reply);
        assert!(e.confirmed() && !e.seen_reply());
        assert_eq!(e.tcp_state.map(tcp_state_name), Some("SYN_SENT"));
    }

    #[test]
    fn a_truncated_entry_is_an_error_not_a_panic() {
        let orig = t([10, 0, 0, 1], 1, [10, 0, 0, 2], 2);
        let attrs = nla(CTA_TUPLE_ORIG | NLA_F_NESTED, &encode_tuple(&orig));
        assert!(decode_entry(&attrs).is_err());
        for cut in 0..attrs.len() {
            let _ = decode_entry(&attrs[..cut]);
        }
    }
}

#[cfg(test)]
mod live {
    #[test]
    #[ignore = "needs root and NFPROBE_CT_NETNS naming a scratch netns"]
    fn lookup_of_an_absent_entry_is_none() {
        let Ok(ns) = std::env::var("NFPROBE_CT_NETNS") else {
            return;
        };
        let ns = super::NetnsSpec::parse(&ns);
        let t = super::Tuple {
            src: "10.9.9.1".parse().unwrap(),
            dst: "10.9.9.2".parse().unwrap(),
            proto: 6,
            sport: 1234,
            dport: 80,
        };
        assert_eq!(super::lookup(Some(&ns), &t).unwrap(), None);
    }
}
