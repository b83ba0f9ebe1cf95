//! The definition registry (spec 03 §2.7, spec 02 §4.3–§4.5): the bound def-vaults, the
//! live definitions read from them, and the lifecycle that turns a note into a live agent
//! (wake channel + backend registration) and back.
//!
//! Improvements over the reference, each named in spec 03 §2.8 / spec 02 §7:
//! - the status stamp is PATCHed only when it differs from what the note carries, so a
//!   reload never re-triggers itself (§2.8 #1);
//! - a definition switching backend is removed from the other backend's sink (§2.8 #2);
//! - an unchanged definition is not torn down and rebuilt on every poll (§2.8 #3, D6);
//! - a note renamed in place releases its old name; when two live notes share a name
//!   and one goes away, the survivor is registered again;
//! - a binding without a token is skipped with a warning instead of aborting boot (§4.1).
//!
//! All lifecycle operations are serialised by one lock, so the poll and the reload
//! webhook never interleave on the same vault.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use crate::grants::GrantsApi;

use super::def_status::{resolve_status, DefStamp};
use super::definition::{parse_definition, DefNote, ParsedDef};
use super::sink::{AgentSink, DefChannels, DefStore};
use super::spec::{Backend, ThreadMode};
use super::token_life::Lifetime;
use super::vaults::DefVaultBinding;

/// A list of this many notes (or more) may be truncated: no removal diff (spec 03 §2.7).
pub const DEF_LIST_LIMIT: usize = 500;

/// Builds the store of one binding (the vault client in the daemon, a fake in tests).
pub type StoreFactory = Arc<dyn Fn(&DefVaultBinding) -> Arc<dyn DefStore> + Send + Sync>;

/// The outcome of one reload (`reloaded` of `POST /api/vault/agent-def`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    Instantiated,
    Deregistered,
    Skipped,
}

impl Reloaded {
    pub fn as_str(self) -> &'static str {
        match self {
            Reloaded::Instantiated => "instantiated",
            Reloaded::Deregistered => "deregistered",
            Reloaded::Skipped => "skipped",
        }
    }
}

/// The webhook `event`, kept only when it is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadEvent {
    Created,
    Updated,
    Deleted,
}

impl ReloadEvent {
    pub fn parse(s: &str) -> Option<ReloadEvent> {
        match s {
            "created" => Some(ReloadEvent::Created),
            "updated" => Some(ReloadEvent::Updated),
            "deleted" => Some(ReloadEvent::Deleted),
            _ => None,
        }
    }
}

pub(crate) struct BoundVault {
    pub(crate) binding: DefVaultBinding,
    pub(crate) store: Arc<dyn DefStore>,
    /// note id → agent name of every note of the last confident list (and reloads).
    seen: HashMap<String, String>,
}

/// One live definition.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDef {
    pub def: ParsedDef,
    pub stamp: DefStamp,
    /// The note path, so a webhook naming the note by path finds it.
    pub path: String,
    /// Hub grant status and id per wants key (empty without a grants client).
    pub grants: BTreeMap<String, (String, Option<String>)>,
}

impl LiveDef {
    pub fn name(&self) -> &str {
        self.def.name()
    }

    /// `AgentDefDetail` (spec 03 §2.7 "Views").
    pub fn detail(&self) -> Value {
        let spec = &self.def.spec;
        let mut v = json!({
            "noteId": self.def.note_id,
            "name": spec.name,
            "backend": backend_word(spec.backend),
            "mode": mode_word(spec.mode),
            "vault": self.def.vault,
            "status": self.stamp.status.as_str(),
            "pending": self.stamp.pending,
            "systemPromptPreview": self.def.system_prompt_preview(),
            "wants": self.def.wants_keys(),
            "connections": self.connections(),
        });
        if let Some(m) = &spec.model {
            v["model"] = json!(m);
        }
        v["channel"] = json!(spec.name);
        v
    }

    /// `{key, kind, target, status, grantId?}` per wants entry (no hub answer: `pending`).
    pub fn connections(&self) -> Vec<Value> {
        self.def
            .wants
            .iter()
            .map(|c| {
                let key = c.key();
                let (status, id) = self
                    .grants
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| ("pending".into(), None));
                let mut v =
                    json!({"key": key, "kind": c.kind(), "target": c.target(), "status": status});
                if let Some(id) = id {
                    v["grantId"] = json!(id);
                }
                v
            })
            .collect()
    }
}

pub fn backend_word(b: Backend) -> &'static str {
    match b {
        Backend::Programmatic => "programmatic",
        Backend::Attached => "attached",
    }
}

