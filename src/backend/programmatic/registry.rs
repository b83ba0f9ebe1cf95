//! The programmatic registry (spec 03 §5.1–§5.4, §9): one agent per wake channel, one
//! worker thread per channel fed by a crossbeam channel (FIFO, one turn at a time per
//! channel, channels in parallel), the `idle|working|queued:<N>` status, and the pending
//! buffer for channels whose agent is about to register (cap 50, oldest dropped).
//!
//! Deregistering cancels the slot: messages still queued are discarded, an in-flight turn
//! finishes and still replies. Re-registering the same name on the same channel keeps the
//! queue and the worker picks up the new spec for the next message.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{unbounded, Receiver, Sender};
use parking_lot::{Mutex, RwLock};

use super::durable::{Admit, Begin, TurnEnd};
use super::hold::TurnHold;
use super::turn::report::{log_line, TurnOutcome};
use super::worker::{give_up, process, QueuedMessage, WorkerCtx};
use crate::agents::spec::AgentSpec;
use crate::channels::Refusal;

/// Pending-buffer capacity per expected channel (spec 03 §5.3).
pub const PENDING_CAP: usize = 50;

struct SlotState {
    busy: AtomicBool,
    waiting: AtomicUsize,
    cancelled: AtomicBool,
    /// Cancelled because its channel went away: queued messages stay journaled (they run
    /// when the channel and its agent come back) instead of being discarded.
    keep_journaled: AtomicBool,
    /// The worker thread is running (cleared when it ends; the watchdog checks it).
    alive: AtomicBool,
}

struct Slot {
    spec: Arc<RwLock<AgentSpec>>,
    tx: Sender<QueuedMessage>,
    /// The worker's end of the queue, to take queued messages back (`suspend_channel`).
    rx: Receiver<QueuedMessage>,
    state: Arc<SlotState>,
}

