//! The `claude` command line of one turn (spec 03 §4.7, flag order fixed by 08): the message
//! is one argv element (never a shell string), exactly one session flag, `--model` only
//! when it trims to non-empty, the per-agent limits (`--max-turns`, `--max-budget-usd`)
//! only when set, the prompt-file flag only when a prompt exists.

use std::ffi::OsString;
use std::path::Path;

use crate::agents::spec::{AgentSpec, SystemPromptMode};

/// The Claude session a turn runs in (spec 03 §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChoice {
    pub id: String,
    /// `--resume <id>` when true, else `--session-id <id>` (a fresh session).
    pub resume: bool,
}

impl SessionChoice {
    pub fn fresh() -> Self {
        SessionChoice {
            id: crate::util::rand::uuid(),
            resume: false,
        }
    }
    pub fn resume(id: impl Into<String>) -> Self {
        SessionChoice {
            id: id.into(),
            resume: true,
        }
    }
}

/// Name of the MCP config file in the private dir.
pub const MCP_CONFIG_FILE: &str = ".mcp.json";
/// Name of the system-prompt file in the private dir.
pub const PROMPT_FILE: &str = "system-prompt.txt";

/// True when the spec carries a non-blank system prompt.
pub fn has_prompt(spec: &AgentSpec) -> bool {
    spec.system_prompt
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty())
}

/// The arguments after the program name.
pub fn claude_args(
    spec: &AgentSpec,
    private_dir: &Path,
    message: &str,
    session: &SessionChoice,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        "-p".into(),
        message.into(),
        "--output-format".into(),
        "stream-json".into(),
        "--verbose".into(),
    ];
    a.extend(agent_flags(spec, private_dir));
    a.push(
        if session.resume {
            "--resume"
        } else {
            "--session-id"
        }
        .into(),
    );
    a.push(session.id.clone().into());
    a
}

/// [ext] The interactive `claude` of an operator session: the agent's flags of
/// [`claude_args`] without `-p`/stream-json, resuming `session` when given.
pub fn interactive_args(
    spec: &AgentSpec,
    private_dir: &Path,
    session: Option<&str>,
) -> Vec<OsString> {
    let mut a = agent_flags(spec, private_dir);
    if let Some(id) = session {
        a.push("--resume".into());
        a.push(id.into());
    }
    a
}

/// The flags that make `claude` this agent: its MCP config, permissions, model, prompt.
fn agent_flags(spec: &AgentSpec, private_dir: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        "--strict-mcp-config".into(),
        "--mcp-config".into(),
        private_dir.join(MCP_CONFIG_FILE).into(),
        "--dangerously-skip-permissions".into(),
    ];
    if let Some(model) = spec
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        a.push("--model".into());
        a.push(model.into());
    }
    // Per-agent limits, only where the operator set them (07 §2: a budget also stops
    // subscription runs).
    if let Some(n) = spec.limits.max_turns {
        a.push("--max-turns".into());
        a.push(n.to_string().into());
    }
    if let Some(usd) = spec.limits.max_budget_usd {
        a.push("--max-budget-usd".into());
        a.push(usd.to_string().into());
    }
    if has_prompt(spec) {
        let flag = match spec.system_prompt_mode.unwrap_or_default() {
            SystemPromptMode::Replace => "--system-prompt-file",
            SystemPromptMode::Append => "--append-system-prompt-file",
        };
        a.push(flag.into());
        a.push(private_dir.join(PROMPT_FILE).into());
    }
    a
}

/// The command lines of the two turn shapes, every optional flag set: a fresh session
/// with an appended prompt file, and a resumed one with a replacing prompt file. What
/// [`flags_used`] lists, and what `doctor` hands the CLI to see it parse every flag.
pub fn sample_argvs(private_dir: &Path) -> Vec<Vec<String>> {
    [("append", false), ("replace", true)]
        .into_iter()
        .map(|(mode, resume)| {
            let spec: AgentSpec = serde_json::from_value(serde_json::json!({
                "name": "x", "channels": ["x"], "model": "m", "systemPrompt": "p",
                "systemPromptMode": mode, "max_turns": 1, "max_budget_usd": 1.0,
            }))
            .expect("a literal spec");
            let session = if resume {
                SessionChoice::resume("00000000-0000-4000-8000-000000000000")
            } else {
                SessionChoice::fresh()
            };
            claude_args(&spec, private_dir, "m", &session)
                .into_iter()
                .filter_map(|a| a.into_string().ok())
                .collect()
        })
        .collect()
}

/// Every flag the daemon's `claude` command lines can contain (for `doctor`), derived
/// from [`claude_args`] itself so it cannot drift.
pub fn flags_used() -> Vec<&'static str> {
    let mut flags: Vec<&'static str> = Vec::new();
    for arg in sample_argvs(Path::new("/w")).concat() {
        if arg.starts_with('-') && !flags.iter().any(|f| *f == arg) {
            flags.push(Box::leak(arg.into_boxed_str()));
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> AgentSpec {
        serde_json::from_str(&format!(r#"{{"name":"eng","channels":["eng"]{extra}}}"#)).unwrap()
    }

    fn strs(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn minimal_create_turn() {
        let a = claude_args(
            &spec(""),
            Path::new("/st/sessions/eng"),
            "hello 'world' $(x)",
            &SessionChoice {
                id: "u1".into(),
                resume: false,
            },
        );
        assert_eq!(
            strs(a),
            [
                "-p",
                "hello 'world' $(x)",
                "--output-format",
                "stream-json",
                "--verbose",
                "--strict-mcp-config",
                "--mcp-config",
                "/st/sessions/eng/.mcp.json",
                "--dangerously-skip-permissions",
                "--session-id",
                "u1"
            ]
        );
    }

    #[test]
    fn model_prompt_and_resume_flags() {
        let s = spec(r#","model":"  opus ","systemPrompt":"be nice","systemPromptMode":"replace""#);
        let a = strs(claude_args(
            &s,
            Path::new("/w"),
            "m",
            &SessionChoice::resume("s9"),
        ));
        assert_eq!(
            a[9..],
            [
                "--model",
                "opus",
                "--system-prompt-file",
                "/w/system-prompt.txt",
                "--resume",
                "s9"
            ]
        );
        let s = spec(r#","model":"  ","systemPrompt":"be nice""#);
        let a = strs(claude_args(
            &s,
            Path::new("/w"),
            "m",
            &SessionChoice::resume("s9"),
        ));
        assert_eq!(
            a[9..],
            [
                "--append-system-prompt-file",
                "/w/system-prompt.txt",
                "--resume",
                "s9"
            ]
        );
        let s = spec(r#","systemPrompt":"   ""#);
        assert_eq!(
            claude_args(&s, Path::new("/w"), "m", &SessionChoice::fresh()).len(),
            11
        );
    }

    #[test]
    fn limits_only_where_set() {
        let s = spec(r#","model":"opus","max_turns":3,"max_budget_usd":0.5,"turn_timeout_secs":9"#);
        let a = strs(claude_args(
            &s,
            Path::new("/w"),
            "m",
            &SessionChoice::resume("s"),
        ));
        assert_eq!(
            a[9..],
            [
                "--model",
                "opus",
                "--max-turns",
                "3",
                "--max-budget-usd",
                "0.5",
                "--resume",
                "s"
            ]
        );
        let s = spec(r#","turn_timeout_secs":9"#);
        assert!(!strs(claude_args(
            &s,
            Path::new("/w"),
            "m",
            &SessionChoice::fresh()
        ))
        .iter()
        .any(|x| x.starts_with("--max")));
    }
}