pub fn mode_word(m: ThreadMode) -> &'static str {
    match m {
        ThreadMode::SingleThreaded => "single-threaded",
        ThreadMode::MultiThreaded => "multi-threaded",
    }
}

type LiveKey = (String, String);

/// The registry. Shared as `Arc<DefRegistry>`.
pub struct DefRegistry {
    pub(crate) vaults: RwLock<Vec<BoundVault>>,
    live: RwLock<BTreeMap<LiveKey, LiveDef>>,
    sinks: RwLock<Vec<Arc<dyn AgentSink>>>,
    channels: Arc<dyn DefChannels>,
    stores: StoreFactory,
    /// The hub grants client, when an operator token exists (spec 04 §3.3).
    grants: RwLock<Option<Arc<dyn GrantsApi>>>,
    /// [ext] D5: lifetime of the webhook bearer in each vault's registered triggers.
    trigger_bearers: Mutex<HashMap<String, Lifetime>>,
    /// Serialises every lifecycle operation (poll, reload, create/edit/delete, bind).
    pub(crate) ops: Mutex<()>,
}

impl DefRegistry {
    pub fn new(channels: Arc<dyn DefChannels>, stores: StoreFactory) -> Arc<DefRegistry> {
        Arc::new(DefRegistry {
            vaults: RwLock::new(Vec::new()),
            live: RwLock::new(BTreeMap::new()),
            sinks: RwLock::new(Vec::new()),
            channels,
            stores,
            grants: RwLock::new(None),
            trigger_bearers: Mutex::new(HashMap::new()),
            ops: Mutex::new(()),
        })
    }

    /// Add a backend sink; the live agents of its backend are registered with it at once.
    pub fn add_sink(&self, sink: Arc<dyn AgentSink>) {
        let live: Vec<LiveDef> = self.live.read().values().cloned().collect();
        for d in live.iter().filter(|d| d.def.spec.backend == sink.backend()) {
            sink.expect_channel(d.name());
            if let Err(e) = sink.upsert(&d.def.spec) {
                log::warn!("agent-defs: registering \"{}\" failed: {e}", d.name());
            }
        }
        self.sinks.write().push(sink);
    }

    /// Wire the hub grants client (boot, when an operator token exists).
    pub fn set_grants(&self, grants: Arc<dyn GrantsApi>) {
        *self.grants.write() = Some(grants);
    }

    // ---- bindings -------------------------------------------------------------------

    /// Bind a def-vault. Errors: already bound, or no token.
    pub fn bind(&self, binding: DefVaultBinding) -> Result<(), String> {
        if binding.token.is_empty() {
            return Err("DefVaultClient: binding.token is required".into());
        }
        let store = (self.stores)(&binding);
        let mut vaults = self.vaults.write();
        if vaults.iter().any(|v| v.binding.vault == binding.vault) {
            return Err(format!(
                "def-vault \"{}\" is already configured",
                binding.vault
            ));
        }
        vaults.push(BoundVault {
            binding,
            store,
            seen: HashMap::new(),
        });
        Ok(())
    }

    /// Tear down every agent of `vault` and unbind it; false if it was not bound.
    pub fn unbind(&self, vault: &str) -> bool {
        let _ops = self.ops.lock();
        if self.binding(vault).is_none() {
            return false;
        }
        let ids: Vec<String> = self
            .live
            .read()
            .keys()
            .filter(|(v, _)| v == vault)
            .map(|(_, id)| id.clone())
            .collect();
        for id in ids {
            self.confirm_removal(vault, &id, false);
        }
        self.vaults.write().retain(|v| v.binding.vault != vault);
        true
    }

    /// [ext] D5: replace a bound vault's token (same vault) and bring its live agents'
    /// wake channels up again with it.
    pub fn rebind(&self, binding: DefVaultBinding) -> Result<(), String> {
        let _ops = self.ops.lock();
        let store = (self.stores)(&binding);
        {
            let mut vaults = self.vaults.write();
            let v = vaults
                .iter_mut()
                .find(|v| v.binding.vault == binding.vault)
                .ok_or_else(|| format!("def-vault \"{}\" is not configured", binding.vault))?;
            v.binding = binding.clone();
            v.store = store;
        }
        let defs: Vec<ParsedDef> = self
            .live
            .read()
            .values()
            .filter(|d| d.def.vault == binding.vault)
            .map(|d| d.def.clone())
            .collect();
        for d in defs {
            if let Err(e) = self.activate(&binding, &d) {
                log::warn!(
                    "agent-defs: re-registering \"{}\" after a token refresh failed: {e}",
                    d.name()
                );
            }
        }
        Ok(())
    }

