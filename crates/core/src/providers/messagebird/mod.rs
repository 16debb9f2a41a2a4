//! Legacy MessageBird webhooks (`/webhooks/messagebird`): docs/providers/messagebird.md.
//!
//! The scheme is chosen by the header the request carries, never guessed:
//!
//! * `MessageBird-Signature-JWT` → the JWT scheme ([`jwt`]), checked exactly as the reference
//!   implementation does (all 43 reference cases);
//! * else `MessageBird-Signature` (+ `MessageBird-Request-Timestamp`) → the deprecated HMAC
//!   scheme ([`legacy_hmac`]), kept because official vectors exist for it;
//! * otherwise → [`WebhookError::MissingSignature`].
//!
//! Normalization covers SMS status reports ([`sms`]); their shape is an assumption, documented
//! there. Other payloads are refused as malformed (nothing is stored unmapped).

pub mod jwt;
pub mod legacy_hmac;
pub mod sms;

use std::collections::BTreeMap;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::config::{secret_setting, ConfigError, Settings};
use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId};
use crate::provider::{Scheme, Signer};
use crate::providers::shared::{content_event_id, json_text, refuse_json_object_as_form};
use crate::request::{parse_form, BodyKind, CapturedRequest};
use crate::secret::Secret;
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct MessageBirdConfig {
    /// Signing keys (dashboard → Developers → Settings → *Signing key*); any one may match
    /// (rotation). The HMAC key is the key string's UTF-8 bytes. Never empty.
    pub secrets: Vec<Secret>,
    /// The window of the deprecated HMAC scheme's `MessageBird-Request-Timestamp`, either way.
    /// The JWT scheme uses its own `nbf`/`exp` with one second of skew instead.
    pub tolerance_seconds: u32,
}

impl MessageBirdConfig {
    /// Reads the signing key(s).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        let secrets = settings.secrets(secret_setting(ProviderId::MessageBird));
        Ok((!secrets.is_empty()).then_some(Self {
            secrets,
            tolerance_seconds: settings.tolerance_seconds,
        }))
    }
}

pub struct MessageBird {
    config: MessageBirdConfig,
}

impl MessageBird {
    pub fn new(config: MessageBirdConfig) -> Self {
        Self { config }
    }
}

/// Whether `word` is a status this version knows for `kind` (SMS status reports only).
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    match kind {
        Kind::Message => sms::message_status(word).is_some(),
        Kind::Call => false,
    }
}

/// How long a provider-given id may be before it is replaced by its hash in an event id (it
/// ends up in URLs, storage keys and logs).
const MAX_ID_CHARS: usize = 64;

/// `"{prefix}:{id}"` for a provider id of at most 64 visible ASCII characters without `/`, `?`,
/// `#` or `%`; otherwise `"{prefix}:"` and the first 32 hex digits of its SHA-256.
fn provider_event_id(prefix: &str, id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'/' | b'?' | b'#' | b'%'));
    if plain {
        format!("{prefix}:{id}")
    } else {
        content_event_id(prefix, id.as_bytes())
    }
}

/// The request's fields: from the body when it has one, else from `query` (the query's
/// parameters as the request's scheme signs them). JSON strings are taken as they are, numbers
/// and booleans as their text, and a nested object's scalar members as `name[member]` (the query
/// form of the same data). A name that appears twice is refused: which value is meant would be
/// ambiguous.
///
/// Neither scheme signs the method or `Content-Type` (docs/providers/messagebird.md): the method does not
/// choose between body and query, and a JSON object is never read as a form
/// ([`refuse_json_object_as_form`]), so each signed request has one reading.
fn request_fields(signed: Signed<'_>) -> Result<BTreeMap<String, String>, WebhookError> {
    let pairs = match signed.body_kind {
        BodyKind::Empty => signed.query,
        BodyKind::Form => {
            refuse_json_object_as_form(signed.body)?;
            parse_form(signed.body)
        }
        BodyKind::Json => json_fields(signed.body)?,
        BodyKind::Other(media_type) => {
            return Err(WebhookError::UnsupportedContentType(media_type))
        }
    };
    let mut fields = BTreeMap::new();
    for (key, value) in pairs {
        if fields.insert(key, value).is_some() {
            return Err(WebhookError::Malformed(
                "a field appears more than once".into(),
            ));
        }
    }
    Ok(fields)
}

fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(text) => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        Json::Bool(flag) => Some(flag.to_string()),
        Json::Null | Json::Array(_) | Json::Object(_) => None,
    }
}

fn json_fields(body: &[u8]) -> Result<Vec<(String, String)>, WebhookError> {
    let Ok(Json::Object(object)) = serde_json::from_slice::<Json>(json_text(body)) else {
        return Err(WebhookError::Malformed(
            "the body is not a JSON object".into(),
        ));
    };
    let mut pairs = Vec::new();
    for (key, value) in &object {
        match value {
            Json::Object(members) => pairs.extend(members.iter().filter_map(|(member, value)| {
                scalar_text(value).map(|text| (format!("{key}[{member}]"), text))
            })),
            other => pairs.extend(scalar_text(other).map(|text| (key.clone(), text))),
        }
    }
    Ok(pairs)
}

