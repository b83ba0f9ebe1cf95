//! SIGHUP reloads `channels.json`, `.env` and `agent-vaults.json` without dropping work:
//! a channel added to the file answers, messages queued before the reload are answered
//! once each, a removed channel's agent goes away with it (its queue stays journaled) and
//! comes back with it, and `.env` changes are applied or named as boot-only (a changed
//! Telegram API restarts the telegram channel against it).

use std::time::Duration;

use serde_json::{json, Value};

use super::{http_ui_rig, prompts_in, wait_until, Rig};
use crate::support::daemon::DaemonBuilder;

fn hup(rig: &Rig) {
    let before = rig.d.log().matches("reload done").count();
    let pid = rig.d.child.as_ref().unwrap().id() as i32;
    unsafe { libc::kill(pid, libc::SIGHUP) };
    assert!(
        wait_until(Duration::from_secs(20), || rig
            .d
            .log()
            .matches("reload done")
            .count()
            > before),
        "{}",
        rig.d.log()
    );
}

fn write_channels(rig: &Rig, names: &[&str]) {
    let list: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "transport": "http-ui"}))
        .collect();
    std::fs::write(
        rig.d.state_dir().join("channels.json"),
        json!({ "channels": list }).to_string(),
    )
    .unwrap();
}

fn replies_on(rig: &Rig, channel: &str) -> Vec<String> {
    let r = rig.d.get(
        &format!("/api/channels/{channel}/messages"),
        Some(&rig.admin),
    );
    if r.status != 200 {
        return Vec::new();
    }
    super::outbound_texts(&r.json())
}

fn agents(rig: &Rig) -> Vec<String> {
    let r = rig.d.get("/api/agents", Some(&rig.admin));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["agents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn sighup_adds_and_removes_channels_and_applies_env_without_dropping_queued_work() {
    let rig = http_ui_rig(DaemonBuilder::new());
    assert_eq!(rig.send("[fake:sleep:2500] queued one").status, 200);
    assert_eq!(rig.send("[fake:sleep:10] queued two").status, 200);
    assert!(wait_until(Duration::from_secs(30), || !rig
        .prompts()
        .is_empty()));
    // while the first turn runs: a new channel, a reloadable and a boot-only .env knob
    write_channels(&rig, &["web", "side"]);
    std::fs::write(
        rig.d.state_dir().join(".env"),
        "PARACHUTE_AGENT_JOURNAL_MAX_ATTEMPTS=5\nPARACHUTE_AGENT_JOB_TICK_MS=1234\n",
    )
    .unwrap();
    hup(&rig);
    let log = rig.d.log();
    assert!(
        log.contains("reload: channels added [side], replaced [], removed []"),
        "{log}"
    );
    assert!(
        log.contains("reload: journal limits now 5 attempt(s)"),
        "{log}"
    );
    assert!(
        log.contains("PARACHUTE_AGENT_JOB_TICK_MS changed in .env but only take(s) effect at boot"),
        "{log}"
    );
    let r = rig.d.post(
        "/api/agents",
        Some(&rig.admin),
        &json!({"name": "sidebot", "channels": ["side"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let send_side = |text: &str| {
        let r = rig.d.post(
            "/api/channels/side/send",
            Some(&rig.admin),
            &json!({ "text": text }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    send_side("[fake:sleep:10] hello side");
    assert!(
        wait_until(Duration::from_secs(30), || replies_on(&rig, "side").len()
            == 1),
        "{}",
        rig.d.log()
    );
    let replies = rig.wait_replies(2, Duration::from_secs(30));
    assert_eq!(replies.len(), 2, "{replies:#?}");
    assert!(replies[0].starts_with("echo: [fake:sleep:2500] queued one (turn"));
    assert!(replies[1].starts_with("echo: [fake:sleep:10] queued two (turn"));
    assert_eq!(rig.prompts().len(), 2, "nothing ran twice");

    // Removing the channel takes its agent along; a message queued for it stays journaled.
    send_side("[fake:sleep:3000] busy side");
    let side_calls = rig
        .d
        .state_dir()
        .join("sessions/sidebot/fake-claude-calls.jsonl");
    assert!(wait_until(Duration::from_secs(30), || prompts_in(
        &side_calls
    )
    .len()
        == 2));
    send_side("[fake:sleep:10] waits for the channel");
    write_channels(&rig, &["web"]);
    hup(&rig);
    assert!(rig.d.log().contains("removed [side]"), "{}", rig.d.log());
    assert!(!agents(&rig).contains(&"sidebot".to_string()));
    assert_eq!(
        rig.d
            .post(
                "/api/channels/side/send",
                Some(&rig.admin),
                &json!({"text": "x"})
            )
            .status,
        404
    );
    // The running turn finished; the queued one did not run.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(prompts_in(&side_calls).len(), 2);
    // The channel comes back: its persisted agent registers and answers what waited.
    write_channels(&rig, &["web", "side"]);
    hup(&rig);
    assert!(rig.d.log().contains("channels added [side]"));
    assert!(
        rig.d.log().contains("removed []; 1 agent(s) registered"),
        "{}",
        rig.d.log()
    );
    assert!(
        wait_until(Duration::from_secs(30), || prompts_in(&side_calls).len()
            == 3),
        "{}",
        rig.d.log()
    );
    let p = prompts_in(&side_calls);
    assert_eq!(p[2], "[fake:sleep:10] waits for the channel");
    let h = rig.d.get("/health", None).json();
    assert!(
        wait_until(Duration::from_secs(10), || rig
            .d
            .get("/health", None)
            .json()["journal"]["pending"]
            == 0),
        "{h}"
    );
}

#[test]
fn a_telegram_knob_changed_in_dotenv_restarts_the_telegram_channel_with_it() {
    use crate::support::fake_telegram::FakeTelegram;
    const TOKEN: &str = "5151:FAKEreloadTOKEN";
    let (old, new) = (FakeTelegram::start(TOKEN), FakeTelegram::start(TOKEN));
    let b = DaemonBuilder::new()
        .unset("PARACHUTE_AGENT_TELEGRAM_API")
        .env("PARACHUTE_AGENT_TELEGRAM_POLL_SECS", "1")
        .env("PARACHUTE_AGENT_TELEGRAM_RETRY_MS", "100");
    let state = b.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let channels = json!({"channels": [
        {"name": "tg", "transport": "telegram", "config": {"token": TOKEN}}
    ]});
    std::fs::write(state.join("channels.json"), channels.to_string()).unwrap();
    let dotenv = |api: &str| {
        std::fs::write(
            state.join(".env"),
            format!("PARACHUTE_AGENT_TELEGRAM_API={api}\n"),
        )
        .unwrap()
    };
    dotenv(&old.url());
    let d = b.start();
    let rig = Rig {
        admin: d.mint("agent:admin"),
        d,
    };
    assert!(
        wait_until(Duration::from_secs(20), || old.polls() > 0),
        "polls the API .env names: {}",
        rig.d.log()
    );
    dotenv(&new.url());
    hup(&rig);
    assert!(
        rig.d
            .log()
            .contains("reload: .env changed PARACHUTE_AGENT_TELEGRAM_API"),
        "{}",
        rig.d.log()
    );
    assert!(rig.d.log().contains("replaced [tg]"), "{}", rig.d.log());
    assert!(
        wait_until(Duration::from_secs(20), || new.polls() > 0),
        "{}",
        rig.d.log()
    );
    // the old poller's last long poll runs out (≤ 1 s), then it stays quiet
    std::thread::sleep(Duration::from_millis(2500));
    let settled = old.polls();
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(old.polls(), settled, "the old API is no longer polled");
}
