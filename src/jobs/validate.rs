//! `POST /api/jobs` body validation (spec 06 §1.4 rows 1–9, spec 01 §2.5.2), first failure
//! wins. Every non-object body is treated as "id missing" (the row-1 400). The channel
//! checks go through `channel_is_vault` (`None` = not live, `Some(is_vault)`).

use serde_json::Value;

use super::cron;
use super::job::Job;
use super::schedule;

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// JavaScript `Boolean(x)`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Validate and build the job (`note_id` empty, `created_at` = `now_iso`).
pub fn new_job(
    body: &Value,
    channel_is_vault: impl Fn(&str) -> Option<bool>,
    now_iso: &str,
) -> Result<Job, String> {
    let empty = serde_json::Map::new();
    let obj = body.as_object().unwrap_or(&empty);
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| is_slug(s))
        .ok_or("id must be a slug (alphanumeric, dash, underscore)")?;
    let message = obj
        .get("message")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or("message must be a non-empty string")?;
    let schedule = obj.get("schedule").and_then(Value::as_object);
    let cron_text = schedule
        .and_then(|s| s.get("cron"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or("schedule.cron must be a non-empty cron expression")?;
    cron::parse(cron_text).map_err(|e| format!("invalid schedule.cron: {e}"))?;
    let tz = match schedule.and_then(|s| s.get("tz")) {
        None => None,
        Some(v) => {
            let tz = v
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .ok_or("schedule.tz must be a non-empty IANA timezone string")?;
            schedule::zone(tz).map_err(|e| format!("invalid schedule.tz: {e}"))?;
            Some(tz.to_string())
        }
    };
    let channel = obj
        .get("channel")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("channel must be a non-empty string")?;
    match channel_is_vault(channel) {
        None => return Err(format!("unknown channel \"{channel}\"")),
        Some(false) => {
            return Err(format!(
                "channel \"{channel}\" is not a vault channel — scheduled jobs require a vault-backed agent (the runner injects an inbound note)"
            ))
        }
        Some(true) => {}
    }
    let subject = match obj.get("subject").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.chars().count() <= 200)
                .ok_or("subject must be a non-empty string of at most 200 characters")?
                .to_string(),
        ),
    };
    Ok(Job {
        id: id.to_string(),
        note_id: String::new(),
        channel: channel.to_string(),
        message: message.trim().to_string(),
        cron: cron_text.to_string(),
        tz,
        enabled: obj.get("enabled").is_none_or(truthy),
        created_at: now_iso.to_string(),
        last_run_at: None,
        last_status: None,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(ch: &str) -> Option<bool> {
        match ch {
            "eng" => Some(true),
            "web" => Some(false),
            _ => None,
        }
    }

    fn check(body: Value) -> Result<Job, String> {
        new_job(&body, lookup, "2026-06-17T00:00:00.000Z")
    }

    fn ok_body() -> Value {
        json!({"id": "morning", "channel": "eng", "message": "  go  ",
               "schedule": {"cron": "53 7 * * 1-5", "tz": "America/Los_Angeles"}})
    }

    fn with(key: &str, v: Value) -> Value {
        let mut b = ok_body();
        b[key] = v;
        b
    }

    #[test]
    fn rows_in_order() {
        for body in [
            json!([]),
            json!("x"),
            json!(5),
            json!(null),
            with("id", json!("a b")),
            with("id", json!(" a")),
        ] {
            assert_eq!(
                check(body).unwrap_err(),
                "id must be a slug (alphanumeric, dash, underscore)"
            );
        }
        assert_eq!(
            check(with("message", json!("  "))).unwrap_err(),
            "message must be a non-empty string"
        );
        for s in [
            json!(null),
            json!("* * * * *"),
            json!({}),
            json!({"cron": " "}),
            json!({"cron": 5}),
        ] {
            assert_eq!(
                check(with("schedule", s)).unwrap_err(),
                "schedule.cron must be a non-empty cron expression"
            );
        }
        let e = check(with("schedule", json!({"cron": "* * * *"}))).unwrap_err();
        assert!(
            e.starts_with("invalid schedule.cron: ") && e.contains("5 fields"),
            "{e}"
        );
        for tz in [json!(null), json!(""), json!(3)] {
            assert_eq!(
                check(with("schedule", json!({"cron": "* * * * *", "tz": tz}))).unwrap_err(),
                "schedule.tz must be a non-empty IANA timezone string"
            );
        }
        assert_eq!(
            check(with(
                "schedule",
                json!({"cron": "* * * * *", "tz": "Mars/Base"})
            ))
            .unwrap_err(),
            "invalid schedule.tz: \"Mars/Base\" is not a known IANA timezone"
        );
        assert_eq!(
            check(with("channel", json!(""))).unwrap_err(),
            "channel must be a non-empty string"
        );
        assert_eq!(
            check(with("channel", json!("nope"))).unwrap_err(),
            "unknown channel \"nope\""
        );
        assert!(check(with("channel", json!("web")))
            .unwrap_err()
            .starts_with("channel \"web\" is not a vault channel"));
        // Earlier rows win: a bad id with a bad channel reports the id.
        let mut b = with("channel", json!("nope"));
        b["id"] = json!(1);
        assert!(check(b).unwrap_err().starts_with("id must be"));
    }

    #[test]
    fn builds_the_job() {
        let j = check(ok_body()).unwrap();
        assert_eq!(j.message, "go");
        assert_eq!(j.cron, "53 7 * * 1-5");
        assert_eq!(j.tz.as_deref(), Some("America/Los_Angeles"));
        assert!(j.enabled);
        assert_eq!(j.created_at, "2026-06-17T00:00:00.000Z");
        let untrimmed = check(with("schedule", json!({"cron": " 0 7 * * * "}))).unwrap();
        assert_eq!(untrimmed.cron, " 0 7 * * * ", "stored as given");
        assert_eq!(untrimmed.tz, None);
        for (v, want) in [
            (json!(false), false),
            (json!(0), false),
            (json!(""), false),
            (json!(null), false),
            (json!("false"), true),
            (json!(1), true),
            (json!(true), true),
        ] {
            assert_eq!(
                check(with("enabled", v.clone())).unwrap().enabled,
                want,
                "{v}"
            );
        }
    }
}

#[cfg(test)]
mod subject_tests {
    use super::*;
    use serde_json::json;

    fn body(subject: Value) -> Value {
        json!({"id": "j", "message": "m", "channel": "eng", "schedule": {"cron": "* * * * *"},
               "subject": subject})
    }

    #[test]
    fn subject_is_optional_trimmed_and_bounded() {
        let vault = |_: &str| Some(true);
        let j = new_job(&body(json!("  weekly review ")), vault, "t").unwrap();
        assert_eq!(j.subject.as_deref(), Some("weekly review"));
        assert_eq!(j.note_metadata()["subject"], "weekly review");
        assert_eq!(j.to_json()["subject"], "weekly review");
        let back =
            Job::from_note(&json!({"id": "n", "content": "m", "metadata": j.note_metadata()}));
        assert_eq!(back.unwrap().subject.as_deref(), Some("weekly review"));
        assert_eq!(
            new_job(&body(Value::Null), vault, "t").unwrap().subject,
            None
        );
        assert_eq!(j.replace_body()["metadata"]["subject"], "weekly review");
        let none = new_job(&body(Value::Null), vault, "t").unwrap();
        assert_eq!(
            none.replace_body()["metadata"]["subject"],
            "",
            "cleared on replace"
        );
        for bad in [json!(""), json!("   "), json!(5), json!("x".repeat(201))] {
            assert_eq!(
                new_job(&body(bad), vault, "t").unwrap_err(),
                "subject must be a non-empty string of at most 200 characters"
            );
        }
    }
}
