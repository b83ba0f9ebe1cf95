//! The `config` of a `vault` channel in `channels.json` (spec 02 §4.8, spec 05 §5.2):
//! `vault` and `token` required ("truthy"), `vaultUrl` (default loopback, one trailing `/`
//! stripped), `webhookSecret` (optional; enables the deprecated `?secret=` webhook path),
//! `notePathPrefix` (default `channel`), `declareSchemaOnStart` (default true).

use serde_json::Value;

use crate::vault::client::VaultClient;
use crate::vault::notes::DEFAULT_NOTE_PATH_PREFIX;

#[derive(Clone, PartialEq, Eq)]
pub struct VaultChannelConfig {
    pub vault: String,
    pub vault_url: Option<String>,
    pub token: String,
    pub webhook_secret: Option<String>,
    pub note_path_prefix: String,
    pub declare_schema_on_start: bool,
}

impl std::fmt::Debug for VaultChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultChannelConfig")
            .field("vault", &self.vault)
            .field("vault_url", &self.vault_url)
            .field("note_path_prefix", &self.note_path_prefix)
            .finish_non_exhaustive()
    }
}

/// JavaScript truthiness of a config value.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    }
}

fn string_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl VaultChannelConfig {
    /// Validate a channel entry's `config` (absent = `{}`). Errors are the reference's texts.
    pub fn from_json(config: Option<&Value>) -> Result<Self, String> {
        let empty = Value::Object(Default::default());
        let c = config.unwrap_or(&empty);
        if !truthy(c.get("vault")) {
            return Err("VaultTransport: config.vault (vault name) is required".into());
        }
        if !truthy(c.get("token")) {
            return Err("VaultTransport: config.token (vault:<name>:write JWT) is required".into());
        }
        let vault = string_of(c.get("vault"))
            .ok_or("VaultTransport: config.vault (vault name) is required")?;
        let token = string_of(c.get("token"))
            .ok_or("VaultTransport: config.token (vault:<name>:write JWT) is required")?;
        let prefix = c
            .get("notePathPrefix")
            .and_then(Value::as_str)
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
            .unwrap_or(DEFAULT_NOTE_PATH_PREFIX)
            .to_string();
        Ok(VaultChannelConfig {
            vault,
            vault_url: string_of(c.get("vaultUrl")),
            token,
            webhook_secret: string_of(c.get("webhookSecret")),
            note_path_prefix: prefix,
            declare_schema_on_start: c.get("declareSchemaOnStart") != Some(&Value::Bool(false)),
        })
    }

    /// The client for this channel's vault and token.
    pub fn client(&self) -> VaultClient {
        VaultClient::new(self.vault_url.as_deref(), &self.vault, &self.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_texts() {
        assert_eq!(
            VaultChannelConfig::from_json(None).unwrap_err(),
            "VaultTransport: config.vault (vault name) is required"
        );
        assert_eq!(
            VaultChannelConfig::from_json(Some(&json!({"vault": "default", "token": ""})))
                .unwrap_err(),
            "VaultTransport: config.token (vault:<name>:write JWT) is required"
        );
    }

    #[test]
    fn defaults_and_fields() {
        let c = VaultChannelConfig::from_json(Some(&json!({
            "vault": "default", "token": "t", "vaultUrl": "http://v:1940/", "webhookSecret": "s",
            "notePathPrefix": "msgs/", "declareSchemaOnStart": false
        })))
        .unwrap();
        assert_eq!(c.note_path_prefix, "msgs");
        assert!(!c.declare_schema_on_start);
        assert_eq!(c.webhook_secret.as_deref(), Some("s"));
        assert_eq!(c.client().base_url(), "http://v:1940");
        assert!(!format!("{c:?}").contains("\"t\""));
        let d = VaultChannelConfig::from_json(Some(&json!({"vault": "v", "token": "t"}))).unwrap();
        assert_eq!(d.note_path_prefix, "channel");
        assert!(d.declare_schema_on_start);
        assert_eq!(d.webhook_secret, None);
        assert_eq!(d.client().base_url(), "http://127.0.0.1:1940");
    }
}
