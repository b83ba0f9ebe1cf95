//! The life of one queued message (spec 03 §8): resolve the session (§5.5), write the
//! thread-note start, run the turn (§4), write the end record, deliver the reply with
//! retry (§5.7) or the failure note (§5.8), emit the final live event (§7) and call the
//! delegating agent back (§5.9). Thread-note writes, failure notes and callbacks are
//! best-effort: their failures are logged and never change the branch.
//!
//! Improvements over the reference: a non-404 error reading the single-threaded session
//! fails the turn visibly (branch F) instead of losing the message (§5.5); on channels
//! without thread notes (telegram, http-ui) a single-threaded agent keeps its
//! conversation through a local session record `<W>/session.json` (§5.5 gap).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::durable::{Durable, Ticket, ABANDONED};
use super::host::{HostError, Outbound, TurnHost};
use super::turn::argv::SessionChoice;
use super::turn::attachments::{self, AttachmentRef};
use super::turn::events::TurnEvent;
use super::turn::notes::{self, Callback, Prior, ThreadTurn, ThreadWrite, MAX_DELEGATION_DEPTH};
use super::turn::outcome::TurnResult;
use super::turn::report::{TurnOutcome, TurnReport};
use super::turn::stream::Usage;
use super::turn::workspace::{self, McpServer};
use super::turn::{run_turn, EngineConfig, TurnInput, TurnInputs};
use super::turn_events::TurnEventSink;
use crate::agents::spec::{AgentSpec, ThreadMode};
use crate::util::fsx;
use crate::util::time::now_iso;

/// One inbound message waiting for its agent (spec 03 §5.2). Serialised into the inbound
/// journal as is (the ticket is the journal's own bookkeeping).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueuedMessage {
    pub content: String,
    /// `meta.note_id` of the inbound note.
    pub in_reply_to: Option<String>,
    pub reply_to: Option<String>,
    pub correlation_id: Option<String>,
    pub delegation_depth: u32,
    /// Attachment references of the inbound message (spec 03 §4.6).
    pub attachments: Vec<AttachmentRef>,
    /// `meta.chat_id` (telegram): where the reply goes.
    pub chat_id: Option<String>,
    /// `meta.ts` of a vault note: the channel's delivered mark moves to it once the
    /// message is handled (the boot backlog scan starts there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// Its journal record and attempt; `None` when not journaled.
    #[serde(skip)]
    pub ticket: Option<Ticket>,
}

impl QueuedMessage {
    pub fn text(content: impl Into<String>) -> Self {
        QueuedMessage {
            content: content.into(),
            in_reply_to: None,
            reply_to: None,
            correlation_id: None,
            delegation_depth: 0,
            attachments: Vec::new(),
            chat_id: None,
            ts: None,
            ticket: None,
        }
    }

    /// The queued form of an inbound message (spec 03 §5.2 step 2).
    pub fn from_inbound(msg: &crate::channels::InboundMessage) -> Self {
        let mut queued = Self::from_meta(&msg.content, &msg.meta);
        queued.attachments = msg
            .attachments
            .iter()
            .map(|a| AttachmentRef {
                path: a.path.clone(),
                mime_type: a.mime_type.clone(),
                filename: a.filename.clone(),
            })
            .collect();
        if msg.source == crate::channels::vault::transport::KIND {
            queued.ts = msg.meta.get("ts").filter(|t| !t.is_empty()).cloned();
        }
        queued
    }

    /// From an inbound message's flattened string metadata.
    pub fn from_meta(content: &str, meta: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| meta.get(k).filter(|v| !v.is_empty()).cloned();
        QueuedMessage {
            content: content.to_string(),
            in_reply_to: get("note_id"),
            reply_to: get("reply_to"),
            correlation_id: get("correlation_id"),
            delegation_depth: notes::parse_depth(meta.get("delegation_depth").map(String::as_str)),
            attachments: Vec::new(),
            chat_id: get("chat_id"),
            ts: None,
            ticket: None,
        }
    }
}

