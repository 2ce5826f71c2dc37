//! The per-flow drop watch of the kfree_skb program: which 5-tuples to report (NFP_FLOWS and
//! its count in NFP_FLOWCOUNT) and the ring they are reported through (NFP_FLOWDROPS). Only
//! `nfprobe prove` fills the map; empty, the program skips the lookups.

use aya::maps::{Array, HashMap, MapData, RingBuf};
use probe_common::flow::{FLOWCOUNT_SLOT, FlowDrop, FlowKey};

use super::{DropProbe, DropProbeError, aya_err};

const MAP_FLOWS: &str = "NFP_FLOWS";
const MAP_FLOWCOUNT: &str = "NFP_FLOWCOUNT";
const MAP_FLOWDROPS: &str = "NFP_FLOWDROPS";

/// The ring of watched flows' drops, taken out of the probe once.
pub struct FlowRing {
    ring: RingBuf<MapData>,
}

impl std::fmt::Debug for FlowRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowRing").finish_non_exhaustive()
    }
}

impl FlowRing {
    /// Drain the ring, at most `max` drops.
    pub fn drain(&mut self, max: usize) -> Vec<FlowDrop> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(item) = self.ring.next() else { break };
            if item.len() >= std::mem::size_of::<FlowDrop>() {
                // SAFETY: the slice holds a whole FlowDrop, plain old data.
                out.push(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<FlowDrop>()) });
            }
        }
        out
    }
}

impl DropProbe {
    /// Take the flow-drop ring (once per probe).
    pub fn flow_ring(&mut self) -> Result<FlowRing, DropProbeError> {
        let map = self
            .ebpf
            .take_map(MAP_FLOWDROPS)
            .ok_or(DropProbeError::Missing("map NFP_FLOWDROPS"))?;
        let ring = RingBuf::try_from(map).map_err(|e| aya_err("opening the flow-drop ring", e))?;
        Ok(FlowRing { ring })
    }

    /// Also report drops of these 5-tuples, each tagged with its flow id.
    pub fn watch_flows(&mut self, flows: &[(FlowKey, u32)]) -> Result<(), DropProbeError> {
        let n = {
            let mut hash = self.flow_map()?;
            for (k, id) in flows {
                hash.insert(k, id, 0)
                    .map_err(|e| aya_err("watching a flow (NFP_FLOWS)", e))?;
            }
            hash.keys().filter(Result::is_ok).count()
        };
        self.set_flow_count(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Stop reporting drops of these 5-tuples; with none left the watch is off.
    pub fn unwatch_flows(&mut self, keys: &[FlowKey]) -> Result<(), DropProbeError> {
        let n = {
            let mut hash = self.flow_map()?;
            for k in keys {
                // Already gone is fine: nothing else writes this map.
                let _ = hash.remove(k);
            }
            hash.keys().filter(Result::is_ok).count()
        };
        self.set_flow_count(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn flow_map(&mut self) -> Result<HashMap<&mut MapData, FlowKey, u32>, DropProbeError> {
        let map = self
            .ebpf
            .map_mut(MAP_FLOWS)
            .ok_or(DropProbeError::Missing("map NFP_FLOWS"))?;
        HashMap::try_from(map).map_err(|e| aya_err("opening NFP_FLOWS", e))
    }

    fn set_flow_count(&mut self, n: u32) -> Result<(), DropProbeError> {
        let map = self
            .ebpf
            .map_mut(MAP_FLOWCOUNT)
            .ok_or(DropProbeError::Missing("map NFP_FLOWCOUNT"))?;
        let mut arr: Array<_, u32> =
            Array::try_from(map).map_err(|e| aya_err("opening NFP_FLOWCOUNT", e))?;
        arr.set(FLOWCOUNT_SLOT, n, 0)
            .map_err(|e| aya_err("writing NFP_FLOWCOUNT", e))
    }
}
