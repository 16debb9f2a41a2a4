//! Legacy MessageBird `MessageBird-Signature-JWT` (docs/providers/messagebird.md).
//!
//! Scheme, from the reference implementation `messagebird/go-rest-api@e0a41ed5af761d3bf62a0cafb918cd90b5834d02:
//! signature_jwt/{signature.go,claims.go}` and its 43-case `testdata/reference.json`:
//!
//! * a JWT whose HMAC key is the signing key's UTF-8 bytes; `alg` ∈ {`HS256`, `HS384`, `HS512`}
//!   ("We only allow symmetric-key algorithms", `allowedMethods`); `none` and everything else
//!   are refused (reference case "none alg");
//! * `iss` must be `"MessageBird"`; `jti` must be non-empty;
//! * `nbf` and `exp` (unix seconds, 60 s apart in the vectors) are checked with a skew of one
//!   second (`maxSkew = 1 * time.Second`): accepted while `nbf - 1 <= now <= exp + 1`, in whole
//!   seconds (Go compares `time.Unix(nbf, now.Nanosecond())`, i.e. the seconds only). A missing
//!   `nbf` reads as 0 in Go (always passed); a missing `exp` reads as 0 (always expired);
//! * `url_hash` = SHA-256 hex of the full URL exactly as called (query included and not
//!   re-ordered: reference case "parameters were sorted out of order");
//! * `payload_hash` = SHA-256 hex of the body; it must be absent (or empty) when the body is
//!   empty and present otherwise (reference cases "payload was removed/added in transit").
//!
//! The HTTP method is not signed: the reference signs one token that is valid for `DELETE`,
//! `GET`, `PATCH`, `POST` and `PUT` alike.

use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::crypto::sha256_hex;
use crate::error::WebhookError;
pub use crate::jwt::Algorithm;
use crate::jwt::{self, NonStringAlg, Profile};
use crate::secret::{constant_time_eq, Secret};
use crate::time::Timestamp;

/// The header that carries the token.
pub const HEADER: &str = "messagebird-signature-jwt";

/// The only accepted issuer (`claims.go`: `c.Issuer != "MessageBird"` is an error).
const ISSUER: &str = "MessageBird";

/// `maxSkew` of `claims.go`.
pub const MAX_SKEW_SECONDS: i64 = 1;

/// How long a token made by [`sign_jwt`] is valid: `exp - nbf` in every reference token.
pub const VALIDITY_SECONDS: i64 = 60;

/// The accepted signing algorithms (`allowedMethods` of `signature.go`). golang-jwt reads an
/// `alg` that is not a string as no method at all.
const PROFILE: Profile = Profile {
    algorithms: &[Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512],
    secret_name: "signing key",
    non_string_alg: NonStringAlg::NoneGiven,
    refuse_critical: false,
};

/// The claims of a MessageBird token, as the reference implementation reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub algorithm: Algorithm,
    pub issuer: Option<String>,
    /// `nbf`, unix seconds.
    pub not_before: Option<i64>,
    /// `exp`, unix seconds.
    pub expires: Option<i64>,
    pub jti: Option<String>,
    pub url_hash: Option<String>,
    /// `None` also for an empty string (Go's `omitempty` string reads `""` as unset).
    pub payload_hash: Option<String>,
}

fn invalid(reason: &str) -> WebhookError {
    WebhookError::InvalidSignature(reason.to_owned())
}

fn text_claim(object: &Map<String, Json>, name: &str) -> Result<Option<String>, WebhookError> {
    match object.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(text)) if text.is_empty() => Ok(None),
        Some(Json::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(&format!("JWT claim `{name}` is not a string"))),
    }
}

/// An `int64` claim as Go's `encoding/json` reads it: a JSON integer (no fraction, no exponent).
fn seconds_claim(object: &Map<String, Json>, name: &str) -> Result<Option<i64>, WebhookError> {
    match object.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(number)) => number
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(&format!("JWT claim `{name}` is not whole seconds"))),
        Some(_) => Err(invalid(&format!("JWT claim `{name}` is not a number"))),
    }
}

/// Checks a token's form, algorithm and HMAC against every secret (rotation; each compared in
/// constant time, no early exit) and returns its claims. Claims are not judged here.
pub fn verify_token_signature(token: &str, secrets: &[Secret]) -> Result<Claims, WebhookError> {
    let verified = jwt::verify(token, secrets, &PROFILE)?;
    let claims = &verified.claims;
    Ok(Claims {
        algorithm: verified.algorithm,
        issuer: text_claim(claims, "iss")?,
        not_before: seconds_claim(claims, "nbf")?,
        expires: seconds_claim(claims, "exp")?,
        jti: text_claim(claims, "jti")?,
        url_hash: text_claim(claims, "url_hash")?,
        payload_hash: text_claim(claims, "payload_hash")?,
    })
}