    /// Record the lifetime of the bearer carried by `vault`'s triggers (None: unknown).
    pub fn note_trigger_bearer(&self, vault: &str, life: Option<Lifetime>) {
        let mut m = self.trigger_bearers.lock();
        match life {
            Some(l) => {
                m.insert(vault.to_string(), l);
            }
            None => {
                m.remove(vault);
            }
        }
    }

    /// Whether `vault`'s trigger bearer is known and due for a refresh at `now`.
    pub fn trigger_bearer_expiring(&self, vault: &str, now: u64) -> bool {
        self.trigger_bearers
            .lock()
            .get(vault)
            .is_some_and(|l| l.needs_refresh(now))
    }

    /// The bound bindings, in binding order.
    pub fn bindings(&self) -> Vec<DefVaultBinding> {
        self.vaults
            .read()
            .iter()
            .map(|v| v.binding.clone())
            .collect()
    }

    pub fn binding(&self, vault: &str) -> Option<DefVaultBinding> {
        self.vaults
            .read()
            .iter()
            .find(|v| v.binding.vault == vault)
            .map(|v| v.binding.clone())
    }

    pub(crate) fn store(&self, vault: &str) -> Option<Arc<dyn DefStore>> {
        self.vaults
            .read()
            .iter()
            .find(|v| v.binding.vault == vault)
            .map(|v| v.store.clone())
    }

    fn set_seen(&self, vault: &str, id: &str, name: Option<String>) {
        if let Some(v) = self
            .vaults
            .write()
            .iter_mut()
            .find(|v| v.binding.vault == vault)
        {
            match name {
                Some(n) => {
                    v.seen.insert(id.to_string(), n);
                }
                None => {
                    v.seen.remove(id);
                }
            }
        }
    }

    // ---- views ----------------------------------------------------------------------

    /// Every live definition, sorted by name (then vault, note id).
    pub fn live_defs(&self) -> Vec<LiveDef> {
        let mut all: Vec<LiveDef> = self.live.read().values().cloned().collect();
        all.sort_by(|a, b| {
            (a.name(), &a.def.vault, &a.def.note_id).cmp(&(b.name(), &b.def.vault, &b.def.note_id))
        });
        all
    }

    pub fn live_def(&self, vault: &str, note_id: &str) -> Option<LiveDef> {
        self.live
            .read()
            .get(&(vault.to_string(), note_id.to_string()))
            .cloned()
    }

