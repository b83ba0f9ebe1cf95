//! The agent spec (spec 03 §1): the one shape every agent takes, however it was defined
//! (definition note or `POST /api/agents`). Field names are those persisted in
//! `sessions/<name>/spec.json`.

use serde::{Deserialize, Serialize};

/// One entry of `channels`: a bare name or `{name, access?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChannelRef {
    Name(String),
    Full {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access: Option<String>,
    },
}

impl ChannelRef {
    pub fn name(&self) -> &str {
        match self {
            ChannelRef::Name(n) => n,
            ChannelRef::Full { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Programmatic,
    Attached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadMode {
    #[default]
    SingleThreaded,
    MultiThreaded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SystemPromptMode {
    #[default]
    Append,
    Replace,
}

/// Read scope of the sandbox (spec 04 §1.3). Writes are confined in both modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FilesystemMode {
    #[default]
    Workspace,
    Full,
}

/// Egress scope of the sandbox (spec 04 §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    #[default]
    Open,
    Restricted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountMode {
    Ro,
    Rw,
}

/// A host directory bound into the sandbox at its own path (`mountPath` has no effect).
/// `shared` is an informational non-empty string (spec 03 §2.3/§3, spec 04 §1.2): the
/// reference persists it as a string, so `spec.json` files it wrote must load here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    pub host_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    pub mode: MountMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
}

/// The agent's own vault: `{name, access, tags?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaultAccess {
    pub name: String,
    pub access: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// The agent spec of spec 03 §1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpec {
    pub name: String,
    pub channels: Vec<ChannelRef>,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub mode: ThreadMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt_mode: Option<SystemPromptMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    /// Per-agent limits (beyond the reference), persisted under their own names.
    #[serde(flatten)]
    pub limits: AgentLimits,
}

/// Per-agent turn limits (beyond the reference). Each applies only when set:
/// `max_turns` → `claude --max-turns`, `max_budget_usd` → `claude --max-budget-usd`,
/// `turn_timeout_secs` replaces the daemon's wall-clock limit for this agent's turns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct AgentLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget_usd: Option<f64>,
}

/// Bounds of the limits, shared by the definition parser and the API validator.
pub const MAX_TURNS_RANGE: std::ops::RangeInclusive<u64> = 1..=1000;
pub const TURN_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
pub const MAX_BUDGET_USD: f64 = 10_000.0;

impl AgentLimits {
    /// Reads the three limits from `get` (a metadata or body lookup); `prefix` names the
    /// field in the error (`""` for metadata, `"body."` for the API).
    pub fn parse(
        get: &dyn Fn(&str) -> Option<serde_json::Value>,
        prefix: &str,
    ) -> Result<AgentLimits, String> {
        let whole =
            |key: &str, range: std::ops::RangeInclusive<u64>| -> Result<Option<u64>, String> {
                let Some(v) = get(key).filter(|v| !v.is_null()) else {
                    return Ok(None);
                };
                let n = match &v {
                    serde_json::Value::Number(n) => n.as_u64(),
                    serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if range.contains(&n) => Ok(Some(n)),
                    _ => Err(format!(
                        "{prefix}{key} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    )),
                }
            };
        let max_turns = whole("max_turns", MAX_TURNS_RANGE)?.map(|n| n as u32);
        let turn_timeout_secs = whole("turn_timeout_secs", TURN_TIMEOUT_RANGE)?;
        let max_budget_usd = match get("max_budget_usd").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => {
                let x = match &v {
                    serde_json::Value::Number(n) => n.as_f64(),
                    serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                match x {
                    Some(x) if x.is_finite() && x > 0.0 && x <= MAX_BUDGET_USD => Some(x),
                    _ => {
                        return Err(format!(
                            "{prefix}max_budget_usd must be a number above 0 and at most {MAX_BUDGET_USD}"
                        ))
                    }
                }
            }
        };
        Ok(AgentLimits {
            max_turns,
            turn_timeout_secs,
            max_budget_usd,
        })
    }
}

impl AgentSpec {
    /// The wake channel: `channels[0]` normalised to its name.
    pub fn wake_channel(&self) -> &str {
        self.channels.first().map(ChannelRef::name).unwrap_or("")
    }
    pub fn filesystem(&self) -> FilesystemMode {
        self.filesystem.unwrap_or_default()
    }
    pub fn network(&self) -> NetworkMode {
        self.network.unwrap_or_default()
    }
}

/// `^[A-Za-z0-9_-]+$`, the slug rule used for agent, vault and job names.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_with_defaults() {
        let s: AgentSpec = serde_json::from_str(
            r#"{"name":"eng","channels":["eng",{"name":"x","access":"read"}],"filesystem":"full",
                "mounts":[{"hostPath":"/srv","mountPath":"/srv","mode":"ro"}]}"#,
        )
        .unwrap();
        assert_eq!(s.wake_channel(), "eng");
        assert_eq!(s.backend, Backend::Programmatic);
        assert_eq!(s.mode, ThreadMode::SingleThreaded);
        assert_eq!(s.filesystem(), FilesystemMode::Full);
        assert_eq!(s.network(), NetworkMode::Open);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["mounts"][0]["hostPath"], "/srv");
        assert!(is_slug("a-b_C9") && !is_slug("a b") && !is_slug(""));
    }
}
