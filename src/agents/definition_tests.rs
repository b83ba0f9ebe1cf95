//! Unit tests of the definition parser (spec 03 §2.2–§2.4).

use super::*;
use serde_json::json;

fn note(id: &str, content: &str, meta: Value) -> DefNote {
    DefNote::from_json(&json!({"id": id, "content": content, "metadata": meta}))
}

fn parse(meta: Value) -> Result<ParsedDef, DefError> {
    parse_definition(&note("n1", "", meta), "default")
}

fn err(meta: Value) -> String {
    parse(meta).unwrap_err().to_string()
}

#[test]
fn minimal_note_gets_every_default() {
    let d = parse(json!({"name": "eng"})).unwrap();
    let s = &d.spec;
    assert_eq!(d.note_id, "n1");
    assert_eq!(d.vault, "default");
    assert_eq!(s.name, "eng");
    assert_eq!(s.channels, vec![ChannelRef::Name("eng".into())]);
    assert_eq!(s.backend, Backend::Programmatic);
    assert_eq!(s.mode, ThreadMode::SingleThreaded);
    assert_eq!(s.definition.as_deref(), Some("n1"));
    assert_eq!(
        s.vault,
        Some(VaultAccess {
            name: "default".into(),
            access: "write".into(),
            tags: None
        })
    );
    assert_eq!(s.system_prompt, None);
    assert_eq!(s.system_prompt_mode, None);
    assert_eq!(s.model, None);
    assert_eq!(s.workspace, None);
    assert_eq!(s.filesystem, None);
    assert_eq!(s.network, None);
    assert_eq!(s.egress, None);
    assert_eq!(s.mounts, None);
    assert!(d.uses.is_empty() && d.wants.is_empty());
}

#[test]
fn every_field_maps() {
    let meta = json!({
        "name": " eng ", "backend": "attached", "mode": "multi-threaded",
        "systemPromptMode": "replace", "model": "claude-opus-4.1:beta_x",
        "workspace": "/srv/eng", "filesystem": "full", "network": "restricted",
        "egress": "api.github.com, pypi.org  example.com",
        "mounts": "[{\"hostPath\":\"/data\",\"mountPath\":\"/data\",\"mode\":\"ro\",\"shared\":\"team\"}]",
        "uses": ["github", "slack"],
        "wants": "vault:research:read,env:github",
    });
    let d = parse_definition(&note("Agents/eng", "  You are eng.\n", meta), "v2").unwrap();
    let s = &d.spec;
    assert_eq!(s.name, "eng");
    assert_eq!(s.backend, Backend::Attached);
    assert_eq!(s.mode, ThreadMode::MultiThreaded);
    assert_eq!(s.system_prompt.as_deref(), Some("  You are eng.\n"));
    assert_eq!(s.system_prompt_mode, Some(SystemPromptMode::Replace));
    assert_eq!(s.model.as_deref(), Some("claude-opus-4.1:beta_x"));
    assert_eq!(s.workspace.as_deref(), Some("/srv/eng"));
    assert_eq!(s.filesystem, Some(FilesystemMode::Full));
    assert_eq!(s.network, Some(NetworkMode::Restricted));
    assert_eq!(
        s.egress.as_deref(),
        Some(
            &[
                "api.github.com".to_string(),
                "pypi.org".into(),
                "example.com".into()
            ][..]
        )
    );
    assert_eq!(
        s.mounts,
        Some(vec![Mount {
            host_path: "/data".into(),
            mount_path: Some("/data".into()),
            mode: MountMode::Ro,
            shared: Some("team".into()),
        }])
    );
    assert_eq!(s.vault.as_ref().unwrap().name, "v2");
    assert_eq!(s.definition.as_deref(), Some("Agents/eng"));
    assert_eq!(d.uses, vec!["github", "slack"]);
    assert_eq!(d.wants_keys(), vec!["vault:research:read", "env:github"]);
}

#[test]
fn legacy_backend_and_mode_words() {
    let b = |w: &str| {
        parse(json!({"name": "a", "backend": w}))
            .unwrap()
            .spec
            .backend
    };
    assert_eq!(b("channel"), Backend::Attached);
    assert_eq!(b("programmatic"), Backend::Programmatic);
    assert_eq!(b("  attached  "), Backend::Attached);
    let m = |w: &str| parse(json!({"name": "a", "mode": w})).unwrap().spec.mode;
    assert_eq!(m("resident"), ThreadMode::SingleThreaded);
    assert_eq!(m("one-shot"), ThreadMode::MultiThreaded);
    assert_eq!(m("per-thread"), ThreadMode::MultiThreaded);
    assert_eq!(m(""), ThreadMode::SingleThreaded);
}