    /// The live definitions with this note id, across vaults.
    pub fn find_by_note(&self, note_id: &str) -> Vec<LiveDef> {
        self.live
            .read()
            .iter()
            .filter(|((_, id), _)| id == note_id)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// The id of the live note of `vault` whose id or path is `key` (else `key` itself).
    fn note_id_of(&self, vault: &str, key: &str) -> String {
        self.live
            .read()
            .iter()
            .find(|((v, id), d)| v == vault && (id == key || d.path == key))
            .map(|((_, id), _)| id.clone())
            .unwrap_or_else(|| key.to_string())
    }

    // ---- lifecycle ------------------------------------------------------------------

    /// List every bound vault and instantiate every definition (boot, poll, vault add).
    /// Returns how many are live after the pass.
    pub fn load_all(&self) -> usize {
        let names: Vec<String> = self.bindings().into_iter().map(|b| b.vault).collect();
        names.iter().map(|v| self.load_vault(v)).sum()
    }

    /// One vault's pass of [`Self::load_all`].
    pub fn load_vault(&self, vault: &str) -> usize {
        self.try_load_vault(vault).unwrap_or_else(|e| {
            log::warn!("agent-defs: {e} (skipping this def-vault this pass)");
            0
        })
    }

    /// [`Self::load_vault`] that hands the list failure back (the poll backs off on it).
    pub fn try_load_vault(&self, vault: &str) -> Result<usize, String> {
        let _ops = self.ops.lock();
        let Some(store) = self.store(vault) else {
            return Ok(0);
        };
        let notes = store.list_defs().map_err(|e| e.to_string())?;
        if notes.len() < DEF_LIST_LIMIT {
            self.diff_removed(vault, &notes);
        } else {
            log::warn!(
                "agent-defs: def-vault \"{vault}\" returned {} notes (the list limit) — \
                 skipping the removed-definition diff this pass",
                notes.len()
            );
        }
        Ok(notes.iter().filter(|n| self.instantiate(vault, n)).count())
    }

    /// Confirmed removals for notes gone from a confident list; rebuild the seen map.
    fn diff_removed(&self, vault: &str, notes: &[DefNote]) {
        let listed: HashSet<&str> = notes.iter().map(|n| n.id.as_str()).collect();
        let previous: HashMap<String, String> = self
            .vaults
            .read()
            .iter()
            .find(|v| v.binding.vault == vault)
            .map(|v| v.seen.clone())
            .unwrap_or_default();
        let mut gone: Vec<String> = previous.keys().cloned().collect();
        gone.extend(
            self.live
                .read()
                .keys()
                .filter(|(v, _)| v == vault)
                .map(|(_, id)| id.clone()),
        );
        gone.sort();
        gone.dedup();
        for id in gone.iter().filter(|id| !listed.contains(id.as_str())) {
            self.confirm_removal(vault, id, true);
        }
        let seen: HashMap<String, String> = notes
            .iter()
            .map(|n| {
                let name = n
                    .name()
                    .or_else(|| previous.get(&n.id).cloned())
                    .unwrap_or_default();
                (n.id.clone(), name)
            })
            .collect();
        if let Some(v) = self
            .vaults
            .write()
            .iter_mut()
            .find(|v| v.binding.vault == vault)
        {
            v.seen = seen;
        }
    }

    /// Reload one note (`POST /api/vault/agent-def`).
    pub fn reload(&self, vault: &str, key: &str, event: Option<ReloadEvent>) -> Reloaded {
        let Some(store) = self.store(vault) else {
            log::warn!("agent-defs: reload for unknown def-vault \"{vault}\" — skipped");
            return Reloaded::Skipped;
        };
        let _ops = self.ops.lock();
        if event == Some(ReloadEvent::Deleted) {
            self.confirm_removal(vault, &self.note_id_of(vault, key), true);
            return Reloaded::Deregistered;
        }
        match store.get_def(key) {
            Err(e) => {
                log::warn!("agent-defs: reload of {key} in \"{vault}\" failed: {e}");
                Reloaded::Skipped
            }
            Ok(None) => {
                self.confirm_removal(vault, &self.note_id_of(vault, key), true);
                Reloaded::Deregistered
            }
            Ok(Some(note)) if self.instantiate(vault, &note) => Reloaded::Instantiated,
            Ok(Some(_)) => Reloaded::Skipped,
        }
    }

    /// Instantiate one note (spec 03 §2.7 "Instantiate one note"); true when live after.
    /// Callers hold `ops`.
    pub(crate) fn instantiate(&self, vault: &str, note: &DefNote) -> bool {
        let Some(bound) = self.binding(vault) else {
            return false;
        };
        let store = self.store(vault).expect("bound vault has a store");
        let def = match parse_definition(note, vault) {
            Ok(d) => d,
            Err(e) => {
                log::warn!(
                    "agent-defs: skipping malformed def {} in \"{vault}\": {e}",
                    note.id
                );
                if !note.id.is_empty() {
                    self.set_seen(vault, &note.id, note.name());
                    stamp_if_changed(&*store, note, &DefStamp::error());
                }
                return false;
            }
        };
        let key = (vault.to_string(), def.note_id.clone());
        let prev = self.live.read().get(&key).cloned();
        let unchanged = prev.as_ref().is_some_and(|p| p.def == def)
            && self.channels.is_live_vault(def.name())
            && self
                .sinks
                .read()
                .iter()
                .filter(|s| s.backend() == def.spec.backend)
                .all(|s| s.contains(def.name()));
        if !unchanged {
            if let Err(e) = self.activate(&bound, &def) {
                log::warn!(
                    "agent-defs: instantiating \"{}\" ({} in \"{vault}\") failed: {e}",
                    def.name(),
                    def.note_id
                );
                stamp_if_changed(&*store, note, &DefStamp::error());
                return false;
            }
        }
        let (stamp, grants) = self.register_grants(&def);
        self.reconcile(def.name(), &def.wants);
        let name = def.name().to_string();
        self.live.write().insert(
            key.clone(),
            LiveDef {
                def,
                stamp: stamp.clone(),
                path: note.path.clone(),
                grants,
            },
        );
        if let Some(p) = prev.filter(|p| p.name() != name) {
            self.release_name(p.name());
        }
        self.set_seen(vault, &note.id, Some(name));
        stamp_if_changed(&*store, note, &stamp);
        true
    }

    /// Register every wants connection with the hub and derive the status (spec 04 §3.3).
    /// A failed registration counts as unapproved.
    fn register_grants(
        &self,
        def: &ParsedDef,
    ) -> (DefStamp, BTreeMap<String, (String, Option<String>)>) {
        let grants = self.grants.read().clone();
        let Some(g) = grants.filter(|_| !def.wants.is_empty()) else {
            return (resolve_status(def, None), BTreeMap::new());
        };
        let mut info = BTreeMap::new();
        for c in &def.wants {
            let key = c.key();
            match g.register(def.name(), c) {
                Ok(rec) => {
                    let id = (!rec.id.is_empty()).then_some(rec.id);
                    info.insert(key, (rec.status, id));
                }
                Err(e) => log::warn!(
                    "agent-defs: registering grant for \"{}\" ({key}) failed (treating as pending): {e}",
                    def.name()
                ),
            }
        }
        let statuses: HashMap<String, String> = info
            .iter()
            .map(|(k, (s, _))| (k.clone(), s.clone()))
            .collect();
        (resolve_status(def, Some(&statuses)), info)
    }

    /// Ask the hub to prune grants `name` no longer declares; false if that failed.
    fn reconcile(&self, name: &str, live: &[super::wants::Connection]) -> bool {
        let Some(g) = self.grants.read().clone() else {
            return true;
        };
        match g.reconcile(name, live) {
            Ok(_) => true,
            Err(e) => {
                log::warn!(
                    "agent-defs: reconciling grants for \"{name}\" failed (continuing): {e}"
                );
                false
            }
        }
    }

    /// Bring up the wake channel and register with the backend's sinks.
    fn activate(&self, binding: &DefVaultBinding, def: &ParsedDef) -> Result<(), String> {
        let name = def.name();
        let sinks = self.sinks.read().clone();
        for s in &sinks {
            s.expect_channel(name);
        }
        self.channels.bring_up(name, binding)?;
        let backend = def.spec.backend;
        if backend == Backend::Attached && !self.channels.is_live_vault(name) {
            return Err(format!(
                "cannot register attached-backend agent \"{name}\": its wake channel is not a \
                 live vault transport (the queue needs the vault as its durable store)"
            ));
        }
        for s in sinks.iter().filter(|s| s.backend() == backend) {
            s.upsert(&def.spec)?;
        }
        for s in sinks.iter().filter(|s| s.backend() != backend) {
            s.remove(name, name);
        }
        Ok(())
    }

    /// Confirmed removal of a note: drop its live record, release its name and (with
    /// `gc`, i.e. from a confident read) prune its hub grants. Returns false only when the
    /// prune failed. Callers hold `ops`.
    pub(crate) fn confirm_removal(&self, vault: &str, note_id: &str, gc: bool) -> bool {
        self.set_seen(vault, note_id, None);
        let removed = self
            .live
            .write()
            .remove(&(vault.to_string(), note_id.to_string()));
        let Some(d) = removed else {
            return true;
        };
        log::info!(
            "agent-defs: definition {note_id} (\"{}\") in \"{vault}\" removed",
            d.name()
        );
        self.release_name(d.name());
        if !gc {
            return true;
        }
        let survivor_wants = self
            .live
            .read()
            .values()
            .find(|s| s.name() == d.name())
            .map(|s| s.def.wants.clone())
            .unwrap_or_default();
        self.reconcile(d.name(), &survivor_wants)
    }

    /// A name lost its definition: re-register a surviving live definition of the same
    /// name, or deregister it everywhere and stop its wake channel.
    fn release_name(&self, name: &str) {
        let survivor = self
            .live
            .read()
            .values()
            .rev()
            .find(|d| d.name() == name)
            .cloned();
        if let Some(d) = survivor {
            if let Some(b) = self.binding(&d.def.vault) {
                if let Err(e) = self.activate(&b, &d.def) {
                    log::warn!("agent-defs: re-registering \"{name}\" failed: {e}");
                }
                return;
            }
        }
        for s in self.sinks.read().iter() {
            s.remove(name, name);
        }
        self.channels.tear_down(name);
    }
}

/// PATCH the stamp only when the note does not already carry it (spec 03 §2.8 #1).
fn stamp_if_changed(store: &dyn DefStore, note: &DefNote, stamp: &DefStamp) {
    if stamp.is_current_on(&note.metadata) {
        return;
    }
    if let Err(e) = store.stamp(&note.id, stamp) {
        log::warn!("agent-defs: {e}");
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
pub(crate) mod tests;
