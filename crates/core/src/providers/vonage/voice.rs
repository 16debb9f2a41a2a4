//! Vonage Voice API call events, signed with a JWT in `Authorization: Bearer` (docs/providers/vonage.md).
//!
//! Scheme, from `Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
//! _documentation/en/voice/voice-api/guides/signed-webhooks.md` and `…/messages/concepts/signed-webhooks.md`:
//! header `{"alg":"HS256","typ":"JWT"}`, HMAC key = the account's signature secret, claims `iat`,
//! `jti`, `iss` (`"Vonage"`), `payload_hash` = SHA-256 hex of the body, `api_key`,
//! `application_id`. There is no `exp`: freshness is judged from `iat`. The SDKs check the
//! signature only (`Vonage/vonage-python-sdk@b308cb1e94192b7ae5f5f7256d0ff1dfdd028020:
//! jwt/src/vonage_jwt/verify_jwt.py`), so `payload_hash` and `iat` are checked here.
//!
//! A `GET` event (`event_method=GET`) has no body and its query is not covered by the token: the
//! token proves only that Vonage sent *a* request around `iat`. So the event is read from where
//! the token binds it ([`require_bound_shape`]): a `POST` from its body (`payload_hash`), never
//! from a query; a `GET` from its query only with no body, and its token authorizes one event
//! only ([`single_use_token`]: the worker remembers each `jti` until the token expires).

use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::params::{params_event_id, Params};
use crate::crypto::sha256_hex;
use crate::error::WebhookError;
use crate::jwt::{self, Algorithm, NonStringAlg, Profile};
use crate::model::{AnsweredBy, Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::provider::SingleUseToken;
use crate::providers::shared::{content_event_id, extra_fields, lookup};
use crate::request::CapturedRequest;
use crate::secret::Secret;
use crate::time::Timestamp;

/// The only accepted `alg` is `HS256`. Accepting `none`, RSA or another HMAC size would let a
/// token that was not made with the signature secret through (the node SDK accepts `RS256` too:
/// `Vonage/vonage-node-sdk@babd2d8c2e0976b391cdb4677ea784650f3b6376:packages/jwt/lib/verifySignature.ts`).
const PROFILE: Profile = Profile {
    algorithms: &[Algorithm::Hs256],
    secret_name: "secret",
    non_string_alg: NonStringAlg::Json,
    refuse_critical: false,
};

/// Call `status` words. `None`: the event joins the timeline without moving the status.
///
/// Sources: the event table of `Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
/// _documentation/en/voice/voice-api/webhook-reference.md`, and `CallStatus.java` of
/// `Vonage/vonage-java-sdk@609f524d58a00a8fa51569474689307e191b5da4:src/main/java/com/vonage/client/voice/`
/// (which adds `disconnected`).
const CALL_STATUSES: [(&str, Option<Status>); 16] = [
    ("started", Some(Status::Initiated)),
    ("ringing", Some(Status::Ringing)),
    ("answered", Some(Status::InProgress)),
    ("completed", Some(Status::Completed)),
    // Outbound only.
    ("busy", Some(Status::Busy)),
    // Outbound, cancelled by the originator before answer.
    ("cancelled", Some(Status::Canceled)),
    // `detail`: `unavailable` | `timeout` | `carrier_timeout`.
    ("unanswered", Some(Status::NoAnswer)),
    // Ringing exceeded `ringing_timeout`.
    ("timeout", Some(Status::NoAnswer)),
    // `detail`: `invalid_number` | `restricted` | `declined`.
    ("rejected", Some(Status::Rejected)),
    // `detail`: `cannot_route` | `number_out_of_service` | `internal_error`.
    ("failed", Some(Status::Failed)),
    // Answering-machine detection results: annotations, carried in `answered_by`.
    ("human", None),
    ("machine", None),
    // Action results and the end of a WebSocket leg.
    ("record", None),
    ("input", None),
    ("transfer", None),
    ("disconnected", None),
];

/// Event fields kept in [`Details::extra`] (`EventWebhook.java` at the Java SDK commit above).
const EXTRA_FIELDS: [&str; 9] = [
    "rate",
    "network",
    "sip_code",
    "disconnected_by",
    "reason",
    "sub_state",
    "conversation_uuid_from",
    "conversation_uuid_to",
    "recording_url",
];

/// The normalized status of a call `status` word: `None` for a word this version does not know,
/// `Some(None)` for a known word that does not move the status.
pub(crate) fn call_status(word: &str) -> Option<Option<Status>> {
    lookup(&CALL_STATUSES, word)
}

/// The claims of a Vonage webhook JWT that Switchboard reads. Any may be absent from a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iat`, unix seconds (a fractional value is rounded down).
    pub issued_at: Option<i64>,
    /// `payload_hash`: SHA-256 hex of the request body.
    pub payload_hash: Option<String>,
    pub jti: Option<String>,
    /// `iss`; Vonage always sends `"Vonage"`, but it is not required.
    pub issuer: Option<String>,
    /// `api_key`: the account that signed.
    pub api_key: Option<String>,
    pub application_id: Option<String>,
}

