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
