//! Time stamps in the wire format of the reference (JavaScript `toISOString()`:
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC, 3-digit millis; spec 01 §0).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// `toISOString()` of the current instant.
pub fn now_iso() -> String {
    iso_from_ms(now_ms())
}

/// `toISOString()` of a Unix time in milliseconds.
pub fn iso_from_ms(ms: u64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `toISOString()` of a `SystemTime`.
pub fn iso_from_system(t: SystemTime) -> String {
    iso_from_ms(
        t.duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64,
    )
}

/// Parse an RFC 3339 / ISO timestamp into Unix milliseconds (`None` if malformed).
pub fn parse_iso_ms(s: &str) -> Option<u64> {
    let ts: jiff::Timestamp = s.parse().ok()?;
    u64::try_from(ts.as_millisecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_has_js_shape() {
        assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_from_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            parse_iso_ms("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_iso_ms("nope"), None);
        assert_eq!(now_iso().len(), 24);
    }
}
