//! The attached backend (spec 03 §6): an operator's own Claude Code session pulls a channel's
//! inbound notes over MCP instead of the daemon running `claude`. Owns the registry of
//! attached agents (channel → agent, its system prompt and its durable store), the pull-tool
//! implementation the MCP endpoint calls, and the claim-TTL sweeper thread.
//!
//! Knobs: `Config::attached` (sweep interval, first sweep after one interval; [ext] claim
//! lifetime, which tests shorten).

pub mod queue;
pub mod sink;
pub mod vault_store;

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::RwLock;
use serde_json::{json, Value};

pub use queue::{QueueItem, QueueStore, Status, StoreError};

/// One registered attached agent.
pub struct AttachedAgent {
    pub name: String,
    pub channel: String,
    pub system_prompt: String,
    pub store: Arc<dyn QueueStore>,
}

/// Attached agents by wake channel (one agent per channel).
#[derive(Default)]
pub struct AttachedRegistry {
    by_channel: RwLock<HashMap<String, Arc<AttachedAgent>>>,
}

fn unregistered(channel: &str) -> String {
    format!("attached-queue registry: no attached-backend agent for \"{channel}\"")
}

impl AttachedRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register (or replace) agent `name` on `channel`. A registration of the same name on
    /// another channel is dropped. Takes effect for the next inbound and the next MCP session.
    pub fn register(
        &self,
        name: &str,
        channel: &str,
        system_prompt: &str,
        store: Arc<dyn QueueStore>,
    ) {
        let mut map = self.by_channel.write();
        map.retain(|ch, a| a.name != name || ch == channel);
        map.insert(
            channel.to_string(),
            Arc::new(AttachedAgent {
                name: name.to_string(),
                channel: channel.to_string(),
                system_prompt: system_prompt.to_string(),
                store,
            }),
        );
        log::info!("attached agent {name:?} registered on channel {channel:?}");
    }

    /// Drop agent `name` (its notes stay in the vault); true if it was registered.
    pub fn deregister(&self, name: &str) -> bool {
        let mut map = self.by_channel.write();
        let before = map.len();
        map.retain(|_, a| a.name != name);
        before != map.len()
    }

    /// Whether an attached agent owns `channel` now (routing fork step 1, surface choice).
    pub fn is_attached(&self, channel: &str) -> bool {
        self.by_channel.read().contains_key(channel)
    }

    pub fn get(&self, channel: &str) -> Option<Arc<AttachedAgent>> {
        self.by_channel.read().get(channel).cloned()
    }

    /// `(name, channel)` of every attached agent, sorted by channel.
    pub fn list(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self
            .by_channel
            .read()
            .values()
            .map(|a| (a.name.clone(), a.channel.clone()))
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }

    /// One sweep over every attached channel; returns how many claims were released.
    pub fn sweep_all(&self, now_ms: u64, ttl_ms: u64) -> usize {
        let agents: Vec<Arc<AttachedAgent>> = self.by_channel.read().values().cloned().collect();
        agents
            .iter()
            .map(
                |a| match queue::sweep(&*a.store, &a.channel, now_ms, ttl_ms) {
                    Ok(n) => {
                        if n > 0 {
                            log::info!(
                                "attached sweep: released {n} stale claim(s) on {:?}",
                                a.channel
                            );
                        }
                        n
                    }
                    Err(e) => {
                        log::warn!("attached sweep of channel {:?} failed: {e}", a.channel);
                        0
                    }
                },
            )
            .sum()
    }

    /// The sweeper thread: every `interval` (first run after one interval) until `stop`
    /// yields or its sender is dropped.
    pub fn spawn_sweeper(
        self: &Arc<Self>,
        interval: Duration,
        ttl_ms: u64,
        stop: Receiver<()>,
    ) -> std::io::Result<JoinHandle<()>> {
        let reg = Arc::clone(self);
        std::thread::Builder::new()
            .name("attached-sweep".into())
            .spawn(move || loop {
                match stop.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {
                        reg.sweep_all(crate::util::time::now_ms(), ttl_ms);
                    }
                    _ => return,
                }
            })
    }
}

