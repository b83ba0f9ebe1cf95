//! In-memory note store of the fake vault: the note semantics of spec 02 §1.3 (create,
//! id-or-path lookup, list by tag with sort/limit/offset and the bracket metadata/date
//! filters, PATCH with `if_missing`, the 428
//! rule, `if_updated_at` compare-and-swap, shallow RFC 7386 metadata merge, tag add/remove,
//! delete) and the vault's own marker writes (no `updatedAt` bump, spec 02 §1.4).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parachute_agent::util::time::{iso_from_ms, now_ms};
use serde_json::{json, Map, Value};

/// A note as the vault stores it.
#[derive(Debug, Clone)]
pub struct Note {
    pub id: String,
    pub path: Option<String>,
    pub content: String,
    pub tags: Vec<String>,
    pub metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    pub attachments: Vec<Value>,
}

impl Note {
    /// The wire shape (camelCase). Without content: an index entry with `preview`/`byteSize`.
    pub fn to_json(&self, include_content: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "path": self.path,
            "tags": self.tags,
            "metadata": self.metadata,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        });
        if include_content {
            v["content"] = Value::String(self.content.clone());
        } else {
            v["preview"] = Value::String(self.content.chars().take(200).collect());
            v["byteSize"] = json!(self.content.len());
        }
        v
    }
}

/// A mutation that happened, for the trigger engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Created,
    Updated,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Created => "created",
            Event::Updated => "updated",
        }
    }
}

/// The answer to one store operation: status, JSON body, and the events it fired.
pub struct Outcome {
    pub status: u16,
    pub body: Value,
    pub events: Vec<(Event, String)>,
}

impl Outcome {
    pub fn err(status: u16, body: Value) -> Self {
        Outcome {
            status,
            body,
            events: Vec::new(),
        }
    }
}

