//! The programmatic backend's side of the inbound journal (spec 07 §4): a
//! message is accepted only once journaled (`accept`), every attempt is recorded before
//! its turn starts (`begin`), and the outcome is recorded in the same append that marks it
//! done (`end`). When a channel's agent registers, the journal's pending records for that
//! channel are queued first, in accept order (`replay`): one whose earlier attempts all
//! died with the daemon runs again as attempt N+1, unless it used up the attempt limit or
//! is older than the age cut-off — then it is failed visibly instead (`give_up`).
//!
//! While the daemon drains for a stop, nothing new is accepted and no queued turn starts;
//! after the grace period running turns are abandoned: they record nothing, so their
//! messages stay pending for the next start.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::channels::Refusal;
use crate::journal::{Accepted, Journal, Outcome, Pending};
use crate::lifecycle::Lifecycle;

use super::worker::QueuedMessage;

/// A queued message's place in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: u64,
    /// This run's attempt number (1 for a fresh message).
    pub attempt: u32,
    /// Set when the message must be failed visibly instead of run.
    pub give_up: Option<String>,
}

/// What the worker does with a dequeued message.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    Run,
    /// Fail it visibly with this reason (no turn).
    GiveUp(String),
    /// Leave it in the journal (the daemon is stopping).
    Leave,
}

pub struct Durable {
    pub journal: Option<Arc<Journal>>,
    pub lifecycle: Arc<Lifecycle>,
    /// The attempt and age limits (`PARACHUTE_AGENT_JOURNAL_*`; SIGHUP may change them).
    limits: RwLock<(u32, Duration)>,
}

impl Default for Durable {
    fn default() -> Self {
        Durable::new(
            None,
            Arc::new(Lifecycle::new()),
            3,
            Duration::from_secs(86_400),
        )
    }
}

/// What [`Durable::accept`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Queue it; `Some` when journaled.
    Fresh(Option<Ticket>),
    /// A duplicate of a known message: drop it.
    Duplicate,
}

/// The reason of a turn stopped at the end of the stop grace.
pub const ABANDONED: &str = "stopped at shutdown; the message stays journaled";

/// How the worker's turn ended, as the journal records it.
pub enum TurnEnd {
    Replied,
    Failed(String),
    /// Killed at the end of the stop grace: record nothing.
    Abandoned,
}

impl TurnEnd {
    pub fn of(report: &super::turn::report::TurnReport) -> TurnEnd {
        match &report.reason {
            Some(r) if r == ABANDONED => TurnEnd::Abandoned,
            Some(r) => TurnEnd::Failed(r.clone()),
            None if report.outcome == super::turn::report::TurnOutcome::Ok => TurnEnd::Replied,
            None => TurnEnd::Failed(format!("turn {}", report.outcome.as_str())),
        }
    }
}

impl Durable {
    pub fn new(
        journal: Option<Arc<Journal>>,
        lifecycle: Arc<Lifecycle>,
        max_attempts: u32,
        max_age: Duration,
    ) -> Durable {
        Durable {
            journal,
            lifecycle,
            limits: RwLock::new((max_attempts, max_age)),
        }
    }

    /// Applies new attempt and age limits to messages replayed or found from now on.
    pub fn set_limits(&self, max_attempts: u32, max_age: Duration) {
        *self.limits.write() = (max_attempts, max_age);
    }

    /// `(max_attempts, max_age)` in effect.
    pub fn limits(&self) -> (u32, Duration) {
        *self.limits.read()
    }

    /// Journals `msg` for `agent` on `channel` (`agent` empty while the channel's agent is
    /// about to register).
    pub fn accept(
        &self,
        channel: &str,
        agent: &str,
        key: Option<&str>,
        msg: &QueuedMessage,
    ) -> Result<Admit, Refusal> {
        if self.lifecycle.draining() {
            return Err(Refusal::Draining);
        }
        let Some(j) = &self.journal else {
            return Ok(Admit::Fresh(None));
        };
        let value = serde_json::to_value(msg).unwrap_or_default();
        let accepted = j.accept(channel, agent, key, value);
        report_backlog(j);
        match accepted {
            Ok(Accepted::New(id)) => Ok(Admit::Fresh(Some(Ticket {
                id,
                attempt: 1,
                give_up: None,
            }))),
            Ok(Accepted::Duplicate) => {
                log::info!(
                    "channel {channel}: {} was already accepted; not queued again",
                    key.unwrap_or("message")
                );
                Ok(Admit::Duplicate)
            }
            Err(e) => {
                log::error!("channel {channel}: message refused: {e}");
                Err(Refusal::Unavailable(e.to_string()))
            }
        }
    }

    /// A journaled message accepted while its channel had no agent yet goes back to the
    /// journal's replay set (it is queued when the agent registers, in order).
    pub fn defer(&self, ticket: &Ticket) {
        if let Some(j) = &self.journal {
            j.release(ticket.id);
        }
    }

    /// The pending records of `channel` as queued messages, in accept order.
    pub fn replay(&self, channel: &str) -> Vec<QueuedMessage> {
        let Some(j) = &self.journal else {
            return Vec::new();
        };
        let now = crate::util::time::now_ms();
        let queued: Vec<QueuedMessage> = j
            .take_replay(channel)
            .into_iter()
            .filter_map(|p| self.requeue(p, now))
            .collect();
        if !queued.is_empty() {
            log::info!(
                "channel {channel}: {} journaled message(s) queued before new ones",
                queued.len()
            );
        }
        queued
    }

