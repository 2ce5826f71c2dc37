//! The clsact qdisc of the tc fallback (kernels < 6.6 have no tcx links): which filters an
//! interface's clsact holds, and removing the qdisc. Unlike tcx links, clsact filters outlive
//! the process that attached them, so the drop probe cleans up after itself (and after a
//! SIGKILLed earlier run) with these.

use super::link::{LinkError, NLM_F_ACK, NLM_F_REQUEST, Rtnl, attrs, cstring, push_attr};

const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_GETTFILTER: u16 = 46;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_ID: u16 = 11;
const NLA_TYPE_MASK: u16 = 0x3fff;
const TC_H_CLSACT: u32 = 0xffff_fff1;
const TC_H_MIN_INGRESS: u32 = 0xfff2;
const TC_H_MIN_EGRESS: u32 = 0xfff3;
const TCMSG_LEN: usize = 20;

/// One filter on a clsact hook: its kind (`bpf`, `u32`, ...) and, for bpf, the program name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub kind: String,
    pub bpf_name: Option<String>,
    /// The kernel's id of the bpf program.
    pub prog_id: Option<u32>,
}

/// `struct tcmsg`: family AF_UNSPEC, the interface, a handle and a parent.
fn tcmsg(ifindex: u32, handle: u32, parent: u32) -> Vec<u8> {
    let mut b = vec![0u8; 4];
    b.extend_from_slice(&ifindex.to_ne_bytes());
    b.extend_from_slice(&handle.to_ne_bytes());
    b.extend_from_slice(&parent.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b
}

/// The filters on the ingress and egress hooks of `ifindex`'s clsact (empty without one), in
/// the namespace of the calling thread.
pub fn filters(ifindex: u32) -> Result<Vec<Filter>, LinkError> {
    let rtnl = Rtnl::open()?;
    let mut out = Vec::new();
    for min in [TC_H_MIN_INGRESS, TC_H_MIN_EGRESS] {
        let parent = (TC_H_CLSACT & 0xffff_0000) | min;
        let body = tcmsg(ifindex, 0, parent);
        match rtnl.dump(RTM_GETTFILTER, &body, |ty, payload| {
            (ty == RTM_NEWTFILTER)
                .then(|| parse_filter(payload))
                .transpose()
        }) {
            Ok(v) => out.extend(v.into_iter().flatten()),
            // No clsact (or no such hook): no filters.
            Err(LinkError::Kernel(e)) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(LinkError::Kernel(e)) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn parse_filter(payload: &[u8]) -> Result<Option<Filter>, LinkError> {
    let Some(rest) = payload.get(TCMSG_LEN..) else {
        return Err(LinkError::Malformed(format!(
            "tcmsg of {} bytes",
            payload.len()
        )));
    };
    let mut kind = None;
    let mut bpf_name = None;
    let mut prog_id = None;
    for (ty, v) in attrs(rest) {
        match ty & NLA_TYPE_MASK {
            TCA_KIND => kind = Some(cstring(v)),
            TCA_OPTIONS => {
                for (t, v) in attrs(v) {
                    match t & NLA_TYPE_MASK {
                        TCA_BPF_NAME => bpf_name = Some(cstring(v)),
                        TCA_BPF_ID => {
                            prog_id = v
                                .get(..4)
                                .and_then(|b| b.try_into().ok())
                                .map(u32::from_ne_bytes);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // The dump also lists the hook's chain itself (no options): only real filters count.
    Ok(kind.map(|kind| Filter {
        kind,
        bpf_name,
        prog_id,
    }))
}

/// Remove the clsact qdisc of `ifindex` (and every filter it holds), in the namespace of the
/// calling thread.
pub fn delete(ifindex: u32) -> Result<(), LinkError> {
    let rtnl = Rtnl::open()?;
    let mut body = tcmsg(ifindex, TC_H_CLSACT & 0xffff_0000, TC_H_CLSACT);
    push_attr(&mut body, TCA_KIND, b"clsact\0");
    rtnl.request(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, &body, |_, _| {
        Ok(None::<()>)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bpf_filter_message_names_its_program() {
        let mut m = tcmsg(3, 0, 0xffff_fff2);
        push_attr(&mut m, TCA_KIND, b"bpf\0");
        let mut opts = Vec::new();
        push_attr(&mut opts, TCA_BPF_NAME, b"nfp_tc_in\0");
        push_attr(&mut opts, TCA_BPF_ID, &2428u32.to_ne_bytes());
        push_attr(&mut m, TCA_OPTIONS | 0x8000, &opts);
        let f = parse_filter(&m).unwrap().unwrap();
        assert_eq!(f.kind, "bpf");
        assert_eq!(f.bpf_name.as_deref(), Some("nfp_tc_in"));
        assert_eq!(f.prog_id, Some(2428));
    }

    #[test]
    fn truncated_messages_are_errors_not_panics() {
        assert!(parse_filter(&[0u8; 7]).is_err());
        assert_eq!(parse_filter(&tcmsg(1, 0, 0)).unwrap(), None);
    }
}