impl Slot {
    fn cancel(&self) {
        self.state.cancelled.store(true, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Inner {
    by_channel: HashMap<String, Slot>,
    by_name: HashMap<String, String>,
    expected: HashSet<String>,
    pending: HashMap<String, VecDeque<QueuedMessage>>,
}

/// A live programmatic agent as listed by `GET /api/agents`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentStatus {
    pub spec: AgentSpec,
    pub status: String,
}

pub struct ProgrammaticRegistry {
    ctx: Arc<WorkerCtx>,
    inner: Mutex<Inner>,
    /// Agents whose conversation an operator session holds: their turns wait.
    hold: Arc<TurnHold>,
}

impl ProgrammaticRegistry {
    pub fn new(ctx: WorkerCtx) -> Arc<Self> {
        Arc::new(ProgrammaticRegistry {
            ctx: Arc::new(ctx),
            inner: Mutex::new(Inner::default()),
            hold: Arc::new(TurnHold::default()),
        })
    }

    /// The operator holds: a held agent's next turn waits for the release.
    pub fn hold(&self) -> Arc<TurnHold> {
        self.hold.clone()
    }

    /// Whether `name` is running a turn right now.
    pub fn is_busy(&self, name: &str) -> bool {
        let inner = self.inner.lock();
        inner
            .by_name
            .get(name)
            .and_then(|ch| inner.by_channel.get(ch))
            .is_some_and(|s| s.state.busy.load(Ordering::SeqCst))
    }

    pub fn ctx(&self) -> &WorkerCtx {
        &self.ctx
    }

    /// Register `spec` (replace by name). Replays the channel's pending buffer.
    pub fn register(&self, spec: AgentSpec) {
        let channel = spec.wake_channel().to_string();
        let mut inner = self.inner.lock();
        // The name moved to another channel: drop the old slot.
        if let Some(old) = inner.by_name.get(&spec.name).cloned() {
            if old != channel {
                Self::drop_channel(&mut inner, &old);
            }
        }
        let same_agent = inner
            .by_channel
            .get(&channel)
            .is_some_and(|s| s.spec.read().name == spec.name);
        if same_agent {
            *inner.by_channel[&channel].spec.write() = spec.clone();
        } else {
            if let Some(other) = inner.by_channel.get(&channel) {
                let other_name = other.spec.read().name.clone();
                inner.by_name.remove(&other_name);
                Self::drop_slot(&mut inner, &channel);
            }
            let slot = self.spawn_worker(spec.clone());
            inner.by_channel.insert(channel.clone(), slot);
        }
        inner.by_name.insert(spec.name.clone(), channel.clone());
        inner.expected.remove(&channel);
        let replay = inner.pending.remove(&channel).unwrap_or_default();
        let slot = &inner.by_channel[&channel];
        // Journaled messages first (boot replay, then those accepted while expected).
        for m in self.ctx.durable.replay(&channel) {
            Self::push(slot, m);
        }
        for m in replay {
            Self::push(slot, m);
        }
    }

    fn spawn_worker(&self, spec: AgentSpec) -> Slot {
        let (tx, rx) = unbounded::<QueuedMessage>();
        let state = Arc::new(SlotState {
            busy: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            cancelled: AtomicBool::new(false),
            keep_journaled: AtomicBool::new(false),
            alive: AtomicBool::new(true),
        });
        let spec = Arc::new(RwLock::new(spec));
        let (ctx, st, sp) = (self.ctx.clone(), state.clone(), spec.clone());
        let queue = rx.clone();
        let hold = self.hold.clone();
        let name = format!("turn-{}", sp.read().wake_channel());
        // A slot serves one agent name for its whole life: take its counters once.
        let counters = crate::metrics::metrics().agent(&sp.read().name);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            struct Alive(Arc<SlotState>);
            impl Drop for Alive {
                fn drop(&mut self) {
                    self.0.alive.store(false, Ordering::SeqCst);
                }
            }
            let _alive = Alive(st.clone());
            // [ext] Notes of a vault channel that no reply answers and the journal does
            // not know (their webhook never made it into the journal) run first.
            for msg in Self::backlog(&ctx, &sp) {
                st.waiting.fetch_add(1, Ordering::SeqCst);
                hold.wait_until_free(&sp.read().name);
                Self::work(&ctx, &st, &sp, &counters, msg);
            }
            while let Ok(msg) = rx.recv() {
                // An operator session holds the conversation: wait for its end.
                hold.wait_until_free(&sp.read().name);
                Self::work(&ctx, &st, &sp, &counters, msg);
            }
        });
        if let Err(e) = spawned {
            state.alive.store(false, Ordering::SeqCst);
            log::error!("could not start a turn worker: {e}");
        }
        Slot {
            spec,
            tx,
            rx: queue,
            state,
        }
    }

    /// The channel's backlog as journaled queued messages (empty unless a vault channel
    /// has unanswered notes the journal does not know).
    fn backlog(ctx: &WorkerCtx, sp: &RwLock<AgentSpec>) -> Vec<QueuedMessage> {
        let (channel, name) = {
            let spec = sp.read();
            (spec.wake_channel().to_string(), spec.name.clone())
        };
        match ctx.host.backlog(&channel) {
            Ok(found) => found
                .iter()
                .filter_map(|m| ctx.durable.recover(&channel, &name, m))
                .collect(),
            Err(e) => {
                log::warn!(
                    "channel {channel}: could not read the vault backlog ({e}); notes whose webhook was lost are looked for again at the next start"
                );
                Vec::new()
            }
        }
    }

