//! The long-poll loop of one telegram channel (spec 05 §6.3) on its own thread, with the
//! lessons of spec 07 §4 applied ([ext], all divergences from the reference):
//! - **One poller per bot token**: a process-wide lease; a second channel with the same
//!   token (or the new transport of a hot-replace while the old long poll finishes) waits
//!   for it instead of trading `409 Conflict`s.
//! - **409 is recoverable**: the loop backs off (`PARACHUTE_AGENT_TELEGRAM_CONFLICT_MS`,
//!   default 60 s) and polls again; other errors wait `PARACHUTE_AGENT_TELEGRAM_RETRY_MS`
//!   (default 5 s), a `429` its `retry_after`. Every sleep is interruptible by `stop`.
//! - **Offset after hand-off**: `offset` advances past an update only once it has been
//!   handled (emitted into the channel); a stop between updates leaves the rest of the
//!   batch unconfirmed, so Telegram re-delivers it. A panic while handling is caught and
//!   logged and the update skipped, so one poison update cannot wedge the loop.
//!   The offset outlives the poller within the process: the next holder of the token's
//!   lease (a hot-replaced channel) starts from it, so nothing is handled twice.
//! - **Liveness**: state, last good poll, last error and counters feed `/health`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde_json::{json, Value};

use super::api::BotApiError;
use super::{inbound, Core};
use crate::channels::ChannelContext;
use crate::config::TelegramConfig;

/// Timing knobs (from `Config::telegram`).
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    pub poll_secs: u64,
    pub retry: Duration,
    pub conflict: Duration,
}

impl Knobs {
    pub fn new(cfg: &TelegramConfig) -> Knobs {
        Knobs {
            poll_secs: cfg.poll_secs,
            retry: cfg.retry,
            conflict: cfg.conflict,
        }
    }
}

/// What `/health` shows of a poller.
#[derive(Debug, Default, Clone)]
struct Status {
    state: &'static str,
    bot: Option<String>,
    last_ok: Option<String>,
    last_error: Option<String>,
    conflicts: u64,
    errors: u64,
}

/// Shared between the transport and its poll thread.
pub struct Poller {
    stop: AtomicBool,
    wake: Mutex<()>,
    cv: Condvar,
    status: Mutex<Status>,
}

impl Poller {
    /// Spawns the poll thread for `core` and returns its handle.
    pub fn spawn(
        core: Arc<Core>,
        ctx: ChannelContext,
        knobs: Knobs,
    ) -> std::io::Result<Arc<Poller>> {
        let poller = Arc::new(Poller {
            stop: AtomicBool::new(false),
            wake: Mutex::new(()),
            cv: Condvar::new(),
            status: Mutex::new(Status {
                state: "starting",
                ..Status::default()
            }),
        });
        let p = poller.clone();
        std::thread::Builder::new()
            .name(format!("telegram-{}", core.name))
            .spawn(move || {
                p.run(&core, &ctx, knobs);
                p.set_state("stopped");
            })?;
        Ok(poller)
    }

    /// Asks the loop to end; returns at once (an in-flight long poll runs out, its batch
    /// is not handled).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _g = self.wake.lock();
        self.cv.notify_all();
        LEASES.1.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps `d` unless stopped first.
    fn sleep(&self, d: Duration) {
        let deadline = std::time::Instant::now() + d;
        let mut g = self.wake.lock();
        while !self.stopped() && !self.cv.wait_until(&mut g, deadline).timed_out() {}
    }

    fn set_state(&self, state: &'static str) {
        self.status.lock().state = state;
    }

    pub fn health(&self) -> Value {
        let s = self.status.lock().clone();
        json!({
            "state": s.state,
            "bot": s.bot,
            "last_poll_ok": s.last_ok,
            "last_error": s.last_error,
            "conflicts": s.conflicts,
            "errors": s.errors,
        })
    }

