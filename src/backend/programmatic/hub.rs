//! Fan-out of live turn events to `GET /api/channels/<ch>/turn-events` subscribers
//! (spec 03 §7): the [`TurnEventSink`] seam and an in-memory hub. Each subscriber has a bounded queue; a full or closed queue drops the
//! subscriber, so a slow or dead client never blocks a worker. No replay.

use std::collections::HashMap;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use super::events::TurnEvent;

/// Events buffered per subscriber before it is considered dead.
const SUBSCRIBER_BUFFER: usize = 1024;

/// Where a worker publishes live turn events: the daemon's turn-events [`SseHub`]
/// (`crate::channels::SseHub`), or an in-memory [`TurnEventHub`] in tests.
pub trait TurnEventSink: Send + Sync {
    fn publish(&self, channel: &str, event: &TurnEvent);
}

impl TurnEventSink for crate::channels::SseHub {
    fn publish(&self, channel: &str, event: &TurnEvent) {
        let data = serde_json::to_value(event).unwrap_or_default();
        self.broadcast(channel, "turn", &data);
    }
}

impl TurnEventSink for TurnEventHub {
    fn publish(&self, channel: &str, event: &TurnEvent) {
        TurnEventHub::publish(self, channel, event);
    }
}

#[derive(Default)]
pub struct TurnEventHub {
    subs: Mutex<HashMap<String, Vec<Sender<TurnEvent>>>>,
}

impl TurnEventHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new subscription to `channel`'s events (an unknown channel simply stays idle).
    pub fn subscribe(&self, channel: &str) -> Receiver<TurnEvent> {
        let (tx, rx) = bounded(SUBSCRIBER_BUFFER);
        self.subs
            .lock()
            .entry(channel.to_string())
            .or_default()
            .push(tx);
        rx
    }

    /// Deliver to every live subscriber of `channel`; returns how many received it.
    pub fn publish(&self, channel: &str, event: &TurnEvent) -> usize {
        let mut subs = self.subs.lock();
        let Some(list) = subs.get_mut(channel) else {
            return 0;
        };
        list.retain(|tx| match tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        });
        let n = list.len();
        if list.is_empty() {
            subs.remove(channel);
        }
        n
    }

    pub fn subscriber_count(&self, channel: &str) -> usize {
        self.subs.lock().get(channel).map_or(0, Vec::len)
    }
}

/// One SSE frame: `event: turn\ndata: <compact JSON>\n\n`.
pub fn sse_frame(event: &TurnEvent) -> String {
    format!("event: turn\ndata: {}\n\n", event.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_out_per_channel_and_dead_subscribers_dropped() {
        let hub = TurnEventHub::new();
        let a = hub.subscribe("a");
        let b = hub.subscribe("b");
        let dead = hub.subscribe("a");
        drop(dead);
        let e = TurnEvent::Text { text: "x".into() };
        assert_eq!(hub.publish("a", &e), 1);
        assert_eq!(a.try_recv().unwrap(), e);
        assert!(b.try_recv().is_err());
        assert_eq!(hub.publish("zzz", &e), 0);
        assert_eq!(
            sse_frame(&e),
            "event: turn\ndata: {\"kind\":\"text\",\"text\":\"x\"}\n\n"
        );
        // a subscriber that never reads is dropped once its buffer is full
        for _ in 0..SUBSCRIBER_BUFFER + 1 {
            hub.publish("a", &e);
        }
        assert_eq!(hub.subscriber_count("a"), 0);
    }
}
