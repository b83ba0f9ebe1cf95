//! Def-vault administration (spec 02 §4.7, spec 01 §2.5.4): adding a vault mints its
//! `vault:<v>:write` token at the hub, persists `agent-vaults.json`, binds it, registers
//! its triggers ([ext] D8 — the reference registers none for vaults added later) and
//! loads its definitions; removing one rewrites the file first, then tears its agents down.

use super::def_boot::{self, DefVaults};
use super::registry::DefRegistry;
use super::vaults::{self, DefVaultBinding};
use crate::http::ApiError;
use crate::mint::{read_operator_token, MintClient, MintRequest};

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
    def_boot::register_triggers(dv, &bearer, std::slice::from_ref(&binding));
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
