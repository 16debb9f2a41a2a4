//! The cryptographic helpers the provider modules share: an HMAC tag, a constant-time check of a
//! presented signature against every expected tag, and the SHA-256 hex of some bytes.
//!
//! Each scheme's own rules (what is signed, which algorithm, how the signature is encoded) stay
//! in its provider module; only the primitives live here.

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::secret::constant_time_eq;

/// The HMAC of `message` under `key`, with the MAC `M` (e.g. `Hmac<Sha256>`). HMAC accepts keys
/// of any length (RFC 2104 §2), so `new_from_slice` cannot fail; were it to, the empty tag would
/// match no signature.
pub fn hmac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    <M as KeyInit>::new_from_slice(key).map_or_else(
        |_| Vec::new(),
        |mut mac| {
            Mac::update(&mut mac, message);
            mac.finalize().into_bytes().to_vec()
        },
    )
}

/// Whether `presented` equals any of the `expected` tags (one per secret, message variant, …).
/// Every tag is computed and compared in constant time ([`constant_time_eq`]), with no early
/// exit, so timing reveals neither whether nor which one matched.
pub fn matches_any_tag<T: AsRef<[u8]>>(
    presented: &[u8],
    expected: impl IntoIterator<Item = T>,
) -> bool {
    expected.into_iter().fold(false, |matched, tag| {
        matched | constant_time_eq(presented, tag.as_ref())
    })
}

/// SHA-256 of `bytes` as lower-case hex (64 digits).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use hmac::Hmac;
    use sha1::Sha1;

    use super::*;

    #[test]
    fn hmac_matches_rfc_2202_and_4231() {
        // RFC 2202 §3, test case 2 (HMAC-SHA1).
        assert_eq!(
            hex::encode(hmac::<Hmac<Sha1>>(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // RFC 4231 §4.3, test case 2 (HMAC-SHA256).
        assert_eq!(
            hex::encode(hmac::<Hmac<Sha256>>(
                b"Jefe",
                b"what do ya want for nothing?"
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn any_tag_may_match_and_none_is_no_match() {
        assert!(matches_any_tag(b"b", [b"a", b"b"]));
        assert!(!matches_any_tag(b"c", [b"a", b"b"]));
        assert!(!matches_any_tag(b"", [b"a"]));
        assert!(!matches_any_tag(b"a", Vec::<Vec<u8>>::new()));
    }

    #[test]
    fn sha256_hex_is_lower_case() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
