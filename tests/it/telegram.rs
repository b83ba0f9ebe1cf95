//! The telegram transport, black-box (spec 05 §6, §0.4, §3; lessons of spec 07 §4): the
//! real daemon long-polls a fake Bot API (`support/fake_telegram.rs`) with a 1 s poll
//! timeout; inbound messages reach `/events`, bridge REST calls reach the Bot API.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_telegram::FakeTelegram;
use crate::support::sse::{self, SseClient};

const TOKEN: &str = "4242:FAKEtokenSECRETvalue";
const WAIT: Duration = Duration::from_secs(10);

fn write_access(dir: &Path, access: &Value) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("access.json"), access.to_string()).unwrap();
}

/// A fake Bot API and a daemon with one telegram channel `tg` on it.
fn setup(access: Option<Value>, conflicts: usize) -> (FakeTelegram, Daemon) {
    setup_with(access, conflicts, "debug")
}

fn setup_with(access: Option<Value>, conflicts: usize, log: &str) -> (FakeTelegram, Daemon) {
    let tg = FakeTelegram::start(TOKEN);
    tg.conflict_next(conflicts);
    let b = DaemonBuilder::new()
        .env("RUST_LOG", log)
        .env("PARACHUTE_AGENT_TELEGRAM_API", &tg.url())
        .env("PARACHUTE_AGENT_TELEGRAM_POLL_SECS", "1")
        .env("PARACHUTE_AGENT_TELEGRAM_RETRY_MS", "100")
        .env("PARACHUTE_AGENT_TELEGRAM_CONFLICT_MS", "300")
        .env("PARACHUTE_AGENT_SSE_KEEPALIVE_SECS", "1");
    let state = b.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let channels = json!({"channels": [
        {"name": "tg", "transport": "telegram", "config": {"token": TOKEN}}
    ]});
    std::fs::write(state.join("channels.json"), channels.to_string()).unwrap();
    if let Some(a) = access {
        write_access(&state, &a);
    }
    (tg, b.start())
}

fn allow(users: &[&str]) -> Value {
    json!({"dmPolicy": "allowlist", "allowFrom": users, "groups": {}, "pending": {}})
}

fn events(d: &Daemon) -> SseClient {
    let read = d.mint("agent:read");
    let s = sse::connect(&d.url("/events?channel=tg"), Some(&read))
        .ok()
        .unwrap();
    assert_eq!(s.status, 200);
    s
}

fn eventually(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    pred()
}

fn poller(d: &Daemon) -> Value {
    d.get("/health", None).json()["channels"][0]["poller"].clone()
}

#[test]
fn allowed_sender_reaches_events_with_meta_and_others_are_dropped() {
    let (tg, d) = setup(None, 0);
    let ev = events(&d);
    // No access.json: fail closed, but the update is consumed (confirmed by the next offset).
    tg.push_text(42, "before any access file");
    assert!(eventually(WAIT, || tg.pending() == 0 && tg.polls() >= 2));
    assert!(d.wait_log("denying everyone"), "{}", d.log());
    write_access(&d.state_dir(), &allow(&["42"]));
    tg.push_text(7, "intruder");
    let mid = tg.push_text(42, "hello there");
    let (name, data) = ev.next_event(WAIT).expect("message event");
    assert_eq!(name, "message");
    assert_eq!(
        data,
        json!({"content": "hello there", "source": "telegram", "meta": {
            "chat_id": "42", "message_id": mid.to_string(), "user": "user42",
            "user_id": "42", "ts": "2023-11-14T22:13:20.000Z"
        }})
    );
    // A photo with a caption is downloaded into the inbox at once.
    tg.add_file("PHOTOBIG", "photos/file_9.jpg", b"JPEGBYTES");
    tg.push_message(json!({
        "from": {"id": 42, "first_name": "Ann"}, "chat": {"id": 42},
        "caption": "look", "photo": [
            {"file_id": "PHOTOSMALL", "file_unique_id": "s1", "file_size": 10},
            {"file_id": "PHOTOBIG", "file_unique_id": "b1", "file_size": 9}
        ]
    }));
    let (_, data) = ev.next_event(WAIT).expect("photo event");
    let meta = &data["meta"];
    assert_eq!(data["content"], "look");
    assert_eq!(meta["user"], "Ann");
    assert_eq!(
        (
            meta["attachment_kind"].as_str(),
            meta["attachment_file_id"].as_str()
        ),
        (Some("photo"), Some("PHOTOBIG"))
    );
    assert_eq!(
        (
            meta["attachment_size"].as_str(),
            meta["attachment_mime"].as_str()
        ),
        (Some("9"), Some("image/jpeg"))
    );
    let image = meta["image_path"].as_str().unwrap();
    assert!(
        image.starts_with(&d.state_dir().join("inbox").display().to_string())
            && image.ends_with("-b1.jpg"),
        "{image}"
    );
    assert_eq!(std::fs::read(image).unwrap(), b"JPEGBYTES");
    // A voice note without text becomes "(voice)"; a service message is dropped.
    tg.push_message(json!({"from": {"id": 42}, "chat": {"id": 42}, "new_chat_title": "x"}));
    tg.push_message(
        json!({"from": {"id": 42}, "chat": {"id": 42}, "voice": {"file_id": "V1", "file_size": 3}}),
    );
    let (_, data) = ev.next_event(WAIT).expect("voice event");
    assert_eq!(data["content"], "(voice)");
    assert_eq!(data["meta"]["attachment_mime"], "audio/ogg");
    assert!(ev.next_event(Duration::from_millis(300)).is_none());
}

