//! Deciding what one `claude -p` attempt meant (spec 03 §4.11), whether a failure is worth
//! another attempt (§4.12, 07 §2) and whether a resumed session was missing (§4.13).
//! All pure functions over the parsed stream, the exit status and the stderr tail.

use super::stream::{StreamSummary, Usage};

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitInfo {
    Code(i32),
    Signal(i32),
}

/// The result of one turn (or one attempt).
#[derive(Debug, Clone, PartialEq)]
pub enum TurnResult {
    Ok {
        reply: String,
        session_id: Option<String>,
        usage: Option<Usage>,
    },
    Failed {
        reason: String,
        session_id: Option<String>,
        /// False for failures that must never be retried whatever their text says
        /// (spawn failure, turn timeout).
        retryable: bool,
    },
}

impl TurnResult {
    pub fn session_id(&self) -> Option<&str> {
        match self {
            TurnResult::Ok { session_id, .. } | TurnResult::Failed { session_id, .. } => {
                session_id.as_deref()
            }
        }
    }

    pub fn failed(reason: impl Into<String>, retryable: bool) -> Self {
        TurnResult::Failed {
            reason: reason.into(),
            session_id: None,
            retryable,
        }
    }
}

/// Spec 03 §4.11: success comes from the result event, regardless of the exit code;
/// otherwise the first applicable reason.
pub fn classify(summary: StreamSummary, exit: ExitInfo, stderr: &str) -> TurnResult {
    let session_id = summary.session_id;
    if let Some(r) = &summary.result {
        if r.success() {
            return TurnResult::Ok {
                reply: r.text.clone().unwrap_or_default(),
                session_id,
                usage: r.usage.clone(),
            };
        }
    }
    let mut reason = failure_reason(&summary.result, exit, stderr);
    // The API status, where the CLI reports one, decides on its own: a 401/403/400 is
    // never retried whatever words its text happens to contain, and a 429/5xx/529 always
    // reads as transient (its code is added to the reason when the text lacks it).
    let status = summary.result.as_ref().and_then(|r| r.api_error_status);
    let retryable = match status {
        Some(s) if TRANSIENT_STATUS.contains(&s) => {
            if !is_transient(&reason) {
                reason = format!("{reason} (API status {s})");
            }
            true
        }
        Some(_) => false,
        None => true,
    };
    TurnResult::Failed {
        reason,
        session_id,
        retryable,
    }
}

/// API statuses that mark a transient upstream failure (07 §2).
const TRANSIENT_STATUS: [u16; 7] = [408, 429, 500, 502, 503, 504, 529];

fn failure_reason(
    result: &Option<super::stream::ResultEvent>,
    exit: ExitInfo,
    stderr: &str,
) -> String {
    if let Some(r) = result {
        if r.is_error {
            if r.api_error_status == Some(401)
                || r.api_error_type.as_deref() == Some("authentication_error")
            {
                // The CLI's own words ("Not logged in · Please run /login") point an
                // operator at an interactive login; the fix on a daemon is a new token.
                let said = r.text.as_deref().unwrap_or("").trim();
                return format!(
                    "Claude authentication failed (API status 401): {said} — store a fresh \
                     token from `claude setup-token` with POST /api/credentials/claude"
                );
            }
            if let Some(t) = r.text.as_deref().filter(|t| !t.is_empty()) {
                return t.to_string();
            }
            if let Some(s) = r.api_error_status {
                return format!("claude -p turn failed (API status {s})");
            }
        }
        if let Some(sub) = &r.subtype {
            return format!("claude -p turn failed (subtype: {sub})");
        }
    }
    let stderr = stderr.trim();
    let tail = if stderr.is_empty() {
        String::new()
    } else {
        format!(": {}", stderr.chars().take(500).collect::<String>())
    };
    match exit {
        ExitInfo::Code(0) => {
            "claude -p produced no success result (no result event in output)".to_string()
        }
        ExitInfo::Code(c) => format!("claude -p exited {c}{tail}"),
        ExitInfo::Signal(s) => format!("claude -p killed by signal {s}{tail}"),
    }
}