/// Routing fork step 1 (spec 05 §0.3): an attached agent owns the channel → the inbound
/// note itself is the queue item; nothing is fanned out, no delivery mark.
impl crate::channels::InboundRoute for AttachedRegistry {
    fn take(&self, channel: &str, _msg: &crate::channels::InboundMessage) -> bool {
        self.is_attached(channel)
    }
}

impl crate::mcp::tools::PullQueue for AttachedRegistry {
    fn is_attached(&self, channel: &str) -> bool {
        AttachedRegistry::is_attached(self, channel)
    }

    fn pending(&self, channel: &str) -> Result<Value, String> {
        match self.get(channel) {
            Some(a) => queue::pending(&*a.store, channel),
            None => Ok(json!({"count": 0, "items": []})),
        }
    }

    fn next_message(&self, channel: &str) -> Result<Option<Value>, String> {
        let a = self.get(channel).ok_or_else(|| unregistered(channel))?;
        queue::claim_next(
            &*a.store,
            channel,
            &a.system_prompt,
            &crate::util::time::now_iso,
        )
    }

    fn reply(
        &self,
        channel: &str,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> Result<Vec<String>, String> {
        let a = self.get(channel).ok_or_else(|| unregistered(channel))?;
        queue::reply(&*a.store, channel, text, in_reply_to)
    }

    fn release(&self, channel: &str, id: &str) -> Result<(), String> {
        let a = self.get(channel).ok_or_else(|| unregistered(channel))?;
        queue::release(&*a.store, id)
    }
}

#[cfg(test)]
mod tests {
    use super::queue::tests::MemStore;
    use super::*;
    use crate::mcp::tools::PullQueue;

    #[test]
    fn register_replace_deregister() {
        let reg = AttachedRegistry::new();
        let st = Arc::new(MemStore::default());
        assert!(!reg.is_attached("eng"));
        reg.register("eng", "eng", "p1", st.clone());
        assert!(reg.is_attached("eng"));
        reg.register("eng", "eng2", "p2", st.clone());
        assert!(!reg.is_attached("eng") && reg.is_attached("eng2"));
        assert_eq!(reg.list(), vec![("eng".to_string(), "eng2".to_string())]);
        assert!(reg.deregister("eng"));
        assert!(!reg.deregister("eng"));
        assert!(!reg.is_attached("eng2"));
    }

    #[test]
    fn pull_queue_impl_uses_the_agent_prompt() {
        let reg = AttachedRegistry::new();
        let st = Arc::new(MemStore::default());
        st.add("m1", "eng", "hello", "1", json!({}));
        assert_eq!(reg.pending("eng").unwrap(), json!({"count":0,"items":[]}));
        assert!(reg
            .next_message("eng")
            .unwrap_err()
            .contains("no attached-backend agent"));
        reg.register("eng", "eng", "You are Eng.", st.clone());
        assert_eq!(reg.pending("eng").unwrap()["count"], 1);
        let m = reg.next_message("eng").unwrap().unwrap();
        assert_eq!(m["systemPrompt"], "You are Eng.");
        reg.release("eng", "m1").unwrap();
        assert_eq!(st.meta("m1", "status"), "pending");
    }

    #[test]
    fn sweeper_thread_releases_expired_claims() {
        let reg = Arc::new(AttachedRegistry::new());
        let st = Arc::new(MemStore::default());
        st.add("m1", "eng", "hello", "1", json!({}));
        reg.register("eng", "eng", "", st.clone());
        reg.next_message("eng").unwrap().unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let h = reg.spawn_sweeper(Duration::from_millis(20), 0, rx).unwrap();
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(st.meta("m1", "status"), "pending");
        tx.send(()).unwrap();
        h.join().unwrap();
    }
}
