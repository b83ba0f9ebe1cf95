//! What one processed message came to, for the operator: the one log line per turn
//! (channel, agent, outcome, duration, attempts) and the turn metrics.

use std::time::Duration;

/// How a turn ended, as the log line and the `outcome` metric label say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnOutcome {
    /// A reply was produced and delivered (or there was nothing to say).
    Ok,
    /// The turn failed (claude, credential, token, launcher …); a failure note went out.
    Failed,
    /// Our wall-clock limit stopped it.
    Timeout,
    /// A per-agent limit of claude stopped it (`--max-turns`, `--max-budget-usd`).
    Limit,
    /// A reply was produced but could not be written back.
    Undelivered,
}

impl TurnOutcome {
    pub const ALL: [TurnOutcome; 5] = [
        TurnOutcome::Ok,
        TurnOutcome::Failed,
        TurnOutcome::Timeout,
        TurnOutcome::Limit,
        TurnOutcome::Undelivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TurnOutcome::Ok => "ok",
            TurnOutcome::Failed => "failed",
            TurnOutcome::Timeout => "timeout",
            TurnOutcome::Limit => "limit",
            TurnOutcome::Undelivered => "undelivered",
        }
    }

    /// The outcome of a failed turn, from its reason text.
    pub fn of_failure(reason: &str) -> TurnOutcome {
        if reason.starts_with("turn timed out after") {
            TurnOutcome::Timeout
        } else if reason.contains("error_max_turns") || reason.contains("error_max_budget_usd") {
            TurnOutcome::Limit
        } else {
            TurnOutcome::Failed
        }
    }
}

/// The result of `worker::process` for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnReport {
    pub outcome: TurnOutcome,
    /// `claude` runs this message took (retries and the fresh-session fallback count).
    pub attempts: u32,
    /// The failure reason, when it failed.
    pub reason: Option<String>,
}

/// The one info line of a finished turn.
pub fn log_line(channel: &str, agent: &str, report: &TurnReport, took: Duration) -> String {
    let mut line = format!(
        "turn finished: channel={channel} agent={agent} outcome={} duration={:.2}s attempts={}",
        report.outcome.as_str(),
        took.as_secs_f64(),
        report.attempts
    );
    if let Some(r) = &report.reason {
        line.push_str(&format!(" reason={r:?}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_from_reasons_and_the_line() {
        assert_eq!(
            TurnOutcome::of_failure("turn timed out after 3s"),
            TurnOutcome::Timeout
        );
        assert_eq!(
            TurnOutcome::of_failure("claude -p turn failed (subtype: error_max_turns)"),
            TurnOutcome::Limit
        );
        assert_eq!(TurnOutcome::of_failure("boom"), TurnOutcome::Failed);
        let r = TurnReport {
            outcome: TurnOutcome::Ok,
            attempts: 1,
            reason: None,
        };
        assert_eq!(
            log_line("web", "bot", &r, Duration::from_millis(1500)),
            "turn finished: channel=web agent=bot outcome=ok duration=1.50s attempts=1"
        );
    }
}
