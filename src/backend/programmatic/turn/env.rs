//! The exact environment of a `claude` child (spec 03 §4.9, spec 04 §2.1). Nothing is
//! inherited from the daemon: the map is composed from six layers, later layers win, and
//! the three Claude auth/billing names are filtered at every layer so that
//! `ANTHROPIC_API_KEY` / `CLAUDE_API_KEY` can never reach the child and
//! `CLAUDE_CODE_OAUTH_TOKEN` is always the resolved token.

use std::collections::BTreeMap;
use std::path::Path;

/// Names a channel env store or grant can never set (spec 04 §2.1 layer 1).
pub const DENYLIST: [&str; 3] = [
    "ANTHROPIC_API_KEY",
    "CLAUDE_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

/// Structural names copied from the daemon's env (layer 2), plus every `LC_*`.
const PASSTHROUGH: [&str; 14] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "LANG",
    "TZ",
    "CLAUDE_CONFIG_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
];

/// Proxy / CA names taken from the engine env (layer 5).
const ENGINE_ALLOW: &[&str] = &[
    "SANDBOX_RUNTIME",
    "TMPDIR",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "GIT_SSL_CAINFO",
    "AWS_CA_BUNDLE",
    "CARGO_HTTP_CAINFO",
    "DENO_CERT",
    "NO_PROXY",
    "no_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "RSYNC_PROXY",
    "GRPC_PROXY",
    "grpc_proxy",
    "DOCKER_HTTP_PROXY",
    "DOCKER_HTTPS_PROXY",
    "CLOUDSDK_PROXY_TYPE",
    "CLOUDSDK_PROXY_ADDRESS",
    "CLOUDSDK_PROXY_PORT",
    "GIT_SSH_COMMAND",
    "CLAUDE_CODE_HOST_HTTP_PROXY_PORT",
    "CLAUDE_CODE_HOST_SOCKS_PROXY_PORT",
];

const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

pub fn is_denylisted(name: &str) -> bool {
    DENYLIST.contains(&name)
}

/// Inputs of the composition. `daemon_env` is the daemon's own environment (a snapshot,
/// so the function stays pure); on Linux it is also the engine env of layer 5.
pub struct EnvInputs<'a> {
    /// Approved-grant service variables (layer 1, lower half).
    pub grant_env: &'a BTreeMap<String, String>,
    /// The channel env store, `env.default` overlaid by `env.channels[<ch>]` (layer 1).
    pub store_env: &'a BTreeMap<String, String>,
    pub daemon_env: &'a [(String, String)],
    pub oauth_token: &'a str,
    /// The agent's private dir `W`.
    pub private_dir: &'a Path,
}

/// Compose the child's whole environment, sorted by name.
pub fn compose(inp: &EnvInputs) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    // 1. operator-scoped vars: grants, then the store (store wins).
    for (k, v) in inp.grant_env.iter().chain(inp.store_env.iter()) {
        if v.is_empty() {
            continue;
        }
        if is_denylisted(k) {
            log::warn!(
                "parachute-agent: refusing to inject denylisted env var \"{k}\" from the channel env store (it controls Claude auth/billing) — skipping. Remove it from credentials.json."
            );
            continue;
        }
        env.insert(k.clone(), v.clone());
    }
    // 2. structural passthrough.
    for (k, v) in inp.daemon_env {
        if !v.is_empty() && (PASSTHROUGH.contains(&k.as_str()) || k.starts_with("LC_")) {
            env.insert(k.clone(), v.clone());
        }
    }
    if !inp
        .daemon_env
        .iter()
        .any(|(k, v)| k == "PATH" && !v.is_empty())
    {
        env.insert("PATH".into(), DEFAULT_PATH.into());
    }
    // 3. IS_SANDBOX unless set non-empty by layer 1.
    env.entry("IS_SANDBOX".into()).or_insert_with(|| "1".into());
    // 4. the resolved Claude token.
    env.insert("CLAUDE_CODE_OAUTH_TOKEN".into(), inp.oauth_token.into());
    // 5. proxy / CA settings of the engine env.
    for (k, v) in inp.daemon_env {
        if !v.is_empty() && ENGINE_ALLOW.contains(&k.as_str()) && !is_denylisted(k) {
            env.insert(k.clone(), v.clone());
        }
    }
    // 6. private home overrides (spec 04 §2.2); HOME stays the operator's.
    for (k, v) in home_overrides(inp.private_dir) {
        env.insert(k, v);
    }
    env.into_iter().collect()
}

