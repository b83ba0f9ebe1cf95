//! Scheduled jobs, black-box against the fake vault (spec 06 §1, §5 "Job store / API"):
//! the API's auth and validation, the `agent/job` note shape, listing with `nextRunAt`,
//! run-now injecting an inbound note that the vault trigger delivers, delete, and the
//! scheduler thread firing due jobs (short tick + the debug-only test clock offset),
//! never firing disabled jobs, and not double-firing across a restart.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::{FailRule, FakeVault};
use crate::support::sse;

const WAIT: Duration = Duration::from_secs(5);
const HOUR_MS: i64 = 3_600_000;

/// Vault channels `eng` and `ops` (same vault), http-ui channel `web`.
fn setup(fv: &FakeVault, b: DaemonBuilder) -> Daemon {
    let channels = json!({"channels": [
        {"name": "eng", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}},
        {"name": "ops", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}},
        {"name": "web", "transport": "http-ui"}
    ]});
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    b.start()
}

fn job_body(id: &str, cron: &str) -> Value {
    json!({"id": id, "channel": "eng", "message": "  Run the morning weave \n",
           "schedule": {"cron": cron, "tz": "America/Los_Angeles"}})
}

/// Inbound notes written by the runner for job `id`.
fn fires(fv: &FakeVault, id: &str) -> Vec<Value> {
    fv.notes_tagged("default", "agent/message/inbound")
        .into_iter()
        .filter(|n| n["metadata"]["sender"] == format!("runner:{id}"))
        .collect()
}

/// The per-vault inbound trigger of spec 02 §4.6, pointed at this daemon.
fn register_inbound_trigger(fv: &FakeVault, d: &Daemon) {
    fv.register_trigger(
        "default",
        json!({"name": "conn_agentinbound-default", "events": ["created"],
               "when": {"tags": ["agent/message/inbound"], "has_metadata": ["agent"],
                        "missing_metadata": ["channel_inbound_rendered_at"]},
               "action": {"webhook": d.url("/api/vault/inbound"), "send": "json",
                          "auth": {"bearer": d.mint("agent:send")}}}),
    )
    .unwrap();
}

fn job_lists(fv: &FakeVault) -> usize {
    fv.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.url.contains("tag=agent%2Fjob"))
        .count()
}

#[test]
fn every_route_needs_admin() {
    let fv = FakeVault::start();
    let d = setup(&fv, DaemonBuilder::new());
    let read = d.mint("agent:read agent:write agent:send");
    for (method, path) in [
        ("GET", "/api/jobs"),
        ("POST", "/api/jobs"),
        ("POST", "/api/jobs/x/run"),
        ("DELETE", "/api/jobs/x"),
    ] {
        let body = Some(b"{}".as_slice());
        assert_eq!(d.send(method, path, None, &[], body).status, 401, "{path}");
        assert_eq!(
            d.send(method, path, Some(&read), &[], body).status,
            403,
            "{method} {path}"
        );
    }
}

#[test]
fn create_validation_rows_are_400s_and_write_nothing() {
    let fv = FakeVault::start();
    let d = setup(&fv, DaemonBuilder::new());
    let admin = d.mint("agent:admin");
    let with = |k: &str, v: Value| {
        let mut b = job_body("morning", "53 7 * * 1-5");
        b[k] = v;
        b
    };
    let cases = [
        (json!([]), "id must be a slug"),
        (with("id", json!("a/b")), "id must be a slug"),
        (
            with("message", json!("   ")),
            "message must be a non-empty string",
        ),
        (
            with("schedule", json!({})),
            "schedule.cron must be a non-empty",
        ),
        (
            with("schedule", json!({"cron": "* * * *"})),
            "invalid schedule.cron: cron expression must have exactly 5 fields",
        ),
        (
            with("schedule", json!({"cron": "0 24 * * *"})),
            "invalid schedule.cron: cron hour: value out of range",
        ),
        (
            with("schedule", json!({"cron": "* * * * *", "tz": null})),
            "schedule.tz must be a non-empty IANA timezone string",
        ),
        (
            with(
                "schedule",
                json!({"cron": "* * * * *", "tz": "Mars/Olympus"}),
            ),
            "invalid schedule.tz: \"Mars/Olympus\" is not a known IANA timezone",
        ),
        (
            with("channel", json!(null)),
            "channel must be a non-empty string",
        ),
        (with("channel", json!("nope")), "unknown channel \"nope\""),
        (
            with("channel", json!("web")),
            "channel \"web\" is not a vault channel",
        ),
    ];
    for (body, want) in cases {
        let r = d.post("/api/jobs", Some(&admin), &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.error().starts_with(want), "{body}: {}", r.body);
    }
    let r = d.send("POST", "/api/jobs", Some(&admin), &[], Some(b"{nope"));
    assert_eq!((r.status, r.error().as_str()), (400, "invalid JSON body"));
    assert!(fv.notes_tagged("default", "agent/job").is_empty());
}

