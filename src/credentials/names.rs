//! Env-var name rules of the credentials store (spec 04 §2.3): the denylist of names that
//! control Claude auth/billing, the `^[A-Za-z_][A-Za-z0-9_]*$` shape, and the
//! `localeCompare`-like order the reference uses for name lists (spec 04 §6.8).

use std::cmp::Ordering;

/// Names that may never be stored or injected: they control Claude auth / billing.
pub const DENYLIST: [&str; 3] = [
    "ANTHROPIC_API_KEY",
    "CLAUDE_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

pub fn is_denylisted(name: &str) -> bool {
    DENYLIST.contains(&name)
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`.
pub fn name_shape_ok(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `DenylistedEnvError` text (spec 04 §2.3).
pub fn denylisted_message(name: &str) -> String {
    format!(
        "env var \"{name}\" is not settable here: it controls Claude auth / billing \
         (ANTHROPIC_API_KEY, CLAUDE_API_KEY, CLAUDE_CODE_OAUTH_TOKEN are reserved by the \
         managed subscription-billing path). Set the Claude credential via POST \
         /api/credentials/claude instead."
    )
}

/// The warning logged when a hand-planted denylisted name is dropped at injection.
pub fn denylisted_warning(name: &str) -> String {
    format!(
        "parachute-agent: refusing to inject denylisted env var \"{name}\" from the channel \
         env store (it controls Claude auth/billing) — skipping. Remove it from credentials.json."
    )
}

/// Order of JavaScript `localeCompare` for names made of `[A-Za-z0-9_-]` (spec 04 §6.8):
/// `_` < `-` < digits < letters; letters case-insensitively first, lower case before
/// upper case on a tie. Other characters fall back to byte order after those classes.
pub fn locale_cmp(a: &str, b: &str) -> Ordering {
    fn primary(c: u8) -> (u8, u8) {
        match c {
            b'_' => (0, 0),
            b'-' => (1, 0),
            b'0'..=b'9' => (2, c),
            b'a'..=b'z' | b'A'..=b'Z' => (3, c.to_ascii_lowercase()),
            _ => (4, c),
        }
    }
    let primary_order = a.bytes().map(primary).cmp(b.bytes().map(primary));
    primary_order.then_with(|| {
        // Tie on letters ignoring case: lower case first, position by position.
        let tertiary = |c: u8| u8::from(c.is_ascii_uppercase());
        a.bytes().map(tertiary).cmp(b.bytes().map(tertiary))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        for ok in ["A", "_", "GH_TOKEN", "a1", "_9", "PATH"] {
            assert!(name_shape_ok(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "Ä", "A=B", "A.B"] {
            assert!(!name_shape_ok(bad), "{bad}");
        }
        assert!(is_denylisted("CLAUDE_CODE_OAUTH_TOKEN"));
        assert!(!is_denylisted("claude_api_key"));
    }

    #[test]
    fn locale_order() {
        let mut v = vec!["b", "AB", "A_B", "a", "A", "a-b", "9", "_x", "Z"];
        v.sort_by(|a, b| locale_cmp(a, b));
        assert_eq!(v, ["_x", "9", "a", "A", "A_B", "a-b", "AB", "b", "Z"]);
    }
}
