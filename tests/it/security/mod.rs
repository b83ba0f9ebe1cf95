//! Operator security, black-box (spec 01 §4, §5; spec 04 §2.3–§2.4): one-time
//! SSE tickets, the step-up PIN and its lockout, and the credentials store with its routes.
//! Tickets are consumed through the debug-only hook `GET /__test/ticket?scope=<scope>`,
//! which runs exactly the guard the SSE routes use (`security::consume_ticket`).

mod credentials;
mod step_up;
mod tickets;

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};

pub const ADMIN: &str = "agent:read agent:send agent:admin";

/// Produced by the Argon2 reference C implementation's CLI (`echo -n 482913 | argon2
/// "reference-salt-32-bytes-long!!!!" -id -m 16 -t 2 -p 1 -l 32 -e`): the format the
/// reference daemon writes to `step-up.json`.
pub const REFERENCE_PHC: &str = "$argon2id$v=19$m=65536,t=2,p=1$cmVmZXJlbmNlLXNhbHQtMzItYnl0ZXMtbG9uZyEhISE$hEjknBTaI6+ZMM0l3JPvzPlY4Vas7ek6iYbQC7dulnA";

pub fn daemon() -> Daemon {
    DaemonBuilder::new().start()
}

pub fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `send` with a JSON body and optional step-up token.
pub fn call(
    d: &Daemon,
    method: &str,
    path: &str,
    token: &str,
    step_up: Option<&str>,
    body: Option<Value>,
) -> crate::support::http::Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(s) = step_up {
        headers.push(("X-Step-Up-Token", s));
    }
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
    d.send(method, path, Some(token), &headers, bytes.as_deref())
}

pub fn set_pin(d: &Daemon, token: &str, pin: &str) {
    let r = d.post("/api/step-up/pin", Some(token), &json!({"newPin": pin}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"ok": true, "configured": true}));
}

pub fn exchange(d: &Daemon, token: &str, pin: &str) -> String {
    let r = d.post("/api/step-up", Some(token), &json!({"pin": pin}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["stepUpToken"].as_str().unwrap().to_string()
}

pub fn mint_ticket(d: &Daemon, token: &str) -> String {
    let r = d.post("/api/ui/sse-ticket", Some(token), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["ticket"].as_str().unwrap().to_string()
}

pub fn consume(d: &Daemon, ticket: &str, scope: &str) -> crate::support::http::Reply {
    d.get(
        &format!("/__test/ticket?scope={scope}&ticket={ticket}"),
        None,
    )
}
