//! Drop-reason names from the running kernel's BTF (`enum skb_drop_reason` and the subsystem
//! enums): the numbers change between kernel versions, so no table is compiled in.

use std::collections::HashMap;

use crate::kernel::btf::{Btf, BtfError};

const PREFIX: &str = "SKB_DROP_REASON_";
/// Subsystem reasons carry the subsystem id in the high bits (SKB_DROP_REASON_SUBSYS_SHIFT).
const SUBSYS_SHIFT: u32 = 16;

#[derive(Debug, Clone, Default)]
pub struct ReasonNames {
    names: HashMap<u32, String>,
    subsystems: HashMap<u32, String>,
}

impl ReasonNames {
    pub fn from_btf(btf: &Btf) -> Result<Self, BtfError> {
        let mut names = HashMap::new();
        for (name, value) in btf.enum_values("skb_drop_reason")? {
            if let Ok(v) = u32::try_from(*value) {
                names.insert(v, name.strip_prefix(PREFIX).unwrap_or(name).to_owned());
            }
        }
        let mut subsystems = HashMap::new();
        if let Ok(values) = btf.enum_values("skb_drop_reason_subsys") {
            for (name, value) in values {
                if let Ok(v) = u32::try_from(*value) {
                    let short = name.strip_prefix("SKB_DROP_REASON_SUBSYS_").unwrap_or(name);
                    subsystems.insert(v, short.to_owned());
                }
            }
        }
        // Subsystem enums (e.g. `enum ovs_drop_reason`) hold values with the subsystem bits set.
        for (enum_name, values) in btf.enums() {
            if enum_name == "skb_drop_reason" || !enum_name.ends_with("drop_reason") {
                continue;
            }
            for (name, value) in values {
                if let Ok(v) = u32::try_from(*value)
                    && v >> SUBSYS_SHIFT != 0
                {
                    names.entry(v).or_insert_with(|| name.clone());
                }
            }
        }
        Ok(Self { names, subsystems })
    }

    /// Name of a reason value; unknown ones say which subsystem and number they are.
    pub fn name(&self, reason: u32) -> String {
        if let Some(n) = self.names.get(&reason) {
            return n.clone();
        }
        let subsys = reason >> SUBSYS_SHIFT;
        match self.subsystems.get(&subsys) {
            Some(s) if subsys != 0 => format!("{s}:{}", reason & 0xffff),
            _ => format!("UNKNOWN({reason})"),
        }
    }

    /// Value of a reason by its short name (`NETFILTER_DROP`).
    pub fn value(&self, name: &str) -> Option<u32> {
        self.names.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_running_kernel() {
        let btf = Btf::from_sys().expect("this test needs /sys/kernel/btf/vmlinux");
        let r = ReasonNames::from_btf(&btf).unwrap();
        let nf = r.value("NETFILTER_DROP").expect("NETFILTER_DROP");
        assert_eq!(r.name(nf), "NETFILTER_DROP");
        let no_socket = btf
            .enum_value("skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET")
            .unwrap();
        assert_eq!(r.name(no_socket as u32), "NO_SOCKET");
        assert!(r.name(0xfff0).starts_with("UNKNOWN"));
    }
}
