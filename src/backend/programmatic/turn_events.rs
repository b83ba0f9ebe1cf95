//! Fan-out of live turn events to `GET /api/channels/<ch>/turn-events` subscribers
//! (spec 03 §7): the [`TurnEventSink`] seam a worker publishes into. The daemon's sink is
//! the turn-events `SseHub` (a bounded queue per subscriber; a full or closed queue drops
//! the subscriber, so a slow or dead client never blocks a worker; no replay); the unit
//! tests use an in-memory fake of their own (`registry_tests::MemTurnEvents`).

use super::turn::events::TurnEvent;

/// Where a worker publishes live turn events: the daemon's turn-events `SseHub`, or an
/// in-memory fake in tests.
pub trait TurnEventSink: Send + Sync {
    fn publish(&self, channel: &str, event: &TurnEvent);
}

impl TurnEventSink for crate::channels::SseHub {
    fn publish(&self, channel: &str, event: &TurnEvent) {
        let data = serde_json::to_value(event).unwrap_or_default();
        self.broadcast(channel, "turn", &data);
    }
}
