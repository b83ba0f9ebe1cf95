//! The cron dialect of scheduled jobs (spec 06 §1.5): five numeric fields
//! `minute hour day-of-month month day-of-week`, each a comma list of `*`, `*/n`, `a`,
//! `a-b`, `a-b/n` or `a/n` (from `a` to the field maximum). No names, macros, seconds,
//! `?`/`L`/`W`/`#`, and day-of-week 7 is rejected (Sunday is 0 only). The day-of-month /
//! day-of-week rule is Vixie cron's: a field is unrestricted only if its text is exactly
//! `*`; when both are restricted a day matches if either matches.

/// One field's bounds and the name used in error texts.
struct Field {
    name: &'static str,
    min: u64,
    max: u64,
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 6,
    },
];

/// A parsed expression: one bit set per field (bit `v` set = value `v` matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    pub minutes: u64,
    pub hours: u64,
    pub days_of_month: u64,
    pub months: u64,
    pub days_of_week: u64,
    /// The day-of-month text is exactly `*`.
    pub dom_unrestricted: bool,
    /// The day-of-week text is exactly `*`.
    pub dow_unrestricted: bool,
}

fn has(set: u64, v: u32) -> bool {
    v < 64 && set & (1u64 << v) != 0
}

impl CronExpr {
    /// Month 1–12, day 1–31, weekday 0–6 (Sunday = 0): does this wall date qualify?
    pub fn matches_date(&self, month: u32, day: u32, weekday: u32) -> bool {
        if !has(self.months, month) {
            return false;
        }
        let dom = has(self.days_of_month, day);
        let dow = has(self.days_of_week, weekday);
        match (self.dom_unrestricted, self.dow_unrestricted) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    pub fn matches_time(&self, hour: u32, minute: u32) -> bool {
        has(self.hours, hour) && has(self.minutes, minute)
    }

    /// The values of one field's set, ascending (for tests and diagnostics).
    pub fn values(set: u64) -> Vec<u32> {
        (0..64).filter(|v| has(set, *v)).collect()
    }
}

/// Parse an expression; the error is the text after `invalid schedule.cron: `.
pub fn parse(expr: &str) -> Result<CronExpr, String> {
    let trimmed = expr.trim();
    let parts: Vec<&str> = trimmed.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "cron expression must have exactly 5 fields (min hour dom mon dow); got {}: \"{trimmed}\"",
            parts.len()
        ));
    }
    let mut sets = [0u64; 5];
    for (i, (field, tok)) in FIELDS.iter().zip(&parts).enumerate() {
        sets[i] = parse_field(field, tok)?;
    }
    Ok(CronExpr {
        minutes: sets[0],
        hours: sets[1],
        days_of_month: sets[2],
        months: sets[3],
        days_of_week: sets[4],
        dom_unrestricted: parts[2] == "*",
        dow_unrestricted: parts[4] == "*",
    })
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A digit string as a number; overflow saturates (and is then out of range).
fn number(s: &str) -> u64 {
    s.parse::<u64>().unwrap_or(u64::MAX)
}

fn parse_field(f: &Field, tok: &str) -> Result<u64, String> {
    let mut set = 0u64;
    for raw in tok.split(',') {
        let el = raw.trim();
        if el.is_empty() {
            return Err(format!("cron {}: empty list element in \"{tok}\"", f.name));
        }
        set |= parse_element(f, tok, el)?;
    }
    Ok(set)
}

