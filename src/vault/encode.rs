//! Encodings of the vault wire contract (spec 02 §0): a note id, path or tag name placed in a
//! URL path segment is encoded like JavaScript `encodeURIComponent` (so `Threads/eng/eng` →
//! `Threads%2Feng%2Feng`); query strings are `application/x-www-form-urlencoded` in insertion
//! order (`/` → `%2F`, space → `+`), like JavaScript `URLSearchParams`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Bytes `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// JavaScript `encodeURIComponent` (uppercase hex, every other UTF-8 byte escaped).
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// `URLSearchParams` serialisation of `pairs`, in the given order.
pub fn form_query(pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_component_matches_javascript() {
        assert_eq!(
            encode_uri_component("Threads/eng/eng"),
            "Threads%2Feng%2Feng"
        );
        assert_eq!(encode_uri_component("agent/message"), "agent%2Fmessage");
        assert_eq!(encode_uri_component("a b+c#d?e&f"), "a%20b%2Bc%23d%3Fe%26f");
        assert_eq!(encode_uri_component("-_.!~*'()"), "-_.!~*'()");
        assert_eq!(encode_uri_component("é"), "%C3%A9");
        assert_eq!(
            encode_uri_component("2026-06-08-14-03-11-123456"),
            "2026-06-08-14-03-11-123456"
        );
    }

    #[test]
    fn query_matches_url_search_params() {
        let q = form_query(&[
            ("tag", "agent/message"),
            ("include_content", "true"),
            ("limit", "800"),
            ("x", "a b"),
        ]);
        assert_eq!(
            q,
            "tag=agent%2Fmessage&include_content=true&limit=800&x=a+b"
        );
    }
}