/// Strictly increasing millisecond clock (so `updatedAt` always moves forward).
fn next_ms() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_ms();
    let mut prev = LAST.load(Ordering::SeqCst);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange(prev, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// Vault-style id: a timestamp with a 6-digit sub-second counter.
fn new_id(ms: u64) -> String {
    let iso = iso_from_ms(ms); // YYYY-MM-DDTHH:MM:SS.mmmZ
    format!(
        "{}-{}-{}-{}-{}-{}-{:03}{:03}",
        &iso[0..4],
        &iso[5..7],
        &iso[8..10],
        &iso[11..13],
        &iso[14..16],
        &iso[17..19],
        ms % 1000,
        (ms / 1000) % 1000
    )
}

fn norm_path(p: &str) -> String {
    let p = p.trim_matches('/');
    let p = p.strip_suffix(".md").unwrap_or(p);
    p.to_lowercase()
}

fn bare_tag(t: &str) -> String {
    t.trim_start_matches('#').to_string()
}

fn is_plain_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// One vault's data.
#[derive(Default)]
pub struct VaultData {
    pub notes: Vec<Note>,
    pub tags: BTreeMap<String, Value>,
    pub storage: BTreeMap<String, Vec<u8>>,
}

impl VaultData {
    /// Id first, then path (case-insensitive, `.md` and outer `/` stripped).
    pub fn find(&self, id_or_path: &str) -> Option<usize> {
        if let Some(i) = self.notes.iter().position(|n| n.id == id_or_path) {
            return Some(i);
        }
        let want = norm_path(id_or_path);
        self.notes
            .iter()
            .position(|n| n.path.as_deref().map(norm_path).as_deref() == Some(want.as_str()))
    }

    fn path_taken(&self, path: &str, except: Option<usize>) -> bool {
        let want = norm_path(path);
        self.notes.iter().enumerate().any(|(i, n)| {
            Some(i) != except && n.path.as_deref().map(norm_path).as_deref() == Some(want.as_str())
        })
    }

    /// `GET /api/notes` with `tag`, `tag_match`, `include_content`, `limit`, `offset`, `sort`,
    /// and the bracket filters: `meta[<field>]=<v>` (shorthand equality on a metadata
    /// value, no indexed field needed) and `meta[created_at|updated_at][gte|lt]=<ISO>`
    /// (the half-open date range on the real columns; other operators on them are a 400).
    pub fn list(&self, q: &BTreeMap<String, String>) -> Outcome {
        let filters = match MetaFilters::parse(q) {
            Ok(f) => f,
            Err(msg) => return bad_query(&msg),
        };
        let tags: Vec<String> = q
            .get("tag")
            .map(|t| {
                t.split(',')
                    .filter(|s| !s.is_empty())
                    .map(bare_tag)
                    .collect()
            })
            .unwrap_or_default();
        let all = q.get("tag_match").map(String::as_str) == Some("all");
        let include_content = q.get("include_content").map(String::as_str) == Some("true");
        let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
            None => 50,
            Some(Ok(n)) => n,
            Some(Err(_)) => return bad_query("limit must be a non-negative integer"),
        };
        let offset = q
            .get("offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0usize);
        let desc = match q.get("sort").map(String::as_str) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return bad_query("sort must be asc or desc"),
        };
        let mut hits: Vec<&Note> = self
            .notes
            .iter()
            .filter(|n| {
                tags.is_empty()
                    || if all {
                        tags.iter().all(|t| n.tags.contains(t))
                    } else {
                        tags.iter().any(|t| n.tags.contains(t))
                    }
            })
            .filter(|n| filters.matches(n))
            .collect();
        hits.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        if desc {
            hits.reverse();
        }
        let body: Vec<Value> = hits
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|n| n.to_json(include_content))
            .collect();
        Outcome::err(200, Value::Array(body))
    }

    /// `POST /api/notes` (single or `{notes:[…]}` batch).
    pub fn create(&mut self, body: &Value) -> Outcome {
        if let Some(batch) = body.get("notes").and_then(Value::as_array) {
            if batch.len() > 500 {
                return Outcome::err(413, json!({"error": "batch too large (max 500)"}));
            }
            let mut created = Vec::new();
            let mut events = Vec::new();
            for item in batch {
                let out = self.create_one(item, None);
                if out.status >= 300 {
                    return out;
                }
                created.push(out.body);
                events.extend(out.events);
            }
            return Outcome {
                status: 201,
                body: Value::Array(created),
                events,
            };
        }
        self.create_one(body, None)
    }

    fn create_one(&mut self, body: &Value, url_key: Option<&str>) -> Outcome {
        let Some(obj) = body.as_object() else {
            return Outcome::err(400, json!({"error": "Invalid JSON body"}));
        };
        let content = obj.get("content").and_then(Value::as_str).unwrap_or("");
        let mut path = obj
            .get("path")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(|p| p.trim_matches('/').to_string());
        let mut id = obj.get("id").and_then(Value::as_str).map(str::to_string);
        if let Some(key) = url_key {
            if path.is_none() && (key.contains('/') || !is_plain_slug(key)) {
                path = Some(key.trim_matches('/').to_string());
            } else if path.is_none() && id.is_none() {
                id = Some(key.to_string());
            }
        }
        if content.is_empty() && path.is_none() {
            return Outcome::err(
                400,
                json!({"error_type": "empty_note", "error": "empty_note",
                       "message": "a note needs content or a path"}),
            );
        }
        if let Some(p) = &path {
            if self.path_taken(p, None) {
                return Outcome::err(
                    409,
                    json!({"error_type": "path_conflict", "error": "path_conflict", "path": p,
                           "message": format!("a note already exists at path \"{p}\"")}),
                );
            }
        }
        if let Some(i) = &id {
            if self.notes.iter().any(|n| &n.id == i) {
                return Outcome::err(
                    409,
                    json!({"error": format!("Note already exists: \"{i}\"")}),
                );
            }
        }
        let tags = match obj.get("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut t: Vec<String> = items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(bare_tag)
                    .collect();
                t.sort();
                t.dedup();
                t
            }
            Some(_) => return Outcome::err(400, json!({"error": "tags must be an array"})),
        };
        let metadata: Map<String, Value> = match obj.get("metadata") {
            Some(Value::Object(m)) => m
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Outcome::err(400, json!({"error": "metadata must be an object"})),
        };
        let ms = next_ms();
        let created_at = obj
            .get("created_at")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| iso_from_ms(ms));
        let note = Note {
            id: id.unwrap_or_else(|| new_id(ms)),
            path,
            content: content.to_string(),
            tags,
            metadata,
            created_at,
            updated_at: iso_from_ms(ms),
            attachments: Vec::new(),
        };
        let id = note.id.clone();
        let body = note.to_json(true);
        self.notes.push(note);
        Outcome {
            status: 201,
            body,
            events: vec![(Event::Created, id)],
        }
    }

    /// `PATCH /api/notes/<key>` (spec 02 §1.3 steps 1–7).
    pub fn patch(&mut self, key: &str, body: &Value) -> Outcome {
        let Some(obj) = body.as_object() else {
            return Outcome::err(400, json!({"error": "Invalid JSON body"}));
        };
        let Some(idx) = self.find(key) else {
            if obj.get("if_missing").and_then(Value::as_str) == Some("create") {
                if obj
                    .get("tags")
                    .is_some_and(|t| !t.is_array() && !t.is_null())
                {
                    return Outcome::err(
                        400,
                        json!({"error": "tags must be an array when creating"}),
                    );
                }
                let mut out = self.create_one(body, Some(key));
                if out.status == 201 {
                    out.status = 200;
                    out.body["created"] = Value::Bool(true);
                }
                return out;
            }
            return not_found(key);
        };
        let force = obj.get("force").and_then(Value::as_bool) == Some(true);
        let cas = obj.get("if_updated_at").and_then(Value::as_str);
        let only_append = obj
            .keys()
            .all(|k| matches!(k.as_str(), "append" | "prepend"))
            && !obj.is_empty();
        let note = &self.notes[idx];
        if cas.is_none() && !force && !only_append {
            return Outcome::err(
                428,
                json!({"error_type": "precondition_required", "error": "precondition_required",
                       "message": "update requires `if_updated_at` (the note's current updatedAt) or `force: true`.",
                       "note_id": note.id, "path": note.path}),
            );
        }
        if let Some(expected) = cas {
            if expected != note.updated_at {
                return Outcome::err(
                    409,
                    json!({"error_type": "conflict", "error": "conflict",
                           "current_updated_at": note.updated_at, "your_updated_at": expected,
                           "expected_updated_at": expected, "note_id": note.id, "path": note.path,
                           "message": "the note changed since you read it"}),
                );
            }
        }
        let new_path = obj
            .get("path")
            .and_then(Value::as_str)
            .map(|p| p.trim_matches('/').to_string());
        if let Some(p) = &new_path {
            if !p.is_empty() && self.path_taken(p, Some(idx)) {
                return Outcome::err(
                    409,
                    json!({"error_type": "path_conflict", "error": "path_conflict", "path": p,
                           "message": format!("a note already exists at path \"{p}\"")}),
                );
            }
        }
        let mut note = self.notes[idx].clone();
        if let Some(c) = obj.get("content").and_then(Value::as_str) {
            note.content = c.to_string();
        }
        if let Some(a) = obj.get("prepend").and_then(Value::as_str) {
            note.content = format!("{a}{}", note.content);
        }
        if let Some(a) = obj.get("append").and_then(Value::as_str) {
            note.content.push_str(a);
        }
        if let Some(p) = new_path {
            note.path = if p.is_empty() { None } else { Some(p) };
        }
        if note.content.is_empty() && note.path.is_none() {
            return Outcome::err(
                400,
                json!({"error_type": "empty_note", "error": "empty_note"}),
            );
        }
        if let Some(Value::Object(m)) = obj.get("metadata") {
            merge_metadata(&mut note.metadata, m);
        }
        if let Some(Value::Object(t)) = obj.get("tags") {
            for add in t.get("add").and_then(Value::as_array).into_iter().flatten() {
                if let Some(s) = add.as_str() {
                    let s = bare_tag(s);
                    if !note.tags.contains(&s) {
                        note.tags.push(s);
                    }
                }
            }
            for rm in t
                .get("remove")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(s) = rm.as_str() {
                    let s = bare_tag(s);
                    note.tags.retain(|x| *x != s);
                }
            }
            note.tags.sort();
        }
        note.updated_at = iso_from_ms(next_ms());
        let id = note.id.clone();
        let mut body = note.to_json(true);
        body["created"] = Value::Bool(false);
        self.notes[idx] = note;
        Outcome {
            status: 200,
            body,
            events: vec![(Event::Updated, id)],
        }
    }

    /// `DELETE /api/notes/<key>`.
    pub fn delete(&mut self, key: &str) -> Outcome {
        match self.find(key) {
            Some(i) => {
                let n = self.notes.remove(i);
                Outcome::err(200, json!({"deleted": true, "id": n.id}))
            }
            None => not_found(key),
        }
    }

    /// The vault's own metadata write (trigger markers): merge, no `updatedAt` bump.
    pub fn write_markers(
        &mut self,
        id: &str,
        patch: &Map<String, Value>,
        content: Option<&str>,
    ) -> bool {
        let Some(i) = self.notes.iter().position(|n| n.id == id) else {
            return false;
        };
        let note = &mut self.notes[i];
        merge_metadata(&mut note.metadata, patch);
        if let Some(c) = content {
            note.content = c.to_string();
        }
        true
    }
}

