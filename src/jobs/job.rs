//! The job model (spec 06 §1.2, §1.3): reading an `agent/job` note back into a [`Job`],
//! the note body written for a job, and the API's Job JSON object.

use serde_json::{json, Map, Value};

use crate::vault::notes::{self, TAG_JOB};

/// One scheduled job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The operator's slug.
    pub id: String,
    /// The vault note id (empty before the note is written).
    pub note_id: String,
    /// The target channel (the routing key).
    pub channel: String,
    pub message: String,
    /// The cron text as given (not trimmed).
    pub cron: String,
    pub tz: Option<String>,
    pub enabled: bool,
    pub created_at: String,
    pub last_run_at: Option<String>,
    pub last_status: Option<String>,
    /// Optional thread-routing subject (spec 06 §6): stored in the job's metadata and
    /// stamped as `metadata.subject` on every inbound note the job fires.
    pub subject: Option<String>,
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Job {
    /// Key of the runner's horizon and in-flight maps: the note id, else the slug.
    pub fn key(&self) -> &str {
        if self.note_id.is_empty() {
            &self.id
        } else {
            &self.note_id
        }
    }

    /// Read one listed note (§1.2 "Reading a note back"); `None` = skip it.
    pub fn from_note(note: &Value) -> Option<Job> {
        let note_id = non_empty(note.get("id"))?;
        let empty = Value::Object(Map::new());
        let meta = note.get("metadata").unwrap_or(&empty);
        let channel = notes::routing_key(meta)?.to_string();
        let cron = non_empty(meta.get("cron"))?;
        let enabled = !matches!(meta.get("enabled"), Some(Value::Bool(false)))
            && meta.get("enabled").and_then(Value::as_str) != Some("false");
        Some(Job {
            id: non_empty(meta.get("jobId")).unwrap_or_else(|| note_id.clone()),
            note_id,
            channel,
            message: note
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            cron,
            tz: non_empty(meta.get("tz")),
            enabled,
            created_at: meta
                .get("createdAt")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            last_run_at: non_empty(meta.get("lastRunAt")),
            last_status: non_empty(meta.get("lastStatus")),
            subject: non_empty(meta.get("subject")),
        })
    }

    /// The job's metadata as written on create (all strings; no `channel`, no `nextRunAt`).
    pub fn note_metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("jobId".into(), self.id.clone().into());
        m.insert("agent".into(), self.channel.clone().into());
        m.insert("cron".into(), self.cron.clone().into());
        m.insert("enabled".into(), self.enabled.to_string().into());
        m.insert("createdAt".into(), self.created_at.clone().into());
        if let Some(tz) = self.tz.as_deref().filter(|t| !t.is_empty()) {
            m.insert("tz".into(), tz.into());
        }
        self.insert_optional(&mut m);
        m
    }

    /// `POST B/notes` body of a new job note.
    pub fn create_body(&self) -> Value {
        json!({
            "content": self.message,
            "path": notes::job_path(&self.channel, &self.id),
            "tags": [TAG_JOB],
            "metadata": self.note_metadata(),
        })
    }

    /// [ext] The PATCH replacing an existing note at the job's path (upsert on 409): the
    /// full metadata, with `tz`/`lastRunAt`/`lastStatus` blanked when absent because the
    /// vault merges metadata and empty strings read back as absent.
    pub fn replace_body(&self) -> Value {
        let mut m = self.note_metadata();
        for key in ["tz", "lastRunAt", "lastStatus", "subject"] {
            m.entry(key.to_string()).or_insert_with(|| "".into());
        }
        json!({"content": self.message, "metadata": m, "force": true})
    }

    /// The optional fields both shapes carry only when set: `lastRunAt`, `lastStatus`,
    /// `subject`.
    fn insert_optional(&self, m: &mut Map<String, Value>) {
        let fields = [
            ("lastRunAt", &self.last_run_at),
            ("lastStatus", &self.last_status),
            ("subject", &self.subject),
        ];
        for (key, value) in fields {
            if let Some(v) = value {
                m.insert(key.into(), v.clone().into());
            }
        }
    }

    fn schedule(&self) -> Value {
        let mut s = Map::new();
        s.insert("cron".into(), self.cron.clone().into());
        if let Some(tz) = &self.tz {
            s.insert("tz".into(), tz.clone().into());
        }
        Value::Object(s)
    }

    /// The Job JSON object of `GET /api/jobs` (§1.3), `nextRunAt` added by the caller.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("noteId".into(), self.note_id.clone().into());
        m.insert("channel".into(), self.channel.clone().into());
        m.insert("message".into(), self.message.clone().into());
        m.insert("schedule".into(), self.schedule());
        m.insert("enabled".into(), self.enabled.into());
        m.insert("createdAt".into(), self.created_at.clone().into());
        self.insert_optional(&mut m);
        m
    }

    /// The `job` of the create response: `{id, channel, message, schedule, enabled,
    /// createdAt, noteId}`.
    pub fn created_json(&self) -> Value {
        json!({
            "id": self.id,
            "channel": self.channel,
            "message": self.message,
            "schedule": self.schedule(),
            "enabled": self.enabled,
            "createdAt": self.created_at,
            "noteId": self.note_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(meta: Value) -> Value {
        json!({"id": "n1", "content": "hello", "metadata": meta})
    }

    #[test]
    fn reads_notes_like_the_reference() {
        let j = Job::from_note(&note(
            json!({"jobId": "morning", "agent": "eng", "cron": "0 7 * * *",
            "enabled": "true", "createdAt": "c", "tz": "UTC", "lastStatus": "ok", "lastRunAt": ""}),
        ))
        .unwrap();
        assert_eq!(
            (j.id.as_str(), j.note_id.as_str(), j.channel.as_str()),
            ("morning", "n1", "eng")
        );
        assert!(j.enabled);
        assert_eq!(j.tz.as_deref(), Some("UTC"));
        assert_eq!(j.last_status.as_deref(), Some("ok"));
        assert_eq!(j.last_run_at, None, "empty strings read back as absent");
        assert_eq!(j.message, "hello");

        let legacy = Job::from_note(&note(json!({"channel": "ops", "cron": "* * * * *"}))).unwrap();
        assert_eq!((legacy.id.as_str(), legacy.channel.as_str()), ("n1", "ops"));
        assert!(legacy.enabled, "missing enabled → true");
        for off in [json!("false"), json!(false)] {
            let j = Job::from_note(&note(
                json!({"agent": "a", "cron": "* * * * *", "enabled": off}),
            ))
            .unwrap();
            assert!(!j.enabled);
        }
        let j = Job::from_note(&note(
            json!({"agent": "a", "cron": "* * * * *", "enabled": "no"}),
        ))
        .unwrap();
        assert!(j.enabled);
        assert!(
            Job::from_note(&note(json!({"agent": "a"}))).is_none(),
            "no cron"
        );
        assert!(
            Job::from_note(&note(json!({"cron": "* * * * *"}))).is_none(),
            "no routing key"
        );
        assert!(Job::from_note(&json!({"metadata": {"agent": "a", "cron": "*"}})).is_none());
        let j = Job::from_note(
            &json!({"id": "x", "content": 5, "metadata": {"agent": "a", "cron": "c"}}),
        )
        .unwrap();
        assert_eq!(j.message, "");
    }

    #[test]
    fn note_body_has_the_spec_shape() {
        let j = Job {
            id: "daily run".into(),
            note_id: String::new(),
            channel: "eng".into(),
            message: "go".into(),
            cron: " 0 7 * * * ".into(),
            tz: None,
            enabled: false,
            created_at: "2026-06-17T00:00:00.000Z".into(),
            last_run_at: None,
            last_status: None,
            subject: None,
        };
        let b = j.create_body();
        assert_eq!(b["path"], "Channels/eng/jobs/daily-run");
        assert_eq!(b["tags"], json!(["agent/job"]));
        assert_eq!(
            b["metadata"],
            json!({"jobId": "daily run", "agent": "eng", "cron": " 0 7 * * * ", "enabled": "false",
                   "createdAt": "2026-06-17T00:00:00.000Z"})
        );
        let r = j.replace_body();
        assert_eq!(r["force"], true);
        assert_eq!(r["metadata"]["lastRunAt"], "");
        assert_eq!(r["metadata"]["tz"], "");
        assert_eq!(j.to_json()["schedule"], json!({"cron": " 0 7 * * * "}));
    }
}
