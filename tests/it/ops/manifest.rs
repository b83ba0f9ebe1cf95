//! `.parachute/module.json` against the hub's manifest rules (spec 09), and the
//! `services.json` row advertising only what the daemon serves (spec 09, last section).
//! The validator below is written from spec 09, independently of the daemon's code, so the
//! manifest cannot drift from what the hub accepts again.

use serde_json::{json, Value};

use crate::support::daemon::DaemonBuilder;
use crate::support::http;

fn manifest() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.parachute/module.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The hub's `validateModuleManifest` (hub 0.7.x) as spec 09 describes it: every failure
/// as `"<field>" must be …`.
fn validate(m: &Value) -> Vec<String> {
    let mut v = Validator::default();
    v.check(m);
    v.errors
}

#[derive(Default)]
struct Validator {
    errors: Vec<String>,
}

fn is_nonempty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

fn valid_url_or_path(s: &str) -> bool {
    if s.is_empty() || s.starts_with("//") || s.split(['/', '?', '#']).any(|seg| seg == "..") {
        return false;
    }
    match s.split_once(':') {
        Some((scheme, _)) if !scheme.contains('/') => {
            (scheme == "http" || scheme == "https") && s[scheme.len()..].starts_with("://")
        }
        _ => true,
    }
}

impl Validator {
    fn fail(&mut self, field: &str, what: &str) {
        self.errors.push(format!("\"{field}\" must be {what}"));
    }

    fn want(&mut self, ok: bool, field: &str, what: &str) {
        if !ok {
            self.fail(field, what);
        }
    }

    fn check(&mut self, m: &Value) {
        let Some(root) = m.as_object() else {
            return self.fail("<root>", "an object");
        };
        let name = root.get("name").and_then(Value::as_str).unwrap_or("");
        self.want(
            valid_name(name),
            "name",
            "a string matching ^[a-z][a-z0-9-]*$",
        );
        for f in ["manifestName", "displayName", "tagline"] {
            if let Some(v) = root.get(f) {
                self.want(is_nonempty_str(v), f, "a non-empty string");
            }
        }
        self.top_level(root);
        if let Some(d) = root.get("scopes").and_then(|s| s.get("defines")) {
            self.scopes(d, name);
        }
        if let Some(e) = root.get("events") {
            self.events(e);
        }
        if let Some(a) = root.get("actions") {
            self.actions(a, name);
        }
        if let Some(t) = root.get("connectionTemplates") {
            self.templates(t);
        }
    }

    fn top_level(&mut self, root: &serde_json::Map<String, Value>) {
        if let Some(p) = root.get("port") {
            let ok = p.as_u64().is_some_and(|n| (1..=65535).contains(&n));
            self.want(ok, "port", "an integer 1..65535");
        }
        if let Some(p) = root.get("paths") {
            let ok = p.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            self.want(ok, "paths", "an array of strings");
        }
        if let Some(h) = root.get("health") {
            let ok = h.as_str().is_some_and(|s| s.starts_with('/'));
            self.want(ok, "health", "a string starting with /");
        }
        for f in ["stripPrefix", "websocket"] {
            if let Some(b) = root.get(f) {
                self.want(b.is_boolean(), f, "a boolean");
            }
        }
        if let Some(f) = root.get("focus") {
            let ok = matches!(f.as_str(), Some("core" | "experimental" | "deprecated"));
            self.want(ok, "focus", "one of core, experimental, deprecated");
        }
        if let Some(c) = root.get("startCmd") {
            let ok = c
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
            self.want(ok, "startCmd", "a non-empty array of strings");
        }
        for f in ["uiUrl", "configUiUrl", "managementUrl"] {
            if let Some(u) = root.get(f) {
                let ok = u.as_str().is_some_and(valid_url_or_path);
                self.want(ok, f, "a relative path, /path or http(s) URL");
            }
        }
    }

    fn scopes(&mut self, defines: &Value, name: &str) {
        let Some(list) = defines.as_array() else {
            return self.fail("scopes.defines", "an array");
        };
        for (i, s) in list.iter().enumerate() {
            let ok = s.as_str().is_some_and(|s| own_scope(s, name));
            self.want(ok, &format!("scopes.defines[{i}]"), "<name>:<verb>");
        }
    }

    fn keyed(&mut self, field: &str, item: &Value) -> bool {
        if !item.is_object() {
            self.fail(field, "an object");
            return false;
        }
        for k in ["key", "title"] {
            self.want(
                is_nonempty_str(&item[k]),
                &format!("{field}.{k}"),
                "a non-empty string",
            );
        }
        true
    }

