//! The pure parts of the terminal protocol (spec 06 §2.3 step 4, §2.5): the initial
//! geometry from the query, and what a client text frame means.

use serde_json::Value;

/// Largest accepted column or row count.
pub const MAX_DIM: u16 = 9999;
pub const DEFAULT_COLS: u16 = 80;
pub const DEFAULT_ROWS: u16 = 24;

/// `cols`/`rows` query value: parsed as a leading integer (JavaScript `parseInt`: leading
/// white space, an optional sign, digits); missing, non-numeric or < 1 → `default`;
/// > 9999 → 9999.
pub fn query_dim(value: Option<&str>, default: u16) -> u16 {
    let Some(v) = value else { return default };
    let v = v.trim_start();
    let (negative, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let digits: &str = &digits[..digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len())];
    if digits.is_empty() || negative {
        return default;
    }
    // Any run of digits longer than 4 that is not all zeros is > 9999.
    let significant = digits.trim_start_matches('0');
    match significant.len() {
        0 => default,
        1..=4 => significant
            .parse::<u16>()
            .map_or(default, |n| n.min(MAX_DIM)),
        _ => MAX_DIM,
    }
}

/// What a client text frame asks for.
#[derive(Debug, PartialEq)]
pub enum TextFrame {
    Resize {
        cols: u16,
        rows: u16,
    },
    /// Anything else is written to the pty as input (fail-safe, forward-compatible).
    Input,
}

/// `{"type":"resize","cols":n,"rows":n}` with finite JSON numbers → a resize to
/// `clamp(floor(n), 1, 9999)`; everything else is input.
pub fn classify_text(text: &str) -> TextFrame {
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) else {
        return TextFrame::Input;
    };
    if o.get("type").and_then(Value::as_str) != Some("resize") {
        return TextFrame::Input;
    }
    let dim = |k: &str| o.get(k).and_then(Value::as_f64).map(clamp_dim);
    match (dim("cols"), dim("rows")) {
        (Some(cols), Some(rows)) => TextFrame::Resize { cols, rows },
        _ => TextFrame::Input,
    }
}

fn clamp_dim(x: f64) -> u16 {
    x.floor().clamp(1.0, f64::from(MAX_DIM)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_dims_follow_parse_int_and_the_clamps() {
        assert_eq!(query_dim(None, 80), 80);
        assert_eq!(query_dim(Some("120"), 80), 120);
        assert_eq!(query_dim(Some(" 42abc"), 80), 42);
        assert_eq!(query_dim(Some("+7"), 80), 7);
        assert_eq!(query_dim(Some("abc"), 80), 80);
        assert_eq!(query_dim(Some(""), 24), 24);
        assert_eq!(query_dim(Some("0"), 24), 24);
        assert_eq!(query_dim(Some("-5"), 24), 24);
        assert_eq!(query_dim(Some("10000"), 24), 9999);
        assert_eq!(query_dim(Some("99999999999999999999"), 24), 9999);
        assert_eq!(query_dim(Some("0009999"), 24), 9999);
        assert_eq!(query_dim(Some("00012"), 24), 12);
        assert_eq!(query_dim(Some("1.9"), 24), 1);
    }

    #[test]
    fn only_well_formed_resize_objects_resize() {
        assert_eq!(
            classify_text(r#"{"type":"resize","cols":100,"rows":30}"#),
            TextFrame::Resize {
                cols: 100,
                rows: 30
            }
        );
        assert_eq!(
            classify_text(r#"{"type":"resize","cols":100.9,"rows":0}"#),
            TextFrame::Resize { cols: 100, rows: 1 }
        );
        assert_eq!(
            classify_text(r#"{"type":"resize","cols":-3,"rows":1e9}"#),
            TextFrame::Resize {
                cols: 1,
                rows: 9999
            }
        );
        for input in [
            "ls -la\r",
            "42",
            "[1,2]",
            r#"{"type":"resize","cols":"100","rows":30}"#,
            r#"{"type":"resize","cols":100}"#,
            r#"{"type":"other","cols":100,"rows":30}"#,
            r#"{"cols":100,"rows":30}"#,
            "{not json",
        ] {
            assert_eq!(classify_text(input), TextFrame::Input, "{input}");
        }
    }
}
