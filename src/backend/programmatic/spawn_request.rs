//! Validation of a `POST /api/agents` body into an [`AgentSpec`] (spec 03 §3, spec 04
//! §4.1), in the reference's order; the first failure wins and its message is the 400
//! `error`. The body cannot set `mode`, `model`, `definition`, `otherMcps` or
//! `credentialRef`; the prompt is trimmed and a blank one drops the prompt mode.

use std::path::Path;

use serde_json::{Map, Value};

use crate::agents::spec::{
    AgentLimits, AgentSpec, Backend, ChannelRef, FilesystemMode, Mount, MountMode, NetworkMode,
    SystemPromptMode, ThreadMode, VaultAccess,
};

type R<T> = Result<T, String>;

fn nonempty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Validate `body` (already parsed JSON).
pub fn build_spec(body: &Value) -> R<AgentSpec> {
    let obj = body
        .as_object()
        .ok_or("request body must be a JSON object")?;
    let name = nonempty_str(obj.get("name")).ok_or("body.name (non-empty string) is required")?;
    if !crate::agents::spec::is_slug(name) {
        return Err(format!(
            "body.name \"{name}\" must be a slug (alphanumeric, dash, underscore only)"
        ));
    }
    let channels = channels(obj)?;
    let vault = vault(obj)?;
    let filesystem = match obj.get("filesystem").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(match v.as_str() {
            Some("workspace") => FilesystemMode::Workspace,
            Some("full") => FilesystemMode::Full,
            _ => return Err("body.filesystem must be \"workspace\" or \"full\"".into()),
        }),
    };
    let network = match obj.get("network").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(match v.as_str() {
            Some("open") => NetworkMode::Open,
            Some("restricted") => NetworkMode::Restricted,
            _ => return Err("body.network must be \"open\" or \"restricted\"".into()),
        }),
    };
    let egress = egress(obj)?;
    let mounts = mounts(obj)?;
    let workspace = workspace(obj)?;
    match obj.get("backend").filter(|v| !v.is_null()) {
        None => {}
        Some(v) => match v.as_str() {
            Some("programmatic") => {}
            Some("attached") | Some("channel") => return Err("attached-backend agents are vault-native — define them as an #agent/definition note, not via this endpoint".into()),
            Some("interactive") => return Err("the \"interactive\" backend is retired — use \"programmatic\" (the default) or define an \"attached\" agent as a #agent/definition note".into()),
            _ => return Err("body.backend must be \"programmatic\"".into()),
        },
    }
    let prompt = match obj.get("systemPrompt").filter(|v| !v.is_null()) {
        None => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(_) => return Err("body.systemPrompt must be a string".into()),
    };
    let mode = match obj.get("systemPromptMode").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(match v.as_str() {
            Some("append") => SystemPromptMode::Append,
            Some("replace") => SystemPromptMode::Replace,
            _ => return Err("body.systemPromptMode must be \"append\" or \"replace\"".into()),
        }),
    };
    let system_prompt_mode = prompt.as_ref().map(|_| mode.unwrap_or_default());
    let limits = AgentLimits::parse(&|k| obj.get(k).cloned(), "body.")?;
    Ok(AgentSpec {
        name: name.to_string(),
        channels,
        backend: Backend::Programmatic,
        mode: ThreadMode::SingleThreaded,
        definition: None,
        vault,
        system_prompt: prompt,
        system_prompt_mode,
        model: None,
        workspace,
        filesystem,
        network,
        egress,
        mounts,
        limits,
    })
}

fn channels(obj: &Map<String, Value>) -> R<Vec<ChannelRef>> {
    let list = obj
        .get("channels")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("body.channels must be a non-empty array (the first is the wake channel)")?;
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        match c {
            Value::String(s) if s.is_empty() => {
                return Err(format!("body.channels[{i}] is an empty string"))
            }
            Value::String(s) => out.push(ChannelRef::Name(s.clone())),
            Value::Object(o) => {
                let name = nonempty_str(o.get("name")).ok_or(format!(
                    "body.channels[{i}].name (non-empty string) is required"
                ))?;
                let access = match o.get("access").filter(|v| !v.is_null()) {
                    None => None,
                    Some(a) => match a.as_str() {
                        Some(s @ ("read" | "write")) => Some(s.to_string()),
                        _ => {
                            return Err(format!(
                                "body.channels[{i}].access must be \"read\" or \"write\""
                            ))
                        }
                    },
                };
                out.push(ChannelRef::Full {
                    name: name.to_string(),
                    access,
                });
            }
            _ => {
                return Err(format!(
                    "body.channels[{i}] must be a string or {{ name, access }}"
                ))
            }
        }
    }
    Ok(out)
}