/// The full check of a `MessageBird-Signature-JWT` token for a request to `url` with `body`,
/// received at `now`: the signature ([`verify_token_signature`]), then every claim rule of the
/// reference implementation (module docs). Returns the claims; `jti` is then always present.
///
/// `method` is accepted for the shape of the reference cases and ignored: it is not signed.
pub fn verify_signature_jwt(
    _method: &str,
    url: &str,
    body: &[u8],
    token: &str,
    secrets: &[Secret],
    now: Timestamp,
) -> Result<Claims, WebhookError> {
    let claims = verify_token_signature(token, secrets)?;
    if claims.issuer.as_deref() != Some(ISSUER) {
        return Err(invalid("JWT claim `iss` is not MessageBird"));
    }
    let now_seconds = now.unix_seconds();
    // Go: a missing `nbf` is 0, which every real `now` is after.
    let not_before = claims.not_before.unwrap_or(0);
    if now_seconds < not_before.saturating_sub(MAX_SKEW_SECONDS) {
        return Err(WebhookError::TimestampOutOfTolerance(format!(
            "nbf {not_before}"
        )));
    }
    let expires = claims
        .expires
        .ok_or(WebhookError::MissingSignedField("exp"))?;
    if now_seconds > expires.saturating_add(MAX_SKEW_SECONDS) {
        return Err(WebhookError::TimestampOutOfTolerance(format!(
            "exp {expires}"
        )));
    }
    if claims.jti.is_none() {
        return Err(WebhookError::MissingSignedField("jti"));
    }
    // Exact string equality, as `claims.go` compares (lower-case hex).
    let url_hash = claims
        .url_hash
        .as_deref()
        .ok_or(WebhookError::MissingSignedField("url_hash"))?;
    if !constant_time_eq(url_hash.as_bytes(), sha256_hex(url.as_bytes()).as_bytes()) {
        return Err(invalid("JWT claim `url_hash` does not match the URL"));
    }
    match (&claims.payload_hash, body.is_empty()) {
        (None, true) => {}
        // "claim payload_hash is set but actual payload is missing".
        (Some(_), true) => return Err(WebhookError::PayloadHashMismatch),
        // "claim payload_hash is not set but payload is present".
        (None, false) => return Err(WebhookError::MissingSignedField("payload_hash")),
        (Some(claimed), false) => {
            if !constant_time_eq(claimed.as_bytes(), sha256_hex(body).as_bytes()) {
                return Err(WebhookError::PayloadHashMismatch);
            }
        }
    }
    Ok(claims)
}

/// A token as MessageBird would send it for a request to `url` with `body` at `now`: HS256,
/// claims `iss`, `nbf` = now, `exp` = now + 60 s, `jti` (a UUID-shaped digest of URL, body and
/// `now`, so signing is deterministic), `url_hash` and, for a non-empty body, `payload_hash`.
pub fn sign_jwt(url: &str, body: &[u8], secret: &Secret, now: Timestamp) -> String {
    let now_seconds = now.unix_seconds();
    let digest = Sha256::new()
        .chain_update(url.as_bytes())
        .chain_update([0])
        .chain_update(Sha256::digest(body))
        .chain_update(now_seconds.to_string())
        .finalize();
    let id = hex::encode(&digest[..16]);
    let mut claims = json!({
        "iss": ISSUER,
        "nbf": now_seconds,
        "exp": now_seconds.saturating_add(VALIDITY_SECONDS),
        "jti": format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]),
        "url_hash": sha256_hex(url.as_bytes()),
    });
    if !body.is_empty() {
        claims["payload_hash"] = Json::String(sha256_hex(body));
    }
    jwt::sign(Algorithm::Hs256, &claims, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://example.com/";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    #[test]
    fn signed_tokens_verify_within_the_window_and_skew_only() {
        let secret = Secret::new("key");
        let token = sign_jwt(URL, b"", &secret, at(1_000));
        let verify =
            |now| verify_signature_jwt("GET", URL, b"", &token, std::slice::from_ref(&secret), now);
        for ok in [999, 1_000, 1_060, 1_061] {
            assert!(verify(at(ok)).is_ok(), "{ok}");
        }
        // The skew is compared in whole seconds, as Go does.
        assert!(verify(Timestamp::from_millis(998_999)).is_err());
        assert!(verify(Timestamp::from_millis(1_061_999)).is_ok());
        for late_or_early in [998, 1_062] {
            assert!(matches!(
                verify(at(late_or_early)),
                Err(WebhookError::TimestampOutOfTolerance(_))
            ));
        }
    }

    #[test]
    fn payload_hash_presence_follows_the_body() {
        let secret = Secret::new("key");
        let with_body = sign_jwt(URL, b"x", &secret, at(0));
        let without = sign_jwt(URL, b"", &secret, at(0));
        let check = |token: &str, body: &[u8]| {
            verify_signature_jwt(
                "POST",
                URL,
                body,
                token,
                std::slice::from_ref(&secret),
                at(0),
            )
        };
        assert!(check(&with_body, b"x").is_ok());
        assert!(check(&without, b"").is_ok());
        assert_eq!(
            check(&with_body, b"").err(),
            Some(WebhookError::PayloadHashMismatch)
        );
        assert_eq!(
            check(&without, b"x").err(),
            Some(WebhookError::MissingSignedField("payload_hash"))
        );
        assert_eq!(
            check(&with_body, b"y").err(),
            Some(WebhookError::PayloadHashMismatch)
        );
    }

    #[test]
    fn refuses_malformed_tokens_without_panicking() {
        let secrets = [Secret::new("key")];
        for token in ["", ".", "..", "a.b", "a.b.c.d", "e30.e30.", "!!.!!.!!"] {
            assert!(
                verify_signature_jwt("GET", URL, b"", token, &secrets, at(0)).is_err(),
                "{token}"
            );
        }
    }
}
