//! A set of SSE subscribers keyed by channel (spec 05 §2, §2.8). Each subscriber owns a
//! bounded queue and a thread of its own that writes and flushes frames, sends a
//! keepalive comment every `keepalive` (so dead clients are noticed and reaped), and ends
//! when the client goes away, the queue overflows (a stuck client never blocks an
//! emitter), or the hub closes the channel. One type serves `/events`, `/ui/events` and
//! turn-events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;
use serde_json::Value;

use super::stream_guard::{self, StreamGuard};
use crate::http::response::sse_frame;
use crate::http::{Resp, StreamWriter};

/// Frames a subscriber may lag behind before it is dropped.
const QUEUE_DEPTH: usize = 1024;

enum Frame {
    Data(Arc<str>),
    Close(Option<Arc<str>>),
}

struct Subscriber {
    id: u64,
    channel: String,
    tx: Sender<Frame>,
}

pub struct SseHub {
    name: &'static str,
    subs: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
    keepalive: Duration,
}

impl SseHub {
    pub fn new(name: &'static str, keepalive: Duration) -> Arc<SseHub> {
        Arc::new(SseHub {
            name,
            subs: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            keepalive,
        })
    }

    /// Registers a subscriber on `channel` now and returns the SSE response that serves
    /// it: `: connected`, then frames, keepalives, and a clean end.
    pub fn subscribe(self: &Arc<Self>, channel: &str) -> Resp {
        self.subscribe_guarded(channel, None)
    }

    /// [`subscribe`](Self::subscribe), ending with `event: error` once `guard` fails
    /// (the opening token expired or was revoked).
    pub fn subscribe_guarded(self: &Arc<Self>, channel: &str, guard: Option<StreamGuard>) -> Resp {
        let (tx, rx) = bounded(QUEUE_DEPTH);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subs.lock().push(Subscriber {
            id,
            channel: channel.to_string(),
            tx,
        });
        let hub = self.clone();
        Resp::sse(Box::new(move |mut w| {
            hub.serve(&mut w, &rx, guard);
            hub.unsubscribe(id);
            let _ = w.finish();
        }))
    }

    fn serve(&self, w: &mut StreamWriter, rx: &Receiver<Frame>, mut guard: Option<StreamGuard>) {
        if w.comment("connected").is_err() {
            return;
        }
        let mut keepalive_at = Instant::now() + self.keepalive;
        loop {
            if let Err(why) = stream_guard::check(&mut guard) {
                log::info!("sse[{}]: closing a stream: {why}", self.name);
                let _ = w.send(&stream_guard::error_frame(&why));
                return;
            }
            let wait = stream_guard::wait(
                &guard,
                keepalive_at.saturating_duration_since(Instant::now()),
            );
            let written = match rx.recv_timeout(wait) {
                Ok(Frame::Data(data)) => w.send(data.as_bytes()),
                Ok(Frame::Close(last)) => {
                    if let Some(data) = last {
                        let _ = w.send(data.as_bytes());
                    }
                    return;
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() >= keepalive_at => {
                    keepalive_at = Instant::now() + self.keepalive;
                    w.send(b":\n\n")
                }
                Err(RecvTimeoutError::Timeout) => Ok(()),
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if written.is_err() {
                log::debug!("sse[{}]: subscriber went away", self.name);
                return;
            }
        }
    }

    fn unsubscribe(&self, id: u64) {
        self.subs.lock().retain(|s| s.id != id);
    }

    /// Sends `event` to every subscriber of `channel`; returns how many queued it.
    /// A subscriber whose queue is full or whose stream ended is dropped.
    pub fn broadcast(&self, channel: &str, event: &str, data: &Value) -> usize {
        let frame: Arc<str> = sse_frame(event, data).into();
        let mut delivered = 0;
        self.subs.lock().retain(|s| {
            if s.channel != channel {
                return true;
            }
            match s.tx.try_send(Frame::Data(frame.clone())) {
                Ok(()) => {
                    delivered += 1;
                    true
                }
                Err(TrySendError::Full(_)) => {
                    log::warn!(
                        "sse[{}]: dropping a subscriber of {channel} that stopped reading",
                        self.name
                    );
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
        delivered
    }

    /// Ends every stream of `channel`, optionally after a last event (http-ui `close`).
    pub fn close_channel(&self, channel: &str, last: Option<(&str, &Value)>) {
        let last: Option<Arc<str>> = last.map(|(e, d)| sse_frame(e, d).into());
        self.subs.lock().retain(|s| {
            if s.channel != channel {
                return true;
            }
            let _ = s.tx.try_send(Frame::Close(last.clone()));
            false
        });
    }

    pub fn count(&self, channel: &str) -> usize {
        self.subs
            .lock()
            .iter()
            .filter(|s| s.channel == channel)
            .count()
    }

    pub fn total(&self) -> usize {
        self.subs.lock().len()
    }
}

/// The bridge `/events` hub is a fan-out sink of the channel registry.
impl super::FanoutSink for SseHub {
    fn deliver(&self, channel: &str, event: &super::FanoutEvent) -> usize {
        match event {
            super::FanoutEvent::Message(data) => self.broadcast(channel, "message", data),
            super::FanoutEvent::PermissionVerdict(data) => {
                self.broadcast(channel, "permission_verdict", data)
            }
        }
    }
}