    fn run(&self, core: &Core, ctx: &ChannelContext, knobs: Knobs) {
        let Some(mut lease) = Lease::acquire(&core.token, self, &core.name) else {
            return;
        };
        let store = ctx.offset_store();
        if lease.offset.is_none() {
            // [ext] the offset persisted in the inbound journal survives restarts.
            lease.offset = store.as_ref().and_then(|s| s.load(&core.name));
        }
        if self.stopped() {
            return;
        }
        match core.api.get_me() {
            Ok(me) => {
                let user = me["username"].as_str().unwrap_or("?").to_string();
                log::info!("parachute-agent[{}]: polling as @{user}", core.name);
                self.status.lock().bot = Some(format!("@{user}"));
            }
            Err(e) => log::warn!("parachute-agent[{}]: getMe failed: {e}", core.name),
        }
        while !self.stopped() {
            self.set_state("polling");
            match core.api.get_updates(lease.offset, knobs.poll_secs) {
                Ok(updates) => {
                    self.status.lock().last_ok = Some(crate::util::time::now_iso());
                    if !self.handle_batch(core, ctx, &updates, &mut lease.offset) {
                        self.sleep(knobs.retry);
                    }
                }
                Err(e) => self.back_off(core, &e, knobs),
            }
        }
    }

    /// Handles a batch in order, confirming each update (offset, persisted) only once it
    /// was handled; false when a backend refused one (the rest waits for the next poll).
    fn handle_batch(
        &self,
        core: &Core,
        ctx: &ChannelContext,
        updates: &[Value],
        offset: &mut Option<i64>,
    ) -> bool {
        let store = ctx.offset_store();
        for update in updates {
            if self.stopped() {
                return true;
            }
            let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inbound::handle_update(core, ctx, update)
            }));
            match handled {
                Ok(Ok(())) => {}
                Ok(Err(refusal)) => {
                    log::warn!(
                        "parachute-agent[{}]: update not accepted ({refusal}); Telegram keeps it",
                        core.name
                    );
                    return false;
                }
                Err(_) => log::error!(
                    "parachute-agent[{}]: poll error: handling an update panicked",
                    core.name
                ),
            }
            if let Some(id) = update["update_id"].as_i64() {
                *offset = Some(id + 1);
                if let Some(s) = &store {
                    if let Err(e) = s.save(&core.name, id + 1) {
                        log::error!("parachute-agent[{}]: offset not persisted: {e}", core.name);
                    }
                }
            }
        }
        true
    }

    fn back_off(&self, core: &Core, e: &BotApiError, knobs: Knobs) {
        let wait = match e {
            BotApiError::Status { status: 409, .. } => {
                self.status.lock().conflicts += 1;
                knobs.conflict
            }
            BotApiError::Status {
                status: 429,
                retry_after: Some(s),
                ..
            } => Duration::from_secs(*s).max(knobs.retry),
            _ => knobs.retry,
        };
        log::warn!("parachute-agent[{}]: poll error: {e}", core.name);
        {
            let mut s = self.status.lock();
            s.errors += 1;
            s.last_error = Some(e.to_string());
            s.state = "backoff";
        }
        self.sleep(wait);
    }
}

/// Per bot token: whether a poller holds it, and the offset the last holder reached (so a
/// hot-replaced channel neither re-handles nor skips updates).
#[derive(Default)]
struct TokenSlot {
    held: bool,
    offset: Option<i64>,
}

type Slots = Option<HashMap<String, TokenSlot>>;

/// Bot tokens with a live poller, and the condvar waiters watch.
static LEASES: (Mutex<Slots>, Condvar) = (Mutex::new(None), Condvar::new());

/// Holding a bot token's poll lease; released on drop, leaving `offset` for the next holder.
struct Lease {
    token: String,
    offset: Option<i64>,
}

impl Lease {
    /// Waits until no other poller holds `token`; `None` if stopped while waiting.
    fn acquire(token: &str, poller: &Poller, name: &str) -> Option<Lease> {
        let mut slots = LEASES.0.lock();
        let mut warned = false;
        loop {
            if poller.stopped() {
                return None;
            }
            let slot = slots
                .get_or_insert_with(HashMap::new)
                .entry(token.to_string())
                .or_default();
            if !slot.held {
                slot.held = true;
                return Some(Lease {
                    token: token.to_string(),
                    offset: slot.offset,
                });
            }
            if !warned {
                log::warn!(
                    "parachute-agent[{name}]: another channel polls the same bot token; waiting for it to stop"
                );
                poller.set_state("waiting_for_other_poller");
                warned = true;
            }
            LEASES.1.wait_for(&mut slots, Duration::from_millis(500));
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(slot) = LEASES
            .0
            .lock()
            .as_mut()
            .and_then(|m| m.get_mut(&self.token))
        {
            slot.held = false;
            slot.offset = self.offset;
        }
        LEASES.1.notify_all();
    }
}
