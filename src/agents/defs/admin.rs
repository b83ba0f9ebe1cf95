//! Def-vault administration (spec 02 §4.7, spec 01 §2.5.4): adding a vault mints its
//! `vault:<v>:write` token at the hub, persists `agent-vaults.json`, binds it, registers
//! its triggers ([ext] D8 — the reference registers none for vaults added later) and
//! loads its definitions; removing one rewrites the file first, then tears its agents down.
//! [ext] A SIGHUP applies `agent-vaults.json` as it now is ([`reload_vaults`]): vaults new
//! in the file are bound (triggers, definitions), changed ones rebound with their new URL
//! or token, vaults gone from it unbound; an absent or unreadable file changes nothing.

use super::boot::{self, DefVaults};
use crate::agents::registry::DefRegistry;
use crate::agents::vaults::{self, DefVaultBinding};
use crate::http::ApiError;
use crate::hub::mint::{read_operator_token, MintClient, MintRequest};

/// The bindings to persist: the file's entries when it exists, else the live bindings
/// (which include a boot-minted default token).
fn persisted_base(dv: &DefVaults, reg: &DefRegistry) -> Result<Vec<DefVaultBinding>, String> {
    let path = vaults::file_path(&dv.state_dir);
    match vaults::load(&path) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Ok(reg.bindings()),
        Err(e) => Err(e.to_string()),
    }
}

/// `POST /api/agent-vaults` after body validation.
pub fn add_vault(
    dv: &DefVaults,
    vault: &str,
    url: Option<String>,
) -> Result<DefVaultBinding, ApiError> {
    let reg = &dv.registry;
    let failed = |m: String| ApiError::bad_request(format!("failed to add def-vault: {m}"));
    if reg.binding(vault).is_some() {
        return Err(failed(format!(
            "def-vault \"{vault}\" is already configured"
        )));
    }
    let bearer = read_operator_token(&dv.parachute_home).ok_or_else(|| {
        failed("no operator token (the hub has not provisioned this module)".into())
    })?;
    let mint = MintClient::new(&dv.hub.resolve(), &bearer);
    let token = mint
        .mint(&MintRequest::scope(format!("vault:{vault}:write")))
        .map_err(|e| {
            let status = if (400..=599).contains(&e.status) {
                e.status
            } else {
                502
            };
            ApiError::custom(
                status,
                serde_json::json!({ "error": format!("token mint failed: {e}") }),
            )
        })?;
    let binding = DefVaultBinding {
        vault: vault.to_string(),
        vault_url: url,
        token,
    };
    let mut all = persisted_base(dv, reg).map_err(failed)?;
    all.retain(|b| b.vault != vault);
    all.push(binding.clone());
    if let Err(e) = vaults::save(&vaults::file_path(&dv.state_dir), &all) {
        log::warn!("agent-defs: could not persist agent-vaults.json ({e}); the binding is live for this run only");
    }
    reg.bind(binding.clone()).map_err(failed)?;
    boot::register_triggers(dv, &bearer, std::slice::from_ref(&binding));
    let n = reg.load_vault(vault);
    log::info!("agent-defs: def-vault \"{vault}\" added — {n} definition(s) live");
    Ok(binding)
}

/// `DELETE /api/agent-vaults/<name>`: `Ok(false)` when it was not bound.
pub fn remove_vault(dv: &DefVaults, vault: &str) -> Result<bool, ApiError> {
    let reg = &dv.registry;
    if reg.binding(vault).is_none() {
        return Ok(false);
    }
    if reg.bindings().len() == 1 {
        return Err(ApiError::bad_request(format!(
            "cannot remove \"{vault}\": it is the only def-vault"
        )));
    }
    let mut all = persisted_base(dv, reg).map_err(|e| {
        ApiError::custom(
            500,
            serde_json::json!({ "error": format!("failed to update agent-vaults.json: {e}") }),
        )
    })?;
    all.retain(|b| b.vault != vault);
    vaults::save(&vaults::file_path(&dv.state_dir), &all).map_err(|e| {
        ApiError::custom(
            500,
            serde_json::json!({ "error": format!("failed to update agent-vaults.json: {e}") }),
        )
    })?;
    Ok(reg.unbind(vault))
}

/// What [`reload_vaults`] changed (vault names).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VaultsApplied {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

/// SIGHUP: binds `agent-vaults.json` as it now is. `Ok(None)` when the file is absent.
pub fn reload_vaults(dv: &DefVaults) -> Result<Option<VaultsApplied>, String> {
    let Some(file) = vaults::load(&vaults::file_path(&dv.state_dir)).map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let reg = &dv.registry;
    let current = reg.bindings();
    let bearer = read_operator_token(&dv.parachute_home);
    let mut applied = VaultsApplied::default();
    for b in &file {
        let result = match current.iter().find(|c| c.vault == b.vault) {
            Some(c) if c == b => continue,
            Some(_) => reg.rebind(b.clone()).map(|()| &mut applied.changed),
            None => reg.bind(b.clone()).map(|()| &mut applied.added),
        };
        match result {
            Ok(list) => {
                list.push(b.vault.clone());
                if let Some(bearer) = &bearer {
                    boot::register_triggers(dv, bearer, std::slice::from_ref(b));
                }
                reg.load_vault(&b.vault);
            }
            Err(e) => log::warn!("reload: def-vault \"{}\" not applied: {e}", b.vault),
        }
    }
    for c in current
        .iter()
        .filter(|c| !file.iter().any(|b| b.vault == c.vault))
    {
        if reg.unbind(&c.vault) {
            applied.removed.push(c.vault.clone());
        }
    }
    Ok(Some(applied))
}