    /// One dequeued message on the worker thread.
    fn work(
        ctx: &WorkerCtx,
        st: &SlotState,
        sp: &RwLock<AgentSpec>,
        counters: &crate::metrics::AgentTurns,
        msg: QueuedMessage,
    ) {
        let current = sp.read().clone();
        let channel = current.wake_channel().to_string();
        if st.keep_journaled.load(Ordering::SeqCst) {
            st.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(t) = &msg.ticket {
                ctx.durable.defer(t); // its channel went away: it waits in the journal
            }
            return;
        }
        let begin = ctx.durable.begin(&channel, &msg);
        if begin == Begin::Leave {
            st.waiting.fetch_sub(1, Ordering::SeqCst);
            return; // stopping: the message stays journaled
        }
        if st.cancelled.load(Ordering::SeqCst) {
            st.waiting.fetch_sub(1, Ordering::SeqCst);
            ctx.durable
                .discard(&msg, "its agent was deregistered before the turn ran");
            return; // deregistered: queued messages are discarded
        }
        st.busy.store(true, Ordering::SeqCst);
        st.waiting.fetch_sub(1, Ordering::SeqCst);
        let started = std::time::Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &begin {
            Begin::GiveUp(reason) => give_up(ctx, &current, &msg, reason),
            _ => process(ctx, &current, &msg),
        }));
        let end = match r {
            Ok(report) => {
                let took = started.elapsed();
                counters.record(report.outcome.as_str(), took);
                log::info!("{}", log_line(&channel, &current.name, &report, took));
                TurnEnd::of(&report)
            }
            Err(_) => {
                counters.record(TurnOutcome::Failed.as_str(), started.elapsed());
                log::error!("agent {}: turn worker panicked; continuing", current.name);
                TurnEnd::Failed("the turn worker panicked".into())
            }
        };
        let finished = !matches!(end, TurnEnd::Abandoned);
        ctx.durable.end(&msg, end);
        if let Some(ts) = msg.ts.as_deref().filter(|_| finished) {
            ctx.host.handled(&channel, ts);
        }
        st.busy.store(false, Ordering::SeqCst);
    }

    fn push(slot: &Slot, msg: QueuedMessage) {
        slot.state.waiting.fetch_add(1, Ordering::SeqCst);
        if slot.tx.send(msg).is_err() {
            slot.state.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn drop_slot(inner: &mut Inner, channel: &str) {
        if let Some(slot) = inner.by_channel.remove(channel) {
            slot.cancel();
        }
    }

    fn drop_channel(inner: &mut Inner, channel: &str) {
        Self::drop_slot(inner, channel);
        inner.expected.remove(channel);
        inner.pending.remove(channel);
    }

    /// Deregister by name; true if it was registered.
    pub fn deregister(&self, name: &str) -> bool {
        let mut inner = self.inner.lock();
        match inner.by_name.remove(name) {
            Some(ch) => {
                Self::drop_channel(&mut inner, &ch);
                true
            }
            None => false,
        }
    }

    /// `channel` stopped (a reload removed it): its agent is no longer registered, as at a
    /// boot without that channel. Unlike [`Self::deregister`], messages still queued stay
    /// in the journal for the agent's return; a running turn finishes. Returns the agent.
    pub fn suspend_channel(&self, channel: &str) -> Option<String> {
        let mut inner = self.inner.lock();
        let slot = inner.by_channel.remove(channel)?;
        let name = slot.spec.read().name.clone();
        slot.state.keep_journaled.store(true, Ordering::SeqCst);
        slot.cancel();
        // Back into the journal's replay set now, so an agent registering on the channel
        // again gets them even while the old worker still finishes its turn.
        while let Ok(msg) = slot.rx.try_recv() {
            slot.state.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(t) = &msg.ticket {
                self.ctx.durable.defer(t);
            }
        }
        inner.by_name.remove(&name);
        inner.expected.remove(channel);
        inner.pending.remove(channel);
        Some(name)
    }

    /// Mark `channel` as about to get an agent: inbound messages are buffered.
    pub fn expect(&self, channel: &str) {
        self.inner.lock().expected.insert(channel.to_string());
    }

    /// Clear an expected mark and its buffer.
    pub fn unexpect(&self, channel: &str) {
        let mut inner = self.inner.lock();
        inner.expected.remove(channel);
        inner.pending.remove(channel);
    }

    /// [`ProgrammaticRegistry::offer`] without a dedup key, refusals counted as not taken.
    pub fn route(&self, channel: &str, msg: QueuedMessage) -> bool {
        self.offer(channel, msg, None).unwrap_or(false)
    }

    /// The routing fork's programmatic branch (spec 03 §5.2 steps 2–3): journal the
    /// message, then enqueue it for the channel's agent, or keep it for an
    /// expected channel (journaled: in the journal's replay set; else the pending buffer).
    /// `Ok(false)` when neither applies; a duplicate `key` is taken and dropped.
    pub fn offer(
        &self,
        channel: &str,
        mut msg: QueuedMessage,
        key: Option<&str>,
    ) -> Result<bool, Refusal> {
        let mut inner = self.inner.lock();
        let agent = match inner.by_channel.get(channel) {
            Some(slot) => slot.spec.read().name.clone(),
            None if inner.expected.contains(channel) => String::new(),
            None => return Ok(false),
        };
        match self.ctx.durable.accept(channel, &agent, key, &msg)? {
            Admit::Duplicate => return Ok(true),
            Admit::Fresh(ticket) => msg.ticket = ticket,
        }
        if let Some(slot) = inner.by_channel.get(channel) {
            Self::push(slot, msg);
            return Ok(true);
        }
        if let Some(t) = &msg.ticket {
            self.ctx.durable.defer(t);
            return Ok(true);
        }
        {
            let buf = inner.pending.entry(channel.to_string()).or_default();
            if buf.len() >= PENDING_CAP {
                buf.pop_front();
                log::warn!("channel {channel}: pending buffer full, dropped the oldest message");
            }
            buf.push_back(msg);
        }
        Ok(true)
    }

    /// Turns running now (the drain waits for them).
    pub fn running(&self) -> usize {
        self.inner
            .lock()
            .by_channel
            .values()
            .filter(|s| s.state.busy.load(Ordering::SeqCst))
            .count()
    }

    /// Every registered agent's worker thread is running (the systemd watchdog's check).
    pub fn workers_alive(&self) -> Result<(), String> {
        let inner = self.inner.lock();
        for (ch, slot) in &inner.by_channel {
            if !slot.state.alive.load(Ordering::SeqCst) {
                return Err(format!("the turn worker of channel {ch} is not running"));
            }
        }
        Ok(())
    }

    /// Name of the agent serving `channel`.
    pub fn agent_on(&self, channel: &str) -> Option<String> {
        self.inner
            .lock()
            .by_channel
            .get(channel)
            .map(|s| s.spec.read().name.clone())
    }

    pub fn get(&self, name: &str) -> Option<AgentSpec> {
        let inner = self.inner.lock();
        let ch = inner.by_name.get(name)?;
        inner.by_channel.get(ch).map(|s| s.spec.read().clone())
    }

    /// `idle`, `working` or `queued:<N>`.
    pub fn status_of(&self, name: &str) -> Option<String> {
        let inner = self.inner.lock();
        let ch = inner.by_name.get(name)?;
        inner.by_channel.get(ch).map(|s| status_text(&s.state))
    }

    /// Every live agent with its status, sorted by name.
    pub fn list(&self) -> Vec<AgentStatus> {
        let inner = self.inner.lock();
        let mut v: Vec<AgentStatus> = inner
            .by_channel
            .values()
            .map(|s| AgentStatus {
                spec: s.spec.read().clone(),
                status: status_text(&s.state),
            })
            .collect();
        v.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        v
    }

    /// `(agent, queued messages, a turn running)` per live agent, for `/metrics`.
    pub fn queue_depths(&self) -> Vec<(String, usize, bool)> {
        let inner = self.inner.lock();
        inner
            .by_channel
            .values()
            .map(|s| {
                let st = &s.state;
                let busy = st.busy.load(Ordering::SeqCst);
                (
                    s.spec.read().name.clone(),
                    st.waiting.load(Ordering::SeqCst),
                    busy,
                )
            })
            .collect()
    }

    pub fn pending_count(&self, channel: &str) -> usize {
        self.inner
            .lock()
            .pending
            .get(channel)
            .map_or(0, VecDeque::len)
    }

    /// Daemon shutdown: discard queues and kill every running `claude` process group.
    pub fn shutdown(&self) {
        let mut inner = self.inner.lock();
        for slot in inner.by_channel.values() {
            slot.cancel();
        }
        inner.by_channel.clear();
        inner.by_name.clear();
        drop(inner);
        super::turn::runner::kill_all_groups();
    }
}

fn status_text(s: &SlotState) -> String {
    let waiting = s.waiting.load(Ordering::SeqCst);
    if waiting > 0 {
        format!("queued:{waiting}")
    } else if s.busy.load(Ordering::SeqCst) {
        "working".into()
    } else {
        "idle".into()
    }
}
