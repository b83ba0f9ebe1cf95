//! A vault-native agent with the real CLI: a multi-threaded `agent/definition` on the
//! fake vault (def-vault, vault token minted at the fake hub). Each fire writes the reply
//! note and its own thread note, a `reply_to` callback names a thread note that resolves,
//! and the second fire starts a fresh conversation (its API request does not carry the
//! first exchange).

use std::time::Instant;

use parachute_agent::vault::notes::{self, TAG_INBOUND, TAG_OUTBOUND};
use serde_json::{json, Value};

use super::*;
use crate::support::fake_anthropic::FakeAnthropic;
use crate::support::fake_vault::FakeVault;
use crate::support::hub::FakeHub;

fn start(claude: &Path, fv: &FakeVault, hub: &FakeHub, api: &FakeAnthropic) -> Daemon {
    let b = DaemonBuilder::new()
        .env("PATH", &path_with(claude))
        .hub(&hub.origin)
        .env("PARACHUTE_VAULT_URL", &fv.url())
        .def_vault(&fv.url(), FakeVault::TOKEN);
    let dir = b.state_dir();
    write_credentials(&dir, api, &[]);
    // the agent the callbacks go to (a plain vault channel on the same vault)
    std::fs::write(
        dir.join("channels.json"),
        json!({"channels": [{"name": "boss", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}}]})
        .to_string(),
    )
    .unwrap();
    b.start()
}

fn wait_for<T>(d: &Daemon, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < TURN_WAIT, "{what}; log:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn multi_threaded_vault_agent_writes_reply_and_thread_notes_and_starts_fresh() {
    let Some(claude) = real_claude() else { return };
    let fv = FakeVault::start();
    let hub = FakeHub::start();
    let api = FakeAnthropic::start(&json!({"main": [
        {"text": "first vault answer"}, {"text": "second vault answer"}]}));
    fv.create_note(
        "default",
        json!({"content": "You are the vault test agent.", "tags": ["agent/definition"],
               "path": "Agents/m", "metadata": {"name": "m", "mode": "multi-threaded"}}),
    );
    let d = start(&claude, &fv, &hub, &api);
    let admin = d.mint("agent:admin");
    wait_for(&d, "definition never registered", || {
        let a = d.get("/api/agents", Some(&admin)).json();
        (a["agents"].as_array()?.len() == 1).then_some(())
    });
    fv.register_trigger(
        "default",
        json!({"name": "real-cli-inbound", "events": ["created"],
               "when": {"tags": [TAG_INBOUND], "has_metadata": ["agent"],
                        "missing_metadata": ["channel_inbound_rendered_at"]},
               "action": {"webhook": d.url("/api/vault/inbound"), "send": "json",
                          "auth": {"bearer": d.mint("agent:send")}}}),
    )
    .unwrap();
    let send = |text: &str, extras: &[(&str, &str)]| -> String {
        let extras: Vec<(String, String)> = extras
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ts = parachute_agent::util::time::now_iso();
        let (_, body) = notes::inbound_message_body("channel", "m", text, "operator", &ts, &extras);
        fv.create_note("default", body)["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let reply_to = |needle: &str| -> Value {
        wait_for(&d, &format!("no reply {needle:?}"), || {
            fv.notes_tagged("default", TAG_OUTBOUND)
                .into_iter()
                .find(|n| n["content"].as_str().unwrap_or("").contains(needle))
        })
    };

    let first = send(
        "first vault question",
        &[("reply_to", "boss"), ("correlation_id", "c-9")],
    );
    let out1 = reply_to("first vault answer");
    assert_eq!(out1["metadata"]["agent"], "m");
    assert_eq!(out1["metadata"]["in_reply_to"], first.as_str(), "{out1}");
    // the callback names the thread note of this fire, and it resolves
    let callback = wait_for(&d, "no callback note", || {
        fv.notes_tagged("default", TAG_INBOUND)
            .into_iter()
            .find(|n| n["metadata"]["callback"] == "true")
    });
    let m = &callback["metadata"];
    assert_eq!(
        (m["agent"].as_str(), m["status"].as_str()),
        (Some("boss"), Some("ok"))
    );
    assert_eq!(m["source_message"], out1["id"]);
    let thread_id = m["source_thread"].as_str().expect("source_thread");
    let thread = fv
        .note("default", thread_id)
        .expect("source_thread resolves");
    assert!(
        thread["tags"].to_string().contains("agent/thread"),
        "{thread}"
    );
    assert!(
        thread["path"].as_str().unwrap().starts_with("Threads/m/"),
        "{thread}"
    );
    assert!(
        thread["content"]
            .as_str()
            .unwrap_or("")
            .contains("first vault answer"),
        "the thread note records the turn: {thread}"
    );

    send("second vault question", &[]);
    reply_to("second vault answer");
    let threads = fv.notes_tagged("default", "agent/thread");
    assert_eq!(threads.len(), 2, "one thread note per fire: {threads:?}");
    let reqs = api.main_requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let texts = message_texts(&reqs[1]["body"]);
    assert!(
        texts
            .iter()
            .any(|(_, t)| t.contains("second vault question"))
            && !texts.iter().any(|(_, t)| t.contains("first vault")),
        "a multi-threaded agent's second fire starts fresh: {texts:?}"
    );
    assert!(reqs[0]["body"]["system"]
        .to_string()
        .contains("You are the vault test agent."));
}