#[test]
fn permission_replies_and_buttons_become_verdicts() {
    let (tg, d) = setup(Some(allow(&["42"])), 0);
    let ev = events(&d);
    let mid = tg.push_text(42, "yes abcde");
    let (name, data) = ev.next_event(WAIT).expect("verdict");
    assert_eq!(name, "permission_verdict");
    assert_eq!(data, json!({"request_id": "abcde", "behavior": "allow"}));
    let reactions = tg.wait_calls("setMessageReaction", 1, WAIT);
    assert_eq!(
        reactions[0],
        json!({"chat_id": "42", "message_id": mid, "reaction": [{"type": "emoji", "emoji": "✅"}]})
    );
    tg.push_text(42, "NO ABCDE");
    assert_eq!(
        ev.next_event(WAIT).unwrap().1,
        json!({"request_id": "abcde", "behavior": "deny"})
    );
    // An id with `l` is not a request id: forwarded as a message.
    tg.push_text(42, "yes abcdl");
    let (name, data) = ev.next_event(WAIT).unwrap();
    assert_eq!(
        (name.as_str(), data["content"].as_str()),
        ("message", Some("yes abcdl"))
    );
    // A press by a non-allowed user is only answered.
    let button = |id: &str, user: i64, data: &str| {
        json!({"callback_query": {"id": id, "from": {"id": user}, "data": data,
            "message": {"message_id": 77, "chat": {"id": user}, "text": "🔐 Permission: Bash"}}})
    };
    tg.push_update(button("cb0", 7, "perm_allow_abcde"));
    tg.push_update(button("cb1", 42, "perm_deny_zyxwv"));
    assert_eq!(
        ev.next_event(WAIT).unwrap().1,
        json!({"request_id": "zyxwv", "behavior": "deny"})
    );
    let answers = tg.wait_calls("answerCallbackQuery", 2, WAIT);
    assert_eq!(answers[0], json!({"callback_query_id": "cb0"}));
    assert_eq!(
        answers[1],
        json!({"callback_query_id": "cb1", "text": "❌ Denied"})
    );
    let edits = tg.wait_calls("editMessageText", 1, WAIT);
    assert_eq!(
        edits[0],
        json!({"chat_id": "42", "message_id": 77, "text": "❌ Denied\n\n🔐 Permission: Bash"})
    );
}

