//! The deprecated legacy MessageBird HMAC scheme: `MessageBird-Signature` +
//! `MessageBird-Request-Timestamp` (docs/providers/messagebird.md, vectors `messagebird-legacy-*`).
//!
//! From `messagebird/go-rest-api@e0a41ed5af761d3bf62a0cafb918cd90b5834d02:signature/signature.go`:
//! `base64(HMAC-SHA256(key, timestamp + "\n" + query + "\n" + SHA-256(body) as raw 32 bytes))`,
//! where `query` is the request's raw query parsed and re-encoded by Go's
//! `url.Values.Encode()` (keys sorted, [`go_query_encode`]). The timestamp is unix seconds.
//!
//! The SDK's window was a configurable `Period` (±2.5 s in its tests, docs/providers/messagebird.md);
//! Switchboard uses `SIGNATURE_TOLERANCE_SECONDS` instead, like every other signed timestamp.
//! The URL's scheme, host and path are **not** signed by this scheme.

use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, Engine as _};
use hmac::Hmac;
use sha2::{Digest, Sha256};

use crate::crypto::{hmac, matches_any_tag};
use crate::error::WebhookError;
use crate::secret::Secret;
use crate::time::Timestamp;

pub const SIGNATURE_HEADER: &str = "messagebird-signature";
pub const TIMESTAMP_HEADER: &str = "messagebird-request-timestamp";

/// Standard base64, padding optional on input.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; a malformed escape (fewer than two
/// characters after `%`, or one that is not a hex digit: `ishex` of `net/url`) is an error.
fn go_query_unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                // Two hex digits: `from_str_radix` alone would also take a sign (`%+1`).
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            other => {
                out.push(other);
                index += 1;
            }
        }
    }
    Some(out)
}

/// Go's `url.QueryEscape`: unreserved bytes (`A-Z a-z 0-9 - _ . ~`) kept, space as `+`, every
/// other byte `%XX` in upper case.
fn go_query_escape(bytes: &[u8], out: &mut String) {
    for &byte in bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

/// A raw query as Go's `url.ParseQuery` (Go ≥ 1.17) reads it: pairs split on `&`, empty pairs
/// skipped, `+` and `%XX` decoded, in order. A pair holding `;` or with a malformed escape is
/// dropped (Go returns it as an error beside the values, and `signature.go` ignores that error),
/// and counted in `dropped`.
struct GoQuery {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    dropped: usize,
}

fn go_parse_query(raw_query: &str) -> GoQuery {
    let mut query = GoQuery {
        pairs: Vec::new(),
        dropped: 0,
    };
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = if pair.contains(';') {
            None
        } else {
            go_query_unescape(key).zip(go_query_unescape(value))
        };
        match decoded {
            Some(decoded) => query.pairs.push(decoded),
            None => query.dropped += 1,
        }
    }
    query
}

/// `url.Values.Encode()` of Go: `key=value` pairs, keys sorted by bytes, values of one key in
/// their original order.
fn go_encode(mut pairs: Vec<(Vec<u8>, Vec<u8>)>) -> String {
    // Stable: the values of one key keep their order.
    pairs.sort_by(|left, right| left.0.cmp(&right.0));
    let mut out = String::new();
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        go_query_escape(key, &mut out);
        out.push('=');
        go_query_escape(value, &mut out);
    }
    out
}

/// `url.Parse("?" + raw).Query().Encode()` of Go: the signed form of a raw query
/// ([`go_parse_query`], then [`go_encode`]). Pairs Go drops are not in it.
pub fn go_query_encode(raw_query: &str) -> String {
    go_encode(go_parse_query(raw_query).pairs)
}