/// HTTP-ish status numbers that mark a transient upstream failure.
const TRANSIENT_CODES: [&str; 6] = ["429", "500", "502", "503", "504", "529"];
/// Case-insensitive substrings that mark a transient failure (spec 03 §4.12).
const TRANSIENT_WORDS: [&str; 12] = [
    "overloaded",
    "rate limit",
    "rate_limit",
    "service unavailable",
    "bad gateway",
    "gateway time",
    "internal server error",
    "temporarily",
    "timed out",
    "timeout",
    "etimedout",
    "econnreset",
];
/// Failures that are never transient even if the text also contains a transient word
/// (07 §2: auth, billing, validation, limits, a *rejected* rate limit).
const PERMANENT_WORDS: [&str; 8] = [
    "authentication_failed",
    "billing_error",
    "invalid_request",
    "model_not_found",
    "error_max_turns",
    "error_max_budget_usd",
    "rejected",
    "turn timed out after",
];

/// Spec 03 §4.12 classifier over a failure reason.
pub fn is_transient(reason: &str) -> bool {
    let lower = reason.to_lowercase();
    if PERMANENT_WORDS.iter().any(|w| lower.contains(w)) {
        return false;
    }
    TRANSIENT_CODES.iter().any(|c| has_standalone(&lower, c))
        || TRANSIENT_WORDS.iter().any(|w| lower.contains(w))
}

/// `needle` occurs with no `[A-Za-z0-9_]` directly before or after it (the `\b` rule).
fn has_standalone(hay: &str, needle: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = hay.as_bytes();
    hay.match_indices(needle).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + needle.len()).copied();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Spec 03 §4.13: does a failure of a resumed turn say the session does not exist?
pub fn is_session_not_found(reason: &str) -> bool {
    let l = reason.to_lowercase();
    if [
        "no conversation found",
        "session not found",
        "no session found ",
        "no session with ",
    ]
    .iter()
    .any(|p| l.contains(p))
    {
        return true;
    }
    gap_match(&l, "conversation", "not found", 30) || gap_match(&l, "could not find", "session", 20)
}

/// `a`, then at most `max_gap` chars, then `b`.
fn gap_match(hay: &str, a: &str, b: &str, max_gap: usize) -> bool {
    hay.match_indices(a).any(|(i, _)| {
        let rest = &hay[i + a.len()..];
        rest.char_indices()
            .take_while(|(off, _)| rest[..*off].chars().count() <= max_gap)
            .any(|(off, _)| rest[off..].starts_with(b))
            || rest.starts_with(b)
    })
}

#[cfg(test)]
mod tests {
    use super::super::stream::ResultEvent;
    use super::*;

    fn summary(result: Option<ResultEvent>, session: Option<&str>) -> StreamSummary {
        StreamSummary {
            session_id: session.map(str::to_string),
            api_key_source: None,
            result,
        }
    }

