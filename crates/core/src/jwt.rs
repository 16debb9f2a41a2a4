//! The JWS part of HMAC-signed JWTs (RFC 7515 compact serialization, RFC 7518 §3.2), those that
//! Vonage voice and MessageBird send and the browser tokens of [`access`](crate::access): split
//! the token into its three parts as received, read the header's `alg` against the algorithms
//! the caller accepts, check the HMAC over `header.payload` as received against every secret,
//! decode the claims object, and sign.
//!
//! What the claims mean (which are required, how times and hashes are judged) stays with each
//! caller: this module answers the claims as a JSON object, unjudged.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::Hmac;
use serde_json::{json, Map, Value as Json};
use sha2::{Sha256, Sha384, Sha512};

use crate::crypto::{hmac, matches_any_tag};
use crate::error::WebhookError;
use crate::secret::Secret;

/// Base64url, padding optional on input (golang-jwt's `DecodeSegment` pads before decoding),
/// none on output (RFC 7515 §2).
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HMAC signing algorithms (RFC 7518 §3.2). Which of them a token may use is the provider's
/// choice (`Profile::algorithms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Hs256,
    Hs384,
    Hs512,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    /// The algorithm of `alg` among `accepted`, compared exactly (`hs256` is no `HS256`).
    fn from_name(name: &str, accepted: &[Self]) -> Option<Self> {
        accepted
            .iter()
            .copied()
            .find(|algorithm| algorithm.name() == name)
    }

    fn tag(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Self::Hs256 => hmac::<Hmac<Sha256>>(key, message),
            Self::Hs384 => hmac::<Hmac<Sha384>>(key, message),
            Self::Hs512 => hmac::<Hmac<Sha512>>(key, message),
        }
    }
}

/// How a caller's tokens are checked, apart from their claims.
#[derive(Debug)]
pub(crate) struct Profile {
    /// The accepted `alg` values; every other one, `none` included, is refused with
    /// [`JwtError::UnsupportedAlgorithm`].
    pub algorithms: &'static [Algorithm],
    /// What the provider calls its secrets, in the refusal of a signature that matches none
    /// ("JWT signature matches no configured {secret_name}").
    pub secret_name: &'static str,
    /// How an `alg` that is present but not a string is named in the refusal.
    pub non_string_alg: NonStringAlg,
    /// Refuse a header with `crit`: RFC 7515 §4.1.11 has a recipient refuse extensions it does
    /// not understand, and this module understands none. Off where the provider's own
    /// verifier does not check it, so that Switchboard accepts what the provider sends.
    pub refuse_critical: bool,
}

/// The name given to an `alg` that is present but not a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonStringAlg {
    /// Its JSON text (cut short like any refused `alg`).
    Json,
    /// `(none given)`, as for a missing `alg`.
    NoneGiven,
}

/// Why a token was refused. Messages never repeat the token, only (cut short) a refused `alg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    /// Not three base64url parts, or a header or claims that is not a JSON object.
    #[error("{0}")]
    Malformed(String),
    /// An `alg` not among the profile's, cut short; `(none given)` when missing.
    #[error("signing algorithm `{0}` is not accepted")]
    UnsupportedAlgorithm(String),
    /// The signature matches none of the secrets (the profile's `secret_name`).
    #[error("JWT signature matches no configured {0}")]
    NoMatchingSecret(&'static str),
}

/// The providers' refusals: an unsupported `alg` as such, anything else as an invalid signature.
impl From<JwtError> for WebhookError {
    fn from(error: JwtError) -> Self {
        match error {
            JwtError::UnsupportedAlgorithm(alg) => WebhookError::UnsupportedAlgorithm(alg),
            JwtError::Malformed(_) | JwtError::NoMatchingSecret(_) => {
                WebhookError::InvalidSignature(error.to_string())
            }
        }
    }
}

/// A token whose signature matched one of the secrets.
#[derive(Debug)]
pub(crate) struct Verified {
    pub algorithm: Algorithm,
    /// The claims object, unjudged.
    pub claims: Map<String, Json>,
}