    fn each<'a>(&mut self, field: &str, v: &'a Value) -> Vec<(String, &'a Value)> {
        match v.as_array() {
            Some(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("{field}[{i}]"), x))
                .collect(),
            None => {
                self.fail(field, "an array");
                Vec::new()
            }
        }
    }

    fn events(&mut self, v: &Value) {
        for (f, e) in self.each("events", v) {
            self.keyed(&f, e);
        }
    }

    fn actions(&mut self, v: &Value, name: &str) {
        for (f, a) in self.each("actions", v) {
            if !self.keyed(&f, a) {
                continue;
            }
            if let Some(e) = a.get("endpoint") {
                let ok = e.as_str().is_some_and(|s| s.starts_with('/'));
                self.want(ok, &format!("{f}.endpoint"), "a string starting with /");
            }
            if let Some(s) = a.get("scope") {
                let ok = s.as_str().is_some_and(|s| own_scope(s, name));
                self.want(ok, &format!("{f}.scope"), "<name>:<verb>");
            }
        }
    }

    fn templates(&mut self, v: &Value) {
        for (f, t) in self.each("connectionTemplates", v) {
            if !self.keyed(&f, t) {
                continue;
            }
            for k in ["kind", "description", "requestedBy"] {
                if let Some(x) = t.get(k) {
                    self.want(x.is_string(), &format!("{f}.{k}"), "a string");
                }
            }
            if let Some(s) = t.get("source") {
                self.pair(&format!("{f}.source"), s, "event");
            }
            if let Some(s) = t.get("sink") {
                self.pair(&format!("{f}.sink"), s, "action");
            }
            if let Some(p) = t.get("parameters") {
                self.parameters(&format!("{f}.parameters"), p);
            }
        }
    }

    /// `source` `{module, event, filter?}` or `sink` `{module, action}`.
    fn pair(&mut self, field: &str, v: &Value, second: &str) {
        if !v.is_object() {
            return self.fail(field, "an object");
        }
        for k in ["module", second] {
            self.want(v[k].is_string(), &format!("{field}.{k}"), "a string");
        }
    }

    fn parameters(&mut self, field: &str, v: &Value) {
        for (f, p) in self.each(field, v) {
            if !p.is_object() {
                self.fail(&f, "an object");
                continue;
            }
            for k in ["key", "target"] {
                self.want(p[k].is_string(), &format!("{f}.{k}"), "a string");
            }
            for k in ["title", "description", "example"] {
                if let Some(x) = p.get(k) {
                    self.want(x.is_string(), &format!("{f}.{k}"), "a string");
                }
            }
        }
    }
}

fn own_scope(s: &str, name: &str) -> bool {
    s.split_once(':')
        .is_some_and(|(ns, verb)| ns == name && !verb.is_empty())
}

fn find<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x["key"] == key))
        .unwrap_or_else(|| panic!("{key} missing from {list}"))
}

#[test]
fn module_json_passes_the_hub_validator() {
    let m = manifest();
    assert_eq!(validate(&m), Vec::<String>::new());
    assert_eq!(m["name"], "agent");
    assert_eq!(m["manifestName"], "parachute-agent");
    assert_eq!(m["startCmd"], json!(["parachute-agent"]));
    assert_eq!(
        m["scopes"]["defines"],
        json!(["agent:read", "agent:write", "agent:send", "agent:admin"])
    );
}