#[test]
fn id_and_name_errors() {
    let no_id = DefNote::from_json(&json!({"metadata": {"name": "a"}}));
    assert_eq!(
        parse_definition(&no_id, "v").unwrap_err().to_string(),
        "#agent/definition note has no id"
    );
    let num_id = DefNote::from_json(&json!({"id": 7, "metadata": {"name": "a"}}));
    assert_eq!(parse_definition(&num_id, "v").unwrap_err(), DefError::NoId);
    assert_eq!(
        err(json!({})),
        "#agent/definition note n1 has no metadata.name"
    );
    assert_eq!(
        err(json!({"name": "   "})),
        "#agent/definition note n1 has no metadata.name"
    );
    assert_eq!(
        err(json!({"name": ["a"]})),
        "#agent/definition note n1 has no metadata.name"
    );
    assert_eq!(
        err(json!({"name": "my agent"})),
        "#agent/definition note n1: name \"my agent\" must be a slug (alphanumeric, dash, underscore)"
    );
    // numbers coerce to their text and are valid slugs
    assert_eq!(parse(json!({"name": 42})).unwrap().spec.name, "42");
}

#[test]
fn backend_errors() {
    assert_eq!(
        err(json!({"name": "a", "backend": "interactive"})),
        "#agent/definition note n1: the \"interactive\" backend is retired — use \"programmatic\" \
         (daemon-run turns, the default) or \"attached\" (handled by a Claude Code session you \
         connect to the channel)."
    );
    assert_eq!(
        err(json!({"name": "a", "backend": "Programmatic"})),
        "#agent/definition note n1: backend must be \"programmatic\" or \"attached\""
    );
    assert_eq!(
        err(json!({"name": "a", "backend": true})),
        "#agent/definition note n1: backend must be \"programmatic\" or \"attached\""
    );
}

#[test]
fn field_errors_have_spec_text() {
    let cases = [
        (
            json!({"name": "a", "mode": "threaded"}),
            "mode must be \"single-threaded\" or \"multi-threaded\"",
        ),
        (
            json!({"name": "a", "model": "-opus"}),
            "model \"-opus\" is not a valid model name (letters, numbers, dot, underscore, colon, dash)",
        ),
        (
            json!({"name": "a", "model": "opus 4"}),
            "model \"opus 4\" is not a valid model name (letters, numbers, dot, underscore, colon, dash)",
        ),
        (
            json!({"name": "a", "workspace": "srv/eng"}),
            "workspace must be an absolute path (start with \"/\")",
        ),
        (
            json!({"name": "a", "filesystem": "Full"}),
            "filesystem must be \"workspace\" or \"full\"",
        ),
        (
            json!({"name": "a", "network": "closed"}),
            "network must be \"open\" or \"restricted\"",
        ),
        (
            json!({"name": "a", "wants": "vault:x"}),
            "wants: \"vault:x\" is malformed — a vault connection needs a verb: \"vault:<name>:<read|write>\".",
        ),
    ];
    for (meta, msg) in cases {
        assert_eq!(err(meta), format!("#agent/definition note n1: {msg}"));
    }
}

#[test]
fn prompt_mode_only_checked_with_a_body() {
    // blank body + garbage mode: no error, no prompt, no mode
    let d = parse_definition(
        &note(
            "n1",
            " \n\t",
            json!({"name": "a", "systemPromptMode": "garbage"}),
        ),
        "v",
    )
    .unwrap();
    assert_eq!(d.spec.system_prompt, None);
    assert_eq!(d.spec.system_prompt_mode, None);
    // non-blank body + garbage mode: error
    let e = parse_definition(
        &note(
            "n1",
            "hi",
            json!({"name": "a", "systemPromptMode": "garbage"}),
        ),
        "v",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "#agent/definition note n1: systemPromptMode must be \"append\" or \"replace\""
    );
    // body without a mode: prompt kept, mode left to the default (append)
    let d = parse_definition(&note("n1", "hi", json!({"name": "a"})), "v").unwrap();
    assert_eq!(d.spec.system_prompt.as_deref(), Some("hi"));
    assert_eq!(d.spec.system_prompt_mode, None);
    // a non-string body is no body
    let d = parse_definition(
        &DefNote::from_json(&json!({"id": "n1", "content": 5, "metadata": {"name": "a"}})),
        "v",
    )
    .unwrap();
    assert_eq!(d.spec.system_prompt, None);
}

#[test]
fn validation_order_first_failure_wins() {
    // backend is checked before mode, mode before model, … wants last
    let all_bad = json!({
        "name": "a", "backend": "x", "mode": "x", "model": "-", "workspace": "x",
        "filesystem": "x", "network": "x", "wants": "x",
    });
    let order = [
        ("backend", "backend must be"),
        ("mode", "mode must be"),
        ("model", "model \"-\""),
        ("workspace", "workspace must be"),
        ("filesystem", "filesystem must be"),
        ("network", "network must be"),
        ("wants", "wants: \"x\""),
    ];
    let mut meta = all_bad.as_object().unwrap().clone();
    for (key, expected) in order {
        let e = parse(Value::Object(meta.clone())).unwrap_err().to_string();
        assert!(e.contains(expected), "{key}: {e}");
        meta.remove(key);
    }
    assert!(parse(Value::Object(meta)).is_ok());
    // the slug check precedes the backend check
    assert!(err(json!({"name": "a b", "backend": "x"})).contains("must be a slug"));
}