/// Checks a token's form, its `alg` against `profile`, and its HMAC over `header.payload` (as
/// received) against every one of `secrets` (rotation; each compared in constant time, no early
/// exit), then decodes its claims. Parts may be base64url with or without padding.
pub(crate) fn verify(
    token: &str,
    secrets: &[Secret],
    profile: &Profile,
) -> Result<Verified, JwtError> {
    let parts = Parts::split(token)?;
    let algorithm = parts.algorithm(profile)?;
    let signature = BASE64URL
        .decode(parts.signature)
        .map_err(|_| JwtError::Malformed("JWT signature is not base64url".into()))?;
    let expected = secrets
        .iter()
        .map(|secret| algorithm.tag(secret.expose().as_bytes(), parts.signing_input.as_bytes()));
    if !matches_any_tag(&signature, expected) {
        return Err(JwtError::NoMatchingSecret(profile.secret_name));
    }
    Ok(Verified {
        algorithm,
        claims: decode_object(parts.payload, "claims")?,
    })
}

/// A compact token with header `{"alg":…,"typ":"JWT"}` and `claims`, signed with `secret`.
pub(crate) fn sign(algorithm: Algorithm, claims: &Json, secret: &Secret) -> String {
    let header = json!({"alg": algorithm.name(), "typ": "JWT"});
    let signing_input = format!(
        "{}.{}",
        BASE64URL.encode(header.to_string()),
        BASE64URL.encode(claims.to_string())
    );
    let signature = algorithm.tag(secret.expose().as_bytes(), signing_input.as_bytes());
    format!("{signing_input}.{}", BASE64URL.encode(signature))
}

/// A token's three parts, as received.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    /// `header.payload`, what the HMAC covers.
    signing_input: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Parts<'a> {
    /// Exactly three parts (two dots) of the token, surrounding whitespace trimmed.
    fn split(token: &'a str) -> Result<Self, JwtError> {
        let three_parts = || JwtError::Malformed("a JWT has three parts".into());
        let (signing_input, signature) = token.trim().rsplit_once('.').ok_or_else(three_parts)?;
        let (header, payload) = signing_input.split_once('.').ok_or_else(three_parts)?;
        if payload.contains('.') {
            return Err(three_parts());
        }
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    /// The header's `alg`, which must be one of the profile's.
    fn algorithm(&self, profile: &Profile) -> Result<Algorithm, JwtError> {
        let header = decode_object(self.header, "header")?;
        if profile.refuse_critical && header.contains_key("crit") {
            return Err(JwtError::Malformed(
                "JWT header names critical extensions (`crit`), which are not supported".into(),
            ));
        }
        match header.get("alg") {
            Some(Json::String(name)) => Algorithm::from_name(name, profile.algorithms)
                .ok_or_else(|| unsupported_algorithm(name)),
            Some(other) if profile.non_string_alg == NonStringAlg::Json => {
                Err(unsupported_algorithm(&other.to_string()))
            }
            Some(_) | None => Err(JwtError::UnsupportedAlgorithm("(none given)".into())),
        }
    }
}

/// The refused `alg`, cut short: it is attacker-chosen text that ends up in logs.
fn unsupported_algorithm(alg: &str) -> JwtError {
    JwtError::UnsupportedAlgorithm(alg.chars().take(16).collect())
}

