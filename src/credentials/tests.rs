//! Unit tests of the credentials store (spec 04 §7 "Credentials").

use super::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn store() -> (tempfile::TempDir, CredentialStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = CredentialStore::new(dir.path());
    (dir, s)
}

fn file_json(s: &CredentialStore) -> Value {
    serde_json::from_str(&std::fs::read_to_string(s.path()).unwrap()).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn token_resolution_default_override_and_missing() {
    let (_d, s) = store();
    match s.resolve_claude_token("eng") {
        Err(CredentialError::NotConfigured(m)) => {
            assert!(
                m.contains("\"eng\"") && m.contains("claude setup-token"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.claude_token("eng"), None);
    s.set_default_token("tok-default").unwrap();
    assert_eq!(s.claude_token("any").as_deref(), Some("tok-default"));
    s.set_channel_token("eng", "tok-eng").unwrap();
    assert_eq!(s.claude_token("eng").as_deref(), Some("tok-eng"));
    assert_eq!(s.claude_token("ops").as_deref(), Some("tok-default"));
    // Rotation is visible on the next resolve (no caching).
    s.set_channel_token("eng", "tok-eng-2").unwrap();
    assert_eq!(s.claude_token("eng").as_deref(), Some("tok-eng-2"));
    assert!(s.remove_channel_token("eng").unwrap());
    assert!(!s.remove_channel_token("eng").unwrap());
    assert_eq!(s.claude_token("eng").as_deref(), Some("tok-default"));
    assert_eq!(
        file_json(&s)["claude"]["channels"],
        json!({}),
        "kept as {{}}"
    );
}

#[test]
fn describe_never_reveals_values() {
    let (_d, s) = store();
    assert_eq!(
        serde_json::to_value(s.describe_tokens().unwrap()).unwrap(),
        json!({"defaultSet": false, "channels": []})
    );
    assert_eq!(
        serde_json::to_value(s.describe_env().unwrap()).unwrap(),
        json!({"default": [], "channels": {}})
    );
    s.set_channel_token("ops", "secret-1").unwrap();
    s.set_channel_token("eng", "secret-2").unwrap();
    s.set_env(None, "GH_TOKEN", "secret-3").unwrap();
    s.set_env(Some("eng"), "GH_TOKEN", "secret-4").unwrap();
    s.set_env(Some("eng"), "CLOUDFLARE_API_TOKEN", "secret-5")
        .unwrap();
    let t = serde_json::to_string(&s.describe_tokens().unwrap()).unwrap();
    let e = serde_json::to_string(&s.describe_env().unwrap()).unwrap();
    assert_eq!(t, r#"{"defaultSet":false,"channels":["eng","ops"]}"#);
    assert_eq!(
        e,
        r#"{"default":["GH_TOKEN"],"channels":{"eng":["CLOUDFLARE_API_TOKEN","GH_TOKEN"]}}"#
    );
    assert!(!t.contains("secret") && !e.contains("secret"));
}

#[test]
fn slices_are_preserved_and_unknown_keys_kept() {
    let (_d, s) = store();
    std::fs::write(s.path(), r#"{"future": {"x": 1}}"#).unwrap();
    s.set_default_token("t").unwrap();
    s.set_env(None, "A", "1").unwrap();
    s.set_env(Some("eng"), "B", "2").unwrap();
    s.set_channel_token("eng", "te").unwrap();
    assert_eq!(
        file_json(&s),
        json!({
            "future": {"x": 1},
            "claude": {"default": "t", "channels": {"eng": "te"}},
            "env": {"default": {"A": "1"}, "channels": {"eng": {"B": "2"}}}
        })
    );
    let text = std::fs::read_to_string(s.path()).unwrap();
    assert!(
        text.starts_with("{\n  \"") && text.ends_with("}\n"),
        "2-space + newline"
    );
}

#[test]
fn rejected_inputs_write_nothing() {
    let (_d, s) = store();
    let bad = [
        s.set_default_token(""),
        s.set_channel_token("", "t"),
        s.set_channel_token("eng", ""),
        s.set_env(None, "", "v"),
        s.set_env(None, "1ABC", "v"),
        s.set_env(None, "A-B", "v"),
        s.set_env(None, "GOOD", ""),
        s.set_env(Some("eng"), "ANTHROPIC_API_KEY", "v"),
        s.set_env(None, "CLAUDE_API_KEY", "v"),
        s.set_env(None, "CLAUDE_CODE_OAUTH_TOKEN", "v"),
    ];
    for r in bad {
        let e = r.unwrap_err();
        assert!(e.is_bad_request(), "{e}");
    }
    assert!(!s.path().exists(), "file not even created");
    match s.set_env(None, "ANTHROPIC_API_KEY", "v") {
        Err(CredentialError::Denylisted(m)) => {
            assert!(m.starts_with("env var \"ANTHROPIC_API_KEY\" is not settable here"))
        }
        other => panic!("{other:?}"),
    }
    match s.set_env(None, "9X", "v") {
        Err(CredentialError::Invalid(m)) => assert_eq!(
            m,
            "credentials: env var name \"9X\" is invalid (letters, digits, underscore; no leading digit)"
        ),
        other => panic!("{other:?}"),
    }
    // PATH/HOME are allowed names.
    s.set_env(None, "PATH", "/x").unwrap();
}

#[test]
fn env_resolution_layers_prune_and_denylist() {
    let (_d, s) = store();
    assert!(s.env_for("eng").is_empty());
    s.set_env(None, "A", "default-a").unwrap();
    s.set_env(None, "B", "default-b").unwrap();
    s.set_env(Some("eng"), "B", "eng-b").unwrap();
    let pairs = |v: Vec<(String, String)>| v;
    assert_eq!(
        pairs(s.env_for("eng")),
        vec![
            ("A".into(), "default-a".into()),
            ("B".into(), "eng-b".into())
        ]
    );
    assert_eq!(
        s.env_for("ops"),
        vec![
            ("A".to_string(), "default-a".to_string()),
            ("B".to_string(), "default-b".to_string())
        ]
    );
    // Removing the last var of a channel prunes the channel map and `channels`.
    assert!(s.remove_env(Some("eng"), "B").unwrap());
    assert!(!s.remove_env(Some("eng"), "B").unwrap());
    assert_eq!(
        file_json(&s)["env"],
        json!({"default": {"A": "default-a", "B": "default-b"}})
    );
    assert!(s.remove_env(None, "A").unwrap());
    assert!(s.remove_env(None, "B").unwrap());
    assert_eq!(file_json(&s)["env"], json!({}));
    // A hand-planted denylisted name (and empty / non-string values) never resolve.
    std::fs::write(
        s.path(),
        r#"{"env":{"default":{"ANTHROPIC_API_KEY":"x","OK":"1","EMPTY":"","NUM":3},
            "channels":{"eng":{"CLAUDE_CODE_OAUTH_TOKEN":"y","OK":""}}}}"#,
    )
    .unwrap();
    assert_eq!(s.env_for("ops"), vec![("OK".to_string(), "1".to_string())]);
    assert!(
        s.env_for("eng").is_empty(),
        "an empty override blanks the var"
    );
}

#[test]
fn malformed_files() {
    let (_d, s) = store();
    std::fs::write(s.path(), "{nope").unwrap();
    assert!(matches!(
        s.describe_tokens(),
        Err(CredentialError::Malformed(_))
    ));
    assert!(matches!(
        s.set_default_token("t"),
        Err(CredentialError::Malformed(_))
    ));
    assert_eq!(
        std::fs::read_to_string(s.path()).unwrap(),
        "{nope",
        "untouched"
    );
    assert_eq!(s.claude_token("eng"), None);
    std::fs::write(s.path(), "null").unwrap();
    match s.describe_env() {
        Err(CredentialError::Malformed(m)) => assert!(m.ends_with("must be a JSON object")),
        other => panic!("{other:?}"),
    }
    std::fs::write(s.path(), "[1,2]").unwrap();
    assert!(!s.describe_tokens().unwrap().default_set);
}

#[test]
fn file_mode_0600_after_first_and_later_writes() {
    let (_d, s) = store();
    s.set_default_token("t").unwrap();
    assert_eq!(mode(s.path()), 0o600);
    // A file loosened by hand (or created under a loose umask) is tightened on write.
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    s.set_env(None, "A", "1").unwrap();
    assert_eq!(mode(s.path()), 0o600);
}

#[test]
fn concurrent_writers_lose_nothing() {
    let (_d, s) = store();
    let s = std::sync::Arc::new(s);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || s.set_env(None, &format!("V{i}"), "x").unwrap())
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(s.describe_env().unwrap().default.len(), 8);
}

/// Environment variable that turns [`crash_child`] into the writer that crashes.
const CRASH_DIR_ENV: &str = "PARACHUTE_AGENT_TEST_CRASH_DIR";

/// Child half of [`crash_between_temp_write_and_rename_keeps_old_file`]: run in a
/// subprocess whose file-size limit is smaller than the new document, so the kernel kills
/// it (SIGXFSZ) in the middle of writing the temp file, before any rename.
#[test]
#[ignore = "run as a subprocess by crash_between_temp_write_and_rename_keeps_old_file"]
fn crash_child() {
    // Outside its parent (e.g. `cargo test -- --include-ignored`) there is nothing to do.
    let Ok(dir) = std::env::var(CRASH_DIR_ENV) else {
        return;
    };
    let s = CredentialStore::new(Path::new(&dir));
    let huge = "n".repeat(256 * 1024);
    let _ = s.set_default_token(&huge);
    // Reaching this line means the write did not crash; the parent reports it.
    std::process::exit(3);
}

#[test]
fn crash_between_temp_write_and_rename_keeps_old_file() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let (dir, s) = store();
    s.set_default_token("old-token").unwrap();
    s.set_env(Some("eng"), "KEEP", "me").unwrap();
    let before = std::fs::read(s.path()).unwrap();

    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "credentials::tests::crash_child",
        "--test-threads=1",
    ])
    .env(CRASH_DIR_ENV, dir.path())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGXFSZ),
        "the writer must die mid-write: {status:?}"
    );

    // A torn temp file is left behind, the real file is byte-for-byte the old one.
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".credentials.json.tmp"))
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    assert_eq!(std::fs::read(s.path()).unwrap(), before);
    assert_eq!(s.claude_token("eng").as_deref(), Some("old-token"));
    assert_eq!(mode(s.path()), 0o600);
    // And the store keeps working after the crash.
    s.set_default_token("new-token").unwrap();
    assert_eq!(s.claude_token("eng").as_deref(), Some("new-token"));
    assert_eq!(
        s.env_for("eng"),
        vec![("KEEP".to_string(), "me".to_string())]
    );
}
