//! The per-flow drop watch on a [`Session`]: `nfprobe prove` names the 5-tuples of the
//! connection it is making and reads back every drop of exactly those packets.

use probe_common::flow::{FlowDrop, FlowKey};
use serde::Serialize;

use super::super::hook;
use super::super::report::SampleEvent;
use super::{DropsError, Session};
use crate::kernel::drop_probe::FlowRing;

/// One drop of a watched flow, named and symbolised.
#[derive(Debug, Clone, Serialize)]
pub struct FlowDropEvent {
    /// The flow id the watch was set with.
    pub flow: u32,
    /// Namespace inode and ifindex of the skb's own device (0: none).
    pub in_netns: u32,
    pub in_ifindex: u32,
    /// The route's output device when it differs from the skb's, else the skb's device.
    pub ifindex: u32,
    /// The kernel function that freed the packet.
    pub function: Option<String>,
    #[serde(flatten)]
    pub event: SampleEvent,
}

impl Session {
    /// The ring the watched flows' drops arrive on (once per session).
    pub fn flow_ring(&mut self) -> Result<FlowRing, DropsError> {
        Ok(self.probe.flow_ring()?)
    }

    /// Also report drops of these 5-tuples, each tagged with its flow id.
    pub fn watch_flows(&mut self, flows: &[(FlowKey, u32)]) -> Result<(), DropsError> {
        Ok(self.probe.watch_flows(flows)?)
    }

    /// Stop reporting drops of these 5-tuples.
    pub fn unwatch_flows(&mut self, keys: &[FlowKey]) -> Result<(), DropsError> {
        Ok(self.probe.unwatch_flows(keys)?)
    }

    /// The watched flows' drops that arrived since the last call.
    pub fn flow_drops(&self, ring: &mut FlowRing) -> Vec<FlowDropEvent> {
        ring.drain(4096)
            .iter()
            .map(|d| self.flow_event(d))
            .collect()
    }

    fn flow_event(&self, d: &FlowDrop) -> FlowDropEvent {
        let s = &d.sample;
        let function = self.ksyms.function(s.location).map(str::to_owned);
        let path = self.path(s.route_input);
        let in_iface = (s.in_ifindex != 0).then(|| self.name(d.in_netns, s.in_ifindex));
        FlowDropEvent {
            flow: d.flow,
            in_netns: d.in_netns,
            in_ifindex: s.in_ifindex,
            ifindex: s.ifindex,
            event: SampleEvent::new(
                s,
                self.name(s.netns, s.ifindex),
                in_iface,
                self.bridge_of(s.netns, s.ifindex),
                self.reasons.name(s.reason),
                self.ksyms.symbolize(s.location),
                hook::infer(function.as_deref(), path, s.flags),
                path,
            ),
            function,
        }
    }
}