impl Claims {
    fn from_json(object: &Map<String, Json>) -> Result<Self, WebhookError> {
        let text = |name: &'static str| match object.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(WebhookError::InvalidSignature(format!(
                "JWT claim `{name}` is not a string"
            ))),
        };
        let issued_at = match object.get("iat") {
            None | Some(Json::Null) => None,
            Some(Json::Number(number)) => number
                .as_i64()
                .or_else(|| number.as_f64().map(|seconds| seconds.floor() as i64)),
            Some(_) => {
                return Err(WebhookError::InvalidSignature(
                    "JWT claim `iat` is not a number".into(),
                ))
            }
        };
        Ok(Self {
            issued_at,
            payload_hash: text("payload_hash")?,
            jti: text("jti")?,
            issuer: text("iss")?,
            api_key: text("api_key")?,
            application_id: text("application_id")?,
        })
    }
}

/// Checks a JWT's signature only: `alg` must be `HS256`, the HMAC-SHA256 of `header.payload` (as
/// received) must match one of `secrets` (rotation; each compared in constant time). Returns the
/// claims. Parts may be base64url with or without padding.
///
/// The webhook check ([`Provider::verify`](crate::provider::Provider::verify)) additionally
/// requires `payload_hash` to match the body and `iat` to be fresh.
pub fn verify_jwt_signature(token: &str, secrets: &[Secret]) -> Result<Claims, WebhookError> {
    Claims::from_json(&jwt::verify(token, secrets, &PROFILE)?.claims)
}

/// The full check of a voice webhook: the token's signature, then `payload_hash` against the raw
/// body (an absent `payload_hash` is accepted only for an empty body), then `iat` within
/// `tolerance_seconds` of `now`.
pub(crate) fn verify_webhook(
    token: &str,
    body: &[u8],
    secrets: &[Secret],
    tolerance_seconds: u32,
    now: Timestamp,
) -> Result<Claims, WebhookError> {
    let claims = verify_jwt_signature(token, secrets)?;
    match &claims.payload_hash {
        Some(claimed) => {
            let claimed =
                hex::decode(claimed.trim()).map_err(|_| WebhookError::PayloadHashMismatch)?;
            let actual = Sha256::digest(body);
            if !bool::from(actual.as_slice().ct_eq(claimed.as_slice())) {
                return Err(WebhookError::PayloadHashMismatch);
            }
        }
        None if body.is_empty() => {}
        None => return Err(WebhookError::MissingSignedField("payload_hash")),
    }
    let issued_at = claims
        .issued_at
        .ok_or(WebhookError::MissingSignedField("iat"))?;
    if !Timestamp::from_unix_seconds(issued_at).within(now, tolerance_seconds) {
        return Err(WebhookError::TimestampOutOfTolerance(issued_at.to_string()));
    }
    Ok(claims)
}