/// The query's parameters exactly as the signed string holds them, read by the parse that made
/// it ([`go_parse_query`]; bytes that are not UTF-8 become U+FFFD), in order.
///
/// A query with a pair Go drops is refused: that pair is not signed, and another parser (the
/// WHATWG one of `form_urlencoded`, which keeps `a=1;` and `%zz`) would read it.
pub fn signed_query_params(raw_query: &str) -> Result<Vec<(String, String)>, WebhookError> {
    let query = go_parse_query(raw_query);
    if query.dropped > 0 {
        return Err(unsigned_parameters());
    }
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Ok(query
        .pairs
        .into_iter()
        .map(|(key, value)| (text(key), text(value)))
        .collect())
}

fn unsigned_parameters() -> WebhookError {
    WebhookError::UnsignedContent("query parameters holding `;` or a malformed `%` escape")
}

/// The bytes that are MACed.
pub fn signed_bytes(timestamp: &str, raw_query: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(go_query_encode(raw_query).as_bytes());
    message.push(b'\n');
    message.extend_from_slice(&Sha256::digest(body));
    message
}

/// The `MessageBird-Signature` value for these inputs (standard base64).
pub fn signature(key: &Secret, timestamp: &str, raw_query: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac::<Hmac<Sha256>>(
        key.expose().as_bytes(),
        &signed_bytes(timestamp, raw_query, body),
    ))
}

/// The full check: the signature against every secret (constant time, no early exit), then the
/// timestamp (unix seconds) within `tolerance_seconds` of `now`, then that the signed string
/// holds every parameter of the query ([`signed_query_params`]).
pub fn verify(
    signature: &str,
    timestamp: &str,
    raw_query: &str,
    body: &[u8],
    secrets: &[Secret],
    tolerance_seconds: u32,
    now: Timestamp,
) -> Result<(), WebhookError> {
    let presented = BASE64_LENIENT.decode(signature.trim()).map_err(|_| {
        WebhookError::InvalidSignature("`MessageBird-Signature` is not base64".into())
    })?;
    let message = signed_bytes(timestamp, raw_query, body);
    let expected = secrets
        .iter()
        .map(|secret| hmac::<Hmac<Sha256>>(secret.expose().as_bytes(), &message));
    if !matches_any_tag(&presented, expected) {
        return Err(WebhookError::InvalidSignature(
            "`MessageBird-Signature` matches no configured signing key".into(),
        ));
    }
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| WebhookError::TimestampOutOfTolerance(timestamp.chars().take(32).collect()))?;
    if !Timestamp::from_unix_seconds(seconds).within(now, tolerance_seconds) {
        return Err(WebhookError::TimestampOutOfTolerance(seconds.to_string()));
    }
    signed_query_params(raw_query).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_encoding_sorts_keys_and_normalizes_escapes() {
        assert_eq!(go_query_encode("def=bar&abc=foo"), "abc=foo&def=bar");
        assert_eq!(go_query_encode(""), "");
        assert_eq!(go_query_encode("b=2&a=x+y&a=%41*"), "a=x+y&a=A%2A&b=2");
        assert_eq!(go_query_encode("flag&&z=~"), "flag=&z=~");
        // Dropped like Go's ParseQuery: `;` and bad escapes.
        assert_eq!(go_query_encode("a=1;b=2&c=%zz&d=%4"), "");
        assert_eq!(go_query_encode("k=%E2%82%AC"), "k=%E2%82%AC");
    }

    #[test]
    fn signed_parameters_are_the_ones_go_keeps_or_the_query_is_refused() {
        assert_eq!(
            signed_query_params("b=x+y&a=%41&flag&&k=%E2%82%AC&bad=%FF"),
            Ok(vec![
                ("b".into(), "x y".into()),
                ("a".into(), "A".into()),
                ("flag".into(), String::new()),
                ("k".into(), "€".into()),
                ("bad".into(), "\u{fffd}".into()),
            ])
        );
        assert_eq!(signed_query_params(""), Ok(Vec::new()));
        for unsigned in [
            "a=1&b=2;", "a=1;b=2", "a=%zz", "a=1&b=%4", "%g1=1", "a=%+1", "a;",
        ] {
            assert_eq!(
                signed_query_params(unsigned),
                Err(unsigned_parameters()),
                "{unsigned}"
            );
        }
    }
}
