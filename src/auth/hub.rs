//! Hub origin resolution (spec 01 §3.2): the issuer pin and the host of the JWKS and the
//! revocation list. `expose-state.json` is read per validation so an operator's change
//! takes effect at once.

use std::path::{Path, PathBuf};

/// Where the hub origin comes from, resolved on every use ([`HubOrigin::resolve`]).
#[derive(Debug, Clone)]
pub struct HubOrigin {
    overridden: Option<String>,
    parachute_home: PathBuf,
}

impl HubOrigin {
    /// `overridden` is `Config::auth.hub_origin`; `parachute_home` holds `expose-state.json`.
    pub fn new(overridden: Option<String>, parachute_home: PathBuf) -> HubOrigin {
        HubOrigin {
            overridden,
            parachute_home,
        }
    }

    pub fn resolve(&self) -> String {
        resolve_origin(self.overridden.as_deref(), &self.parachute_home)
    }
}

/// `PARACHUTE_HUB_ORIGIN` (`overridden`, from `Config::auth`) > `expose-state.json`
/// (`hubOrigin`, else `https://<canonicalFqdn>`, never a loopback origin) >
/// `http://127.0.0.1:1939`.
pub fn resolve_origin(overridden: Option<&str>, parachute_home: &Path) -> String {
    if let Some(env) = overridden {
        return strip_slash(env);
    }
    from_expose_state(parachute_home).unwrap_or_else(|| "http://127.0.0.1:1939".to_string())
}

fn strip_slash(s: &str) -> String {
    s.strip_suffix('/').unwrap_or(s).to_string()
}

fn from_expose_state(home: &Path) -> Option<String> {
    let text = std::fs::read_to_string(home.join("expose-state.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let origin = match v
        .get("hubOrigin")
        .and_then(|o| o.as_str())
        .filter(|s| !s.is_empty())
    {
        Some(o) => o.to_string(),
        None => format!(
            "https://{}",
            v.get("canonicalFqdn")?.as_str().filter(|s| !s.is_empty())?
        ),
    };
    let origin = strip_slash(&origin);
    (!origin.is_empty() && !is_loopback(&origin)).then_some(origin)
}

/// `http(s)://127.0.0.1|localhost|[::1]` followed by `:`, `/` or the end.
pub fn is_loopback(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return false;
    };
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
        rest.strip_prefix(h)
            .is_some_and(|tail| tail.is_empty() || tail.starts_with(':') || tail.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:1939"));
        assert!(is_loopback("https://LOCALHOST"));
        assert!(is_loopback("http://[::1]/x"));
        assert!(!is_loopback("https://localhost.example.com"));
        assert!(!is_loopback("https://hub.example.com"));
    }

    #[test]
    fn expose_state_rules() {
        let dir = tempfile::tempdir().unwrap();
        let write = |s: &str| std::fs::write(dir.path().join("expose-state.json"), s).unwrap();
        write(r#"{"hubOrigin":"https://hub.example.com/"}"#);
        assert_eq!(
            from_expose_state(dir.path()).as_deref(),
            Some("https://hub.example.com")
        );
        write(r#"{"canonicalFqdn":"box.example.com"}"#);
        assert_eq!(
            from_expose_state(dir.path()).as_deref(),
            Some("https://box.example.com")
        );
        write(r#"{"hubOrigin":"http://localhost:1939"}"#);
        assert_eq!(from_expose_state(dir.path()), None);
        write("not json");
        assert_eq!(from_expose_state(dir.path()), None);
    }
}
