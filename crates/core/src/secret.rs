//! Secrets and constant-time comparison.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret string (signing key, auth token). `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Parses a comma-separated list (rotation: any one may match). Blank entries are dropped,
    /// so an empty or all-blank value gives an empty list, which callers treat as "not
    /// configured".
    pub fn parse_list(value: &str) -> Vec<Secret> {
        value
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Secret::new)
            .collect()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Constant-time equality of two byte strings, lengths included: the time taken does not depend
/// on where they differ, nor (both are hashed first) on how long the expected value is.
pub fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(expected);
    bool::from(presented.as_slice().ct_eq(expected.as_slice()))
}

/// Whether `presented` equals any of `accepted`, each compared in constant time. Every entry is
/// compared (no early exit), so timing does not reveal which one matched.
pub fn matches_any(presented: &str, accepted: &[Secret]) -> bool {
    accepted.iter().fold(false, |found, secret| {
        found | constant_time_eq(presented.as_bytes(), secret.expose().as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rotation_lists() {
        let list = Secret::parse_list(" a , ,b,");
        assert_eq!(list, vec![Secret::new("a"), Secret::new("b")]);
        assert!(Secret::parse_list(" , ").is_empty());
    }

    #[test]
    fn debug_never_shows_the_value() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }

    #[test]
    fn compares_whole_values_including_length() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"token2"));
        assert!(!constant_time_eq(b"toke", b"token"));
        assert!(!constant_time_eq(b"", b"token"));
        let accepted = Secret::parse_list("one,two");
        assert!(matches_any("two", &accepted));
        assert!(!matches_any("three", &accepted));
        assert!(!matches_any("two", &[]));
    }
}
