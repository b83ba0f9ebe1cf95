//! Lifecycle tests of the definition registry against in-memory seams.

use super::*;
use crate::agents::spec::AgentSpec;

/// An in-memory def-vault recording every stamp.
#[derive(Default)]
pub(crate) struct MemStore {
    pub notes: Mutex<Vec<DefNote>>,
    pub stamps: Mutex<Vec<(String, DefStamp)>>,
    pub fail_list: Mutex<bool>,
}

impl MemStore {
    pub fn put(&self, id: &str, content: &str, meta: Value) {
        let mut notes = self.notes.lock();
        notes.retain(|n| n.id != id);
        notes.push(DefNote {
            id: id.into(),
            path: format!("Agents/{id}"),
            content: content.into(),
            metadata: meta.as_object().cloned().unwrap_or_default(),
        });
    }
    pub fn remove(&self, id: &str) {
        self.notes.lock().retain(|n| n.id != id);
    }
}

impl DefStore for MemStore {
    fn list_defs(&self) -> Result<Vec<DefNote>, String> {
        if *self.fail_list.lock() {
            return Err("def-vault \"v\": list defs failed (500) boom".into());
        }
        Ok(self.notes.lock().clone())
    }
    fn get_def(&self, id: &str) -> Result<Option<DefNote>, String> {
        Ok(self.notes.lock().iter().find(|n| n.id == id).cloned())
    }
    fn stamp(&self, id: &str, stamp: &DefStamp) -> Result<(), String> {
        self.stamps.lock().push((id.into(), stamp.clone()));
        // the vault merges metadata
        let mut notes = self.notes.lock();
        if let Some(n) = notes.iter_mut().find(|n| n.id == id) {
            n.metadata
                .insert("status".into(), json!(stamp.status.as_str()));
            n.metadata
                .insert("pending".into(), json!(stamp.pending_text()));
        }
        Ok(())
    }
    fn create_def(&self, body: &Value) -> Result<String, String> {
        let id = format!("id-{}", self.notes.lock().len() + 1);
        self.put(
            &id,
            body["content"].as_str().unwrap_or(""),
            body["metadata"].clone(),
        );
        Ok(id)
    }
    fn patch_def(&self, id: &str, body: &Value) -> Result<(), String> {
        let mut notes = self.notes.lock();
        let n = notes.iter_mut().find(|n| n.id == id).ok_or("gone")?;
        if let Some(c) = body["content"].as_str() {
            n.content = c.into();
        }
        if let Some(m) = body["metadata"].as_object() {
            for (k, v) in m {
                n.metadata.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }
    fn delete_def(&self, id: &str) -> Result<(), String> {
        self.remove(id);
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct MemChannels {
    pub live: Mutex<Vec<String>>,
    pub bring_ups: Mutex<usize>,
}

impl DefChannels for MemChannels {
    fn bring_up(&self, name: &str, _b: &DefVaultBinding) -> Result<(), String> {
        *self.bring_ups.lock() += 1;
        let mut live = self.live.lock();
        live.retain(|n| n != name);
        live.push(name.into());
        Ok(())
    }
    fn is_live_vault(&self, name: &str) -> bool {
        self.live.lock().iter().any(|n| n == name)
    }
    fn tear_down(&self, name: &str) {
        self.live.lock().retain(|n| n != name);
    }
}

pub(crate) struct MemSink {
    pub backend: Backend,
    pub agents: Mutex<BTreeMap<String, AgentSpec>>,
    pub refuse: Mutex<bool>,
}

impl MemSink {
    pub fn new(backend: Backend) -> Arc<MemSink> {
        Arc::new(MemSink {
            backend,
            agents: Mutex::new(BTreeMap::new()),
            refuse: Mutex::new(false),
        })
    }
    fn names(&self) -> Vec<String> {
        self.agents.lock().keys().cloned().collect()
    }
}

impl AgentSink for MemSink {
    fn backend(&self) -> Backend {
        self.backend
    }
    fn upsert(&self, spec: &AgentSpec) -> Result<(), String> {
        if *self.refuse.lock() {
            return Err("no Claude credential".into());
        }
        self.agents.lock().insert(spec.name.clone(), spec.clone());
        Ok(())
    }
    fn remove(&self, name: &str, _channel: &str) {
        self.agents.lock().remove(name);
    }
    fn contains(&self, name: &str) -> bool {
        self.agents.lock().contains_key(name)
    }
}

pub(crate) struct Rig {
    pub reg: Arc<DefRegistry>,
    pub store: Arc<MemStore>,
    pub channels: Arc<MemChannels>,
    pub prog: Arc<MemSink>,
    pub att: Arc<MemSink>,
}

pub(crate) fn rig() -> Rig {
    let store = Arc::new(MemStore::default());
    let channels = Arc::new(MemChannels::default());
    let s2 = store.clone();
    let reg = DefRegistry::new(
        channels.clone(),
        Arc::new(move |_| s2.clone() as Arc<dyn DefStore>),
    );
    let prog = MemSink::new(Backend::Programmatic);
    let att = MemSink::new(Backend::Attached);
    reg.add_sink(prog.clone());
    reg.add_sink(att.clone());
    reg.bind(DefVaultBinding {
        vault: "v".into(),
        vault_url: None,
        token: "t".into(),
    })
    .unwrap();
    Rig {
        reg,
        store,
        channels,
        prog,
        att,
    }
}

#[test]
fn load_instantiates_and_stamps_once() {
    let r = rig();
    r.store.put("n1", "be helpful", json!({"name": "eng"}));
    r.store.put("n2", "", json!({"name": "bad name"}));
    assert_eq!(r.reg.load_all(), 1);
    assert_eq!(r.prog.names(), vec!["eng"]);
    assert!(r.channels.is_live_vault("eng"));
    let stamps = r.store.stamps.lock().clone();
    assert_eq!(stamps.len(), 2);
    assert_eq!(stamps[0].1.status.as_str(), "enabled");
    assert_eq!(stamps[1].1.status.as_str(), "error");
    // a second pass changes nothing: no rebuild, no stamp
    assert_eq!(r.reg.load_all(), 1);
    assert_eq!(r.store.stamps.lock().len(), 2);
    assert_eq!(*r.channels.bring_ups.lock(), 1);
    // deregistered behind the registry's back: the next pass registers it again
    r.prog.agents.lock().clear();
    r.reg.load_all();
    assert_eq!(r.prog.names(), vec!["eng"]);
    assert_eq!(*r.channels.bring_ups.lock(), 2);
    let d = r.reg.live_defs();
    assert_eq!(d[0].detail()["systemPromptPreview"], "be helpful");
    assert_eq!(d[0].detail()["channel"], "eng");
}

#[test]
fn edit_reinstantiates_and_invalid_edit_keeps_old_config() {
    let r = rig();
    r.store.put("n1", "one", json!({"name": "eng"}));
    r.reg.load_all();
    r.store.put(
        "n1",
        "two",
        json!({"name": "eng", "status": "enabled", "pending": ""}),
    );
    assert_eq!(
        r.reg.reload("v", "n1", Some(ReloadEvent::Updated)),
        Reloaded::Instantiated
    );
    assert_eq!(
        r.prog.agents.lock()["eng"].system_prompt.as_deref(),
        Some("two")
    );
    assert_eq!(r.store.stamps.lock().len(), 1, "status unchanged: no PATCH");
    r.store.put(
        "n1",
        "three",
        json!({"name": "eng", "mode": "x", "status": "enabled"}),
    );
    assert_eq!(r.reg.reload("v", "n1", None), Reloaded::Skipped);
    assert_eq!(
        r.prog.agents.lock()["eng"].system_prompt.as_deref(),
        Some("two")
    );
    assert_eq!(
        r.store.stamps.lock().last().unwrap().1.status.as_str(),
        "error"
    );
}

#[test]
fn removal_by_poll_webhook_and_deleted_event() {
    let r = rig();
    r.store.put("n1", "", json!({"name": "a"}));
    r.store.put("n2", "", json!({"name": "b"}));
    r.store.put("n3", "", json!({"name": "c"}));
    r.reg.load_all();
    r.store.remove("n1");
    r.reg.load_all();
    assert_eq!(r.prog.names(), vec!["b", "c"]);
    assert!(!r.channels.is_live_vault("a"));
    r.store.remove("n2");
    assert_eq!(r.reg.reload("v", "n2", None), Reloaded::Deregistered);
    assert_eq!(
        r.reg.reload("v", "n3", Some(ReloadEvent::Deleted)),
        Reloaded::Deregistered
    );
    assert!(r.prog.names().is_empty());
    assert_eq!(r.reg.reload("nope", "n3", None), Reloaded::Skipped);
    // a deleted event naming the note by path
    r.store.remove("n3");
    r.store.put("n4", "", json!({"name": "d"}));
    r.reg.load_all();
    assert_eq!(r.prog.names(), vec!["d"]);
    r.reg.reload("v", "Agents/n4", Some(ReloadEvent::Deleted));
    assert!(r.prog.names().is_empty());
}

#[test]
fn list_failure_removes_nothing() {
    let r = rig();
    r.store.put("n1", "", json!({"name": "a"}));
    r.reg.load_all();
    *r.store.fail_list.lock() = true;
    assert_eq!(r.reg.load_all(), 0);
    assert_eq!(r.prog.names(), vec!["a"]);
}

#[test]
fn backend_switch_moves_between_sinks() {
    let r = rig();
    r.store
        .put("n1", "", json!({"name": "a", "backend": "attached"}));
    r.reg.load_all();
    assert_eq!(r.att.names(), vec!["a"]);
    assert!(r.prog.names().is_empty());
    r.store.put("n1", "", json!({"name": "a"}));
    r.reg.reload("v", "n1", None);
    assert_eq!(r.prog.names(), vec!["a"]);
    assert!(r.att.names().is_empty());
}

#[test]
fn bring_up_failure_stamps_error_and_keeps_prior() {
    let r = rig();
    r.store.put("n1", "x", json!({"name": "a"}));
    r.reg.load_all();
    *r.prog.refuse.lock() = true;
    r.store
        .put("n1", "y", json!({"name": "a", "status": "enabled"}));
    assert_eq!(r.reg.reload("v", "n1", None), Reloaded::Skipped);
    assert_eq!(
        r.prog.agents.lock()["a"].system_prompt.as_deref(),
        Some("x")
    );
    assert_eq!(
        r.store.stamps.lock().last().unwrap().1.status.as_str(),
        "error"
    );
}

#[test]
fn rename_releases_old_name_and_collisions_fall_back() {
    let r = rig();
    r.store.put("n1", "", json!({"name": "a"}));
    r.reg.load_all();
    r.store.put("n1", "", json!({"name": "b"}));
    r.reg.reload("v", "n1", None);
    assert_eq!(r.prog.names(), vec!["b"]);
    assert!(!r.channels.is_live_vault("a"));
    // two notes, one name: the survivor is re-registered when the other goes
    r.store.put("n2", "second", json!({"name": "b"}));
    r.reg.reload("v", "n2", None);
    assert_eq!(r.prog.agents.lock()["b"].definition.as_deref(), Some("n2"));
    r.store.remove("n2");
    r.reg.reload("v", "n2", None);
    assert_eq!(r.prog.agents.lock()["b"].definition.as_deref(), Some("n1"));
    assert!(r.channels.is_live_vault("b"));
}

#[test]
fn late_sink_gets_the_live_set_and_unbind_tears_down() {
    let r = rig();
    r.store.put("n1", "", json!({"name": "a"}));
    r.reg.load_all();
    let late = MemSink::new(Backend::Programmatic);
    r.reg.add_sink(late.clone());
    assert_eq!(late.names(), vec!["a"]);
    assert!(r.reg.unbind("v"));
    assert!(late.names().is_empty() && r.prog.names().is_empty());
    assert!(!r.channels.is_live_vault("a"));
    assert!(!r.reg.unbind("v"));
}

#[test]
fn binding_rules() {
    let r = rig();
    let dup = DefVaultBinding {
        vault: "v".into(),
        vault_url: None,
        token: "t".into(),
    };
    assert!(r.reg.bind(dup).is_err());
    let no_token = DefVaultBinding {
        vault: "w".into(),
        vault_url: None,
        token: String::new(),
    };
    assert_eq!(
        r.reg.bind(no_token).unwrap_err(),
        "DefVaultClient: binding.token is required"
    );
}

/// A hub that answers registrations from a status table and records reconciles.
#[derive(Default)]
struct MemGrants {
    statuses: Mutex<HashMap<String, String>>,
    reconciles: Mutex<Vec<(String, Vec<String>)>>,
    fail_reconcile: Mutex<bool>,
}

impl crate::hub::grants::GrantsApi for MemGrants {
    fn register(
        &self,
        agent: &str,
        c: &crate::agents::wants::Connection,
    ) -> Result<crate::hub::grants::GrantRecord, crate::hub::grants::GrantsError> {
        let key = c.key();
        match self.statuses.lock().get(&key) {
            Some(s) if s == "down" => Err(crate::hub::grants::GrantsError {
                message: "register grant failed (500)".into(),
                status: 500,
            }),
            other => Ok(crate::hub::grants::GrantRecord {
                id: format!("{agent}--{key}"),
                status: other.cloned().unwrap_or_else(|| "pending".into()),
                raw: Value::Null,
            }),
        }
    }
    fn reconcile(
        &self,
        agent: &str,
        live: &[crate::agents::wants::Connection],
    ) -> Result<u64, crate::hub::grants::GrantsError> {
        self.reconciles
            .lock()
            .push((agent.into(), live.iter().map(|c| c.key()).collect()));
        if *self.fail_reconcile.lock() {
            return Err(crate::hub::grants::GrantsError {
                message: "reconcile grants failed (502)".into(),
                status: 502,
            });
        }
        Ok(0)
    }
}

#[test]
fn grants_drive_status_and_are_reconciled() {
    let r = rig();
    let g = Arc::new(MemGrants::default());
    r.reg.set_grants(g.clone());
    g.statuses
        .lock()
        .insert("env:github".into(), "approved".into());
    g.statuses.lock().insert("env:slack".into(), "down".into());
    r.store.put(
        "n1",
        "",
        json!({"name": "a", "wants": "env:github env:slack"}),
    );
    r.reg.load_all();
    let d = r.reg.live_def("v", "n1").unwrap();
    assert_eq!(d.stamp.pending, vec!["env:slack"]);
    let conns = d.connections();
    assert_eq!(conns[0]["status"], "approved");
    assert_eq!(conns[0]["grantId"], "a--env:github");
    assert_eq!(conns[1]["status"], "pending");
    assert!(conns[1].get("grantId").is_none());
    assert_eq!(
        g.reconciles.lock().last().unwrap(),
        &(
            "a".to_string(),
            vec!["env:github".to_string(), "env:slack".to_string()]
        )
    );
    // approval arrives: the next pass enables it and re-stamps once
    g.statuses
        .lock()
        .insert("env:slack".into(), "approved".into());
    r.reg.load_all();
    assert_eq!(
        r.reg.live_def("v", "n1").unwrap().stamp.status.as_str(),
        "enabled"
    );
    assert_eq!(
        r.store.stamps.lock().last().unwrap().1.status.as_str(),
        "enabled"
    );
    // removal prunes everything; unbind does not
    r.store.remove("n1");
    r.reg.load_all();
    assert_eq!(
        g.reconciles.lock().last().unwrap(),
        &("a".to_string(), vec![])
    );
    r.store.put("n2", "", json!({"name": "b"}));
    r.reg.load_all();
    let n = g.reconciles.lock().len();
    r.reg.unbind("v");
    assert_eq!(g.reconciles.lock().len(), n);
}

#[test]
fn api_delete_reports_a_failed_prune() {
    let r = rig();
    let g = Arc::new(MemGrants::default());
    r.reg.set_grants(g.clone());
    r.store.put("n1", "", json!({"name": "a"}));
    r.reg.load_all();
    *g.fail_reconcile.lock() = true;
    let d = r.reg.delete_def("n1").unwrap();
    assert!(!d.grants_reconciled);
}