#[test]
fn create_list_run_delete() {
    let fv = FakeVault::start();
    let d = setup(&fv, DaemonBuilder::new());
    let admin = d.mint("agent:admin");
    register_inbound_trigger(&fv, &d);
    let events = sse::connect(&d.url("/events?channel=eng"), Some(&d.mint("agent:read")))
        .unwrap_or_else(|r| panic!("events: {} {}", r.status, r.body));

    let r = d.post(
        "/api/jobs",
        Some(&admin),
        &job_body("morning", "53 7 * * 1-5"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let job = r.json()["job"].clone();
    assert_eq!(r.json()["ok"], true);
    assert_eq!(job["id"], "morning");
    assert_eq!(job["message"], "Run the morning weave");
    assert_eq!(job["enabled"], true);
    assert_eq!(
        job["schedule"],
        json!({"cron": "53 7 * * 1-5", "tz": "America/Los_Angeles"})
    );
    let note_id = job["noteId"].as_str().unwrap().to_string();
    let note = fv.note("default", &note_id).expect("job note written");
    assert_eq!(job["noteId"], note["id"], "noteId from the vault's answer");
    assert_eq!(note["path"], "Channels/eng/jobs/morning");
    assert_eq!(note["tags"], json!(["agent/job"]));
    assert_eq!(note["content"], "Run the morning weave");
    let meta = note["metadata"].as_object().unwrap();
    assert_eq!(meta["jobId"], "morning");
    assert_eq!(meta["agent"], "eng");
    assert_eq!(meta["enabled"], "true");
    assert_eq!(meta["cron"], "53 7 * * 1-5");
    assert_eq!(meta["tz"], "America/Los_Angeles");
    assert_eq!(meta["createdAt"], job["createdAt"]);
    assert!(!meta.contains_key("channel") && !meta.contains_key("nextRunAt"));
    let create = fv
        .requests()
        .into_iter()
        .find(|r| {
            r.method == "POST"
                && r.body
                    .as_ref()
                    .is_some_and(|b| b["tags"] == json!(["agent/job"]))
        })
        .unwrap();
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {}", FakeVault::TOKEN).as_str())
    );

    // A disabled job, and a re-create of `morning` that does not duplicate the note.
    let mut off = job_body("off", "0 * * * *");
    off["enabled"] = json!(false);
    off["channel"] = json!("ops");
    assert_eq!(d.post("/api/jobs", Some(&admin), &off).status, 200);
    let r = d.post(
        "/api/jobs",
        Some(&admin),
        &job_body("morning", "53 7 * * 1-5"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(fv.notes_tagged("default", "agent/job").len(), 2);

    fv.clear_requests();
    let r = d.get("/api/jobs", Some(&admin));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(job_lists(&fv), 1, "eng and ops share one vault: one GET");
    let jobs = r.json()["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 2);
    let morning = jobs.iter().find(|j| j["id"] == "morning").unwrap();
    let next = morning["nextRunAt"]
        .as_str()
        .expect("enabled job has nextRunAt");
    assert!(next.ends_with(":53:00.000Z"), "{next}");
    assert!(next > parachute_agent::util::time::now_iso().as_str());
    let off = jobs.iter().find(|j| j["id"] == "off").unwrap();
    assert_eq!(off["enabled"], false);
    assert_eq!(off["channel"], "ops");
    assert!(
        off.get("nextRunAt").is_none(),
        "disabled jobs carry no nextRunAt"
    );

    // Run now: an inbound note from runner:morning, delivered by the vault trigger.
    fv.clear_requests();
    let r = d.post("/api/jobs/morning/run", Some(&admin), &json!({}));
    assert_eq!(
        r.json(),
        json!({"ok": true, "id": "morning", "status": "ok"})
    );
    let fired = fires(&fv, "morning");
    assert_eq!(fired.len(), 1);
    assert_eq!(
        fired[0]["tags"],
        json!(["agent/message", "agent/message/inbound"])
    );
    assert_eq!(fired[0]["metadata"]["direction"], "inbound");
    assert_eq!(fired[0]["metadata"]["agent"], "eng");
    assert_eq!(fired[0]["content"], "Run the morning weave");
    let (_, data) = events
        .next_event(WAIT)
        .expect("the trigger delivers the fire");
    assert_eq!(data["content"], "Run the morning weave");
    let patch = fv
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("bookkeeping PATCH");
    let body = patch.body.unwrap();
    assert_eq!(body["force"], true);
    assert_eq!(body["metadata"]["lastStatus"], "ok");
    assert_eq!(body.as_object().unwrap().len(), 2);
    assert_eq!(body["metadata"].as_object().unwrap().len(), 2);
    let listed = d.get("/api/jobs", Some(&admin)).json();
    let morning = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "morning")
        .cloned()
        .unwrap();
    assert_eq!(morning["lastStatus"], "ok");
    assert!(morning["lastRunAt"].as_str().unwrap().ends_with('Z'));

    // A disabled job runs by hand; a failing write is still 200, with the error status.
    let r = d.post("/api/jobs/off/run", Some(&admin), &json!({}));
    assert_eq!(r.json()["status"], "ok");
    fv.fail(FailRule::always(Some("POST"), "/api/notes", 500));
    let r = d.post("/api/jobs/morning/run", Some(&admin), &json!({}));
    fv.clear_failures();
    assert_eq!(r.status, 200);
    let status = r.json()["status"].as_str().unwrap().to_string();
    assert!(
        status.starts_with("error: vault transport: write inbound failed (500)"),
        "{status}"
    );
    let note = fv.note("default", &note_id).unwrap();
    assert_eq!(note["metadata"]["lastStatus"], status.as_str());

    // [ext] Re-creating the job replaces its note in place and clears the bookkeeping.
    let r = d.post("/api/jobs", Some(&admin), &job_body("morning", "0 8 * * *"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(fv.notes_tagged("default", "agent/job").len(), 2);
    let replaced = fv.note("default", "Channels/eng/jobs/morning").unwrap();
    assert_eq!(replaced["metadata"]["cron"], "0 8 * * *");
    let listed = d.get("/api/jobs", Some(&admin)).json();
    let morning = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "morning")
        .cloned()
        .unwrap();
    assert!(
        morning.get("lastStatus").is_none() && morning.get("lastRunAt").is_none(),
        "{morning}"
    );

    let r = d.post("/api/jobs/ghost/run", Some(&admin), &json!({}));
    assert_eq!((r.status, r.error()), (404, "unknown job \"ghost\"".into()));

    // Delete.
    let r = d.send("DELETE", "/api/jobs/morning", Some(&admin), &[], None);
    assert_eq!(
        r.json(),
        json!({"ok": true, "id": "morning", "removed": true})
    );
    assert!(fv.note("default", &note_id).is_none());
    let r = d.send("DELETE", "/api/jobs/morning", Some(&admin), &[], None);
    assert_eq!(
        r.json(),
        json!({"ok": true, "id": "morning", "removed": false})
    );
}

#[test]
fn listing_queries_each_distinct_vault_once_in_channel_order() {
    let fv = FakeVault::start();
    fv.add_vault("other");
    let channels = json!({"channels": [
        {"name": "eng", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}},
        {"name": "far", "transport": "vault", "config": {
            "vault": "other", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}},
        {"name": "ops", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}}
    ]});
    let b = DaemonBuilder::new();
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    let d = b.start();
    let admin = d.mint("agent:admin");
    for (id, ch) in [("a", "far"), ("b", "ops"), ("c", "eng")] {
        let mut body = job_body(id, "0 * * * *");
        body["channel"] = json!(ch);
        assert_eq!(d.post("/api/jobs", Some(&admin), &body).status, 200);
    }
    assert_eq!(
        fv.notes_tagged("other", "agent/job").len(),
        1,
        "a job lives in its channel's vault"
    );
    fv.clear_requests();
    let r = d.get("/api/jobs", Some(&admin)).json();
    let ids: Vec<&str> = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["b", "c", "a"],
        "default vault first (eng), then other (far)"
    );
    assert_eq!(job_lists(&fv), 2);
    let r = d.post("/api/jobs/a/run", Some(&admin), &json!({}));
    assert_eq!(r.json()["status"], "ok");
    let fired: Vec<Value> = fv
        .notes_tagged("other", "agent/message/inbound")
        .into_iter()
        .filter(|n| n["metadata"]["sender"] == "runner:a")
        .collect();
    assert_eq!(
        fired.len(),
        1,
        "the fire lands in the job's channel's vault"
    );
}

#[test]
fn listing_reads_notes_leniently_and_fails_whole_on_vault_errors() {
    let fv = FakeVault::start();
    let d = setup(&fv, DaemonBuilder::new());
    let admin = d.mint("agent:admin");
    assert_eq!(d.get("/api/jobs", Some(&admin)).json(), json!({"jobs": []}));
    let put = |path: &str, meta: Value| {
        fv.create_note(
            "default",
            json!({"path": path, "content": "m", "tags": ["agent/job"], "metadata": meta}),
        );
    };
    put(
        "Channels/eng/jobs/legacy",
        json!({"channel": "eng", "cron": "0 * * * *", "tz": "UTC"}),
    );
    put(
        "j/badtz",
        json!({"jobId": "badtz", "agent": "eng", "cron": "0 * * * *", "tz": "Nope/Zone"}),
    );
    put("j/nocron", json!({"jobId": "nocron", "agent": "eng"}));
    put("j/nokey", json!({"jobId": "nokey", "cron": "* * * * *"}));
    put(
        "j/gone",
        json!({"jobId": "gone", "agent": "deleted-channel", "cron": "* * * * *", "enabled": false}),
    );
    let r = d.get("/api/jobs", Some(&admin));
    assert_eq!(r.status, 200, "{}", r.body);
    let jobs = r.json()["jobs"].as_array().unwrap().clone();
    let ids: Vec<&str> = jobs.iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    let legacy = jobs
        .iter()
        .find(|j| j["channel"] == "eng" && j["schedule"]["tz"] == "UTC")
        .unwrap();
    assert_eq!(legacy["id"], legacy["noteId"], "no jobId → the note id");
    assert!(legacy["nextRunAt"]
        .as_str()
        .unwrap()
        .ends_with(":00:00.000Z"));
    let badtz = jobs.iter().find(|j| j["id"] == "badtz").unwrap();
    assert!(
        badtz.get("nextRunAt").is_none(),
        "bad tz omits nextRunAt only"
    );
    assert!(
        ids.contains(&"gone"),
        "a job of a channel no longer live is listed"
    );

    fv.fail(FailRule::always(Some("GET"), "tag=agent%2Fjob", 503));
    let r = d.get("/api/jobs", Some(&admin));
    assert_eq!(r.status, 502);
    assert!(
        r.error()
            .starts_with("failed to list jobs: vault transport: list jobs failed (503)"),
        "{}",
        r.body
    );
    let r = d.post("/api/jobs/gone/run", Some(&admin), &json!({}));
    assert_eq!(r.status, 502);
    assert!(r.error().starts_with("failed to run job: "));
    let r = d.send("DELETE", "/api/jobs/gone", Some(&admin), &[], None);
    assert_eq!(r.status, 502);
    fv.clear_failures();
    let r = d.send("DELETE", "/api/jobs/gone", Some(&admin), &[], None);
    assert_eq!(r.status, 502);
    assert!(r.error().contains("not a live vault channel"), "{}", r.body);
}

fn set_clock(d: &Daemon, offset_ms: i64) {
    let r = d.post("/__test/job-clock", None, &json!({"offsetMs": offset_ms}));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Wait until the scheduler listed the jobs `n` more times.
fn wait_ticks(fv: &FakeVault, n: usize) {
    let start = job_lists(fv);
    assert!(
        fv.wait_until(WAIT, |fv| job_lists(fv) >= start + n),
        "scheduler did not tick"
    );
}

#[test]
fn scheduler_fires_due_jobs_once_skips_disabled_and_survives_a_restart() {
    let fv = FakeVault::start();
    let mut d = setup(
        &fv,
        DaemonBuilder::new().env("PARACHUTE_AGENT_JOB_TICK_MS", "100"),
    );
    let admin = d.mint("agent:admin");
    let mut hourly = job_body("hourly", "0 * * * *");
    hourly["schedule"]["tz"] = json!("UTC");
    assert_eq!(d.post("/api/jobs", Some(&admin), &hourly).status, 200);
    let mut off = job_body("off", "* * * * *");
    off["enabled"] = json!(false);
    assert_eq!(d.post("/api/jobs", Some(&admin), &off).status, 200);

    // First sight only seeds: nothing fires on real time within an hour.
    wait_ticks(&fv, 3);
    assert!(fires(&fv, "hourly").is_empty());
    // An hour later (test clock) the slot has passed: exactly one fire.
    set_clock(&d, HOUR_MS);
    assert!(fv.wait_until(WAIT, |fv| fires(fv, "hourly").len() == 1));
    wait_ticks(&fv, 5);
    assert_eq!(fires(&fv, "hourly").len(), 1, "one fire per slot");
    assert!(fires(&fv, "off").is_empty(), "a disabled job never fires");
    let note = fv.note("default", "Channels/eng/jobs/hourly").unwrap();
    assert_eq!(note["metadata"]["lastStatus"], "ok");

    // Restart at the same (shifted) time: horizons are gone, nothing is fired again.
    std::fs::write(
        d.state_dir().join(".env"),
        format!("PARACHUTE_AGENT_TEST_JOB_CLOCK_OFFSET_MS={HOUR_MS}\n"),
    )
    .unwrap();
    d.restart();
    wait_ticks(&fv, 5);
    assert_eq!(
        fires(&fv, "hourly").len(),
        1,
        "no double fire after a restart"
    );
    // The restarted scheduler is alive: the next slot fires.
    set_clock(&d, 2 * HOUR_MS + 60_000);
    assert!(fv.wait_until(WAIT, |fv| fires(fv, "hourly").len() == 2));
    assert!(fires(&fv, "off").is_empty());
}
