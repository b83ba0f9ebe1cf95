//! Time zones and the next-fire computation of scheduled jobs (spec 06 §1.6, §1.7).
//!
//! Zones come from `jiff` (spec README: use a well-kept crate, not hand-read TZif): IANA
//! names resolve through the system zoneinfo database (`$TZDIR`, `/usr/share/zoneinfo`,
//! slim files with POSIX footers included), case-insensitively and with links (`US/Pacific`,
//! `Etc/UTC`); the local zone is jiff's system zone (`TZ`, then `/etc/localtime`, else UTC).
//! `UTC`/`Etc/UTC`/`GMT`/`Etc/GMT`/`Zulu` work even without tzdata; on a host without tzdata
//! every other name is rejected as unknown (a platform difference). jiff caches parsed zones.
//! Names are checked against
//! `[A-Za-z0-9/_+-]`, no leading `/`, no `..` segment, before anything is looked up.
//!
//! [`next_after`] is the spec's minute walk, kept as the source of truth: cursor = `from`
//! truncated to the minute plus one minute (strictly after); a non-qualifying wall *date*
//! jumps to the next wall midnight computed from the wall clock just read (never UTC
//! midnight); give up after 5 × 366 distinct skipped wall days or 5 × 366 × 1440 steps.
//! DST: a wall time inside a spring-forward gap never matches that day; one inside a
//! fall-back overlap matches both real instants.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::cron::CronExpr;

const MAX_SKIPPED_DAYS: u32 = 5 * 366;
const MAX_STEPS: u64 = 5 * 366 * 1440;

/// Zones that must resolve without any tz database.
const BUILTIN_UTC: [&str; 5] = ["UTC", "Etc/UTC", "GMT", "Etc/GMT", "Zulu"];

/// A syntactically acceptable zone name (before any lookup).
fn plausible_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.split('/').any(|seg| seg == "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'+' | b'-'))
}

/// Resolve an IANA zone name; the error is the §1.4 row-6 text.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    let unknown = || format!("\"{name}\" is not a known IANA timezone");
    if !plausible_name(name) {
        return Err(unknown());
    }
    if BUILTIN_UTC.iter().any(|z| z.eq_ignore_ascii_case(name)) {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| unknown())
}

/// The job's zone: its `tz`, else the daemon's local zone.
pub fn job_zone(tz: Option<&str>) -> Result<TimeZone, String> {
    match tz {
        Some(name) => zone(name),
        None => Ok(TimeZone::system()),
    }
}

