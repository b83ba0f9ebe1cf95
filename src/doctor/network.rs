//! The network checks: the hub answers and serves a usable JWKS, each def-vault answers
//! with its token, and the port is free or held by a parachute-agent daemon.

use std::time::Duration;

use serde_json::Value;

use super::Check;
use crate::config::Config;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .max_redirects(0)
        .build()
        .new_agent()
}

/// Whether a hub is expected at all: an origin set, an exposure, or an operator token.
fn hub_configured(config: &Config) -> bool {
    let home = &config.parachute_home;
    config.auth.hub_origin.is_some()
        || home.join("expose-state.json").is_file()
        || home.join("operator.token").is_file()
}

pub fn hub(config: &Config) -> Check {
    let name = "hub";
    let origin =
        crate::auth::hub::resolve_origin(config.auth.hub_origin.as_deref(), &config.parachute_home);
    if !hub_configured(config) {
        return Check::skip(
            name,
            format!("standalone: no PARACHUTE_HUB_ORIGIN, expose-state.json or operator.token (local tokens only; a hub would be {origin})"),
        );
    }
    let url = format!("{origin}/.well-known/jwks.json");
    let mut resp = match agent().get(&url).call() {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                name,
                format!("{origin} is unreachable: {e}"),
                format!("start the hub, or point PARACHUTE_HUB_ORIGIN at it (now {origin}); hub tokens cannot be verified until it answers"),
            )
        }
    };
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    if status != 200 {
        return Check::fail(
            name,
            format!("GET {url} answered {status}"),
            "check that PARACHUTE_HUB_ORIGIN is the hub's origin (not the vault's or this daemon's)",
        );
    }
    match usable_keys(&body) {
        Ok(n) => Check::ok(name, format!("{origin}: JWKS with {n} RS256 key(s)")),
        Err(e) => Check::fail(
            name,
            format!("{url}: {e}"),
            "the hub's JWKS must hold RSA keys with kid, n and e; update or restart the hub",
        ),
    }
}

/// Number of RSA signing keys with `kid`, `n`, `e` in a JWKS document.
fn usable_keys(body: &str) -> Result<usize, String> {
    let doc: Value = serde_json::from_str(body).map_err(|_| "not JSON".to_string())?;
    let keys = doc["keys"].as_array().ok_or("no \"keys\" array")?;
    let n = keys
        .iter()
        .filter(|k| {
            k["kty"] == "RSA"
                && ["kid", "n", "e"]
                    .iter()
                    .all(|f| k[*f].as_str().is_some_and(|s| !s.is_empty()))
                && jsonwebtoken::DecodingKey::from_rsa_components(
                    k["n"].as_str().unwrap_or(""),
                    k["e"].as_str().unwrap_or(""),
                )
                .is_ok()
        })
        .count();
    if n == 0 {
        return Err(format!("{} key(s), none a usable RSA key", keys.len()));
    }
    Ok(n)
}

pub fn def_vaults(config: &Config, out: &mut Vec<Check>) {
    let path = crate::agents::vaults::file_path(&config.state_dir);
    let Ok(Some(bindings)) = crate::agents::vaults::load(&path) else {
        return;
    };
    for b in bindings {
        let name = format!("def-vault {}", b.vault);
        if b.token.is_empty() {
            out.push(Check::fail(
                &name,
                "no token",
                "re-bind it: POST /api/agent-vaults {\"vault\",\"token\"}",
            ));
            continue;
        }
        let client = crate::vault::client::VaultClient::new(Some(&b.url()), &b.vault, &b.token);
        let q = crate::vault::client::NoteQuery::tagged("agent/definition", 1);
        out.push(match client.list_notes(&q) {
            Ok(_) => Check::ok(&name, format!("{} answers with its token", b.url())),
            Err(e) => Check::fail(
                &name,
                format!("{}: {e}", b.url()),
                "start the vault, or re-bind the def-vault with a valid token (vault:<name>:read at least): POST /api/agent-vaults",
            ),
        });
    }
}

pub fn port(config: &Config) -> Check {
    let name = "port";
    let port = config.port;
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
        return Check::ok(name, format!("127.0.0.1:{port} is free"));
    }
    let url = format!("http://127.0.0.1:{port}/health");
    let ours = agent()
        .get(&url)
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .and_then(|b| serde_json::from_str::<Value>(&b).ok())
        .is_some_and(|v| v["status"] == "ok" && v["channels"].is_array());
    if ours {
        Check::ok(
            name,
            format!("127.0.0.1:{port} is held by a running parachute-agent"),
        )
    } else {
        Check::fail(
            name,
            format!("127.0.0.1:{port} is held by another program"),
            format!("stop it (ss -ltnp 'sport = :{port}' shows which), or run the daemon on another port: PORT=<n> / --port <n>"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_needs_a_usable_rsa_key() {
        assert!(usable_keys("nope").is_err());
        assert!(usable_keys(r#"{"keys":[]}"#).is_err());
        assert!(usable_keys(r#"{"keys":[{"kty":"EC","kid":"a"}]}"#).is_err());
        let k = r#"{"keys":[{"kty":"RSA","kid":"k1","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}"#;
        assert_eq!(usable_keys(k), Ok(1));
    }
}