/// Layer 6: the private home and temp dirs inside `W`.
pub fn home_overrides(w: &Path) -> Vec<(String, String)> {
    let p = |rel: &str| w.join(rel).to_string_lossy().into_owned();
    let tmp = p("tmp");
    vec![
        ("CLAUDE_CONFIG_DIR".into(), p("home/.claude")),
        ("XDG_CONFIG_HOME".into(), p("home/.config")),
        ("XDG_DATA_HOME".into(), p("home/.local/share")),
        ("XDG_CACHE_HOME".into(), p("home/.cache")),
        ("XDG_STATE_HOME".into(), p("home/.local/state")),
        ("XDG_RUNTIME_DIR".into(), p("home/.run")),
        ("TMPDIR".into(), tmp.clone()),
        ("CLAUDE_CODE_TMPDIR".into(), tmp.clone()),
        ("TMP".into(), tmp.clone()),
        ("TEMP".into(), tmp),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn daemon(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn exact_environment() {
        let grants = map(&[("GITHUB_TOKEN", "g"), ("SHARED", "grant")]);
        let store = map(&[
            ("SHARED", "store"),
            ("GH_TOKEN", "gh"),
            ("ANTHROPIC_API_KEY", "planted"),
            ("CLAUDE_CODE_OAUTH_TOKEN", "swap"),
            ("PATH", "/evil"),
            ("EMPTY", ""),
        ]);
        let d = daemon(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/op"),
            ("LC_ALL", "C"),
            ("SECRET_THING", "x"),
            ("ANTHROPIC_API_KEY", "daemon-key"),
            ("CLAUDE_API_KEY", "k"),
            ("HTTPS_PROXY", "http://proxy"),
            ("TMPDIR", "/tmp"),
            ("TERM", ""),
        ]);
        let env = compose(&EnvInputs {
            grant_env: &grants,
            store_env: &store,
            daemon_env: &d,
            oauth_token: "sk-ant-oat01-T",
            private_dir: Path::new("/st/sessions/eng"),
        });
        let m: BTreeMap<_, _> = env.into_iter().collect();
        let expected = map(&[
            ("GITHUB_TOKEN", "g"),
            ("SHARED", "store"),
            ("GH_TOKEN", "gh"),
            ("PATH", "/usr/bin"),
            ("HOME", "/home/op"),
            ("LC_ALL", "C"),
            ("IS_SANDBOX", "1"),
            ("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-T"),
            ("HTTPS_PROXY", "http://proxy"),
            ("CLAUDE_CONFIG_DIR", "/st/sessions/eng/home/.claude"),
            ("XDG_CONFIG_HOME", "/st/sessions/eng/home/.config"),
            ("XDG_DATA_HOME", "/st/sessions/eng/home/.local/share"),
            ("XDG_CACHE_HOME", "/st/sessions/eng/home/.cache"),
            ("XDG_STATE_HOME", "/st/sessions/eng/home/.local/state"),
            ("XDG_RUNTIME_DIR", "/st/sessions/eng/home/.run"),
            ("TMPDIR", "/st/sessions/eng/tmp"),
            ("CLAUDE_CODE_TMPDIR", "/st/sessions/eng/tmp"),
            ("TMP", "/st/sessions/eng/tmp"),
            ("TEMP", "/st/sessions/eng/tmp"),
            ("DISABLE_AUTOUPDATER", "1"),
        ]);
        assert_eq!(m, expected);
    }

    #[test]
    fn defaults_and_is_sandbox_override() {
        let store = map(&[("IS_SANDBOX", "0")]);
        let env = compose(&EnvInputs {
            grant_env: &BTreeMap::new(),
            store_env: &store,
            daemon_env: &[],
            oauth_token: "t",
            private_dir: Path::new("/w"),
        });
        let m: BTreeMap<_, _> = env.into_iter().collect();
        assert_eq!(m["PATH"], DEFAULT_PATH);
        assert_eq!(m["IS_SANDBOX"], "0");
        assert!(!m.contains_key("HOME"));
        for name in DENYLIST {
            assert!(!ENGINE_ALLOW.contains(&name));
        }
        assert!(!ENGINE_ALLOW.contains(&"IS_SANDBOX"));
    }
}