/// Shared context of every worker.
pub struct WorkerCtx {
    pub engine: EngineConfig,
    pub host: Arc<dyn TurnHost>,
    pub hub: Arc<dyn TurnEventSink>,
    /// The inbound journal and the stop state.
    pub durable: Durable,
}

const LOCAL_SESSION_FILE: &str = "session.json";
const OUTBOUND_DELAYS: [Duration; 2] = [Duration::from_millis(250), Duration::from_millis(500)];

/// The locally recorded session of a single-threaded agent on a non-vault channel.
pub fn read_local_session(w: &Path, channel: &str) -> Option<String> {
    let text = fsx::read_optional(&w.join(LOCAL_SESSION_FILE)).ok()??;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    (v.get("channel")?.as_str()? == channel)
        .then(|| v.get("session")?.as_str().map(str::to_string))
        .flatten()
        .filter(|s| !s.is_empty())
}

fn write_local_session(w: &Path, channel: &str, session: &str) {
    let v = json!({"channel": channel, "session": session});
    let text = format!("{v}\n");
    let path = w.join(LOCAL_SESSION_FILE);
    if let Err(e) = workspace::write_replace(&path, text.as_bytes(), fsx::PRIVATE_FILE) {
        log::warn!("could not record session in {}: {e}", w.display());
    }
}

/// Forget the local session record (restart).
pub fn clear_local_session(w: &Path) {
    let _ = std::fs::remove_file(w.join(LOCAL_SESSION_FILE));
}

fn deliver_with_retry(
    host: &dyn TurnHost,
    channel: &str,
    out: &Outbound,
) -> Result<Option<String>, HostError> {
    let mut attempt = 0;
    loop {
        match host.reply(channel, out) {
            Ok(id) => return Ok(id),
            Err(e) => {
                if attempt >= OUTBOUND_DELAYS.len() || !e.is_transient() {
                    return Err(e);
                }
                log::warn!("channel {channel}: outbound write failed ({e}); retrying");
                std::thread::sleep(OUTBOUND_DELAYS[attempt]);
                attempt += 1;
            }
        }
    }
}

enum Run {
    Done(TurnResult),
    Threw(String),
}

