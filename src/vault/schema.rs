//! The tag schema declared on connect (spec 02 §2.7, call #11): seven `PUT B/tags/<tag>`
//! bodies, sent sequentially, best-effort (failures are warnings, never errors).
//!
//! [ext] (spec 02 D6): the reference re-sends the seven PUTs every time a vault channel
//! starts (every minute for def agents). We declare once per vault (`vaultUrl::vault`) per
//! process and only try again after a failure — what upstream later did.

use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::client::VaultClient;
use super::notes::{
    TAG_AGENT, TAG_DEFINITION, TAG_INBOUND, TAG_JOB, TAG_MESSAGE, TAG_OUTBOUND, TAG_THREAD,
};

fn indexed_string() -> Value {
    json!({"type": "string", "indexed": true})
}

/// The seven `(tag, body)` pairs, in the order they are sent.
pub fn tag_schema() -> Vec<(&'static str, Value)> {
    vec![
        (
            TAG_AGENT,
            json!({"description": "The agent module's namespace root — rolls up definitions, messages, and jobs."}),
        ),
        (
            TAG_DEFINITION,
            json!({
                "description": "A vault-native agent definition — body is the system prompt, metadata is the config.",
                "parent_names": [TAG_AGENT],
            }),
        ),
        (
            TAG_MESSAGE,
            json!({
                "description": "A message in a Parachute channel (parent of /inbound + /outbound).",
                "parent_names": [TAG_AGENT],
                "fields": {"agent": indexed_string()},
            }),
        ),
        (
            TAG_INBOUND,
            json!({
                "description": "Human→session message; the vault trigger fires on this.",
                "parent_names": [TAG_MESSAGE],
            }),
        ),
        (
            TAG_OUTBOUND,
            json!({"description": "Session→human reply.", "parent_names": [TAG_MESSAGE]}),
        ),
        (
            TAG_JOB,
            json!({
                "description": "A scheduled job — the runner injects this note's message on its cron schedule.",
                "parent_names": [TAG_AGENT],
                "fields": {
                    "agent": indexed_string(),
                    "enabled": indexed_string(),
                    "lastStatus": indexed_string(),
                },
            }),
        ),
        (
            TAG_THREAD,
            json!({
                "description": "A thread record (definition -> thread -> message) — body is a rolling summary, metadata is the thread state. Written for BOTH modes.",
                "parent_names": [TAG_AGENT],
                "fields": {
                    "agent": indexed_string(),
                    "status": indexed_string(),
                    "definition": indexed_string(),
                    "mode": indexed_string(),
                },
            }),
        ),
    ]
}

/// Send the seven PUTs now; returns the warnings (empty when all succeeded).
pub fn declare(client: &VaultClient) -> Vec<String> {
    let mut warnings = Vec::new();
    for (tag, body) in tag_schema() {
        if let Err(e) = client.put_tag(tag, &body) {
            let w = match e.status() {
                Some(code) => format!(
                    "vault transport: tag-schema upsert for {tag} failed ({code}) {}",
                    e.message()
                ),
                None => format!(
                    "vault transport: tag-schema upsert for {tag} errored: {}",
                    e.message()
                ),
            };
            log::warn!("{}", w.trim());
            warnings.push(w.trim().to_string());
        }
    }
    warnings
}

fn declared() -> &'static Mutex<HashSet<String>> {
    static DECLARED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    DECLARED.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Declare the schema on a background thread unless this vault already has it (or a
/// declaration is in flight). Never blocks the caller.
pub fn declare_once_in_background(client: &VaultClient) {
    let key = client.vault_key();
    if !declared().lock().insert(key.clone()) {
        return;
    }
    let client = client.clone();
    let spawned = std::thread::Builder::new()
        .name("vault-schema".into())
        .spawn(move || {
            if !declare(&client).is_empty() {
                declared().lock().remove(&key);
            }
        });
    if let Err(e) = spawned {
        log::warn!("vault transport: could not start the tag-schema thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn seven_tags_in_order() {
        let s = super::tag_schema();
        let names: Vec<_> = s.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            names,
            [
                "agent",
                "agent/definition",
                "agent/message",
                "agent/message/inbound",
                "agent/message/outbound",
                "agent/job",
                "agent/thread"
            ]
        );
        assert_eq!(s[2].1["fields"]["agent"]["indexed"], true);
        assert_eq!(s[6].1["fields"].as_object().unwrap().len(), 4);
        assert!(s[0].1.get("parent_names").is_none());
    }
}
