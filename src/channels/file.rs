//! `channels.json` as the daemon manages it (spec 05 §5.1, §5.3): the lock that serialises
//! every change of the file together with the live map (the channel API, a reload), the
//! entries the file held when this daemon last read or wrote it (which live channels the
//! file owns), and what new transports are built with. Boot starts every entry
//! ([`ChannelFile::start`], any failure fatal, spec 01 §6.4 step 4); [ext] a SIGHUP applies
//! the file's current content to the live map ([`ChannelFile::reload`]): new entries
//! start, changed ones are rebuilt and replace the live channel, entries gone from the
//! file stop, unchanged ones are left alone. Live channels the file does not own (those an
//! agent definition brings up) are never touched by a reload.

use std::path::{Path, PathBuf};

use parking_lot::{Mutex, MutexGuard, RwLock};

use super::factory::{self, TransportDeps};
use super::registry::ChannelRegistry;
use super::store::{self, ChannelEntry};

pub struct ChannelFile {
    path: PathBuf,
    deps: RwLock<TransportDeps>,
    /// The entries of the file as last read or written; the change lock.
    owned: Mutex<Vec<ChannelEntry>>,
}

/// What a reload changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub added: Vec<String>,
    pub replaced: Vec<String>,
    pub removed: Vec<String>,
    /// Entries that could not be built (`name: error`); a live channel of that name stays.
    pub failed: Vec<String>,
}