/// Refuses a signed voice request whose event would be read from content the token does not
/// bind: a `GET` carrying a body (its event is read from the query, the body hash covers the
/// body), any other method without a body (its event would be read from the query under a
/// token made for a body), and a `GET` token without `jti` (it could not be held to one event).
pub(crate) fn require_bound_shape(
    request: &CapturedRequest,
    claims: &Claims,
) -> Result<(), WebhookError> {
    match (request.method.as_str(), request.body.is_empty()) {
        ("GET", false) => Err(WebhookError::UnsignedContent(
            "the query of a GET voice event that carries a body",
        )),
        ("GET", true) if claims.jti.is_none() => Err(WebhookError::MissingSignedField("jti")),
        ("GET", true) => Ok(()),
        (_, true) => Err(WebhookError::UnsignedContent(
            "the query of a voice event sent without a body",
        )),
        (_, false) => Ok(()),
    }
}

/// The single-use token of a `GET` event's claims: `vonage:` and a digest of `jti` (fixed
/// length, whatever the sender put in it), remembered until `iat` leaves the tolerance.
pub(crate) fn single_use_token(claims: &Claims, tolerance_seconds: u32) -> Option<SingleUseToken> {
    let jti = claims.jti.as_deref()?;
    let issued_at = claims.issued_at?;
    Some(SingleUseToken {
        id: content_event_id("vonage-jti", jti.as_bytes()),
        expires_at: Timestamp::from_unix_seconds(
            issued_at.saturating_add(i64::from(tolerance_seconds)),
        ),
    })
}

/// A token as Vonage would send it for `body` at `now`: `{"alg":"HS256","typ":"JWT"}` and claims
/// `iat`, `jti` (derived from the body and `now`, so signing is deterministic), `iss: "Vonage"`
/// and `payload_hash`.
pub fn sign_jwt(body: &[u8], secret: &Secret, now: Timestamp) -> String {
    let jti_digest = Sha256::new()
        .chain_update(body)
        .chain_update(now.unix_seconds().to_string())
        .finalize();
    let jti = hex::encode(&jti_digest[..16]);
    let claims = json!({
        "iat": now.unix_seconds(),
        "jti": format!("{}-{}-{}-{}-{}", &jti[..8], &jti[8..12], &jti[12..16], &jti[16..20], &jti[20..]),
        "iss": "Vonage",
        "payload_hash": sha256_hex(body),
    });
    jwt::sign(Algorithm::Hs256, &claims, secret)
}

/// Signs `request` as a voice event: sets `Authorization: Bearer <token>`.
pub(crate) fn sign(request: &CapturedRequest, secret: &Secret, now: Timestamp) -> CapturedRequest {
    let token = sign_jwt(&request.body, secret, now);
    request
        .clone()
        .with_header("authorization", &format!("Bearer {token}"))
}

/// The word for an action result, which Vonage posts to the action's `eventUrl` without a
/// `status` field: `record` carries `recording_url`, `input` carries `dtmf` or `speech`,
/// `transfer` carries `type: transfer` and `conversation_uuid_from`/`conversation_uuid_to`
/// (webhook-reference.md, "Record", "Input" and "Transfer"; docs/providers/vonage.md).
fn action_result_word(params: &Params) -> Option<&'static str> {
    if params.text("recording_url").is_some() {
        Some("record")
    } else if params.contains("dtmf") || params.contains("speech") {
        Some("input")
    } else if params.text("type") == Some("transfer")
        || params.contains("conversation_uuid_from")
        || params.contains("conversation_uuid_to")
    {
        Some("transfer")
    } else {
        None
    }
}

/// Whether a voice request without a leg id (`uuid`, `call_uuid`) is one Vonage documents as
/// naming none: a `record` result (`recording_url`/`recording_uuid` and `conversation_uuid`,
/// webhook-reference.md "Record") or an error callback (`reason`, no `status`, docs/providers/vonage.md
/// "(error)"). Calls are keyed by leg and a conversation may hold several legs, so no call can
/// be chosen for them: they are acknowledged without an event.
fn names_no_leg(params: &Params) -> bool {
    let record = params.text("recording_url").is_some() || params.text("recording_uuid").is_some();
    let error = params.text("reason").is_some() && params.text("status").is_none();
    record || error
}

