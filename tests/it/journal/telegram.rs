//! Telegram + programmatic agent across `kill -9`: the update offset is kept in
//! the journal, so after a restart no update is handled twice and none is lost.

use std::time::Duration;

use serde_json::json;

use super::{prompts_in, wait_until};
use crate::programmatic::api::{fakes_path, write_credentials};
use crate::support::daemon::DaemonBuilder;
use crate::support::fake_telegram::FakeTelegram;

const TOKEN: &str = "4343:FAKEjournalTOKEN";

#[test]
fn kill_9_between_updates_neither_loses_nor_repeats_one() {
    let tg = FakeTelegram::start(TOKEN);
    let b = DaemonBuilder::new()
        .env("PATH", &fakes_path())
        .env("PARACHUTE_AGENT_TELEGRAM_API", &tg.url())
        .env("PARACHUTE_AGENT_TELEGRAM_POLL_SECS", "1")
        .env("PARACHUTE_AGENT_TELEGRAM_RETRY_MS", "100");
    let state = b.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let channels = json!({"channels": [
        {"name": "tg", "transport": "telegram", "config": {"token": TOKEN}}
    ]});
    std::fs::write(state.join("channels.json"), channels.to_string()).unwrap();
    write_credentials(&state, json!({}));
    let access = json!({"dmPolicy": "allowlist", "allowFrom": ["42"], "groups": {}, "pending": {}});
    std::fs::write(state.join("access.json"), access.to_string()).unwrap();
    let mut d = b.start();
    super::wait_channel(&d, "tg");
    let admin = d.mint("agent:admin agent:read agent:send");
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "tgbot", "channels": ["tg"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let calls = d.state_dir().join("sessions/tgbot/fake-claude-calls.jsonl");
    for i in 0..3 {
        tg.push_text(42, &format!("[fake:sleep:600] t{i}"));
    }
    // all three confirmed to Telegram (journaled), the first turn running
    assert!(wait_until(Duration::from_secs(30), || tg.pending() == 0
        && !prompts_in(&calls).is_empty()));
    // the old poller confirmed t0..t2 (its last poll's offset is past them)
    assert!(wait_until(Duration::from_secs(10), || tg
        .offsets()
        .last()
        .copied()
        .flatten()
        .is_some()));
    d.kill9();
    let polls_before = tg.offsets().len();
    let confirmed = tg.offsets()[polls_before - 1];
    d.respawn();
    tg.push_text(42, "[fake:sleep:10] t3");
    let sent = tg.wait_calls("sendMessage", 4, Duration::from_secs(60));
    let texts: Vec<String> = sent
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts.len(), 4, "{texts:#?}\n{}", d.log());
    for (i, t) in texts.iter().enumerate() {
        let ms = if i == 3 { 10 } else { 600 };
        assert!(
            t.starts_with(&format!("echo: [fake:sleep:{ms}] t{i} (turn")),
            "reply {i}: {t:?}"
        );
    }
    let after = &tg.offsets()[polls_before..];
    assert_eq!(
        after.first().copied().flatten(),
        confirmed,
        "the restarted poller resumed past t0..t2: {after:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(tg.calls("sendMessage").len(), 4, "nothing answered twice");
    let prompts = prompts_in(&calls);
    assert_eq!(
        prompts.len(),
        5,
        "t0 ran twice (attempt 2), the others once: {prompts:#?}"
    );
}