fn string_list(v: &Value, not_array: &str, not_string: &str) -> R<Vec<String>> {
    let arr = v.as_array().ok_or_else(|| not_array.to_string())?;
    let mut out = Vec::new();
    for e in arr {
        let s = e.as_str().ok_or_else(|| not_string.to_string())?;
        let s = s.trim();
        if !s.is_empty() {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

fn vault(obj: &Map<String, Value>) -> R<Option<VaultAccess>> {
    let Some(v) = obj.get("vault").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let o = v
        .as_object()
        .ok_or("body.vault must be { name, access, tags? }")?;
    let name =
        nonempty_str(o.get("name")).ok_or("body.vault.name (non-empty string) is required")?;
    let access = match o.get("access").and_then(Value::as_str) {
        Some(a @ ("read" | "write" | "admin")) => a.to_string(),
        _ => return Err("body.vault.access must be \"read\", \"write\", or \"admin\"".into()),
    };
    let tags = match o.get("tags").filter(|v| !v.is_null()) {
        None => None,
        Some(t) => Some(string_list(
            t,
            "body.vault.tags must be an array of strings",
            "body.vault.tags entries must be strings",
        )?),
    };
    Ok(Some(VaultAccess {
        name: name.to_string(),
        access,
        tags,
    }))
}

fn egress(obj: &Map<String, Value>) -> R<Option<Vec<String>>> {
    match obj.get("egress").filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => Ok(Some(string_list(
            v,
            "body.egress must be an array of host strings",
            "body.egress entries must be strings",
        )?)),
    }
}

fn mounts(obj: &Map<String, Value>) -> R<Option<Vec<Mount>>> {
    let Some(v) = obj.get("mounts").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let arr = v.as_array().ok_or("body.mounts must be an array")?;
    let mut out = Vec::new();
    for (i, m) in arr.iter().enumerate() {
        let o = m.as_object().ok_or(format!(
            "body.mounts[{i}] must be {{ hostPath, mountPath, mode, shared? }}"
        ))?;
        let path = |key: &str| -> R<String> {
            let p = nonempty_str(o.get(key)).ok_or(format!(
                "body.mounts[{i}].{key} (non-empty string) is required"
            ))?;
            if !p.starts_with('/') {
                return Err(format!(
                    "body.mounts[{i}].{key} must be an absolute path (start with \"/\")"
                ));
            }
            Ok(p.to_string())
        };
        let host_path = path("hostPath")?;
        let mount_path = path("mountPath")?;
        let mode = match o.get("mode").and_then(Value::as_str) {
            Some("ro") => MountMode::Ro,
            Some("rw") => MountMode::Rw,
            _ => return Err(format!("body.mounts[{i}].mode must be \"ro\" or \"rw\"")),
        };
        let shared = match o.get("shared").filter(|v| !v.is_null()) {
            None => None,
            Some(s) => Some(
                nonempty_str(Some(s))
                    .ok_or(format!(
                        "body.mounts[{i}].shared must be a non-empty string"
                    ))?
                    .to_string(),
            ),
        };
        out.push(Mount {
            host_path,
            mount_path: Some(mount_path),
            mode,
            shared,
        });
    }
    Ok(Some(out))
}

fn workspace(obj: &Map<String, Value>) -> R<Option<String>> {
    let Some(v) = obj.get("workspace").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let s = v
        .as_str()
        .ok_or("body.workspace must be a string (an absolute host path)")?
        .trim();
    if s.is_empty() {
        return Ok(None);
    }
    if !s.starts_with('/') {
        return Err("body.workspace must be an absolute path (start with \"/\")".into());
    }
    let p = Path::new(s);
    if !p.exists() {
        return Err(format!("body.workspace \"{s}\" does not exist — the working directory must be a real directory on disk (the agent's cwd)."));
    }
    if !p.is_dir() {
        return Err(format!("body.workspace \"{s}\" is not a directory."));
    }
    Ok(Some(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        build_spec(&v).unwrap_err()
    }

    #[test]
    fn validation_errors_in_order() {
        assert_eq!(err(json!([])), "request body must be a JSON object");
        assert_eq!(err(json!({})), "body.name (non-empty string) is required");
        assert_eq!(
            err(json!({"name":"a b"})),
            "body.name \"a b\" must be a slug (alphanumeric, dash, underscore only)"
        );
        assert_eq!(
            err(json!({"name":"a","channels":[]})),
            "body.channels must be a non-empty array (the first is the wake channel)"
        );
        assert_eq!(
            err(json!({"name":"a","channels":["x",""]})),
            "body.channels[1] is an empty string"
        );
        assert_eq!(
            err(json!({"name":"a","channels":[3]})),
            "body.channels[0] must be a string or { name, access }"
        );
        assert_eq!(
            err(json!({"name":"a","channels":[{"name":"x","access":"all"}]})),
            "body.channels[0].access must be \"read\" or \"write\""
        );
        let base = |extra: Value| {
            let mut b = json!({"name":"a","channels":["x"]});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        assert_eq!(
            err(base(json!({"vault":{"name":"v","access":"owner"}}))),
            "body.vault.access must be \"read\", \"write\", or \"admin\""
        );
        assert_eq!(
            err(base(
                json!({"vault":{"name":"v","access":"read","tags":[1]}})
            )),
            "body.vault.tags entries must be strings"
        );
        assert_eq!(
            err(base(json!({"filesystem":"all"}))),
            "body.filesystem must be \"workspace\" or \"full\""
        );
        assert_eq!(
            err(base(json!({"egress":"a.com"}))),
            "body.egress must be an array of host strings"
        );
        assert_eq!(
            err(base(
                json!({"mounts":[{"hostPath":"rel","mountPath":"/m","mode":"ro"}]})
            )),
            "body.mounts[0].hostPath must be an absolute path (start with \"/\")"
        );
        assert_eq!(
            err(base(
                json!({"mounts":[{"hostPath":"/h","mountPath":"/m","mode":"rx"}]})
            )),
            "body.mounts[0].mode must be \"ro\" or \"rw\""
        );
        assert_eq!(
            err(base(json!({"workspace":"rel"}))),
            "body.workspace must be an absolute path (start with \"/\")"
        );
        assert!(err(base(json!({"workspace":"/definitely/not/here"}))).contains("does not exist"));
        assert!(err(base(json!({"backend":"attached"}))).starts_with("attached-backend agents"));
        assert!(err(base(json!({"backend":"interactive"}))).contains("retired"));
        assert_eq!(
            err(base(json!({"backend":"x"}))),
            "body.backend must be \"programmatic\""
        );
        assert_eq!(
            err(base(json!({"systemPromptMode":"x"}))),
            "body.systemPromptMode must be \"append\" or \"replace\""
        );
    }

    #[test]
    fn normalises_a_valid_body() {
        let s = build_spec(&json!({
            "name":"eng","channels":[{"name":"eng","access":"write"},"other"],
            "vault":{"name":"v","access":"write","tags":[" a ",""]},
            "egress":[" x.com ",""],"workspace":"  /tmp  ","systemPrompt":"  hi  ",
            "mode":"multi-threaded","model":"opus","backend":null
        }))
        .unwrap();
        assert_eq!(s.wake_channel(), "eng");
        assert_eq!(s.vault.unwrap().tags, Some(vec!["a".to_string()]));
        assert_eq!(s.egress, Some(vec!["x.com".to_string()]));
        assert_eq!(s.workspace.as_deref(), Some("/tmp"));
        assert_eq!(s.system_prompt.as_deref(), Some("hi"));
        assert_eq!(s.system_prompt_mode, Some(SystemPromptMode::Append));
        assert_eq!(s.mode, ThreadMode::SingleThreaded);
        assert!(s.model.is_none());
        let s = build_spec(
            &json!({"name":"e","channels":["e"],"systemPrompt":"  ","systemPromptMode":"replace"}),
        )
        .unwrap();
        assert!(s.system_prompt.is_none() && s.system_prompt_mode.is_none());
    }
}
