//! Splitting outbound text into Telegram-sized messages (spec 05 §6.8). Lengths are
//! counted in UTF-16 code units, as Telegram and the reference count them. [ext] A hard
//! break never cuts inside a character (the reference can split a surrogate pair).

/// Telegram's limit for one `sendMessage` text.
pub const MAX_MESSAGE: usize = 4096;

/// Splits `text` into chunks of at most `max` UTF-16 units, preferring the last newline
/// in the back half of each window (the newline itself is consumed).
pub fn chunk(text: &str, max: usize) -> Vec<String> {
    let max = max.max(2);
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let Some((hard, newline)) = window(rest, max) else {
            out.push(rest.to_string());
            return out;
        };
        let cut = match newline {
            Some((byte, units)) if units >= max / 2 => byte,
            _ => hard,
        };
        out.push(rest[..cut].to_string());
        rest = &rest[cut..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
}

/// `None` if `s` fits in `max` units; else the byte index of the hard break (the last
/// char boundary within `max` units) and the last newline at a unit index ≤ `max` as
/// (byte index, unit index).
fn window(s: &str, max: usize) -> Option<(usize, Option<(usize, usize)>)> {
    let mut units = 0usize;
    let mut hard = None;
    let mut newline = None;
    for (byte, c) in s.char_indices() {
        if units <= max && c == '\n' {
            newline = Some((byte, units));
        }
        let next = units + c.len_utf16();
        if next > max && hard.is_none() {
            hard = Some(byte);
        }
        if units > max {
            break;
        }
        units = next;
    }
    hard.map(|h| (h.max(first_char_len(s)), newline))
}

/// Guarantees progress when the first character alone exceeds the window.
fn first_char_len(s: &str) -> usize {
    s.chars().next().map_or(0, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(chunk("hello", MAX_MESSAGE), vec!["hello"]);
        assert_eq!(chunk("", MAX_MESSAGE), vec![""]);
        let exact = "a".repeat(MAX_MESSAGE);
        assert_eq!(chunk(&exact, MAX_MESSAGE), vec![exact.clone()]);
    }

    #[test]
    fn hard_breaks_at_the_limit() {
        let text = "a".repeat(10_000);
        let parts = chunk(&text, MAX_MESSAGE);
        let lens: Vec<usize> = parts.iter().map(String::len).collect();
        assert_eq!(lens, vec![4096, 4096, 1808]);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn newline_in_back_half_is_the_break_and_is_consumed() {
        let text = format!("{}\n{}", "x".repeat(3000), "y".repeat(3000));
        assert_eq!(
            chunk(&text, MAX_MESSAGE),
            vec!["x".repeat(3000), "y".repeat(3000)]
        );
    }

    #[test]
    fn newline_in_front_half_is_ignored() {
        let text = format!("{}\n{}", "x".repeat(100), "y".repeat(5000));
        let parts = chunk(&text, MAX_MESSAGE);
        assert_eq!(parts[0].encode_utf16().count(), 4096);
        assert!(parts[0].starts_with(&format!("{}\n", "x".repeat(100))));
    }

    #[test]
    fn newline_exactly_at_the_limit_is_used() {
        let text = format!("{}\n{}", "x".repeat(10), "y".repeat(5));
        assert_eq!(chunk(&text, 10), vec!["x".repeat(10), "y".repeat(5)]);
    }

    #[test]
    fn counts_utf16_units_and_never_splits_a_character() {
        // Each emoji is 2 UTF-16 units; 5 of them = 10 units; limit 7 → 3 emoji (6 units).
        let text = "😀".repeat(5);
        let parts = chunk(&text, 7);
        assert_eq!(parts, vec!["😀".repeat(3), "😀".repeat(2)]);
        let mixed = format!("{}é", "a".repeat(4095));
        assert_eq!(chunk(&mixed, MAX_MESSAGE), vec![mixed.clone()]);
    }
}