fn decode_object(part: &str, what: &str) -> Result<Map<String, Json>, JwtError> {
    let bytes = BASE64URL
        .decode(part)
        .map_err(|_| JwtError::Malformed(format!("JWT {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Json::Object(object)) => Ok(object),
        _ => Err(JwtError::Malformed(format!(
            "JWT {what} is not a JSON object"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE;

    use super::*;

    const ALL: [Algorithm; 3] = [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512];

    const HS256_ONLY: Profile = Profile {
        algorithms: &[Algorithm::Hs256],
        secret_name: "secret",
        non_string_alg: NonStringAlg::Json,
        refuse_critical: false,
    };

    const EVERY_HS: Profile = Profile {
        algorithms: &ALL,
        secret_name: "signing key",
        non_string_alg: NonStringAlg::NoneGiven,
        refuse_critical: false,
    };

    fn claims() -> Json {
        json!({"iss": "test", "n": 1})
    }

    fn secrets() -> [Secret; 2] {
        [Secret::new("old"), Secret::new("new")]
    }

    /// A token with `header` as given, the test claims and an HMAC made by `algorithm` with
    /// `secret`, its parts encoded by `engine`.
    fn crafted(
        header: &Json,
        algorithm: Algorithm,
        secret: &str,
        engine: &GeneralPurpose,
    ) -> String {
        let signing_input = format!(
            "{}.{}",
            engine.encode(header.to_string()),
            engine.encode(claims().to_string())
        );
        let tag = algorithm.tag(secret.as_bytes(), signing_input.as_bytes());
        format!("{signing_input}.{}", engine.encode(tag))
    }

    fn invalid_signature(result: Result<Verified, JwtError>) -> String {
        match result.map_err(WebhookError::from) {
            Err(WebhookError::InvalidSignature(reason)) => reason,
            other => panic!("expected an invalid signature, got {other:?}"),
        }
    }

    fn refused_alg(result: Result<Verified, JwtError>) -> String {
        match result.map_err(WebhookError::from) {
            Err(WebhookError::UnsupportedAlgorithm(alg)) => alg,
            other => panic!("expected an unsupported algorithm, got {other:?}"),
        }
    }

    #[test]
    fn signed_tokens_verify_with_any_configured_secret() {
        for algorithm in ALL {
            let token = sign(algorithm, &claims(), &Secret::new("new"));
            let verified = verify(&token, &secrets(), &EVERY_HS).unwrap();
            assert_eq!(verified.algorithm, algorithm);
            assert_eq!(Json::Object(verified.claims), claims());
        }
        let token = sign(Algorithm::Hs256, &claims(), &Secret::new("old"));
        assert_eq!(
            verify(&token, &secrets(), &HS256_ONLY).unwrap().algorithm,
            Algorithm::Hs256
        );
    }

    #[test]
    fn verifies_an_hs256_token_made_elsewhere() {
        // The example token of jwt.io (`your-256-bit-secret`), whose claims are not in the
        // order serde_json writes them: the HMAC covers the parts as received.
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
                     eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
                     SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let verified = verify(token, &[Secret::new("your-256-bit-secret")], &HS256_ONLY).unwrap();
        assert_eq!(
            Json::Object(verified.claims),
            json!({"sub": "1234567890", "name": "John Doe", "iat": 1_516_239_022})
        );
    }

    #[test]
    fn signed_tokens_have_a_jwt_header_and_no_padding() {
        for algorithm in ALL {
            let token = sign(algorithm, &json!({"n": "~~~"}), &Secret::new("new"));
            assert!(!token.contains('='), "{token}");
            let header = Parts::split(&token).unwrap().header;
            assert_eq!(
                Json::Object(decode_object(header, "header").unwrap()),
                json!({"alg": algorithm.name(), "typ": "JWT"})
            );
        }
    }

    #[test]
    fn only_the_profile_algorithms_are_accepted() {
        for algorithm in [Algorithm::Hs384, Algorithm::Hs512] {
            let token = sign(algorithm, &claims(), &Secret::new("new"));
            assert_eq!(
                refused_alg(verify(&token, &secrets(), &HS256_ONLY)),
                algorithm.name()
            );
        }
        for profile in [&HS256_ONLY, &EVERY_HS] {
            for alg in ["none", "RS256", "ES256", "hs256", "HS256 ", ""] {
                let token = crafted(&json!({"alg": alg}), Algorithm::Hs256, "new", &BASE64URL);
                assert_eq!(refused_alg(verify(&token, &secrets(), profile)), alg);
            }
            let missing = crafted(&json!({"typ": "JWT"}), Algorithm::Hs256, "new", &BASE64URL);
            assert_eq!(
                refused_alg(verify(&missing, &secrets(), profile)),
                "(none given)"
            );
        }
        let long = "HS256".repeat(10);
        let token = crafted(&json!({"alg": long}), Algorithm::Hs256, "new", &BASE64URL);
        assert_eq!(
            refused_alg(verify(&token, &secrets(), &EVERY_HS)),
            &long[..16]
        );
    }

    #[test]
    fn a_non_string_alg_is_named_as_the_profile_says() {
        let token = crafted(
            &json!({"alg": ["HS256"]}),
            Algorithm::Hs256,
            "new",
            &BASE64URL,
        );
        assert_eq!(
            refused_alg(verify(&token, &secrets(), &HS256_ONLY)),
            r#"["HS256"]"#
        );
        assert_eq!(
            refused_alg(verify(&token, &secrets(), &EVERY_HS)),
            "(none given)"
        );
    }

    #[test]
    fn padding_is_optional() {
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let padded = crafted(&header, Algorithm::Hs256, "new", &URL_SAFE);
        assert!(padded.contains('='), "the example must carry padding");
        assert!(verify(&padded, &secrets(), &HS256_ONLY).is_ok());
        let unpadded = crafted(&header, Algorithm::Hs256, "new", &BASE64URL);
        assert!(!unpadded.contains('='));
        assert!(verify(&unpadded, &secrets(), &HS256_ONLY).is_ok());
    }

    #[test]
    fn a_token_has_exactly_three_parts() {
        let token = sign(Algorithm::Hs256, &claims(), &Secret::new("new"));
        let spaced = format!(" {token}\n");
        let parts = Parts::split(&spaced).unwrap();
        let pieces: Vec<&str> = token.split('.').collect();
        assert_eq!(
            parts,
            Parts {
                signing_input: &token[..token.rfind('.').unwrap()],
                header: pieces[0],
                payload: pieces[1],
                signature: pieces[2],
            }
        );
        for token in [
            String::new(),
            "a".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{token}."),
            format!(".{token}"),
        ] {
            for profile in [&HS256_ONLY, &EVERY_HS] {
                assert_eq!(
                    invalid_signature(verify(&token, &secrets(), profile)),
                    "a JWT has three parts",
                    "{token}"
                );
            }
        }
    }

    #[test]
    fn tampering_with_any_part_or_the_secret_is_refused() {
        for algorithm in ALL {
            let token = sign(algorithm, &claims(), &Secret::new("new"));
            let pieces: Vec<&str> = token.split('.').collect();
            let other_claims = BASE64URL.encode(json!({"iss": "test", "n": 2}).to_string());
            let other_header = BASE64URL.encode(json!({"alg": algorithm.name()}).to_string());
            let mut signature = BASE64URL.decode(pieces[2]).unwrap();
            signature[0] ^= 1;
            let tampered = [
                format!("{other_header}.{}.{}", pieces[1], pieces[2]),
                format!("{}.{other_claims}.{}", pieces[0], pieces[2]),
                format!(
                    "{}.{}.{}",
                    pieces[0],
                    pieces[1],
                    BASE64URL.encode(&signature)
                ),
                format!(
                    "{}.{}.{}",
                    pieces[0],
                    pieces[1],
                    BASE64URL.encode(&signature[1..])
                ),
                format!("{}.{}.", pieces[0], pieces[1]),
            ];
            for token in tampered {
                assert_eq!(
                    invalid_signature(verify(&token, &secrets(), &EVERY_HS)),
                    "JWT signature matches no configured signing key",
                    "{token}"
                );
            }
            assert_eq!(
                invalid_signature(verify(&token, &[Secret::new("wrong")], &EVERY_HS)),
                "JWT signature matches no configured signing key"
            );
            assert!(verify(&token, &[], &EVERY_HS).is_err());
        }
        let token = sign(Algorithm::Hs256, &claims(), &Secret::new("new"));
        assert_eq!(
            invalid_signature(verify(&token, &[Secret::new("wrong")], &HS256_ONLY)),
            "JWT signature matches no configured secret"
        );
    }

    #[test]
    fn malformed_parts_are_named() {
        let object = BASE64URL.encode("{}");
        let array = BASE64URL.encode("[]");
        let header = BASE64URL.encode(r#"{"alg":"HS256"}"#);
        let cases = [
            ("!!.e30.sig".to_owned(), "JWT header is not base64url"),
            (
                format!("{array}.{object}.sig"),
                "JWT header is not a JSON object",
            ),
            (
                format!("{header}.{object}.!!"),
                "JWT signature is not base64url",
            ),
        ];
        for (token, reason) in cases {
            assert_eq!(
                invalid_signature(verify(&token, &secrets(), &HS256_ONLY)),
                reason
            );
        }
        // The claims are decoded only once the signature matched.
        for (payload, reason) in [
            ("!!", "JWT claims is not base64url"),
            (array.as_str(), "JWT claims is not a JSON object"),
        ] {
            let signing_input = format!("{header}.{payload}");
            let tag = Algorithm::Hs256.tag(b"new", signing_input.as_bytes());
            let token = format!("{signing_input}.{}", BASE64URL.encode(tag));
            assert_eq!(
                invalid_signature(verify(&token, &secrets(), &HS256_ONLY)),
                reason
            );
        }
    }

    #[test]
    fn algorithm_names_round_trip() {
        for algorithm in ALL {
            assert_eq!(
                Algorithm::from_name(algorithm.name(), &ALL),
                Some(algorithm)
            );
        }
        assert_eq!(Algorithm::from_name("HS384", &[Algorithm::Hs256]), None);
        assert_eq!(Algorithm::from_name("none", &ALL), None);
        assert_eq!(Algorithm::from_name("hs256", &ALL), None);
    }
}