/// What a MessageBird signature covers, as the check read it ([`Scheme::Signed`]): the query
/// as the scheme signs it, the body (whose hash both schemes sign) with the media type it is
/// read as, and the event id derived from what was signed.
pub struct Signed<'a> {
    event_id: String,
    query: Vec<(String, String)>,
    body: &'a [u8],
    body_kind: BodyKind,
}

impl Scheme for MessageBird {
    type Signed<'a> = Signed<'a>;

    fn id(&self) -> ProviderId {
        ProviderId::MessageBird
    }

    /// Event id: `"messagebird:" + jti` for the JWT scheme (docs/providers/messagebird.md); for the HMAC
    /// scheme, a hash of what it signs except the timestamp (the re-encoded query and the body),
    /// so a re-signed retry has the same id.
    ///
    /// The query is read as each scheme signs it: the JWT's `url_hash` covers the URL byte for
    /// byte, so any parse of it reads signed bytes; the HMAC scheme signs Go's re-encoding, so
    /// its parameters are read by that same parse ([`legacy_hmac::signed_query_params`]).
    fn check<'a>(
        &self,
        request: &'a CapturedRequest,
        now: Timestamp,
    ) -> Result<Signed<'a>, WebhookError> {
        let secrets = &self.config.secrets;
        let (event_id, query) = if let Some(token) = request.header(jwt::HEADER) {
            let claims = jwt::verify_signature_jwt(
                &request.method,
                &request.url,
                &request.body,
                token,
                secrets,
                now,
            )?;
            let jti = claims.jti.ok_or(WebhookError::MissingSignedField("jti"))?;
            (
                provider_event_id("messagebird", &jti),
                request.query_params(),
            )
        } else if let Some(signature) = request.header(legacy_hmac::SIGNATURE_HEADER) {
            let timestamp = request.header(legacy_hmac::TIMESTAMP_HEADER).ok_or(
                WebhookError::MissingSignedField("MessageBird-Request-Timestamp"),
            )?;
            legacy_hmac::verify(
                signature,
                timestamp,
                request.raw_query(),
                &request.body,
                secrets,
                self.config.tolerance_seconds,
                now,
            )?;
            let mut signed = legacy_hmac::go_query_encode(request.raw_query()).into_bytes();
            signed.push(b'\n');
            signed.extend_from_slice(&Sha256::digest(&request.body));
            (
                content_event_id("messagebird", &signed),
                legacy_hmac::signed_query_params(request.raw_query())?,
            )
        } else {
            return Err(WebhookError::MissingSignature(
                "neither `MessageBird-Signature-JWT` nor `MessageBird-Signature`",
            ));
        };
        Ok(Signed {
            event_id,
            query,
            body: &request.body,
            body_kind: request.body_kind(),
        })
    }

    fn events(
        &self,
        signed: Signed<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        let event_id = signed.event_id.clone();
        let fields = request_fields(signed)?;
        // A signed payload that is not a status report (a voice call or leg event, an inbound
        // message: their shapes are not in the sources of docs/providers/messagebird.md, so
        // neither can be told apart or keyed reliably) names no message this endpoint tracks:
        // it is acknowledged without an event, never refused (a 4xx is retried and counted as a
        // failed delivery).
        if !sms::is_status_report(&fields) {
            return Ok(Vec::new());
        }
        Ok(vec![sms::normalize(&fields, event_id, received_at)?])
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        is_known_word(kind, word)
    }
}

impl Signer for MessageBird {
    /// Signs with the JWT scheme (HS256, `nbf` = `now`, `exp` = `now` + 60 s), for the request's
    /// exact URL and body.
    fn sign(
        &self,
        request: &CapturedRequest,
        now: Timestamp,
    ) -> Result<CapturedRequest, WebhookError> {
        let secret = self
            .config
            .secrets
            .first()
            .ok_or(WebhookError::MissingSignature(
                "no signing key is configured",
            ))?;
        let token = jwt::sign_jwt(&request.url, &request.body, secret, now);
        Ok(request.clone().with_header(jwt::HEADER, &token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_are_kept_only_when_short_and_plain() {
        assert_eq!(provider_event_id("p", "abc-123"), "p:abc-123");
        for odd in ["", "a/b", "a b", "a?b", &"x".repeat(65), "é"] {
            let id = provider_event_id("p", odd);
            assert_eq!(id.len(), 2 + 32, "{odd:?}");
        }
    }

    #[test]
    fn json_fields_flatten_one_level() {
        let fields = json_fields(
            br#"{"id":"m","price":{"amount":0.07,"currency":"EUR"},"ported":0,"x":[1],"n":null}"#,
        )
        .unwrap();
        assert_eq!(
            fields,
            vec![
                ("id".to_owned(), "m".to_owned()),
                ("ported".to_owned(), "0".to_owned()),
                ("price[amount]".to_owned(), "0.07".to_owned()),
                ("price[currency]".to_owned(), "EUR".to_owned()),
            ]
        );
        assert!(json_fields(b"[1]").is_err());
    }

    #[test]
    fn known_words_are_per_kind() {
        assert!(is_known_word(Kind::Message, "buffered"));
        assert!(!is_known_word(Kind::Call, "buffered"));
        assert!(!is_known_word(Kind::Message, "teleported"));
    }
}