/// The first whole minute strictly after `from` whose wall clock in `tz` matches `cron`.
pub fn next_after(cron: &CronExpr, tz: &TimeZone, from: Timestamp) -> Option<Timestamp> {
    let mut cursor = from.as_second().div_euclid(60) * 60 + 60;
    let mut skipped_days = 0u32;
    let mut last_skipped: Option<(i16, i8, i8)> = None;
    for _ in 0..MAX_STEPS {
        let at = Timestamp::from_second(cursor).ok()?;
        let wall = tz.to_datetime(at);
        let (month, day) = (wall.month() as u32, wall.day() as u32);
        let weekday = wall.weekday().to_sunday_zero_offset() as u32;
        if !cron.matches_date(month, day, weekday) {
            let date = (wall.year(), wall.month(), wall.day());
            if last_skipped != Some(date) {
                last_skipped = Some(date);
                skipped_days += 1;
                if skipped_days > MAX_SKIPPED_DAYS {
                    return None;
                }
            }
            let minutes = (23 - wall.hour() as i64) * 60 + (60 - wall.minute() as i64);
            cursor += minutes * 60;
            continue;
        }
        if cron.matches_time(wall.hour() as u32, wall.minute() as u32) {
            return Some(at);
        }
        cursor += 60;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::cron::parse;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next(expr: &str, tz: &str, from: &str) -> Option<String> {
        let z = zone(tz).unwrap();
        next_after(&parse(expr).unwrap(), &z, ts(from)).map(|t| t.to_string())
    }

    /// The wall clock of the answer in `tz`, `YYYY-MM-DDTHH:MM`.
    fn next_wall(expr: &str, tz: &str, from: &str) -> String {
        let z = zone(tz).unwrap();
        let t = next_after(&parse(expr).unwrap(), &z, ts(from)).unwrap();
        z.to_datetime(t).strftime("%Y-%m-%dT%H:%M").to_string()
    }

    const LA: &str = "America/Los_Angeles";

    #[test]
    fn daily_in_los_angeles() {
        assert_eq!(
            next_wall("53 7 * * *", LA, "2026-06-17T13:00:00Z"),
            "2026-06-17T07:53"
        );
        assert_eq!(
            next("53 7 * * *", LA, "2026-06-17T13:00:00Z").unwrap(),
            "2026-06-17T14:53:00Z"
        );
        assert_eq!(
            next_wall("53 7 * * *", LA, "2026-06-17T15:00:00Z"),
            "2026-06-18T07:53"
        );
    }

    #[test]
    fn strictly_after_and_steps() {
        assert_eq!(
            next("0 * * * *", "UTC", "2026-06-17T10:17:00Z").unwrap(),
            "2026-06-17T11:00:00Z"
        );
        assert_eq!(
            next("0 * * * *", "UTC", "2026-06-17T11:00:00Z").unwrap(),
            "2026-06-17T12:00:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", "UTC", "2026-06-17T10:07:30Z").unwrap(),
            "2026-06-17T10:15:00Z"
        );
        assert_eq!(
            next("0 9 * * 1-5", "UTC", "2026-06-19T10:00:00Z").unwrap(),
            "2026-06-22T09:00:00Z"
        );
    }

    #[test]
    fn month_and_year_rollover_and_leap_day() {
        assert_eq!(
            next("0 0 1 * *", "UTC", "2026-01-31T00:00:00Z").unwrap(),
            "2026-02-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 1 1 *", "UTC", "2026-12-31T23:59:00Z").unwrap(),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", "UTC", "2026-06-01T00:00:00Z").unwrap(),
            "2028-02-29T00:00:00Z"
        );
        assert_eq!(next("0 0 30 2 *", "UTC", "2026-06-01T00:00:00Z"), None);
        assert_eq!(
            next("0 0 13 * 5", "UTC", "2026-02-01T00:00:00Z").unwrap(),
            "2026-02-06T00:00:00Z",
            "union rule: the first Friday before the 13th"
        );
    }

    #[test]
    fn zone_of_the_wall_clock() {
        assert_eq!(
            next("0 12 * * *", "UTC", "2026-06-17T00:00:00Z").unwrap(),
            "2026-06-17T12:00:00Z"
        );
        assert_eq!(
            next("0 12 * * *", LA, "2026-06-17T00:00:00Z").unwrap(),
            "2026-06-17T19:00:00Z"
        );
        assert_eq!(
            next("0 6 15 * *", "Asia/Tokyo", "2026-06-14T03:00:00Z").unwrap(),
            "2026-06-14T21:00:00Z",
            "June 15 06:00 in Tokyo"
        );
    }

    #[test]
    fn zones_resolve_or_fail_cleanly() {
        for name in ["UTC", "Etc/UTC", "GMT", "Zulu", "utc", LA, "US/Pacific"] {
            assert!(zone(name).is_ok(), "{name}");
        }
        for name in [
            "Mars/Olympus",
            "",
            "/etc/passwd",
            "../../etc/passwd",
            "A B",
            "America/../UTC",
        ] {
            assert_eq!(
                zone(name).unwrap_err(),
                format!("\"{name}\" is not a known IANA timezone")
            );
        }
        let local = job_zone(None).unwrap();
        let now = Timestamp::now();
        let n = next_after(&parse("* * * * *").unwrap(), &local, now).unwrap();
        assert!(n > now && n.as_second() - now.as_second() <= 60);
    }

    #[test]
    fn dst_gap_skips_to_the_next_day() {
        // 2026-03-08: US spring forward, 02:00 PST → 03:00 PDT; 02:30 does not exist.
        assert_eq!(
            next_wall("30 2 * * *", LA, "2026-03-08T08:00:00Z"),
            "2026-03-09T02:30"
        );
    }

    #[test]
    fn dst_overlap_matches_both_instants() {
        // 2026-11-01: US fall back, 01:00–01:59 happens twice (PDT, then PST).
        let first = next("30 1 * * *", LA, "2026-11-01T07:00:00Z").unwrap();
        assert_eq!(first, "2026-11-01T08:30:00Z", "01:30 PDT");
        let second = next("30 1 * * *", LA, &first).unwrap();
        assert_eq!(second, "2026-11-01T09:30:00Z", "01:30 PST, one hour later");
        let third = next("30 1 * * *", LA, &second).unwrap();
        assert_eq!(third, "2026-11-02T09:30:00Z");
    }

    #[test]
    fn negative_offset_day_skips_land_on_wall_midnight() {
        // Saturday 2026-06-20 in LA → Monday 22nd, not Tuesday.
        assert_eq!(
            next_wall("0 9 * * 1-5", LA, "2026-06-20T18:00:00Z"),
            "2026-06-22T09:00"
        );
        assert_eq!(
            next_wall("0 6 1 * *", LA, "2026-06-15T19:00:00Z"),
            "2026-07-01T06:00"
        );
        assert_eq!(
            next_wall("30 7 15 * *", LA, "2026-06-10T19:00:00Z"),
            "2026-06-15T07:30"
        );
        // From Sunday 2026-06-21 → Monday 07:53.
        assert_eq!(
            next_wall("53 7 * * 1-5", LA, "2026-06-21T19:00:00Z"),
            "2026-06-22T07:53"
        );
        // From exactly Monday 09:00 LA (16:00Z) → Tuesday 09:00.
        assert_eq!(
            next_wall("0 9 * * 1-5", LA, "2026-06-22T16:00:00Z"),
            "2026-06-23T09:00"
        );
    }
}
