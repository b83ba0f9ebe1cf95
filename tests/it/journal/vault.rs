//! Vault channel + programmatic agent across `kill -9`: a note whose turn died with the
//! daemon is answered once after the restart; a note whose webhook reached a dead daemon
//! is found again at boot from the vault itself (inbound, after the delivered mark, no
//! reply), within the journal's age limit; a webhook redelivered after the restart never
//! starts a second turn (the dedup keys live in the journal).

use std::time::Duration;

use parachute_agent::util::time::{iso_from_ms, now_ms};
use parachute_agent::vault::notes;
use serde_json::{json, Value};

use super::wait_until;
use crate::programmatic::turns::{setup, Env};

/// Posts the webhook the vault's trigger would send for note `id` again.
fn redeliver(env: &Env, id: &str) {
    let note = env.fv.note("default", id).expect("note exists");
    let r = env.d.post(
        "/api/vault/inbound",
        Some(&env.d.mint("agent:send")),
        &json!({"trigger": "conn_agentinbound-default", "event": "created", "note": note}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn replies_to<'a>(out: &'a [Value], id: &str) -> Vec<&'a Value> {
    out.iter()
        .filter(|n| n["metadata"]["in_reply_to"] == id)
        .collect()
}

fn prompts(env: &Env) -> Vec<String> {
    super::prompts_in(&env.private_dir("w").join("fake-claude-calls.jsonl"))
}

/// Waits until the trigger engine tried (and failed) to deliver note `id`.
fn wait_failed_hook(env: &Env, id: &str) {
    assert!(
        env.fv.wait_until(Duration::from_secs(20), |fv| fv
            .hook_deliveries()
            .iter()
            .any(|h| h.note_id == id && !h.ok)),
        "the webhook of {id} should have failed against the stopped daemon"
    );
}

#[test]
fn kill_9_mid_turn_answers_the_note_once_and_a_redelivered_webhook_runs_nothing() {
    let mut env = setup(&[]);
    env.spawn("w");
    let id = env.send_ordered("w", "[fake:sleep:3000] hello vault");
    assert!(
        wait_until(Duration::from_secs(30), || !prompts(&env).is_empty()),
        "the turn started"
    );
    env.d.kill9();
    env.d.respawn();
    let out = env.wait_outbound("w", 1);
    let answers = replies_to(&out, &id);
    assert_eq!(answers.len(), 1, "{out:#?}");
    assert!(
        answers[0]["content"]
            .as_str()
            .unwrap_or_default()
            .starts_with("echo: [fake:sleep:3000] hello vault (turn"),
        "{out:#?}"
    );
    assert!(env
        .d
        .log()
        .contains("attempt 2 (the daemon stopped during attempt 1)"));
    redeliver(&env, &id);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(env.outbound("w").len(), 1, "still one reply note");
    assert_eq!(prompts(&env).len(), 2, "attempt 1 died, attempt 2 answered");
    assert!(
        env.d
            .log()
            .contains("was taken care of already (the journal knows it, also across a restart)"),
        "{}",
        env.d.log()
    );
}

#[test]
fn notes_whose_webhook_hit_a_dead_daemon_are_found_in_the_vault_at_boot() {
    let mut env = setup(&[("PARACHUTE_AGENT_JOURNAL_MAX_AGE_SECS", "20")]);
    env.spawn("w");
    let first = env.send_ordered("w", "[fake:sleep:10] before the crash");
    env.wait_outbound("w", 1);
    env.d.kill9();
    // Written while the daemon is down: the trigger's webhook fails and is never retried.
    let lost = env.send("w", "[fake:sleep:10] lost webhook", &[]);
    wait_failed_hook(&env, &lost);
    // Written two minutes ago (it arrived out of order), older than the 20 s age limit.
    let two_min_ago = iso_from_ms(now_ms() - 120_000);
    let (_, mut body) = notes::inbound_message_body(
        "channel",
        "w",
        "[fake:sleep:10] too old",
        "operator",
        &two_min_ago,
        &[],
    );
    body["created_at"] = json!(two_min_ago);
    let old = env.fv.create_note("default", body)["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_failed_hook(&env, &old);
    env.d.respawn();
    let out = env.wait_outbound("w", 3);
    assert_eq!(
        replies_to(&out, &first).len(),
        1,
        "answered before, not again"
    );
    let lost_answers = replies_to(&out, &lost);
    assert_eq!(lost_answers.len(), 1, "{out:#?}");
    assert!(lost_answers[0]["content"]
        .as_str()
        .unwrap_or_default()
        .starts_with("echo: [fake:sleep:10] lost webhook (turn"));
    let old_answers = replies_to(&out, &old);
    assert_eq!(old_answers.len(), 1, "{out:#?}");
    let failure = old_answers[0]["content"].as_str().unwrap_or_default();
    assert!(
        failure.contains("the turn failed: not retried: written 2m0")
            && failure.contains("past the 20 s age limit"),
        "failed visibly: {failure}"
    );
    assert!(env.d.log().contains("was never answered; queued"));
    // The webhooks come late after all: nothing runs twice.
    redeliver(&env, &lost);
    redeliver(&env, &old);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(env.outbound("w").len(), 3, "{:#?}", env.outbound("w"));
    let p = prompts(&env);
    assert_eq!(
        p,
        [
            "[fake:sleep:10] before the crash",
            "[fake:sleep:10] lost webhook"
        ],
        "the too-old note never ran"
    );
}
