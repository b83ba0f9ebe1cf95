//! The programmatic backend as the daemon sees it: the registry plus its persistence
//! (`spec.json`), the registration rules of spec 03 §3 / §2.7 step 4 (credential resolved
//! before anything is written), the routing-fork hook ([`InboundRoute`]), the definition
//! registry's sink ([`AgentSink`]), the boot re-registration and shutdown.

use std::path::PathBuf;
use std::sync::Arc;

use super::persist;
use super::registry::ProgrammaticRegistry;
use super::worker::{self, QueuedMessage};
use crate::agents::sink::AgentSink;
use crate::agents::spec::{is_slug, AgentSpec, Backend};
use crate::channels::{InboundMessage, InboundRoute, Refusal};
use crate::sandbox::exposure::ProtectedPaths;

pub struct ProgrammaticService {
    pub registry: Arc<ProgrammaticRegistry>,
    pub sessions_dir: PathBuf,
    /// What no agent may bind (state dir, `$PARACHUTE_HOME`, the daemon's home).
    pub protected: ProtectedPaths,
}

impl ProgrammaticService {
    pub fn new(
        registry: Arc<ProgrammaticRegistry>,
        sessions_dir: PathBuf,
        protected: ProtectedPaths,
    ) -> Arc<Self> {
        Arc::new(ProgrammaticService {
            registry,
            sessions_dir,
            protected,
        })
    }

    /// The protected-path rule for `spec` (its private dir is `sessions/<name>`).
    pub fn check_binds(&self, spec: &AgentSpec) -> Result<(), String> {
        let w = super::turn::workspace::private_dir(&self.sessions_dir, &spec.name);
        self.protected.check(spec, &w)
    }

    /// Spec 03 §3 "setup": slug and channel re-checks, resolve the Claude credential for
    /// the wake channel (nothing is written or registered without one), write
    /// `spec.json`, register. Returns whether a `spec.json` existed before.
    pub fn setup(&self, spec: &AgentSpec) -> Result<bool, String> {
        if !is_slug(&spec.name) {
            return Err(format!(
                "agent name \"{}\" must be a slug (alphanumeric, dash, underscore only)",
                spec.name
            ));
        }
        if spec.wake_channel().is_empty() {
            return Err(format!(
                "spec \"{}\" declares no channels (the first is the wake channel)",
                spec.name
            ));
        }
        self.check_binds(spec)?;
        self.registry.ctx().host.claude_token(spec.wake_channel())?;
        let existed = persist::spec_exists(&self.sessions_dir, &spec.name);
        persist::write_spec(&self.sessions_dir, spec)
            .map_err(|e| format!("failed to write spec.json: {e}"))?;
        self.registry.register(spec.clone());
        Ok(existed)
    }

    /// `DELETE /api/agents/<name>`: deregister and forget the persisted spec, so the agent
    /// does not come back at the next boot. True if it was registered.
    /// The spec goes first: if it cannot be removed the agent stays registered and the
    /// caller reports the error (it would otherwise come back at the next boot).
    pub fn delete(&self, name: &str) -> Result<bool, String> {
        if self.registry.get(name).is_none() {
            return Ok(false);
        }
        persist::remove_spec(&self.sessions_dir, name)
            .map_err(|e| format!("failed to remove spec.json of agent \"{name}\": {e}"))?;
        Ok(self.registry.deregister(name))
    }

    /// `POST /api/agents/<name>/restart`: forget the conversation (local record and the
    /// single-threaded thread note's `session`). `None` if no such agent.
    pub fn restart(&self, name: &str) -> Option<()> {
        let spec = self.registry.get(name)?;
        let w = super::turn::workspace::private_dir(&self.sessions_dir, name);
        worker::clear_local_session(&w);
        let channel = spec.wake_channel();
        if let Some(store) = self.registry.ctx().host.notes(channel) {
            let path = super::turn::notes::thread_path(channel, name, spec.mode, "");
            let body = serde_json::json!({"metadata": {"session": ""}, "force": true});
            if let Err(e) = store.upsert_note(&path, &body) {
                if e.status != Some(404) {
                    log::warn!("agent {name}: clearing the session failed: {e}");
                }
            }
        }
        Some(())
    }

    /// Boot: re-register every persisted programmatic spec whose wake channel is live.
    pub fn reregister_at_boot(&self, is_live: &dyn Fn(&str) -> bool) -> usize {
        self.register_persisted(&|_| true, is_live)
    }

    /// [ext] Reload: register the persisted specs whose wake channel is one of `channels`
    /// (they just came up).
    pub fn register_persisted_on(&self, channels: &std::collections::HashSet<&str>) -> usize {
        self.register_persisted(&|ch| channels.contains(ch), &|_| true)
    }

    fn register_persisted(
        &self,
        wanted: &dyn Fn(&str) -> bool,
        is_live: &dyn Fn(&str) -> bool,
    ) -> usize {
        let mut n = 0;
        for spec in persist::scan(&self.sessions_dir) {
            if !wanted(spec.wake_channel()) {
                continue;
            }
            if !is_live(spec.wake_channel()) {
                log::info!(
                    "agent {}: wake channel \"{}\" is not live; not re-registered",
                    spec.name,
                    spec.wake_channel()
                );
                continue;
            }
            if let Err(e) = self.check_binds(&spec) {
                log::warn!(
                    "agent {}: spec.json refused, not re-registered: {e}",
                    spec.name
                );
                continue;
            }
            self.registry.register(spec);
            n += 1;
        }
        n
    }

    /// `/health.programmatic_agents` rows.
    pub fn health_rows(&self) -> Vec<serde_json::Value> {
        self.registry
            .list()
            .into_iter()
            .map(|a| {
                serde_json::json!({
                    "name": a.spec.name,
                    "channel": a.spec.wake_channel(),
                    "backend": "programmatic",
                    "status": a.status,
                })
            })
            .collect()
    }

    pub fn shutdown(&self) {
        self.registry.shutdown();
    }
}

impl InboundRoute for ProgrammaticService {
    fn take(&self, channel: &str, msg: &InboundMessage) -> bool {
        // A refusal still owns the message: it must not fall through to fan-out.
        self.offer(channel, msg).unwrap_or(true)
    }

    /// Journals the message before it counts as taken.
    fn offer(&self, channel: &str, msg: &InboundMessage) -> Result<bool, Refusal> {
        let queued = QueuedMessage::from_inbound(msg);
        self.registry.offer(channel, queued, msg.key.as_deref())
    }
}

impl AgentSink for ProgrammaticService {
    fn backend(&self) -> Backend {
        Backend::Programmatic
    }

    fn expect_channel(&self, channel: &str) {
        self.registry.expect(channel);
    }

    fn upsert(&self, spec: &AgentSpec) -> Result<(), String> {
        self.setup(spec).map(|_| ())
    }

    fn remove(&self, name: &str, channel: &str) {
        self.registry.deregister(name);
        self.registry.unexpect(channel);
    }
}
