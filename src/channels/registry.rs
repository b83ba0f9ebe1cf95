//! The live channel map and the inbound routing fork (spec 05 §0.1, §0.3). Map order is
//! insertion order; a replaced channel moves to the end. Backends register as
//! [`InboundRoute`]s (attached first, then programmatic); session streams register as
//! [`FanoutSink`]s (`/events` subscribers, MCP push streams).

use std::sync::{Arc, Weak};

use parking_lot::RwLock;
use serde_json::{json, Value};

use super::store::ChannelEntry;
use super::transport::{ChannelContext, InboundMessage, Transport, TransportError};

/// One live channel.
pub struct Channel {
    pub name: String,
    pub transport: Arc<dyn Transport>,
    pub entry: ChannelEntry,
}

/// A backend that may take an inbound message before it is fanned out.
pub trait InboundRoute: Send + Sync {
    /// True if the message was taken (queued as a turn, left in the durable queue, or
    /// buffered for an agent about to register). Nothing is fanned out then.
    fn take(&self, channel: &str, msg: &InboundMessage) -> bool;

    /// Like [`InboundRoute::take`], for a backend that must make the message durable before
    /// it counts as taken: `Err` means it is this backend's message but it was **not**
    /// accepted (the transport must not acknowledge it).
    fn offer(&self, channel: &str, msg: &InboundMessage) -> Result<bool, Refusal> {
        Ok(self.take(channel, msg))
    }
}

/// Why a backend refused a message it owns: nothing was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The daemon is stopping: try again after the restart.
    Draining,
    /// The message could not be made durable (journal write failed).
    Unavailable(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Draining => f.write_str("the daemon is shutting down; retry shortly"),
            Refusal::Unavailable(why) => write!(f, "message not accepted: {why}"),
        }
    }
}

/// Where an accepted inbound message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emitted {
    /// A backend took it (queued as a turn, journaled, left in the attached queue).
    Taken,
    /// Fanned out to this many session streams (0: nobody listened).
    Delivered(usize),
}

/// What fan-out delivers to session streams.
#[derive(Debug, Clone)]
pub enum FanoutEvent {
    /// `message` `{content, meta, source}`.
    Message(Value),
    /// `permission_verdict` `{request_id, behavior}`.
    PermissionVerdict(Value),
}

/// A set of session streams; `deliver` returns how many received the event.
pub trait FanoutSink: Send + Sync {
    fn deliver(&self, channel: &str, event: &FanoutEvent) -> usize;
}

/// Called after a fan-out that reached at least one receiver (delivery marks).
pub type DeliveredHook = Box<dyn Fn(&str, &InboundMessage) + Send + Sync>;

#[derive(Default)]
pub struct ChannelRegistry {
    live: RwLock<Vec<Arc<Channel>>>,
    routes: RwLock<Vec<Arc<dyn InboundRoute>>>,
    sinks: RwLock<Vec<Arc<dyn FanoutSink>>>,
    on_delivered: RwLock<Vec<DeliveredHook>>,
    me: RwLock<Weak<ChannelRegistry>>,
    offsets: RwLock<Option<Arc<dyn OffsetStore>>>,
}

/// Where transports keep a durable read position (the Telegram update offset).
pub trait OffsetStore: Send + Sync {
    fn load(&self, channel: &str) -> Option<i64>;
    /// Durable when it returns `Ok`.
    fn save(&self, channel: &str, next: i64) -> Result<(), String>;
}

impl OffsetStore for crate::journal::Journal {
    fn load(&self, channel: &str) -> Option<i64> {
        self.offset(channel)
    }

    fn save(&self, channel: &str, next: i64) -> Result<(), String> {
        self.set_offset(channel, next).map_err(|e| e.to_string())
    }
}

impl ChannelRegistry {
    pub fn new() -> Arc<ChannelRegistry> {
        let reg = Arc::new(ChannelRegistry::default());
        *reg.me.write() = Arc::downgrade(&reg);
        reg
    }

    pub fn get(&self, name: &str) -> Option<Arc<Channel>> {
        self.live.read().iter().find(|c| c.name == name).cloned()
    }

    /// The live channels in map order.
    pub fn list(&self) -> Vec<Arc<Channel>> {
        self.live.read().clone()
    }