/// Process one message for `spec` completely; says how it ended.
pub fn process(ctx: &WorkerCtx, spec: &AgentSpec, msg: &QueuedMessage) -> TurnReport {
    let channel = spec.wake_channel().to_string();
    let w = workspace::private_dir(&ctx.engine.sessions_dir, &spec.name);
    let turn_thread_id = crate::util::rand::uuid();
    let started_at = now_iso();
    let store = ctx.host.notes(&channel);
    let single = spec.mode == ThreadMode::SingleThreaded;
    let publish = |e: &TurnEvent| {
        ctx.hub.publish(&channel, e);
    };

    // Session resolution (§5.5).
    let mut prior = Prior::default();
    let mut session = SessionChoice::fresh();
    let mut early_failure = None;
    if single {
        let path = notes::thread_path(&channel, &spec.name, spec.mode, &turn_thread_id);
        match &store {
            Some(s) => match s.note_metadata(&path) {
                Ok(Some(meta)) => prior = Prior::from_metadata(&meta),
                Ok(None) => {}
                Err(e) => early_failure = Some(format!("reading the thread note failed: {e}")),
            },
            None => prior.session = read_local_session(&w, &channel),
        }
        if let Some(id) = &prior.session {
            session = SessionChoice::resume(id.clone());
        }
    }
    let thread = ThreadTurn {
        channel: &channel,
        name: &spec.name,
        mode: spec.mode,
        definition: spec.definition.as_deref(),
        input: &msg.content,
        turn_thread_id: &turn_thread_id,
        started_at: &started_at,
        prior,
    };
    let write_thread = |write: &ThreadWrite| -> Option<String> {
        let s = store.as_ref()?;
        let body = thread.body(write, &now_iso());
        match s.upsert_note(&thread.path(), &body) {
            Ok(id) => Some(id.unwrap_or_else(|| thread.path())),
            Err(e) => {
                log::warn!("agent {}: thread note write failed: {e}", spec.name);
                None
            }
        }
    };

    let attempt = msg.ticket.as_ref().map_or(1, |t| t.attempt);
    if attempt > 1 {
        publish(&TurnEvent::Retry { attempt });
    }
    let attempts = std::cell::Cell::new(0);
    let run = match early_failure {
        Some(reason) => Run::Done(TurnResult::failed(reason, false)),
        None => {
            write_thread(&ThreadWrite::Start);
            let mut sink = |e: TurnEvent| publish(&e);
            match deliver(ctx, spec, msg, &session, &attempts, &mut sink) {
                Ok(r) => Run::Done(r),
                Err(e) => Run::Threw(e),
            }
        }
    };
    if ctx.durable.lifecycle.abandoned() {
        log::warn!(
            "agent {}: turn stopped at shutdown; the message stays journaled for the next start",
            spec.name
        );
        return TurnReport {
            outcome: TurnOutcome::Failed,
            attempts: attempts.get(),
            reason: Some(ABANDONED.to_string()),
        };
    }

    let mut failure = None;
    let (ok, reply_id, thread_id) = match run {
        Run::Done(TurnResult::Ok {
            reply,
            session_id,
            usage,
        }) => {
            if let Some(sid) = &session_id {
                if store.is_none() && single {
                    write_local_session(&w, &channel, sid);
                }
            }
            let end_id = write_thread(&ThreadWrite::End {
                ok: true,
                output: &reply,
                usage: usage.as_ref(),
                session: session_id.as_deref(),
            });
            finish_ok(
                ctx,
                &channel,
                msg,
                &turn_thread_id,
                reply,
                session_id,
                usage,
                end_id,
                &write_thread,
            )
        }
        Run::Done(TurnResult::Failed {
            reason, session_id, ..
        }) => {
            if let Some(sid) = &session_id {
                if store.is_none() && single {
                    write_local_session(&w, &channel, sid);
                }
            }
            let end_id = write_thread(&ThreadWrite::End {
                ok: false,
                output: &reason,
                usage: None,
                session: session_id.as_deref(),
            });
            fail(ctx, &channel, msg, &turn_thread_id, &reason);
            failure = Some(reason);
            (false, None, end_id)
        }
        Run::Threw(reason) => {
            log::error!("agent {}: turn threw: {reason}", spec.name);
            let end_id = write_thread(&ThreadWrite::End {
                ok: false,
                output: &reason,
                usage: None,
                session: None,
            });
            fail(ctx, &channel, msg, &turn_thread_id, &reason);
            failure = Some(reason);
            (false, None, end_id)
        }
    };
    callback(
        ctx,
        &channel,
        msg,
        ok,
        reply_id.as_deref(),
        thread_id.as_deref().unwrap_or(&turn_thread_id),
    );
    let outcome = match (&failure, ok) {
        (Some(reason), _) => TurnOutcome::of_failure(reason),
        (None, true) => TurnOutcome::Ok,
        (None, false) => TurnOutcome::Undelivered,
    };
    TurnReport {
        outcome,
        attempts: attempts.get(),
        reason: failure,
    }
}

