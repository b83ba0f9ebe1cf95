//! Random identifiers from the operating system's CSPRNG: opaque tokens (base64url, no
//! padding — spec 01 §4/§5.3) and UUID v4 strings.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// `n` random bytes. Panics only if the OS has no entropy source, which a daemon cannot
/// run without anyway.
pub fn bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::getrandom(&mut buf).expect("OS random source unavailable");
    buf
}

/// An opaque token of `n` random bytes, base64url without padding (32 bytes → 43 chars).
pub fn token(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(bytes(n))
}

/// A random UUID v4 in its usual hyphenated lower-case form.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_shape() {
        let t = super::token(32);
        assert_eq!(t.len(), 43);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(t, super::token(32));
        assert_eq!(super::uuid().len(), 36);
    }
}
