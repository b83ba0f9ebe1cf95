//! Small shared helpers with no knowledge of the product: time stamps, atomic file
//! writes, random tokens, constant-time comparison, outbound HTTP buffer sizes, embedded-file bundles. Everything here is pure or touches
//! only the file it is given.

pub mod backoff;
pub mod embed;
pub mod fsx;
pub mod http_client;
pub mod rand;
pub mod time;

/// Constant-time equality for secrets (webhook secrets, local tokens). Length mismatch and
/// empty inputs never match (spec 02 §3.3: an empty configured or presented secret never
/// matches).
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    if a.is_empty() || b.is_empty() || a.len() != b.len() {
        return false;
    }
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::secret_eq;

    #[test]
    fn secret_eq_rules() {
        assert!(secret_eq(b"abc", b"abc"));
        assert!(!secret_eq(b"abc", b"abd"));
        assert!(!secret_eq(b"abc", b"abcd"));
        assert!(!secret_eq(b"", b""));
    }
}