    fn reason(r: TurnResult) -> String {
        match r {
            TurnResult::Failed { reason, .. } => reason,
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn success_wins_over_exit_code() {
        let r = ResultEvent {
            subtype: Some("success".into()),
            text: Some("hi".into()),
            ..Default::default()
        };
        let out = classify(summary(Some(r), Some("s")), ExitInfo::Code(1), "boom");
        assert_eq!(
            out,
            TurnResult::Ok {
                reply: "hi".into(),
                session_id: Some("s".into()),
                usage: None
            }
        );
        let r = ResultEvent {
            subtype: Some("success".into()),
            ..Default::default()
        };
        match classify(summary(Some(r), None), ExitInfo::Code(0), "") {
            TurnResult::Ok { reply, .. } => assert_eq!(reply, ""),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failure_reasons_in_order() {
        let is_err = ResultEvent {
            subtype: Some("success".into()),
            is_error: true,
            text: Some("API Error: 500 upstream".into()),
            ..Default::default()
        };
        let out = classify(summary(Some(is_err), Some("s")), ExitInfo::Code(1), "x");
        assert_eq!(out.session_id(), Some("s"));
        assert_eq!(reason(out), "API Error: 500 upstream");
        let sub = ResultEvent {
            subtype: Some("error_max_turns".into()),
            ..Default::default()
        };
        assert_eq!(
            reason(classify(summary(Some(sub), None), ExitInfo::Code(0), "")),
            "claude -p turn failed (subtype: error_max_turns)"
        );
        assert_eq!(
            reason(classify(
                summary(None, None),
                ExitInfo::Code(2),
                "  oops \n"
            )),
            "claude -p exited 2: oops"
        );
        assert_eq!(
            reason(classify(summary(None, None), ExitInfo::Code(3), "  ")),
            "claude -p exited 3"
        );
        let long = "e".repeat(600);
        assert_eq!(
            reason(classify(summary(None, None), ExitInfo::Code(1), &long)).len(),
            "claude -p exited 1: ".len() + 500
        );
        assert_eq!(
            reason(classify(summary(None, None), ExitInfo::Code(0), "junk")),
            "claude -p produced no success result (no result event in output)"
        );
    }

    /// The real CLI (2.1.x) ends an API failure with `subtype:"success"`, `is_error:true`
    /// and `api_error_status`: the status decides, not the words of the text.
    #[test]
    fn api_error_status_decides_retry() {
        let failed = |status: u16, text: Option<&str>| {
            let r = ResultEvent {
                subtype: Some("success".into()),
                is_error: true,
                text: text.map(str::to_string),
                api_error_status: Some(status),
                ..Default::default()
            };
            match classify(summary(Some(r), None), ExitInfo::Code(1), "") {
                TurnResult::Failed {
                    reason, retryable, ..
                } => (reason, retryable),
                other => panic!("{other:?}"),
            }
        };
        // a permanent status is never retried, even with a transient-sounding text
        let (reason, retryable) = failed(401, Some("Not logged in · Please run /login"));
        assert!(!retryable, "{reason}");
        assert_eq!(
            reason,
            "Claude authentication failed (API status 401): Not logged in · Please run /login \
             — store a fresh token from `claude setup-token` with POST /api/credentials/claude"
        );
        let (reason, retryable) = failed(400, Some("invalid request: request timed out"));
        assert!(!retryable, "{reason}");
        assert_eq!(
            failed(403, None).0,
            "claude -p turn failed (API status 403)"
        );
        // a transient status is retried even when its text has no transient word
        let (reason, retryable) = failed(529, Some("Something went wrong"));
        assert!(retryable && is_transient(&reason), "{reason}");
        assert_eq!(reason, "Something went wrong (API status 529)");
        let (reason, retryable) = failed(429, Some("API Error: 429 slow down"));
        assert!(retryable);
        assert_eq!(reason, "API Error: 429 slow down", "no duplicate status");
    }

    #[test]
    fn transient_truth_table() {
        for t in [
            "API Error: 529 {\"type\":\"overloaded_error\"}",
            "got 429 from upstream",
            "HTTP 503",
            "(502)",
            "Overloaded",
            "Rate limit reached",
            "rate_limit_error",
            "Service Unavailable",
            "Bad Gateway",
            "Gateway Timeout",
            "Internal Server Error",
            "temporarily unavailable",
            "request timed out",
            "connect ETIMEDOUT 1.2.3.4",
            "read ECONNRESET",
        ] {
            assert!(is_transient(t), "{t}");
        }
        for p in [
            "API Error: 401 authentication_failed",
            "invalid api key",
            "claude -p turn failed (subtype: error_max_turns)",
            "no Claude credential for channel \"x\"",
            "id 15290 is here",
            "x5290",
            "code 4290",
            "_429",
            "turn timed out after 30s",
            "rate_limit rejected until 10:00",
            "claude -p exited 1: No conversation found with session ID: x",
        ] {
            assert!(!is_transient(p), "{p}");
        }
    }

    #[test]
    fn session_not_found_patterns() {
        for t in [
            "No conversation found with session ID: 1234",
            "Session not found",
            "no session found for id",
            "No session with id x",
            "conversation abc-def not found",
            "Could not find a matching session",
        ] {
            assert!(is_session_not_found(t), "{t}");
        }
        for t in [
            "conversation is very very very very very very long before not found",
            "could not find the file",
            "API Error: 500",
            "no session foundry",
        ] {
            assert!(!is_session_not_found(t), "{t}");
        }
    }
}
