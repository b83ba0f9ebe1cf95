//! The job store over the vault (spec 06 §1.2): jobs are `agent/job` notes in the vault of
//! their channel; there is no jobs file. Listing walks the live channel map, keeps vault
//! channels, queries each distinct vault (`<vaultUrl>::<vault>`) once with the first such
//! channel's token, and concatenates in channel-map order; any vault failure fails the list.
//! Writes go through the job's own channel's vault client; the fire (§1.9) reuses the vault
//! transport's inbound write (`VaultTransport::write_inbound`, the same as chat send).
//!
//! [ext] Create on an already-used path (vault `409 path_conflict`) replaces the note in
//! place (PATCH with `force:true`), so "POST with an existing id replaces the job" holds.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use super::job::Job;
use crate::channels::vault::VaultTransport;
use crate::channels::ChannelRegistry;
use crate::vault::client::NoteQuery;
use crate::vault::notes::TAG_JOB;
use crate::vault::{VaultClient, VaultError};

/// At most this many job notes per vault are seen.
pub const LIST_LIMIT: usize = 500;

/// Jobs over the live channel map.
#[derive(Clone)]
pub struct JobStore {
    channels: Arc<ChannelRegistry>,
}

impl JobStore {
    pub fn new(channels: Arc<ChannelRegistry>) -> JobStore {
        JobStore { channels }
    }

    /// The vault client of a live vault channel.
    fn client_of(&self, channel: &str) -> Option<VaultClient> {
        let ch = self.channels.get(channel)?;
        VaultTransport::of(ch.transport.as_ref()).map(|t| t.config().client())
    }

    /// Is `channel` live, and is it a vault channel? (`None` = not live.)
    pub fn channel_is_vault(&self, channel: &str) -> Option<bool> {
        let ch = self.channels.get(channel)?;
        Some(VaultTransport::of(ch.transport.as_ref()).is_some())
    }

    /// Every job of every vault a live vault channel points at.
    pub fn list(&self) -> Result<Vec<Job>, String> {
        let mut seen = HashSet::new();
        let mut jobs = Vec::new();
        for ch in self.channels.list() {
            let Some(t) = VaultTransport::of(ch.transport.as_ref()) else {
                continue;
            };
            if !seen.insert(t.vault_key()) {
                continue;
            }
            let notes = t
                .config()
                .client()
                .list_notes(&NoteQuery::tagged(TAG_JOB, LIST_LIMIT))
                .map_err(|e| list_error(&e))?;
            jobs.extend(notes.iter().filter_map(Job::from_note));
        }
        Ok(jobs)
    }

    /// The first job with slug `id` in a fresh list.
    pub fn find(&self, id: &str) -> Result<Option<Job>, String> {
        Ok(self.list()?.into_iter().find(|j| j.id == id))
    }

    /// Write a new job note; returns the note id (response `id`, else `note.id`, else the
    /// path). On a path conflict the existing note is replaced ([ext]).
    pub fn create(&self, job: &Job) -> Result<String, String> {
        let client = self
            .client_of(&job.channel)
            .ok_or_else(|| format!("channel \"{}\" is not a live vault channel", job.channel))?;
        let body = job.create_body();
        let path = body["path"].as_str().unwrap_or_default().to_string();
        match client.create_note(&body) {
            Ok(resp) => Ok(crate::vault::notes::note_id(&resp).unwrap_or(path)),
            Err(VaultError::Conflict(_)) => {
                log::info!("job {}: replacing the existing note at {path}", job.id);
                let resp = client
                    .patch_note(&path, &job.replace_body())
                    .map_err(|e| e.context("vault transport: write job"))?;
                Ok(crate::vault::notes::note_id(&resp).unwrap_or(path))
            }
            Err(e) => Err(e.context("vault transport: write job")),
        }
    }

    /// The bookkeeping PATCH: exactly `{"metadata":{lastRunAt,lastStatus},"force":true}`.
    pub fn persist(&self, job: &Job) -> Result<(), String> {
        let client = self.client_of(&job.channel).ok_or_else(|| {
            format!(
                "cannot patch job in channel \"{}\": not a live vault channel",
                job.channel
            )
        })?;
        let body = json!({"metadata": {
            "lastRunAt": job.last_run_at.clone().unwrap_or_default(),
            "lastStatus": job.last_status.clone().unwrap_or_default(),
        }, "force": true});
        client
            .patch_note(job.key(), &body)
            .map(|_| ())
            .map_err(|e| e.context("vault transport: patch job"))
    }

    /// Delete the job's note through its channel's vault.
    pub fn delete(&self, job: &Job) -> Result<(), String> {
        let client = self.client_of(&job.channel).ok_or_else(|| {
            format!(
                "cannot delete job in channel \"{}\": not a live vault channel",
                job.channel
            )
        })?;
        client
            .delete_note(&job.note_id)
            .map_err(|e| e.context("vault transport: delete job"))
    }

    /// A fire (§1.9): the job's message as an inbound note from `runner:<slug>` in its
    /// channel's vault; the vault trigger, not this call, wakes the agent.
    pub fn fire(&self, job: &Job) -> Result<(), String> {
        let extras: Vec<(String, String)> = job
            .subject
            .iter()
            .map(|s| ("subject".to_string(), s.clone()))
            .collect();
        let ch = self.channels.get(&job.channel);
        let transport = ch
            .as_ref()
            .and_then(|c| VaultTransport::of(c.transport.as_ref()))
            .ok_or_else(|| format!("channel \"{}\" is not a live vault channel", job.channel))?;
        transport
            .write_inbound(&job.message, &format!("runner:{}", job.id), &extras)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn list_error(e: &VaultError) -> String {
    e.context("vault transport: list jobs")
}
