//! Def-vault boot resolution and the poll (spec 02 §4.2, §4.4, §4.6).
//!
//! Runs on a background thread after the HTTP server listens: read the operator bearer,
//! resolve bindings (`agent-vaults.json`, else mint `vault:default:write` and write the
//! file), bind them, register the vault triggers when a bearer exists, load every
//! definition once, then re-load every `PARACHUTE_AGENT_DEF_POLL_MS`.
//!
//! [ext] (spec 02 D8) The poll always runs (a no-op with no vaults), so vaults added later
//! through the API are polled too. Ticks never overlap: the loop is one thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::backoff::{jitter_unit, Backoff, BackoffPolicy};

use crate::auth::hub::HubOrigin;
use crate::grants::GrantsClient;
use crate::mint::{read_operator_token, MintClient, MintRequest};
use crate::vault::{VaultClient, VaultError};

use super::def_triggers;
use super::registry::DefRegistry;
use super::token_life::{lifetime, unix_now};
use super::vaults::{self, DefVaultBinding, DEFAULT_VAULT_URL};

/// What def-vault boot, the poll and the def-vault administration use of the daemon.
#[derive(Clone)]
pub struct DefVaults {
    pub registry: Arc<DefRegistry>,
    /// Where `agent-vaults.json` lives.
    pub state_dir: PathBuf,
    /// Where the operator token is read from (on every use: the hub may provision it later).
    pub parachute_home: PathBuf,
    pub hub: HubOrigin,
    /// `Config::def_poll_interval`.
    pub poll_interval: Duration,
    /// `Config::poll_backoff`: per def-vault while its poll keeps failing.
    pub poll_backoff: BackoffPolicy,
}

/// Spawn the boot + poll thread.
pub fn start(dv: DefVaults) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("agent-defs".into())
        .spawn(move || {
            boot(&dv);
            let interval = dv.poll_interval;
            let mut backoffs = HashMap::new();
            loop {
                std::thread::sleep(interval);
                refresh_tokens(&dv);
                poll(&dv, &mut backoffs);
            }
        })
        .expect("spawn agent-defs thread")
}

/// One poll pass: every def-vault whose back-off allows it; one log line when a vault's
/// poll starts failing and one when it works again (spec 06 §6, applied to the def poll).
fn poll(dv: &DefVaults, backoffs: &mut HashMap<String, Backoff>) {
    let vaults: Vec<String> = dv
        .registry
        .bindings()
        .into_iter()
        .map(|b| b.vault)
        .collect();
    backoffs.retain(|v, _| vaults.contains(v));
    for vault in vaults {
        let b = backoffs
            .entry(vault.clone())
            .or_insert_with(|| Backoff::new(dv.poll_backoff));
        if !b.ready(Instant::now()) {
            continue;
        }
        match dv.registry.try_load_vault(&vault) {
            Ok(_) => {
                if let Some(n) = b.succeeded() {
                    log::info!("agent-defs: def-vault \"{vault}\" answers again (after {n} failed poll(s))");
                }
            }
            Err(e) => {
                let f = b.failed(Instant::now(), jitter_unit());
                if f.first {
                    log::warn!(
                        "agent-defs: polling def-vault \"{vault}\" failed ({e}); backing off (next poll in {} ms, growing while it fails)",
                        f.delay.as_millis()
                    );
                } else {
                    log::debug!("agent-defs: def-vault \"{vault}\" still failing: {e}");
                }
            }
        }
    }
}

/// Resolve, bind, register triggers, load once.
pub fn boot(dv: &DefVaults) {
    let bearer = read_operator_token(&dv.parachute_home);
    let reg = &dv.registry;
    if let Some(b) = &bearer {
        reg.set_grants(Arc::new(GrantsClient::new(&dv.hub.resolve(), b)));
    }
    for b in resolve_bindings(dv, bearer.as_deref()) {
        if let Err(e) = reg.bind(b) {
            log::warn!("agent-defs: skipping a def-vault binding: {e}");
        }
    }
    let bound = reg.bindings();
    if bound.is_empty() {
        return;
    }
    if let Some(bearer) = &bearer {
        register_triggers(dv, bearer, &bound);
    }
    let n = reg.load_all();
    log::info!(
        "parachute-agent: vault-native agent defs — {n} instantiated from {} def-vault(s).",
        bound.len()
    );
}

