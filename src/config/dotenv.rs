//! `<state>/.env` (spec 01 §6.2) and the table every knob read of `config` consults: boot
//! loads the file into the process environment once (only names not already set, values
//! verbatim, the file made 0600); [ext] a SIGHUP reads it again into the table only — no
//! `setenv` while other threads run — so new values apply to knobs read from then on and a
//! name removed from the file reads as unset again, while names the process environment
//! sets itself keep winning.

use std::path::Path;

/// `<state>/.env` as this daemon knows it: the names it supplies (those the process
/// environment did not set when `.env` was first read, or later) and their values now.
/// Boot copies them into the process environment (one thread only, spec 01 §6.2);
/// [`reload_dotenv`] (SIGHUP) only updates this table, which every knob read of `config`
/// consults first for those names — so a reload never calls `setenv` while other
/// threads run, and a name removed from `.env` reads as unset again.
#[derive(Default)]
struct DotEnv {
    owned: std::collections::BTreeSet<String>,
    values: std::collections::BTreeMap<String, String>,
}

static DOTENV: parking_lot::RwLock<DotEnv> = parking_lot::const_rwlock(DotEnv {
    owned: std::collections::BTreeSet::new(),
    values: std::collections::BTreeMap::new(),
});

/// One variable as the knobs see it: `.env`'s current value for the names it supplies,
/// else the process environment.
pub(super) fn var(key: &str) -> Option<String> {
    {
        let d = DOTENV.read();
        if d.owned.contains(key) {
            return d.values.get(key).cloned();
        }
    }
    std::env::var(key).ok()
}

pub(super) fn var_os(key: &str) -> Option<std::ffi::OsString> {
    {
        let d = DOTENV.read();
        if d.owned.contains(key) {
            return d.values.get(key).map(std::ffi::OsString::from);
        }
    }
    std::env::var_os(key)
}

/// The `KEY=VALUE` lines of `<state>/.env` (valid names only, values verbatim, first
/// occurrence wins); `None` when the file cannot be read. Chmods it 0600.
fn read_dotenv(state_dir: &Path) -> Option<Vec<(String, String)>> {
    use std::os::unix::fs::PermissionsExt;
    let path = state_dir.join(".env");
    let text = std::fs::read_to_string(&path).ok()?;
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let valid = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid && !out.iter().any(|(k, _)| k == key) {
            out.push((key.to_string(), value.to_string()));
        }
    }
    Some(out)
}

/// Loads `<state>/.env` at boot (spec 01 §6.2): chmod 0600; each `KEY=VALUE` line sets the
/// variable only if it is not already set; values verbatim. Returns how many were set.
/// Call it before any other thread starts (it writes the process environment).
pub fn load_dotenv(state_dir: &Path) -> usize {
    let Some(lines) = read_dotenv(state_dir) else {
        return 0;
    };
    let mut d = DOTENV.write();
    let mut set = 0;
    for (key, value) in lines {
        if std::env::var_os(&key).is_none() {
            std::env::set_var(&key, &value);
            d.owned.insert(key.clone());
            d.values.insert(key, value);
            set += 1;
        }
    }
    set
}

/// SIGHUP: reads `<state>/.env` again. Names the process environment sets itself keep
/// their value (as at boot); for the others `.env`'s new values apply to every knob read
/// from now on (a name left out of `.env` reads as unset). Returns the names whose value
/// changed, sorted. An unreadable file changes nothing.
pub fn reload_dotenv(state_dir: &Path) -> Vec<String> {
    let lines = match read_dotenv(state_dir) {
        Some(l) => l,
        None if state_dir.join(".env").exists() => return Vec::new(),
        None => Vec::new(),
    };
    let mut d = DOTENV.write();
    let before = d.values.clone();
    d.values.clear();
    for (key, value) in lines {
        if d.owned.contains(&key) || std::env::var_os(&key).is_none() {
            d.owned.insert(key.clone());
            d.values.insert(key, value);
        }
    }
    let mut changed: Vec<String> = d
        .owned
        .iter()
        .filter(|k| before.get(*k) != d.values.get(*k))
        .cloned()
        .collect();
    changed.sort();
    changed
}

#[cfg(test)]
mod tests {
    use super::{reload_dotenv, var};

    #[test]
    fn a_reloaded_dotenv_applies_new_values_and_unsets_removed_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join(".env");
        std::fs::write(
            &env,
            "PARACHUTE_TEST_RELOAD_A=1\nPARACHUTE_TEST_RELOAD_B=2\nPATH=/nowhere\n",
        )
        .unwrap();
        assert_eq!(
            reload_dotenv(tmp.path()),
            ["PARACHUTE_TEST_RELOAD_A", "PARACHUTE_TEST_RELOAD_B"]
        );
        assert_eq!(var("PARACHUTE_TEST_RELOAD_A").as_deref(), Some("1"));
        assert_ne!(
            var("PATH").as_deref(),
            Some("/nowhere"),
            "the process environment wins"
        );
        std::fs::write(&env, "PARACHUTE_TEST_RELOAD_A=3\n").unwrap();
        assert_eq!(
            reload_dotenv(tmp.path()),
            ["PARACHUTE_TEST_RELOAD_A", "PARACHUTE_TEST_RELOAD_B"]
        );
        assert_eq!(var("PARACHUTE_TEST_RELOAD_A").as_deref(), Some("3"));
        assert_eq!(var("PARACHUTE_TEST_RELOAD_B"), None, "removed: unset again");
        assert!(reload_dotenv(tmp.path()).is_empty(), "nothing changed");
    }
}