fn parse_element(f: &Field, tok: &str, el: &str) -> Result<u64, String> {
    let (part, step) = match el.split_once('/') {
        Some((part, step_text)) => {
            if !is_digits(step_text) {
                return Err(format!(
                    "cron {}: bad step \"/{step_text}\" in \"{tok}\"",
                    f.name
                ));
            }
            let step = number(step_text);
            if step == 0 {
                return Err(format!("cron {}: step must be >= 1 in \"{tok}\"", f.name));
            }
            (part, Some(step))
        }
        None => (el, None),
    };
    let (lo, hi) = bounds(f, tok, part, step.is_some())?;
    if lo < f.min || hi > f.max {
        return Err(format!(
            "cron {}: value out of range ({lo}-{hi}); allowed {}-{}",
            f.name, f.min, f.max
        ));
    }
    let step = step.unwrap_or(1);
    let mut set = 0u64;
    let mut v = lo;
    while v <= hi {
        set |= 1u64 << v;
        v = match v.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(set)
}

/// The inclusive `lo..hi` of one element's base part.
fn bounds(f: &Field, tok: &str, part: &str, stepped: bool) -> Result<(u64, u64), String> {
    if part == "*" {
        return Ok((f.min, f.max));
    }
    if part.contains('-') {
        let ends: Vec<&str> = part.split('-').collect();
        if ends.len() != 2 {
            return Err(format!(
                "cron {}: bad range \"{part}\" in \"{tok}\"",
                f.name
            ));
        }
        if !is_digits(ends[0]) || !is_digits(ends[1]) {
            return Err(format!(
                "cron {}: non-numeric range \"{part}\" in \"{tok}\"",
                f.name
            ));
        }
        let (a, b) = (number(ends[0]), number(ends[1]));
        if a > b {
            return Err(format!(
                "cron {}: descending range \"{part}\" in \"{tok}\"",
                f.name
            ));
        }
        return Ok((a, b));
    }
    if !is_digits(part) {
        return Err(format!(
            "cron {}: non-numeric value \"{part}\" in \"{tok}\"",
            f.name
        ));
    }
    let a = number(part);
    Ok((a, if stepped { f.max.max(a) } else { a }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(set: u64) -> Vec<u32> {
        CronExpr::values(set)
    }

    #[test]
    fn star_is_every_value_and_unrestricted() {
        let c = parse("* * * * *").unwrap();
        assert_eq!(vals(c.minutes).len(), 60);
        assert_eq!(vals(c.hours).len(), 24);
        assert_eq!(vals(c.days_of_month), (1..=31).collect::<Vec<_>>());
        assert_eq!(vals(c.months), (1..=12).collect::<Vec<_>>());
        assert_eq!(vals(c.days_of_week), (0..=6).collect::<Vec<_>>());
        assert!(c.dom_unrestricted && c.dow_unrestricted);
    }

    #[test]
    fn element_forms() {
        let c = parse("53 7 * * 1-5").unwrap();
        assert_eq!(vals(c.minutes), vec![53]);
        assert_eq!(vals(c.hours), vec![7]);
        assert_eq!(vals(c.days_of_week), vec![1, 2, 3, 4, 5]);
        assert!(c.dom_unrestricted && !c.dow_unrestricted);
        assert_eq!(
            vals(parse("*/15 * * * *").unwrap().minutes),
            vec![0, 15, 30, 45]
        );
        assert_eq!(vals(parse("0,30 * * * *").unwrap().minutes), vec![0, 30]);
        assert_eq!(
            vals(parse("0-30/10 * * * *").unwrap().minutes),
            vec![0, 10, 20, 30]
        );
        assert_eq!(
            vals(parse("0 5/2 * * *").unwrap().hours),
            (5..=23).step_by(2).collect::<Vec<_>>()
        );
        assert_eq!(vals(parse("5-10/20 * * * *").unwrap().minutes), vec![5]);
        assert_eq!(
            vals(parse("1,5-7,*/30 * * * *").unwrap().minutes),
            vec![0, 1, 5, 6, 7, 30]
        );
        // Leading zeros, tabs and runs of spaces, surrounding whitespace.
        let c = parse("  07\t 08   * * * ").unwrap();
        assert_eq!((vals(c.minutes), vals(c.hours)), (vec![7], vec![8]));
        // `*/1` counts as restricted.
        assert!(!parse("0 0 */1 * 1").unwrap().dom_unrestricted);
    }

    fn err(expr: &str) -> String {
        parse(expr).unwrap_err()
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(err("* * * *").contains("5 fields"), "{}", err("* * * *"));
        assert!(err("* * * * * *").contains("got 6"));
        assert!(err("").contains("got 0"));
        assert!(err("60 * * * *").contains("out of range"));
        assert!(err("0 24 * * *").contains("cron hour: value out of range (24-24); allowed 0-23"));
        assert!(err("0 0 * * 7").contains("day-of-week: value out of range"));
        assert!(err("0 0 0 * *").contains("day-of-month: value out of range"));
        assert!(err("0 0 * 13 *").contains("month: value out of range"));
        assert!(err("99999999999999999999999 * * * *").contains("out of range"));
        assert_eq!(
            err("0 0 * * MON"),
            "cron day-of-week: non-numeric value \"MON\" in \"MON\""
        );
        assert!(err("0 0 * JAN *").contains("non-numeric"));
        assert_eq!(
            err("0 9-5 * * *"),
            "cron hour: descending range \"9-5\" in \"9-5\""
        );
        assert!(err("*/0 * * * *").contains("step must be >= 1"));
        assert_eq!(
            err("*/x * * * *"),
            "cron minute: bad step \"/x\" in \"*/x\""
        );
        assert!(err("1/2/3 * * * *").contains("bad step \"/2/3\""));
        assert_eq!(err("0 , * * *"), "cron hour: empty list element in \",\"");
        assert!(err("1,,2 * * * *").contains("empty list element"));
        assert!(err("1-2-3 * * * *").contains("bad range"));
        assert!(err("-5 * * * *").contains("non-numeric range"));
        assert!(err("a-b * * * *").contains("non-numeric range"));
        assert!(err("+5 * * * *").contains("non-numeric value"));
        assert!(err("@daily").contains("5 fields"));
        assert!(err("? * * * *").contains("non-numeric"));
        assert!(
            parse("50/5 * * 1-12/13 *").is_ok(),
            "a step beyond the span is fine"
        );
    }

    #[test]
    fn dom_dow_union_rule() {
        let both = parse("0 0 13 * 5").unwrap();
        assert!(both.matches_date(2, 13, 2)); // the 13th, a Tuesday
        assert!(both.matches_date(2, 6, 5)); // a Friday, not the 13th
        assert!(!both.matches_date(2, 7, 6));
        let dom_only = parse("0 0 13 * *").unwrap();
        assert!(!dom_only.matches_date(2, 6, 5));
        let dow_only = parse("0 0 * * 5").unwrap();
        assert!(!dow_only.matches_date(2, 13, 2));
        let every = parse("0 0 */1 * 1").unwrap();
        assert!(every.matches_date(3, 4, 3), "union with every day of month");
        assert!(!parse("0 0 * 2 *").unwrap().matches_date(3, 1, 0));
        assert!(parse("30 7 * * *").unwrap().matches_time(7, 30));
        assert!(!parse("30 7 * * *").unwrap().matches_time(7, 31));
    }
}