impl ChannelFile {
    pub fn new(state_dir: &Path, deps: TransportDeps) -> ChannelFile {
        ChannelFile {
            path: state_dir.join(store::FILE),
            deps: RwLock::new(deps),
            owned: Mutex::new(Vec::new()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What a transport built now gets.
    pub fn deps(&self) -> TransportDeps {
        self.deps.read().clone()
    }

    /// The change lock, with the file's entries as this daemon last saw them: a caller
    /// that rewrites the file stores what it wrote.
    pub fn lock(&self) -> MutexGuard<'_, Vec<ChannelEntry>> {
        self.owned.lock()
    }

    /// Boot: builds every entry (a failure to build is fatal) and starts it (a failure to
    /// start is logged). Returns the number of entries.
    pub fn start(&self, channels: &ChannelRegistry) -> Result<usize, String> {
        let mut owned = self.owned.lock();
        let entries = store::load(&self.path)?.unwrap_or_default();
        let deps = self.deps();
        let mut summary = Vec::new();
        for entry in &entries {
            let transport = factory::build(entry, &deps).map_err(|e| e.to_string())?;
            summary.push(format!("{}→{}", entry.name, entry.transport));
            if let Err(e) = channels.insert(entry.clone(), transport) {
                log::error!("channel {} failed to start: {e}", entry.name);
            }
        }
        if !summary.is_empty() {
            log::info!("{} channel(s): {}", summary.len(), summary.join(", "));
        }
        let n = entries.len();
        *owned = entries;
        Ok(n)
    }

    /// Applies the file's current content to the live map; `deps` (when given) is what
    /// transports are built with from now on, and a change of the Telegram knobs
    /// restarts the telegram channels. An unreadable file changes nothing (`Err`).
    pub fn reload(
        &self,
        channels: &ChannelRegistry,
        deps: Option<TransportDeps>,
    ) -> Result<Applied, String> {
        let mut owned = self.owned.lock();
        let entries = store::load(&self.path)?.unwrap_or_default();
        let telegram_changed = match deps {
            Some(new) => {
                let mut cur = self.deps.write();
                let changed = cur.telegram != new.telegram;
                *cur = TransportDeps {
                    delivery: cur.delivery.clone(),
                    ..new
                };
                changed
            }
            None => false,
        };
        let deps = self.deps();
        let mut applied = Applied::default();
        for entry in &entries {
            let live = channels.get(&entry.name);
            let file_owned = owned.iter().any(|e| e.name == entry.name);
            if live.is_some() && !file_owned {
                log::warn!(
                    "reload: channel {} is live without being in channels.json (an agent definition's); its new entry is ignored while that lasts",
                    entry.name
                );
                continue;
            }
            let restart = telegram_changed && entry.transport == super::telegram::KIND;
            if live.as_ref().is_some_and(|c| c.entry == *entry) && !restart {
                continue;
            }
            match factory::build(entry, &deps) {
                Ok(transport) => {
                    if let Err(e) = channels.insert(entry.clone(), transport) {
                        log::error!("reload: channel {} failed to start: {e}", entry.name);
                    }
                    let list = if live.is_some() {
                        &mut applied.replaced
                    } else {
                        &mut applied.added
                    };
                    list.push(entry.name.clone());
                }
                Err(e) => applied.failed.push(format!("{}: {e}", entry.name)),
            }
        }
        for gone in owned
            .iter()
            .filter(|o| !entries.iter().any(|e| e.name == o.name))
        {
            // Only while the live channel is still the file's (not a definition's since).
            let ours = channels.get(&gone.name).is_some_and(|c| c.entry == *gone);
            if ours && channels.remove(&gone.name) {
                applied.removed.push(gone.name.clone());
            }
        }
        *owned = entries;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deps(dir: &Path) -> TransportDeps {
        TransportDeps {
            state_dir: dir.to_path_buf(),
            telegram: Default::default(),
            http_ui_ring: Default::default(),
            delivery: None,
        }
    }

    fn write(dir: &Path, channels: serde_json::Value) {
        std::fs::write(
            dir.join(store::FILE),
            json!({ "channels": channels }).to_string(),
        )
        .unwrap();
    }

    #[test]
    fn reload_adds_replaces_and_removes_only_what_the_file_owns() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(
            dir,
            json!([{"name": "a", "transport": "http-ui"}, {"name": "b", "transport": "http-ui"}]),
        );
        let file = ChannelFile::new(dir, deps(dir));
        let live = ChannelRegistry::new();
        assert_eq!(file.start(&live).unwrap(), 2);
        // a channel the file does not own (an agent definition's)
        let def = ChannelEntry {
            name: "d".into(),
            transport: "http-ui".into(),
            config: None,
        };
        let t = factory::build(&def, &deps(dir)).unwrap();
        live.insert(def, t).unwrap();
        let a_before = live.get("a").unwrap();
        write(
            dir,
            json!([
                {"name": "a", "transport": "http-ui"},
                {"name": "c", "transport": "http-ui"},
                {"name": "d", "transport": "vault", "config": {"vault": "v", "token": "t",
                    "declareSchemaOnStart": false}},
                {"name": "e", "transport": "carrier-pigeon"}
            ]),
        );
        let applied = file.reload(&live, None).unwrap();
        assert_eq!(applied.added, ["c"]);
        assert_eq!(applied.replaced, Vec::<String>::new());
        assert_eq!(applied.removed, ["b"]);
        assert_eq!(applied.failed.len(), 1);
        assert!(applied.failed[0].starts_with("e: "), "{:?}", applied.failed);
        assert!(
            std::sync::Arc::ptr_eq(&a_before, &live.get("a").unwrap()),
            "unchanged: not restarted"
        );
        assert_eq!(
            live.get("d").unwrap().transport.kind(),
            "http-ui",
            "the definition's stays"
        );
        assert_eq!(live.names(), ["a", "d", "c"]);
        write(
            dir,
            json!([{"name": "a", "transport": "vault", "config": {"vault": "v", "token": "t",
                    "declareSchemaOnStart": false}}]),
        );
        let applied = file.reload(&live, None).unwrap();
        assert_eq!(applied.replaced, ["a"]);
        assert_eq!(applied.removed, ["c"]);
        assert_eq!(live.get("a").unwrap().transport.kind(), "vault");
        std::fs::write(dir.join(store::FILE), "{").unwrap();
        assert!(
            file.reload(&live, None).is_err(),
            "a broken file changes nothing"
        );
        assert_eq!(live.names(), ["d", "a"]);
    }
}