/// A journaled message that will not run again (attempt limit or age cut-off): failed
/// where a failure of this channel goes (turn event, failure text to the channel) and
/// the delegating agent called back, without starting a turn.
pub fn give_up(ctx: &WorkerCtx, spec: &AgentSpec, msg: &QueuedMessage, reason: &str) -> TurnReport {
    let channel = spec.wake_channel().to_string();
    log::error!(
        "agent {}: message failed without a turn: {reason}",
        spec.name
    );
    let turn_thread_id = crate::util::rand::uuid();
    fail(ctx, &channel, msg, &turn_thread_id, reason);
    callback(ctx, &channel, msg, false, None, &turn_thread_id);
    TurnReport {
        outcome: TurnOutcome::Failed,
        attempts: 0,
        reason: Some(reason.to_string()),
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_ok(
    ctx: &WorkerCtx,
    channel: &str,
    msg: &QueuedMessage,
    turn_thread_id: &str,
    reply: String,
    session_id: Option<String>,
    usage: Option<Usage>,
    end_id: Option<String>,
    write_thread: &dyn Fn(&ThreadWrite) -> Option<String>,
) -> (bool, Option<String>, Option<String>) {
    if reply.is_empty() {
        ctx.hub.publish(channel, &TurnEvent::Done { reply });
        return (true, None, end_id);
    }
    let out = Outbound {
        text: reply.clone(),
        in_reply_to: msg.in_reply_to.clone(),
        thread: turn_thread_id.to_string(),
        chat_id: msg.chat_id.clone(),
    };
    match deliver_with_retry(ctx.host.as_ref(), channel, &out) {
        Ok(id) => {
            ctx.hub.publish(channel, &TurnEvent::Done { reply });
            (true, id, end_id)
        }
        Err(e) => {
            log::error!("channel {channel}: reply produced but not saved: {e}");
            let text = notes::undelivered_text(&e.message, &reply);
            let re_id = write_thread(&ThreadWrite::ReRecord {
                output: &text,
                usage: usage.as_ref(),
                session: session_id.as_deref(),
            });
            ctx.hub.publish(
                channel,
                &TurnEvent::Error {
                    error: format!("reply produced but not saved: {e}"),
                },
            );
            (false, None, re_id.or(end_id))
        }
    }
}

fn fail(ctx: &WorkerCtx, channel: &str, msg: &QueuedMessage, turn_thread_id: &str, reason: &str) {
    log::warn!("channel {channel}: turn failed: {reason}");
    ctx.hub.publish(
        channel,
        &TurnEvent::Error {
            error: reason.to_string(),
        },
    );
    let out = Outbound {
        text: notes::failure_text(reason),
        in_reply_to: msg.in_reply_to.clone(),
        thread: turn_thread_id.to_string(),
        chat_id: msg.chat_id.clone(),
    };
    if let Err(e) = deliver_with_retry(ctx.host.as_ref(), channel, &out) {
        log::warn!("channel {channel}: failure note not delivered: {e}");
    }
}

fn callback(
    ctx: &WorkerCtx,
    channel: &str,
    msg: &QueuedMessage,
    ok: bool,
    source_message: Option<&str>,
    source_thread: &str,
) {
    let Some(to) = msg.reply_to.as_deref() else {
        return;
    };
    if msg.delegation_depth >= MAX_DELEGATION_DEPTH {
        log::warn!(
            "channel {channel}: not calling back {to}: delegation depth {} reached the limit {MAX_DELEGATION_DEPTH}",
            msg.delegation_depth
        );
        return;
    }
    let Some(store) = ctx.host.notes(to) else {
        log::warn!("channel {channel}: reply_to channel \"{to}\" is not a live vault channel; callback dropped");
        return;
    };
    let note = Callback {
        to_channel: to,
        source_channel: channel,
        ok,
        source_thread,
        source_message,
        correlation_id: msg.correlation_id.as_deref(),
        depth: msg.delegation_depth,
    }
    .note(&now_iso());
    if let Err(e) = store.create_note(&note) {
        log::warn!("channel {channel}: callback to {to} failed: {e}");
    }
}

/// Spec 03 §4.1 steps 2–5 for `spec`: the Claude token, the env store, the own-vault
/// token and MCP server, the granted servers and env. Shared by turns and operator sessions.
pub fn resolve_inputs(ctx: &WorkerCtx, spec: &AgentSpec) -> Result<TurnInputs, String> {
    let channel = spec.wake_channel();
    let token = ctx.host.claude_token(channel)?;
    let store_env = ctx.host.channel_env(channel)?;
    let mut servers = Vec::new();
    let mut vault_token = None;
    if let Some(v) = &spec.vault {
        let vtok = ctx.host.mint_vault_token(v)?;
        servers.push(McpServer {
            name: format!("parachute-vault-{}", v.name),
            url: format!(
                "{}/vault/{}/mcp",
                ctx.host.vault_url().trim_end_matches('/'),
                v.name
            ),
            token: Some(vtok.clone()),
        });
        vault_token = Some(vtok);
    }
    let granted = ctx.host.grants(&spec.name);
    servers.extend(granted.servers);
    Ok(TurnInputs {
        token,
        store_env,
        grant_env: granted.env,
        servers,
        vault_token,
    })
}

/// The Claude session the agent's next turn resumes (single-threaded agents: the thread
/// note's, or the local record outside vault channels), if any.
pub fn current_session(ctx: &WorkerCtx, spec: &AgentSpec) -> Result<Option<String>, String> {
    if spec.mode != ThreadMode::SingleThreaded {
        return Ok(None);
    }
    let channel = spec.wake_channel();
    match ctx.host.notes(channel) {
        Some(s) => {
            let path = notes::thread_path(channel, &spec.name, spec.mode, "");
            s.note_metadata(&path)
                .map(|m| m.and_then(|meta| Prior::from_metadata(&meta).session))
                .map_err(|e| format!("reading the thread note failed: {e}"))
        }
        None => {
            let w = workspace::private_dir(&ctx.engine.sessions_dir, &spec.name);
            Ok(read_local_session(&w, channel))
        }
    }
}

/// Spec 03 §4.1 steps 2–12: credential, env, vault token, then the turn itself.
fn deliver(
    ctx: &WorkerCtx,
    spec: &AgentSpec,
    msg: &QueuedMessage,
    session: &SessionChoice,
    attempts: &std::cell::Cell<u32>,
    sink: &mut dyn FnMut(TurnEvent),
) -> Result<TurnResult, String> {
    let inputs = match resolve_inputs(ctx, spec) {
        Ok(i) => i,
        Err(e) => return Ok(TurnResult::failed(e, false)),
    };
    let mut message = msg.content.clone();
    if spec.vault.is_none() && !msg.attachments.is_empty() {
        log::warn!(
            "agent {}: {} attachment(s) skipped — the agent has no vault to read them from",
            spec.name,
            msg.attachments.len()
        );
    }
    if let (Some(v), Some(vtok)) = (&spec.vault, &inputs.vault_token) {
        if !msg.attachments.is_empty() {
            let w = workspace::private_dir(&ctx.engine.sessions_dir, &spec.name);
            let fetch = |p: &str| ctx.host.fetch_attachment(&v.name, vtok, p);
            message = attachments::stage(&w, &message, &msg.attachments, &fetch);
        }
    }
    run_turn(
        &ctx.engine,
        &TurnInput {
            spec,
            message: &message,
            session: session.clone(),
            oauth_token: &inputs.token,
            store_env: &inputs.store_env,
            grant_env: &inputs.grant_env,
            mcp_servers: &inputs.servers,
            attempts,
        },
        sink,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_transient_rule() {
        let status = |s: Option<u16>| HostError {
            status: s,
            message: "text with (404) that no longer decides".into(),
        };
        assert!(status(None).is_transient());
        assert!(status(Some(503)).is_transient());
        assert!(!status(Some(400)).is_transient());
        assert!(!status(Some(404)).is_transient());
        assert!(!status(Some(302)).is_transient());
    }

    #[test]
    fn queued_message_from_meta() {
        let mut m = BTreeMap::new();
        m.insert("note_id".to_string(), "n1".to_string());
        m.insert("reply_to".to_string(), "boss".to_string());
        m.insert("delegation_depth".to_string(), "2".to_string());
        m.insert("correlation_id".to_string(), "".to_string());
        let q = QueuedMessage::from_meta("hi", &m);
        assert_eq!(q.in_reply_to.as_deref(), Some("n1"));
        assert_eq!(q.reply_to.as_deref(), Some("boss"));
        assert_eq!(q.correlation_id, None);
        assert_eq!(q.delegation_depth, 2);
    }
}