#[test]
fn coercions() {
    assert_eq!(scalar(Some(&json!("  x "))), Some("x".into()));
    assert_eq!(scalar(Some(&json!(""))), None);
    assert_eq!(scalar(Some(&json!(1.5))), Some("1.5".into()));
    assert_eq!(scalar(Some(&json!(false))), Some("false".into()));
    assert_eq!(scalar(Some(&json!(null))), None);
    assert_eq!(scalar(Some(&json!({"a": 1}))), None);
    assert_eq!(scalar(None), None);
    assert_eq!(list(Some(&json!("a, b,,c\td\n"))), vec!["a", "b", "c", "d"]);
    assert_eq!(
        list(Some(&json!([" a ", 1, true, ""]))),
        vec!["a", "1", "true"]
    );
    assert!(list(Some(&json!(5))).is_empty());
    assert!(list(None).is_empty());
    // a numeric model is valid after coercion
    let d = parse(json!({"name": "a", "model": 4})).unwrap();
    assert_eq!(d.spec.model.as_deref(), Some("4"));
}

#[test]
fn mounts_are_filtered_never_errors() {
    let m = |v: Value| {
        parse(json!({"name": "a", "mounts": v}))
            .unwrap()
            .spec
            .mounts
    };
    assert_eq!(m(json!("not json")), None);
    assert_eq!(m(json!("{\"hostPath\":\"/a\"}")), None);
    assert_eq!(m(json!("")), None);
    assert_eq!(m(json!(5)), None);
    let mixed = json!([
        {"hostPath": "/a", "mountPath": "/a", "mode": "rw", "shared": ""},
        {"hostPath": "a", "mountPath": "/a", "mode": "rw"},
        {"hostPath": "/a", "mountPath": "a", "mode": "rw"},
        {"hostPath": "/a", "mountPath": "/a", "mode": "RW"},
        {"hostPath": "/b", "mountPath": "/c", "mode": "ro", "shared": true},
        "junk",
    ]);
    let got = m(mixed).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].mode, MountMode::Rw);
    assert_eq!(got[0].shared, None);
    assert_eq!(got[1].host_path, "/b");
    assert_eq!(got[1].mount_path.as_deref(), Some("/c"));
    assert_eq!(got[1].shared, None);
    assert_eq!(m(json!([])), None);
}

#[test]
fn secrets_and_daemon_keys_never_reach_the_spec() {
    let d = parse_definition(
        &note(
            "n1",
            "prompt",
            json!({
                "name": "a", "token": "sekret-1", "CLAUDE_CODE_OAUTH_TOKEN": "sekret-2",
                "credentialRef": "sekret-3", "channel": "other", "status": "error",
                "pending": "x",
            }),
        ),
        "v",
    )
    .unwrap();
    let text = serde_json::to_string(&d.spec).unwrap();
    for s in ["sekret-1", "sekret-2", "sekret-3", "other"] {
        assert!(!text.contains(s), "{s} leaked into {text}");
    }
    assert_eq!(d.spec.wake_channel(), "a");
}

#[test]
fn preview_is_200_chars_of_the_prompt() {
    let body: String = "é".repeat(250);
    let d = parse_definition(&note("n1", &body, json!({"name": "a"})), "v").unwrap();
    assert_eq!(d.system_prompt_preview().chars().count(), 200);
    let d = parse(json!({"name": "a"})).unwrap();
    assert_eq!(d.system_prompt_preview(), "");
}

#[test]
fn note_reading_is_defensive() {
    let n = DefNote::from_json(&json!({"id": "x", "content": null, "metadata": [1]}));
    assert_eq!(n.id, "x");
    assert_eq!(n.content, "");
    assert!(n.metadata.is_empty());
    assert_eq!(n.name(), None);
    let n = DefNote::from_json(&json!({"id": "x", "metadata": {"name": " q "}}));
    assert_eq!(n.name().as_deref(), Some("q"));
}

#[test]
fn limits_from_metadata_numbers_or_strings() {
    let d = parse(
        json!({"name": "a", "max_turns": 4, "turn_timeout_secs": "90", "max_budget_usd": "1.25"}),
    )
    .unwrap();
    assert_eq!(d.spec.limits.max_turns, Some(4));
    assert_eq!(d.spec.limits.turn_timeout_secs, Some(90));
    assert_eq!(d.spec.limits.max_budget_usd, Some(1.25));
    assert_eq!(
        parse(json!({"name": "a"})).unwrap().spec.limits,
        Default::default()
    );
    assert!(err(json!({"name": "a", "max_turns": 0}))
        .contains("max_turns must be a whole number from 1 to 1000"));
    assert!(err(json!({"name": "a", "turn_timeout_secs": 100000}))
        .contains("turn_timeout_secs must be a whole number from 1 to 86400"));
    assert!(err(json!({"name": "a", "max_budget_usd": "free"}))
        .contains("max_budget_usd must be a number above 0 and at most 10000"));
}