fn resolve_bindings(dv: &DefVaults, bearer: Option<&str>) -> Vec<DefVaultBinding> {
    let path = vaults::file_path(&dv.state_dir);
    match vaults::load(&path) {
        Ok(Some(b)) => return b,
        Ok(None) => {}
        Err(e) => {
            log::error!("vault-native agent-def boot failed (continuing): {e}");
            return Vec::new();
        }
    }
    let Some(bearer) = bearer else {
        log::warn!(
            "agent-defs: no operator token — skipping the default def-vault (the vault-native \
             agent path is idle until the hub is provisioned; channels.json is unaffected)."
        );
        return Vec::new();
    };
    let mint = MintClient::new(&dv.hub.resolve(), bearer);
    let token = match mint.mint(&MintRequest::scope("vault:default:write")) {
        Ok(t) => t,
        Err(e) => {
            log::error!("agent-defs: minting the default def-vault token failed (continuing): {e}");
            return Vec::new();
        }
    };
    let binding = DefVaultBinding {
        vault: "default".into(),
        vault_url: Some(DEFAULT_VAULT_URL.into()),
        token,
    };
    if let Err(e) = vaults::save(&path, std::slice::from_ref(&binding)) {
        log::warn!(
            "agent-defs: could not write {} ({e}); using the binding anyway",
            path.display()
        );
    }
    vec![binding]
}

/// Register the three triggers of every binding, one vault after the other.
pub fn register_triggers(dv: &DefVaults, bearer: &str, bindings: &[DefVaultBinding]) {
    let mint = MintClient::new(&dv.hub.resolve(), bearer);
    let post = |b: &DefVaultBinding, admin: &str, body: &serde_json::Value| {
        // any 2xx counts as registered, whatever its body
        match VaultClient::new(b.vault_url.as_deref(), &b.vault, admin).create_trigger(body) {
            Ok(_) | Err(VaultError::BadJson(_)) => Ok(()),
            Err(e) => Err(match e.status() {
                Some(code) => format!("HTTP {code} {}", e.message()).trim().to_string(),
                None => e.message().to_string(),
            }),
        }
    };
    for b in bindings {
        let out = def_triggers::register_for(b, &mint, &post);
        let life = out
            .bearer
            .filter(|_| out.registered > 0)
            .and_then(|t| lifetime(&t));
        dv.registry.note_trigger_bearer(&b.vault, life);
    }
}

/// [ext] D5: re-mint def-vault tokens and re-register triggers whose bearer is in the last
/// quarter of its lifetime; persist refreshed tokens to `agent-vaults.json`.
fn refresh_tokens(dv: &DefVaults) {
    let Some(bearer) = read_operator_token(&dv.parachute_home) else {
        return;
    };
    let reg = &dv.registry;
    let now = unix_now();
    let mint = MintClient::new(&dv.hub.resolve(), &bearer);
    let mut refreshed = Vec::new();
    for b in reg.bindings() {
        if lifetime(&b.token).is_some_and(|l| l.needs_refresh(now)) {
            match mint.mint(&MintRequest::scope(format!("vault:{}:write", b.vault))) {
                Ok(token) => {
                    let nb = DefVaultBinding { token, ..b.clone() };
                    match reg.rebind(nb.clone()) {
                        Ok(()) => {
                            log::info!(
                                "agent-defs: refreshed the token of def-vault \"{}\"",
                                b.vault
                            );
                            refreshed.push(nb);
                        }
                        Err(e) => log::warn!("agent-defs: {e}"),
                    }
                }
                Err(e) => log::warn!(
                    "agent-defs: refreshing the token of def-vault \"{}\" failed (continuing): {e}",
                    b.vault
                ),
            }
        }
        if reg.trigger_bearer_expiring(&b.vault, now) {
            let current = reg.binding(&b.vault).unwrap_or(b);
            register_triggers(dv, &bearer, std::slice::from_ref(&current));
        }
    }
    if !refreshed.is_empty() {
        persist_refreshed(dv, &refreshed);
    }
}

/// Rewrite `agent-vaults.json` with the refreshed tokens (other entries untouched).
fn persist_refreshed(dv: &DefVaults, refreshed: &[DefVaultBinding]) {
    let path = vaults::file_path(&dv.state_dir);
    let mut all = match vaults::load(&path) {
        Ok(Some(b)) => b,
        Ok(None) => dv.registry.bindings(),
        Err(e) => {
            log::warn!("agent-defs: not persisting refreshed tokens: {e}");
            return;
        }
    };
    for entry in all.iter_mut() {
        if let Some(r) = refreshed.iter().find(|r| r.vault == entry.vault) {
            entry.token = r.token.clone();
        }
    }
    if let Err(e) = vaults::save(&path, &all) {
        log::warn!(
            "agent-defs: could not persist refreshed tokens to {} ({e})",
            path.display()
        );
    }
}