    fn requeue(&self, p: Pending, now: u64) -> Option<QueuedMessage> {
        let mut msg: QueuedMessage = match serde_json::from_value(p.msg.clone()) {
            Ok(m) => m,
            Err(e) => {
                log::error!(
                    "journal: record {} of {} is unreadable ({e}); dropped",
                    p.id,
                    p.channel
                );
                self.record(
                    p.id,
                    Outcome::Failed {
                        reason: format!("unreadable record: {e}"),
                    },
                );
                return None;
            }
        };
        let attempt = p.started + 1;
        let give_up = self.verdict(p.started, p.at_ms, &p.at, now, "accepted");
        let level = if attempt > 1 || give_up.is_some() {
            log::Level::Info
        } else {
            log::Level::Debug
        };
        log::log!(
            level,
            "channel {}: replaying journaled message {} (attempt {attempt}{})",
            p.channel,
            p.id,
            if give_up.is_some() {
                ", failing it"
            } else {
                ""
            }
        );
        msg.ticket = Some(Ticket {
            id: p.id,
            attempt,
            give_up,
        });
        Some(msg)
    }

    /// Why a message with `started` attempts behind it, accepted (or written) at `at_ms`,
    /// must be failed instead of run; `None` to run it.
    fn verdict(&self, started: u32, at_ms: u64, at: &str, now: u64, what: &str) -> Option<String> {
        let age = Duration::from_millis(now.saturating_sub(at_ms));
        let (max_attempts, max_age) = self.limits();
        if started >= max_attempts {
            Some(format!(
                "gave up after {started} attempt(s): the daemon stopped during each"
            ))
        } else if age > max_age {
            Some(format!(
                "not retried: {what} {} ago ({at}), past the {} s age limit",
                human(age),
                max_age.as_secs()
            ))
        } else {
            None
        }
    }

    /// A vault note found unanswered in its channel's backlog ([ext]): journaled like a
    /// webhook delivery (its age counts from when it was written), unless the journal
    /// knows it already — pending, finished, or delivered elsewhere. `None`: nothing to do.
    pub fn recover(
        &self,
        channel: &str,
        agent: &str,
        inbound: &crate::channels::InboundMessage,
    ) -> Option<QueuedMessage> {
        let j = self.journal.as_ref()?;
        let key = inbound.key.as_deref()?;
        if j.knows(key) || self.lifecycle.draining() {
            return None;
        }
        let msg = QueuedMessage::from_inbound(inbound);
        let now = crate::util::time::now_ms();
        let written = msg.ts.as_deref().and_then(crate::util::time::parse_iso_ms);
        let at_ms = written.unwrap_or(now).min(now);
        let value = serde_json::to_value(&msg).unwrap_or_default();
        let id = match j.accept_written(channel, agent, Some(key), value, at_ms) {
            Ok(Accepted::New(id)) => id,
            Ok(Accepted::Duplicate) => return None,
            Err(e) => {
                log::error!("channel {channel}: could not journal a backlog note: {e}");
                return None;
            }
        };
        report_backlog(j);
        let at = crate::util::time::iso_from_ms(at_ms);
        let give_up = self.verdict(0, at_ms, &at, now, "written");
        log::info!(
            "channel {channel}: vault note {} (written {at}) was never answered; queued{}",
            msg.in_reply_to.as_deref().unwrap_or("?"),
            if give_up.is_some() {
                ", to be failed: too old"
            } else {
                ""
            }
        );
        Some(QueuedMessage {
            ticket: Some(Ticket {
                id,
                attempt: 1,
                give_up,
            }),
            ..msg
        })
    }

    /// Before a turn: decide and record the attempt.
    pub fn begin(&self, channel: &str, msg: &QueuedMessage) -> Begin {
        if self.lifecycle.draining() {
            return Begin::Leave;
        }
        let Some(t) = &msg.ticket else {
            return Begin::Run;
        };
        if let Some(reason) = &t.give_up {
            return Begin::GiveUp(reason.clone());
        }
        if let Some(j) = &self.journal {
            if let Err(e) = j.start(t.id, t.attempt) {
                // The attempt cannot be counted; running it anyway could loop forever
                // on a message that kills the daemon. Leave it for the next start.
                log::error!("channel {channel}: not starting message {}: {e}", t.id);
                return Begin::Leave;
            }
        }
        if t.attempt > 1 {
            log::warn!(
                "channel {channel}: message {} attempt {} (the daemon stopped during attempt {})",
                t.id,
                t.attempt,
                t.attempt - 1
            );
        }
        Begin::Run
    }

    /// After a turn (or a visible give-up): record the outcome.
    pub fn end(&self, msg: &QueuedMessage, end: TurnEnd) {
        let Some(t) = &msg.ticket else {
            return;
        };
        let outcome = match end {
            TurnEnd::Replied => Outcome::Replied,
            TurnEnd::Failed(reason) => Outcome::Failed { reason },
            TurnEnd::Abandoned => return,
        };
        self.record(t.id, outcome);
    }

    /// A queued message that will never run (its agent was removed).
    pub fn discard(&self, msg: &QueuedMessage, why: &str) {
        if let Some(t) = &msg.ticket {
            log::warn!("journal: message {} discarded: {why}", t.id);
            self.record(
                t.id,
                Outcome::Failed {
                    reason: why.to_string(),
                },
            );
        }
    }

    fn record(&self, id: u64, outcome: Outcome) {
        if let Some(j) = &self.journal {
            if let Err(e) = j.finish(id, outcome) {
                log::error!("journal: could not mark message {id} done: {e}");
            }
            report_backlog(j);
        }
    }
}

/// `/metrics`: messages journaled and not yet done.
fn report_backlog(j: &Journal) {
    crate::metrics::metrics().set_journal_backlog(j.stats().pending as i64);
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}