#[test]
fn bridge_reply_is_chunked_and_sends_files() {
    let (tg, d) = setup(Some(allow(&["42"])), 0);
    let write = d.mint("agent:write");
    let dir = d.tmp().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pic.PNG"), b"PNGDATA").unwrap();
    std::fs::write(dir.join("notes.txt"), b"hello file").unwrap();
    let text = format!("{}\n{}", "a".repeat(3000), "b".repeat(7000));
    let r = d.post(
        "/api/reply",
        Some(&write),
        &json!({"channel": "tg", "chat_id": "42", "text": text, "reply_to": "12abc",
            "files": [dir.join("pic.PNG"), dir.join("notes.txt")]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sent: Vec<String> = serde_json::from_value(r.json()["sent"].clone()).unwrap();
    assert_eq!(sent.len(), 5, "{}", r.body);
    let msgs = tg.calls("sendMessage");
    let lens: Vec<usize> = msgs
        .iter()
        .map(|m| m["text"].as_str().unwrap().len())
        .collect();
    assert_eq!(lens, vec![3000, 4096, 2904]);
    assert!(msgs
        .iter()
        .all(|m| m["reply_to_message_id"] == 12 && m["chat_id"] == "42"));
    assert!(msgs.iter().all(|m| m.get("parse_mode").is_none()));
    let photo = &tg.calls("sendPhoto")[0];
    assert_eq!(photo["chat_id"], "42");
    assert_eq!(
        (
            photo["photo"]["filename"].as_str(),
            photo["photo"]["content_type"].as_str()
        ),
        (Some("pic.PNG"), Some("image/png"))
    );
    let doc = &tg.calls("sendDocument")[0];
    assert_eq!(doc["document"]["text"], "hello file");
    // Ids in order, text chunks first, all distinct.
    let mut uniq = sent.clone();
    uniq.dedup();
    assert_eq!(uniq.len(), 5);
    // No chat id: an error before anything is sent.
    let before = tg.calls("sendMessage").len();
    let r = d.post(
        "/api/reply",
        Some(&write),
        &json!({"channel": "tg", "text": "x"}),
    );
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "Error: telegram transport: meta.chat_id is required".to_string()
        )
    );
    assert_eq!(tg.calls("sendMessage").len(), before);
    let r = d.post(
        "/api/reply",
        Some(&write),
        &json!({"channel": "tg", "chat_id": "42", "files": ["/nonexistent/x.pdf"]}),
    );
    assert_eq!(r.status, 500, "{}", r.body);
    let r = d.post(
        "/api/reply",
        Some(&write),
        &json!({"channel": "tg", "chat_id": "42"}),
    );
    assert_eq!(r.json(), json!({"sent": []}));
}

#[test]
fn react_edit_permission_and_download() {
    let (tg, d) = setup(Some(allow(&["42", "43"])), 0);
    let write = d.mint("agent:write");
    let r = d.post(
        "/api/react",
        Some(&write),
        &json!({"channel": "tg", "chat_id": "42", "message_id": "5", "emoji": "👍"}),
    );
    assert_eq!(r.json(), json!({"ok": true}));
    assert_eq!(
        tg.calls("setMessageReaction")[0],
        json!({"chat_id": "42", "message_id": 5, "reaction": [{"type": "emoji", "emoji": "👍"}]})
    );
    let r = d.post(
        "/api/react",
        Some(&write),
        &json!({"channel": "tg", "chat_id": "42", "message_id": "x", "emoji": "👍"}),
    );
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.error().starts_with("Error: setMessageReaction 400: "),
        "{}",
        r.body
    );
    assert!(!r.body.contains("SECRET"));
    let r = d.post(
        "/api/edit",
        Some(&write),
        &json!({"channel": "tg", "meta": {"chat_id": "43"}, "message_id": "9", "text": "fixed"}),
    );
    assert_eq!(r.json(), json!({"ok": true}));
    assert_eq!(
        tg.calls("editMessageText")[0],
        json!({"chat_id": "43", "message_id": 9, "text": "fixed"})
    );
    let prompt = json!({"channel": "tg", "request_id": "qwert", "tool_name": "Bash",
        "description": "run ls", "input_preview": "ls -la"});
    let r = d.post("/api/permission", Some(&write), &prompt);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sent"].as_array().unwrap().len(), 2);
    let prompts = tg.calls("sendMessage");
    assert_eq!(prompts.len(), 2);
    assert_eq!(
        (
            prompts[0]["chat_id"].as_str(),
            prompts[1]["chat_id"].as_str()
        ),
        (Some("42"), Some("43"))
    );
    assert_eq!(
        prompts[0]["text"],
        "🔐 Permission: Bash\n\nrun ls\n\nls -la"
    );
    assert_eq!(
        prompts[0]["reply_markup"],
        json!({"inline_keyboard": [[
            {"text": "✅ Allow", "callback_data": "perm_allow_qwert"},
            {"text": "❌ Deny", "callback_data": "perm_deny_qwert"}
        ]]})
    );
    write_access(
        &d.state_dir(),
        &json!({"dmPolicy": "open", "allowFrom": []}),
    );
    let r = d.post("/api/permission", Some(&write), &prompt);
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "no allowlisted users to send permission prompt to".to_string()
        )
    );
    // Download: getFile, then the bytes into <state>/inbox/<ms>-<last 10 of id>.<ext>.
    tg.add_file(
        "BQACAgIAAxkBAAIBZ2dlY3",
        "documents/file_3.pdf",
        b"%PDF-1.4 fake",
    );
    let read = d.mint("agent:write");
    let r = d.post(
        "/api/download",
        Some(&read),
        &json!({"channel": "tg", "file_id": "BQACAgIAAxkBAAIBZ2dlY3"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let path = r.json()["path"].as_str().unwrap().to_string();
    let inbox = std::fs::canonicalize(d.state_dir().join("inbox")).unwrap();
    assert!(path.starts_with(&inbox.display().to_string()), "{path}");
    assert!(path.ends_with("-AAIBZ2dlY3.pdf"), "{path}");
    assert_eq!(std::fs::read(&path).unwrap(), b"%PDF-1.4 fake");
    assert_eq!(tg.calls("getFile")[0]["file_id"], "BQACAgIAAxkBAAIBZ2dlY3");
    let r = d.post(
        "/api/download",
        Some(&read),
        &json!({"channel": "tg", "file_id": "nope"}),
    );
    assert_eq!(r.status, 500);
    assert!(r.error().starts_with("Error: getFile 400: "), "{}", r.body);
}

#[test]
fn conflict_does_not_kill_the_poller() {
    // At trace level too, the bot token (part of every Bot API URL) never reaches the log.
    let (tg, d) = setup_with(Some(allow(&["42"])), 3, "trace");
    let ev = events(&d);
    tg.push_text(42, "after the conflicts");
    let (_, data) = ev.next_event(WAIT).expect("message after 409s");
    assert_eq!(data["content"], "after the conflicts");
    let p = poller(&d);
    assert_eq!(p["conflicts"], 3, "{p}");
    assert_eq!(p["bot"], "@fake_bot");
    assert!(p["last_poll_ok"].is_string(), "{p}");
    assert!(
        p["last_error"]
            .as_str()
            .unwrap()
            .starts_with("getUpdates 409: "),
        "{p}"
    );
    assert!(eventually(WAIT, || poller(&d)["state"] == "polling"));
    assert!(d.log().contains("poll error: getUpdates 409"));
    assert!(!d.log().contains("SECRET"), "the bot token reached the log");
}

#[test]
fn one_poller_per_token_and_removal_stops_polling() {
    let (tg, d) = setup(Some(allow(&["42"])), 0);
    let admin = d.mint("agent:admin");
    let ev = events(&d);
    tg.push_text(42, "one");
    assert_eq!(ev.next_event(WAIT).unwrap().1["content"], "one");
    assert!(eventually(WAIT, || tg.pending() == 0));
    // A second channel on the same token waits instead of trading 409s.
    let body = json!({"name": "tg2", "transport": "telegram", "config": {"token": TOKEN}});
    let r = d.post("/api/channels", Some(&admin), &body);
    assert_eq!(r.json()["live"], true, "{}", r.body);
    let tg2 = || d.get("/health", None).json()["channels"][1]["poller"]["state"].clone();
    assert!(eventually(WAIT, || tg2() == "waiting_for_other_poller"));
    let h = d.get("/health", None).body;
    assert!(!h.contains("token") && !h.contains(TOKEN), "{h}");
    // Hot-replacing tg hands the token over without two open long polls.
    let body = json!({"name": "tg", "transport": "telegram", "config": {"token": TOKEN}});
    assert_eq!(
        d.post("/api/channels", Some(&admin), &body).json()["live"],
        true
    );
    let polls = tg.polls();
    assert!(eventually(WAIT, || tg.polls() >= polls + 2));
    assert_eq!(tg.max_concurrent_polls(), 1);
    // The next holder of the token starts from the offset reached: no re-delivery.
    let offsets = tg.offsets();
    let first = offsets.iter().position(Option::is_some).unwrap();
    assert!(offsets[first..].iter().all(Option::is_some), "{offsets:?}");
    assert!(ev.next_event(Duration::from_millis(200)).is_none());
    // Removing both stops polling for good (the in-flight poll runs out within 1 s).
    for name in ["tg2", "tg"] {
        let r = d.send(
            "DELETE",
            &format!("/api/channels/{name}"),
            Some(&admin),
            &[],
            None,
        );
        assert_eq!(r.json(), json!({"ok": true, "name": name, "removed": true}));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let settled = tg.polls();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(tg.polls(), settled, "polling went on after removal");
    assert_eq!(tg.max_concurrent_polls(), 1);
}

#[test]
fn boot_needs_a_per_channel_token_and_shutdown_does_not_wait_for_the_long_poll() {
    let b = DaemonBuilder::new().env("TELEGRAM_BOT_TOKEN", "1:fromenv");
    std::fs::create_dir_all(b.state_dir()).unwrap();
    let channels = json!({"channels": [{"name": "tg", "transport": "telegram", "config": {}}]});
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    let mut d = b.spawn_on(crate::support::free_port());
    assert_eq!(d.wait_exit(WAIT), Some(1));
    assert!(
        d.log()
            .contains("telegram channel tg requires a per-channel bot token in its config"),
        "{}",
        d.log()
    );
    // A daemon whose poller sits in a 30 s long poll still stops at once on SIGTERM.
    let tg = FakeTelegram::start(TOKEN);
    let b = DaemonBuilder::new().env("PARACHUTE_AGENT_TELEGRAM_API", &tg.url());
    std::fs::create_dir_all(b.state_dir()).unwrap();
    let channels = json!({"channels": [
        {"name": "tg", "transport": "telegram", "config": {"token": TOKEN}}
    ]});
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    let mut d = b.start();
    assert!(eventually(WAIT, || tg.polls() >= 1));
    assert_eq!(tg.offsets(), vec![None]);
    let (code, took) = d.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// The MCP push surface reaches the telegram transport: `reply` with a `chat_id`, and
/// `download_attachment` with a read-only token (spec 05 §1.8.1).
#[test]
fn mcp_tools_reach_the_bot_api() {
    let (tg, d) = setup(Some(allow(&["42"])), 0);
    tg.add_file("VOICEFILE01", "voice/file_1.oga", b"OGG");
    let read = d.mint("agent:read");
    let mut c = crate::mcp::client::McpClient::new(&d, "tg", Some(&read));
    c.initialize();
    let (text, is_error) = c.call("download_attachment", json!({"file_id": "VOICEFILE01"}));
    assert!(!is_error, "{text}");
    let path = text
        .split_whitespace()
        .find(|w| w.contains("/inbox/"))
        .unwrap_or_else(|| panic!("no inbox path in {text:?}"));
    assert!(
        path.trim_end_matches(['.', ',']).ends_with("EFILE01.oga"),
        "{text}"
    );
    let write = d.mint("agent:read agent:write");
    let mut c = crate::mcp::client::McpClient::new(&d, "tg", Some(&write));
    c.initialize();
    let (text, is_error) = c.call("reply", json!({"chat_id": "42", "text": "hi from mcp"}));
    assert!(!is_error, "{text}");
    let sent = tg.calls("sendMessage");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0]["chat_id"].as_str(), sent[0]["text"].as_str()),
        (Some("42"), Some("hi from mcp"))
    );
    assert!(text.starts_with("sent 1 part (id: "), "{text}");
}

/// A programmatic agent on a telegram channel: the allowed user's message becomes a turn
/// (fake `claude`, real sandbox) and the reply goes back to that user's chat.
#[test]
fn programmatic_agent_replies_into_the_senders_chat() {
    let tg = FakeTelegram::start(TOKEN);
    let fakes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes");
    let path = format!(
        "{}:{}",
        fakes.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let b = DaemonBuilder::new()
        .env("PATH", &path)
        .env("PARACHUTE_AGENT_TELEGRAM_API", &tg.url())
        .env("PARACHUTE_AGENT_TELEGRAM_POLL_SECS", "1");
    let state = b.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let channels = json!({"channels": [
        {"name": "tg", "transport": "telegram", "config": {"token": TOKEN}}
    ]});
    std::fs::write(state.join("channels.json"), channels.to_string()).unwrap();
    let creds = json!({"claude": {"default": "sk-ant-oat01-fake"}, "env": {}});
    std::fs::write(state.join("credentials.json"), creds.to_string()).unwrap();
    write_access(&state, &allow(&["42"]));
    let d = b.start();
    let admin = d.mint("agent:admin agent:read agent:send");
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "tgbot", "channels": ["tg"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    tg.push_text(42, "hello bot");
    let sent = tg.wait_calls("sendMessage", 1, Duration::from_secs(30));
    assert_eq!(sent.len(), 1, "{}", d.log());
    assert_eq!(sent[0]["chat_id"], "42");
    assert_eq!(sent[0]["text"], "echo: hello bot (turn 1)");
}
