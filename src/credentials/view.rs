//! The effective-env view of `GET /api/agents/<name>/env` (spec 04 §2.5): which
//! operator-scoped variable *names* a turn would receive and from which layer. The caller
//! (agents area) supplies the approved-grant service variables; this module applies the
//! precedence `channel` > `default` > `grant:<svc>`, marks the losers `overridden`, and
//! sorts by name (`localeCompare` order) with the winner first. Never a value.
//! Denylisted names are left out: a turn never receives them (a small, deliberate
//! difference from the reference, which lists hand-planted ones too).

use super::names::locale_cmp;
use super::store::{CredentialError, CredentialStore};
use serde::Serialize;

/// One entry of the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvViewEntry {
    pub name: String,
    /// `"default"`, `"channel"` or `"grant:<service>"`.
    pub source: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overridden: bool,
}

/// An approved service grant's variable: `(service, env var name)`.
pub type GrantVar = (String, String);

impl CredentialStore {
    /// The view for `channel` (the agent name), with `grants` from the live definition.
    pub fn effective_env_view(
        &self,
        channel: &str,
        grants: &[GrantVar],
    ) -> Result<Vec<EnvViewEntry>, CredentialError> {
        let (default, chan) = self.env_names(channel)?;
        // Layers in precedence order; rank 0 wins.
        let mut entries: Vec<(usize, EnvViewEntry)> = Vec::new();
        let mut push = |rank: usize, name: &str, source: String| {
            entries.push((
                rank,
                EnvViewEntry {
                    name: name.to_string(),
                    source,
                    overridden: false,
                },
            ))
        };
        chan.iter().for_each(|n| push(0, n, "channel".into()));
        default.iter().for_each(|n| push(1, n, "default".into()));
        grants
            .iter()
            .for_each(|(svc, n)| push(2, n, format!("grant:{svc}")));
        entries.sort_by(|(ra, a), (rb, b)| locale_cmp(&a.name, &b.name).then(ra.cmp(rb)));
        let mut out: Vec<EnvViewEntry> = Vec::with_capacity(entries.len());
        for (_, mut e) in entries {
            e.overridden = out.last().is_some_and(|prev| prev.name == e.name);
            out.push(e);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_sort_and_overridden_marks() {
        let dir = tempfile::tempdir().unwrap();
        let s = CredentialStore::new(dir.path());
        s.set_env(None, "GITHUB_TOKEN", "d").unwrap();
        s.set_env(None, "DEFAULT_VAR", "d").unwrap();
        s.set_env(Some("eng"), "GITHUB_TOKEN", "c").unwrap();
        s.set_env(Some("eng"), "CHANNEL_VAR", "c").unwrap();
        s.set_env(Some("ops"), "OPS_ONLY", "c").unwrap();
        let grants = vec![("github".to_string(), "GITHUB_TOKEN".to_string())];
        let view = s.effective_env_view("eng", &grants).unwrap();
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"name":"CHANNEL_VAR","source":"channel"},
                {"name":"DEFAULT_VAR","source":"default"},
                {"name":"GITHUB_TOKEN","source":"channel"},
                {"name":"GITHUB_TOKEN","source":"default","overridden":true},
                {"name":"GITHUB_TOKEN","source":"grant:github","overridden":true}
            ])
        );
        assert!(s.effective_env_view("nobody", &[]).unwrap().len() == 2);
    }
}