    pub fn names(&self) -> Vec<String> {
        self.live.read().iter().map(|c| c.name.clone()).collect()
    }

    /// `a, b` or `(none)`, for the "known channels" error texts.
    pub fn known_list(&self) -> String {
        let names = self.names();
        if names.is_empty() {
            "(none)".into()
        } else {
            names.join(", ")
        }
    }

    /// Starts `transport` and inserts it at the end of the map, stopping and replacing a
    /// live channel of the same name first.
    pub fn insert(
        &self,
        entry: ChannelEntry,
        transport: Arc<dyn Transport>,
    ) -> Result<(), TransportError> {
        self.remove(&entry.name);
        let ctx = ChannelContext {
            channel: entry.name.clone(),
            registry: self.me.read().clone(),
        };
        transport.start(ctx)?;
        let channel = Arc::new(Channel {
            name: entry.name.clone(),
            transport,
            entry,
        });
        self.live.write().push(channel);
        Ok(())
    }

    /// Stops and removes a live channel; true if it was live.
    pub fn remove(&self, name: &str) -> bool {
        let removed = {
            let mut live = self.live.write();
            let pos = live.iter().position(|c| c.name == name);
            pos.map(|i| live.remove(i))
        };
        match removed {
            Some(ch) => {
                ch.transport.stop();
                true
            }
            None => false,
        }
    }

    /// Stops every transport (shutdown).
    pub fn stop_all(&self) {
        let all: Vec<_> = std::mem::take(&mut *self.live.write());
        for ch in all {
            ch.transport.stop();
        }
    }

    /// Installs the durable offset store (the inbound journal) at boot.
    pub fn set_offset_store(&self, store: Arc<dyn OffsetStore>) {
        *self.offsets.write() = Some(store);
    }

    pub fn offset_store(&self) -> Option<Arc<dyn OffsetStore>> {
        self.offsets.read().clone()
    }

    pub fn add_route(&self, route: Arc<dyn InboundRoute>) {
        self.routes.write().push(route);
    }

    pub fn add_sink(&self, sink: Arc<dyn FanoutSink>) {
        self.sinks.write().push(sink);
    }

    pub fn on_delivered(&self, hook: DeliveredHook) {
        self.on_delivered.write().push(hook);
    }

    /// The routing fork of spec 05 §0.3 for one inbound message on `channel`; returns how
    /// many session streams received it (0 when a backend took it).
    pub fn emit(&self, channel: &str, msg: InboundMessage) -> usize {
        match self.emit_checked(channel, msg) {
            Ok(Emitted::Delivered(n)) => n,
            Ok(Emitted::Taken) => 0,
            Err(refusal) => {
                log::warn!("channel {channel}: inbound message not accepted: {refusal}");
                0
            }
        }
    }

    /// [`ChannelRegistry::emit`] for transports that acknowledge only what was accepted:
    /// a backend's refusal comes back instead of being logged (nothing is fanned out).
    pub fn emit_checked(&self, channel: &str, msg: InboundMessage) -> Result<Emitted, Refusal> {
        let routes = self.routes.read().clone();
        for r in &routes {
            if r.offer(channel, &msg)? {
                return Ok(Emitted::Taken);
            }
        }
        let event = FanoutEvent::Message(
            json!({ "content": msg.content, "meta": msg.meta, "source": msg.source }),
        );
        let delivered = self.fan_out(channel, &event);
        if delivered > 0 {
            for hook in self.on_delivered.read().iter() {
                hook(channel, &msg);
            }
        }
        Ok(Emitted::Delivered(delivered))
    }

    /// `permission_verdict` to the channel's session streams (never to backends).
    pub fn emit_permission_verdict(
        &self,
        channel: &str,
        request_id: &str,
        behavior: &str,
    ) -> usize {
        let event = FanoutEvent::PermissionVerdict(
            json!({ "request_id": request_id, "behavior": behavior }),
        );
        self.fan_out(channel, &event)
    }

    fn fan_out(&self, channel: &str, event: &FanoutEvent) -> usize {
        let sinks = self.sinks.read().clone();
        sinks.iter().map(|s| s.deliver(channel, event)).sum()
    }
}
