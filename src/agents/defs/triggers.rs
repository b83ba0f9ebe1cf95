//! Vault triggers auto-registered per def-vault at boot (spec 02 §4.6): def-watch on
//! create and on update (→ `/agent/api/vault/agent-def`) and one inbound trigger
//! (→ `/agent/api/vault/inbound`) that routes every agent of the vault by
//! `metadata.agent`.
//!
//! Order per vault: mint `vault:<v>:admin` (60 s) first, then `agent:send`, then POST the
//! three bodies with the admin token. Failures are collected per trigger, never thrown;
//! one vault's failure never blocks the next.
//!
//! [ext] (spec 02 D7) The def-watch webhooks carry `?vault=<v>`, which the reload handler
//! accepts as a fallback for the body's `vault`, so deliveries stay unambiguous with two
//! or more def-vaults (the reference answers them 400 and strands the note's marker).
//! [ext] (spec 02 D8) Vaults added through `POST /api/agent-vaults` get triggers too.

use serde_json::{json, Value};

use crate::hub::mint::{MintClient, MintRequest};

use crate::agents::definition::DEFINITION_TAG;
use crate::agents::vaults::DefVaultBinding;

/// The three trigger bodies for vault `vault`, hub origin `hub`, webhook bearer `bearer`.
pub fn trigger_bodies(vault: &str, hub: &str, bearer: &str) -> Vec<Value> {
    let hub = hub.trim_end_matches('/');
    let def_hook = format!(
        "{hub}/agent/api/vault/agent-def?vault={}",
        form_urlencoded::byte_serialize(vault.as_bytes()).collect::<String>()
    );
    let action =
        |webhook: &str| json!({"webhook": webhook, "send": "json", "auth": {"bearer": bearer}});
    vec![
        json!({
            "name": format!("conn_agentdefs-create-{vault}"),
            "events": ["created"],
            "when": {"tags": [DEFINITION_TAG]},
            "action": action(&def_hook),
        }),
        json!({
            "name": format!("conn_agentdefs-edit-{vault}"),
            "events": ["updated"],
            "when": {"tags": [DEFINITION_TAG]},
            "action": action(&def_hook),
        }),
        json!({
            "name": format!("conn_agentinbound-{vault}"),
            "events": ["created"],
            "when": {
                "tags": ["agent/message/inbound"],
                "has_metadata": ["agent"],
                "missing_metadata": ["channel_inbound_rendered_at"],
            },
            "action": action(&format!("{hub}/agent/api/vault/inbound")),
        }),
    ]
}

/// Posts one trigger body with the admin token: `Err("HTTP <status> <body>")` or the
/// transport error text.
pub type PostTrigger<'a> = dyn Fn(&DefVaultBinding, &str, &Value) -> Result<(), String> + 'a;

/// What registering one vault's triggers did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerOutcome {
    pub registered: usize,
    pub failures: Vec<String>,
    /// The `agent:send` bearer the registered triggers carry (secret).
    pub bearer: Option<String>,
}

/// Register the triggers of one vault and log the per-vault summary of spec 02 §4.6.
pub fn register_for(
    binding: &DefVaultBinding,
    mint: &MintClient,
    post: &PostTrigger<'_>,
) -> TriggerOutcome {
    let v = &binding.vault;
    let admin = match mint.mint(&MintRequest::scope(format!("vault:{v}:admin")).expires_in(60)) {
        Ok(t) => t,
        Err(e) => return summarize(v, 0, vec![format!("mint vault:{v}:admin: {e}")], None),
    };
    let bearer = match mint.mint(&MintRequest::scope("agent:send")) {
        Ok(t) => t,
        Err(e) => return summarize(v, 0, vec![format!("mint agent:send: {e}")], None),
    };
    let mut ok = 0;
    let mut failures = Vec::new();
    for body in trigger_bodies(v, mint.origin(), &bearer) {
        let name = body["name"].as_str().unwrap_or_default().to_string();
        match post(binding, &admin, &body) {
            Ok(()) => ok += 1,
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    summarize(v, ok, failures, Some(bearer))
}

fn summarize(
    vault: &str,
    ok: usize,
    failures: Vec<String>,
    bearer: Option<String>,
) -> TriggerOutcome {
    if failures.is_empty() {
        log::info!(
            "parachute-agent: def-vault \"{vault}\" — auto-registered {ok} trigger(s) \
             (def-watch create/edit + inbound, bare-keyed)."
        );
    } else {
        log::warn!(
            "parachute-agent: def-vault \"{vault}\" — registered {ok}, {} failed (continuing; \
             the poll is the correctness floor): {}",
            failures.len(),
            failures.join("; ")
        );
    }
    TriggerOutcome {
        registered: ok,
        failures,
        bearer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_the_spec() {
        let b = trigger_bodies("my vault", "https://hub.example/", "jwt");
        assert_eq!(b.len(), 3);
        assert_eq!(b[0]["name"], "conn_agentdefs-create-my vault");
        assert_eq!(b[0]["events"], json!(["created"]));
        assert_eq!(b[0]["when"], json!({"tags": ["agent/definition"]}));
        assert_eq!(
            b[0]["action"],
            json!({"webhook": "https://hub.example/agent/api/vault/agent-def?vault=my+vault",
                   "send": "json", "auth": {"bearer": "jwt"}})
        );
        assert_eq!(b[1]["name"], "conn_agentdefs-edit-my vault");
        assert_eq!(b[1]["events"], json!(["updated"]));
        assert_eq!(b[2]["name"], "conn_agentinbound-my vault");
        assert_eq!(
            b[2]["when"],
            json!({"tags": ["agent/message/inbound"], "has_metadata": ["agent"],
                   "missing_metadata": ["channel_inbound_rendered_at"]})
        );
        assert_eq!(
            b[2]["action"]["webhook"],
            "https://hub.example/agent/api/vault/inbound"
        );
        let text = serde_json::to_string(&b).unwrap();
        assert!(!text.contains('#'), "tags are bare");
    }

    #[test]
    fn mint_refusal_posts_nothing() {
        let binding = DefVaultBinding {
            vault: "v".into(),
            vault_url: None,
            token: "t".into(),
        };
        let mint = MintClient::new("http://127.0.0.1:9", "op");
        let posted = std::cell::Cell::new(0);
        let post = |_: &DefVaultBinding, _: &str, _: &Value| {
            posted.set(posted.get() + 1);
            Ok(())
        };
        let out = register_for(&binding, &mint, &post);
        assert_eq!((out.registered, posted.get()), (0, 0));
        assert!(out.failures[0].starts_with("mint vault:v:admin: mint request failed to reach hub"));
        assert_eq!(out.bearer, None);
    }
}