/// Maps a verified call event to its event, `None` for a documented event that names no leg
/// ([`names_no_leg`]).
///
/// The call id is `uuid`, except that `human`/`machine` events carry `call_uuid`; either is
/// accepted for every event. Numbers (`duration`, `price`, `rate`, `sip_code`) may be JSON
/// strings or numbers (docs/providers/vonage.md): both arrive here as their text. `rate` and `price` are
/// in EUR (webhook-reference.md, `completed`).
///
/// Event id: the SHA-256 of the raw body, or of the sorted query parameters for a `GET` event,
/// so that a retry of the same event has the same id.
pub(crate) fn normalize(
    params: &Params,
    body: &[u8],
    received_at: Timestamp,
) -> Result<Option<Event>, WebhookError> {
    let text = |key: &str| params.text(key).map(str::to_owned);
    let time = |key| params.text(key).and_then(Timestamp::parse_rfc3339);
    let Some(subject_id) = text("uuid").or_else(|| text("call_uuid")) else {
        return if names_no_leg(params) {
            Ok(None)
        } else {
            Err(WebhookError::MissingField("uuid"))
        };
    };
    let provider_status = text("status")
        .or_else(|| action_result_word(params).map(str::to_owned))
        .ok_or(WebhookError::MissingField("status"))?;
    let price = text("price");

    Ok(Some(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Vonage,
        kind: Kind::Call,
        subject_id,
        event_id: if body.is_empty() {
            params_event_id(params.scalars())
        } else {
            content_event_id("vonage", body)
        },
        status: call_status(&provider_status).flatten(),
        occurred_at: time("timestamp"),
        received_at,
        sequence: None,
        direction: match params.text("direction") {
            Some("inbound") => Some(Direction::Inbound),
            Some("outbound") => Some(Direction::Outbound),
            _ => None,
        },
        from: text("from"),
        to: text("to"),
        session_id: text("conversation_uuid"),
        aliases: Vec::new(),
        details: Details {
            duration_seconds: params
                .text("duration")
                .and_then(|duration| duration.trim().parse().ok()),
            currency: price.as_ref().map(|_| "EUR".to_owned()),
            price,
            detail: text("detail"),
            answered_by: match provider_status.as_str() {
                "human" => Some(AnsweredBy::Human),
                "machine" => Some(AnsweredBy::Machine),
                _ => None,
            },
            started_at: time("start_time"),
            ended_at: time("end_time"),
            extra: extra_fields(&EXTRA_FIELDS, text),
            ..Details::default()
        },
        provider_status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_word_is_a_call_status() {
        for (word, status) in CALL_STATUSES {
            if let Some(status) = status {
                assert!(status.rank(Kind::Call).is_some(), "{word}");
            }
        }
        assert_eq!(call_status("answered"), Some(Some(Status::InProgress)));
        assert_eq!(call_status("human"), Some(None));
        assert_eq!(call_status("teleported"), None);
    }

    #[test]
    fn signed_tokens_verify_and_carry_the_body_hash() {
        let secret = Secret::new("s3cret");
        let now = Timestamp::from_unix_seconds(1_600_000_000);
        let token = sign_jwt(b"{}", &secret, now);
        let claims = verify_jwt_signature(&token, &[secret]).unwrap();
        assert_eq!(claims.issued_at, Some(1_600_000_000));
        assert_eq!(claims.issuer.as_deref(), Some("Vonage"));
        assert_eq!(
            claims.payload_hash.as_deref(),
            Some("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        );
        assert_eq!(claims.jti.as_deref().map(str::len), Some(36));
    }

    #[test]
    fn refuses_tokens_without_three_parts() {
        for token in ["", "a.b", "a.b.c.d"] {
            assert!(matches!(
                verify_jwt_signature(token, &[Secret::new("s")]),
                Err(WebhookError::InvalidSignature(_))
            ));
        }
    }
}