#[test]
fn module_json_declares_the_agents_events_actions_and_templates() {
    let m = manifest();
    let keys = |f: &str| -> Vec<Value> {
        m[f].as_array()
            .unwrap()
            .iter()
            .map(|x| x["key"].clone())
            .collect()
    };
    assert_eq!(
        keys("events"),
        json!(["message.received", "message.sent"])
            .as_array()
            .unwrap()
            .clone()
    );
    for (action, endpoint) in [
        ("message.deliver", "/api/vault/inbound"),
        ("definition.reload", "/api/vault/agent-def"),
    ] {
        let a = find(&m["actions"], action);
        assert_eq!(a["endpoint"], endpoint);
        assert_eq!(a["scope"], "agent:send");
        assert_eq!(a["provision"]["type"], "vault-trigger");
    }
    let link = find(&m["connectionTemplates"], "link-to-vault");
    assert_eq!(link["requestedBy"], "agent");
    assert_eq!(link["source"]["module"], "vault");
    assert_eq!(link["source"]["event"], "note.created");
    let filter = &link["source"]["filter"];
    assert_eq!(filter["tags"], json!(["agent/message/inbound"]));
    // spec 02 D10: current inbound notes carry `agent` (rc.10's `channel` never matched).
    assert_eq!(filter["has_metadata"], json!(["agent"]));
    assert_eq!(
        filter["missing_metadata"],
        json!(["channel_inbound_rendered_at"])
    );
    assert_eq!(
        link["sink"],
        json!({ "module": "agent", "action": "message.deliver" })
    );
    let targets: Vec<(Value, Value)> = link["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|p| assert!(is_nonempty_str(&p["title"]) && is_nonempty_str(&p["description"])))
        .map(|p| (p["key"].clone(), p["target"].clone()))
        .collect();
    assert_eq!(
        targets,
        vec![
            (json!("vault"), json!("source.vault")),
            (json!("channel"), json!("sink.params.channel"))
        ]
    );
    for (key, event) in [
        ("reload-defs-on-create", "note.created"),
        ("reload-defs-on-edit", "note.updated"),
    ] {
        let t = find(&m["connectionTemplates"], key);
        assert_eq!(t["source"]["module"], "vault");
        assert_eq!(t["source"]["event"], event);
        assert_eq!(t["source"]["filter"]["tags"], json!(["agent/definition"]));
        assert_eq!(
            t["sink"],
            json!({ "module": "agent", "action": "definition.reload" })
        );
        assert_eq!(t["parameters"][0]["key"], "vault");
        assert_eq!(t["parameters"][0]["target"], "source.vault");
    }
}

/// The validator itself can fail: the rc.10 shapes the hub rejected, and each rule.
#[test]
fn the_validator_rejects_the_shapes_the_hub_rejects() {
    let mut m = manifest();
    m["events"] = json!(["message.received"]);
    assert_eq!(validate(&m), vec!["\"events[0]\" must be an object"]);
    let bad = [
        ("name", json!("Agent")),
        ("port", json!(0)),
        ("health", json!("health")),
        ("websocket", json!("yes")),
        ("focus", json!("beta")),
        ("startCmd", json!([])),
        ("uiUrl", json!("//evil.example/app")),
        ("configUiUrl", json!("/agent/../hub")),
        ("managementUrl", json!("javascript:alert(1)")),
        ("actions", json!({ "message.deliver": {} })),
        ("connectionTemplates", json!({ "link-to-vault": {} })),
    ];
    for (field, value) in bad {
        let mut m = manifest();
        m[field] = value;
        let errors = validate(&m);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("\"{field}\""))),
            "{field}: {errors:?}"
        );
    }
    let mut m = manifest();
    m["actions"][0]["scope"] = json!("vault:send");
    m["connectionTemplates"][0]["source"] = json!({ "kind": "vault", "event": "note.created" });
    m["connectionTemplates"][0]["parameters"] = json!({ "vault": "source.vault" });
    m["scopes"]["defines"][0] = json!("agent");
    assert_eq!(
        validate(&m),
        vec![
            "\"scopes.defines[0]\" must be <name>:<verb>",
            "\"actions[0].scope\" must be <name>:<verb>",
            "\"connectionTemplates[0].source.module\" must be a string",
            "\"connectionTemplates[0].parameters\" must be an array",
        ]
    );
}

/// `services.json` advertises a surface exactly when the daemon serves it: probed from
/// outside, so the row follows the routes as the web UI and the terminal land.
#[test]
fn services_json_advertises_only_what_is_served() {
    let d = DaemonBuilder::new().start();
    let path = d.tmp().join("home/.parachute/services.json");
    assert!(d.wait_file(&path));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let row = &doc["services"][0];
    let ui = http::get(&d.url("/app/"), None);
    let ui_served = ui.status == 200 && ui.body.contains("<html");
    assert_eq!(row["uis"].get("agents").is_some(), ui_served, "{row}");
    assert_eq!(row.get("uiUrl").is_some(), ui_served, "{row}");
    assert_eq!(row.get("configUiUrl").is_some(), ui_served, "{row}");
    let page = http::get(&d.url("/terminal/x"), None);
    let terminal_served = page.status == 200 && page.body.contains("<html");
    assert_eq!(
        row["uis"].get("terminal").is_some(),
        terminal_served,
        "{row}"
    );
    assert_eq!(row["websocket"], terminal_served, "{row}");
    assert!(row["uis"].is_object(), "{row}");
}