/// Shallow RFC 7386 merge: `null` deletes the key, anything else replaces it.
pub fn merge_metadata(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

pub fn not_found(key: &str) -> Outcome {
    Outcome::err(404, json!({"error": format!("Note not found: \"{key}\"")}))
}

/// The bracket metadata filters of `GET /api/notes` (parachute-vault `parseMetaBrackets`).
#[derive(Default)]
struct MetaFilters {
    eq: Vec<(String, String)>,
    /// `(column, gte, lt)`: one real date column per request.
    date: Option<(String, Option<String>, Option<String>)>,
}

impl MetaFilters {
    fn parse(q: &BTreeMap<String, String>) -> Result<MetaFilters, String> {
        let mut f = MetaFilters::default();
        for (key, value) in q {
            let Some(inner) = key.strip_prefix("meta[") else {
                continue;
            };
            let (field, rest) = inner
                .split_once(']')
                .ok_or_else(|| format!("bad bracket filter {key}"))?;
            let op = rest
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .filter(|o| !o.is_empty());
            match (field, op) {
                ("created_at" | "updated_at", None) => {
                    return Err(format!(
                        "bracket-date filter on `{field}` requires an operator"
                    ))
                }
                ("created_at" | "updated_at", Some(op)) => {
                    let entry = f.date.get_or_insert((field.to_string(), None, None));
                    if entry.0 != field {
                        return Err("bracket-date filter cannot span both columns".into());
                    }
                    match op {
                        "gte" => entry.1 = Some(value.clone()),
                        "lt" => entry.2 = Some(value.clone()),
                        _ => {
                            return Err(format!(
                                "bracket-date filter supports gte and lt, not {op}"
                            ))
                        }
                    }
                }
                (_, None) if rest.is_empty() => f.eq.push((field.to_string(), value.clone())),
                (_, _) => return Err(format!("operator filters need an indexed field: {key}")),
            }
        }
        Ok(f)
    }

    fn matches(&self, n: &Note) -> bool {
        let eq = self
            .eq
            .iter()
            .all(|(field, want)| match n.metadata.get(field) {
                Some(Value::String(s)) => s == want,
                Some(Value::Number(x)) => x.to_string() == *want,
                Some(Value::Bool(b)) => b.to_string() == *want,
                _ => false,
            });
        let date = self.date.as_ref().is_none_or(|(col, gte, lt)| {
            let at = if col == "created_at" {
                &n.created_at
            } else {
                &n.updated_at
            };
            gte.as_ref().is_none_or(|g| at >= g) && lt.as_ref().is_none_or(|l| at < l)
        });
        eq && date
    }
}

fn bad_query(msg: &str) -> Outcome {
    Outcome::err(400, json!({"error": msg, "code": "INVALID_QUERY"}))
}
