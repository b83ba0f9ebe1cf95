//! Black-box tests of agent definitions against the fake vault (spec 03 §2, spec 02 §4):
//! definition notes become live agents via the reload webhook and via the poll, invalid
//! fields stamp `status: error`, the status stamp never re-triggers itself, the
//! `/api/agent-defs` CRUD, `/api/agent-vaults`, `/api/vaults`, and boot-time trigger
//! auto-registration.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::FakeVault;

mod api;
mod boot;
mod lifecycle;

pub(super) struct Rig {
    fv: FakeVault,
    d: Daemon,
    read: String,
    admin: String,
    send: String,
}

pub(super) fn write_bindings(b: &DaemonBuilder, fv: &FakeVault, vaults: &[&str]) {
    let list: Vec<Value> = vaults
        .iter()
        .map(|v| json!({"vault": v, "vaultUrl": fv.url(), "token": FakeVault::TOKEN}))
        .collect();
    let dir = b.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    // programmatic agents need a Claude credential to come up (spec 03 §2.7 step 4)
    std::fs::write(
        dir.join("credentials.json"),
        json!({"claude": {"default": "sk-ant-oat01-test"}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("agent-vaults.json"),
        serde_json::to_string_pretty(&json!({ "vaults": list })).unwrap(),
    )
    .unwrap();
}

/// A fake vault with `vaults`, bound as def-vaults; the daemon polls every `poll_ms`.
pub(super) fn start(poll_ms: u64, vaults: &[&str]) -> Rig {
    let fv = FakeVault::start();
    for v in vaults {
        fv.add_vault(v);
    }
    let b = DaemonBuilder::new().env("PARACHUTE_AGENT_DEF_POLL_MS", &poll_ms.to_string());
    write_bindings(&b, &fv, vaults);
    let d = b.start();
    assert!(
        d.wait_log("vault-native agent defs —"),
        "boot load did not run:\n{}",
        d.log()
    );
    let (read, admin, send) = (
        d.mint("agent:read"),
        d.mint("agent:admin"),
        d.mint("agent:send"),
    );
    Rig {
        fv,
        d,
        read,
        admin,
        send,
    }
}

pub(super) fn def_note(name: &str, body: &str, meta: Value) -> Value {
    json!({"content": body, "tags": ["agent/definition"], "path": format!("Agents/{name}"),
           "metadata": meta})
}

pub(super) fn wait(secs: u64, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

impl Rig {
    fn defs(&self) -> Vec<Value> {
        let r = self.d.get("/api/agent-defs", Some(&self.read));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["defs"].as_array().cloned().unwrap_or_default()
    }

    fn def_named(&self, name: &str) -> Option<Value> {
        self.defs().into_iter().find(|d| d["name"] == name)
    }

    fn note_meta(&self, vault: &str, id: &str) -> Value {
        self.fv.note(vault, id).expect("note")["metadata"].clone()
    }

    fn reload(&self, body: Value) -> (u16, Value) {
        let r = self.d.post("/api/vault/agent-def", Some(&self.send), &body);
        let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        (r.status, v)
    }

    /// Def-watch triggers pointing straight at the daemon, as the hub would provision.
    fn watch_defs(&self, vault: &str) {
        for (name, event) in [("defs-create", "created"), ("defs-edit", "updated")] {
            self.fv
                .register_trigger(
                    vault,
                    json!({"name": name, "events": [event], "when": {"tags": ["agent/definition"]},
                           "action": {"webhook": self.d.url("/api/vault/agent-def"), "send": "json",
                                      "auth": {"bearer": self.send}}}),
                )
                .unwrap();
        }
    }

    /// PATCH requests the daemon sent for note `id`.
    fn patches_of(&self, id: &str) -> usize {
        self.fv
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.url.contains(&format!("/notes/{id}")))
            .count()
    }
}

pub(super) use crate::support::hub::FakeHub;

/// A daemon bound to `vaults` on `fv`, with the minting hub and an operator token.
pub(super) fn start_with_hub(
    fv: &FakeVault,
    hub: &FakeHub,
    vaults: &[&str],
    op_token: &str,
) -> Daemon {
    let b = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_DEF_POLL_MS", "600000");
    if !vaults.is_empty() {
        write_bindings(&b, fv, vaults);
    }
    let home = b.state_dir().parent().unwrap().join("home/.parachute");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("operator.token"), op_token).unwrap();
    b.start()
}
