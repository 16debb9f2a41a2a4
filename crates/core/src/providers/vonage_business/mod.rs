//! Vonage Business Communications: Vonage Integration Suite/Platform (VIS) call event webhooks.
//! Spec: docs/providers/vonage-business.md.
//!
//! Body `{"event": {…}, "metadata": {…}?}`. Scheme (`Vonage/vbc-developer@5ec7c8df704d62a1796b2af4340e1a4e7f673b2f:
//! _documentation/en/vonage-integration-platform/concepts/webhooks.md`): the signature is
//! `hex(HMAC-SHA256(signingKey, canonical JSON of event))` (see [`canonical`]), sent in the
//! `X-VON-Signature` header (`metadataPolicy: HEADER`) or as `metadata.signature` in the body
//! (`BODY`). The header is used when present, else the body's field.
//!
//! Nothing time-related is signed, so there is no replay window: a replayed event is absorbed by
//! exact dedup. The event id is a hash of signed members of `event` ([`event_identity`]).
//! `deliveryId` (header `X-VON-Delivery-Id` or `metadata.deliveryId`), which the
//! provider research named as the dedup key, is deliberately not used: it is outside the signature, so a
//! sender holding one genuine event could re-send it under any `deliveryId` to make a new event,
//! or under the `deliveryId` of a genuine event still to come, to have that one dropped as a
//! duplicate. A Vonage retry repeats the same `event`, so it collapses all the same.

pub mod canonical;
pub mod keeper;

use hmac::Hmac;
use serde_json::{Map, Value as Json};
use sha2::Sha256;

use self::canonical::{canonical_json, Document, HexCase, Value};
use crate::config::{secret_setting, ConfigError, Settings};
use crate::crypto::{hmac, matches_any_tag};
use crate::error::WebhookError;
use crate::model::{Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::provider::{Scheme, Signer};
use crate::providers::shared::{content_event_id, extra_fields, json_text, lookup, Members};
use crate::request::{BodyKind, CapturedRequest};
use crate::secret::Secret;
use crate::time::Timestamp;

/// The signature header (policy `HEADER`).
pub const SIGNATURE_HEADER: &str = "x-von-signature";

/// VIS call `state` → call status. Source: the state table of `Vonage/vbc-developer@5ec7c8df704d62a1796b2af4340e1a4e7f673b2f:
/// _documentation/en/vonage-integration-platform/concepts/call-events.md` ("The only initial
/// state is Initializing. The only allowable ending states are Answered, Cancelled, Rejected,
/// and Missed"), docs/providers/vonage-business.md.
const CALL_STATES: [(&str, Option<Status>); 10] = [
    ("INITIALIZING", Some(Status::Initiated)),
    ("RINGING", Some(Status::Ringing)),
    ("ACTIVE", Some(Status::InProgress)),
    // On hold, locally or by the remote party: still in progress (the word is the `detail`).
    ("HELD", Some(Status::InProgress)),
    ("REMOTE_HELD", Some(Status::InProgress)),
    // "A call of non-zero duration has ended": ended after being answered.
    ("ANSWERED", Some(Status::Completed)),
    // Outbound, cancelled before answer.
    ("CANCELLED", Some(Status::Canceled)),
    // Inbound, not picked up ("Missing" in the doc's transition table).
    ("MISSED", Some(Status::NoAnswer)),
    // Inbound, rejected or sent to voicemail unanswered.
    ("REJECTED", Some(Status::Rejected)),
    // In the enum of `Nexmo/api-specification@ad042003e946f5d99512cda2a8601488c8e863e5:
    // definitions/vonage-business-cloud/vgis.yml` only, semantics undocumented: timeline only.
    ("DETACHED", None),
];

/// Event fields kept in [`Details::extra`] (call-events.md / vgis.yml `Event`, docs/providers/vonage-business.md).
const EXTRA_FIELDS: [&str; 8] = [
    "userId",
    "accountId",
    "externalId",
    "uciId",
    "callerId",
    "type",
    "internal",
    "ucpType",
];

#[derive(Debug, Clone)]
pub struct VonageBusinessConfig {
    /// The webhook's `signingKey`s; any one may match (rotation). Never empty.
    pub secrets: Vec<Secret>,
}

impl VonageBusinessConfig {
    /// Reads the signing key(s).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        let secrets = settings.secrets(secret_setting(ProviderId::VonageBusiness));
        Ok((!secrets.is_empty()).then_some(Self { secrets }))
    }
}

pub struct VonageBusiness {
    config: VonageBusinessConfig,
}

impl VonageBusiness {
    pub fn new(config: VonageBusinessConfig) -> Self {
        Self { config }
    }
}

/// The status of a `state` word: `None` for a word this version does not know, `Some(None)` for
/// a known word that does not move the status.
fn call_state(word: &str) -> Option<Option<Status>> {
    lookup(&CALL_STATES, word)
}

/// Whether `word` is a VIS call `state` this version knows. VIS sends no message events.
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    kind == Kind::Call && call_state(word).is_some()
}

/// The parts of a VIS body: the raw `event` and the optional `metadata` object.
struct Body {
    event: Box<serde_json::value::RawValue>,
    metadata: Option<Map<String, Json>>,
}

impl Body {
    fn parse(request: &CapturedRequest) -> Result<Self, WebhookError> {
        match request.body_kind() {
            BodyKind::Json => {}
            BodyKind::Empty => return Err(WebhookError::Malformed("the body is empty".into())),
            BodyKind::Form => {
                return Err(WebhookError::UnsupportedContentType(
                    "application/x-www-form-urlencoded".into(),
                ))
            }
            BodyKind::Other(media_type) => {
                return Err(WebhookError::UnsupportedContentType(media_type))
            }
        }
        let Members(members) =
            serde_json::from_slice(json_text(&request.body)).map_err(|error| {
                WebhookError::Malformed(format!(
                    "JSON body is not a valid object at line {}, column {}",
                    error.line(),
                    error.column()
                ))
            })?;
        let mut event = None;
        let mut metadata = None;
        for (key, value) in members {
            let slot_taken = match key.as_str() {
                "event" => event.replace(value).is_some(),
                "metadata" => metadata.replace(value).is_some(),
                _ => false,
            };
            if slot_taken {
                return Err(WebhookError::Malformed(
                    "`event` or `metadata` appears twice".into(),
                ));
            }
        }
        let event = event.ok_or(WebhookError::MissingField("event"))?;
        if !event.get().starts_with('{') {
            return Err(WebhookError::Malformed("`event` is not an object".into()));
        }
        let metadata = match metadata {
            None => None,
            Some(raw) => match serde_json::from_str::<Json>(raw.get()) {
                Ok(Json::Object(object)) => Some(object),
                Ok(Json::Null) => None,
                _ => {
                    return Err(WebhookError::Malformed(
                        "`metadata` is not an object".into(),
                    ))
                }
            },
        };
        Ok(Self { event, metadata })
    }

    /// The presented signature: the header if present, else `metadata.signature`.
    fn signature<'a>(&'a self, request: &'a CapturedRequest) -> Option<&'a str> {
        request
            .header(SIGNATURE_HEADER)
            .filter(|value| !value.trim().is_empty())
            .or_else(|| {
                self.metadata
                    .as_ref()
                    .and_then(|metadata| metadata.get("signature"))
                    .and_then(Json::as_str)
                    .filter(|value| !value.trim().is_empty())
            })
            .map(str::trim)
    }
}

/// `hex(HMAC-SHA256(key, message))`.
pub fn compute(key: &str, message: &str) -> String {
    hex::encode(hmac::<Hmac<Sha256>>(key.as_bytes(), message.as_bytes()))
}

/// Checks a hex signature of the raw `event` JSON against every secret. Both hex-escape cases of
/// the canonical form are tried when they may differ, both written from one parse (see
/// [`canonical`]); `event` is refused as malformed before any hashing if it cannot be parsed.
pub fn verify_signature(
    event: &str,
    signature: &str,
    secrets: &[Secret],
) -> Result<(), WebhookError> {
    verify_document(&Document::parse(event)?, signature, secrets)
}

/// [`verify_signature`] of an already parsed `event`.
fn verify_document(
    document: &Document<'_>,
    signature: &str,
    secrets: &[Secret],
) -> Result<(), WebhookError> {
    let presented = hex::decode(signature.trim())
        .ok()
        .filter(|bytes| bytes.len() == 32)
        .ok_or_else(|| {
            WebhookError::InvalidSignature("the signature is not 64 hex digits".into())
        })?;
    let mut messages = vec![document.canonical(HexCase::Lower)];
    if document.has_hex_escape() {
        messages.push(document.canonical(HexCase::Upper));
    }
    let expected = secrets.iter().flat_map(|secret| {
        messages
            .iter()
            .map(|message| hmac::<Hmac<Sha256>>(secret.expose().as_bytes(), message.as_bytes()))
    });
    if matches_any_tag(&presented, expected) {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature(
            "the signature matches no configured signing key".into(),
        ))
    }
}

/// VIS times: ISO 8601 with a `+0000` offset (`2018-02-15T18:58:56.194+0000`), or RFC 3339.
fn parse_time(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text).or_else(|| Timestamp::parse_basic_offset(text))
}

/// A scalar value as text (`id` is a string in webhooks and an int64 in the spec: both work).
fn scalar(value: Option<&Json>) -> Option<String> {
    match value? {
        Json::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        Json::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A scalar member of `event` as the canonical parse read it: a string's text, or the exact
/// text of a number, `true`, `false` or `null`.
enum Scalar {
    Text(String),
    Literal(String),
}

/// The members of `event` that are strings, numbers, `true`, `false` or `null`, from the same
/// parse as its canonical form. Objects and arrays are left out: [`normalize_event`] reads
/// scalars only, and an absent member reads as one that is not a scalar.
fn scalar_members(document: &Document<'_>) -> Vec<(String, Scalar)> {
    document
        .members()
        .iter()
        .filter_map(|(key, value)| match value {
            Value::String(text) => Some((key.to_string(), Scalar::Text(text.to_string()))),
            Value::Literal(text) => Some((key.to_string(), Scalar::Literal(text.to_string()))),
            Value::Object(_) | Value::Array(_) => None,
        })
        .collect()
}

/// The scalar members as JSON values; a number out of range is malformed.
fn json_members(members: Vec<(String, Scalar)>) -> Result<Map<String, Json>, WebhookError> {
    let mut json = Map::new();
    for (key, value) in members {
        let value = match value {
            Scalar::Text(text) => Json::String(text),
            Scalar::Literal(text) => serde_json::from_str(&text).map_err(|_| {
                WebhookError::Malformed(format!("`event.{key}` is a number out of range"))
            })?,
        };
        json.insert(key, value);
    }
    Ok(json)
}

/// Maps a verified body to its event, or to none for an event that is not a call.
///
/// * an event whose `type` is present and not `CALL` (the `Event` of vgis.yml also carries
///   `smsData`, docs/providers/vonage-business.md) names no call: it is acknowledged without
///   an event (a 4xx counts as a failed delivery, and a webhook fails after five);
/// * subject: `event.id`; direction `INBOUND`/`OUTBOUND`; `phoneNumber` is the remote party, so
///   it is `from` of an inbound call and `to` of an outbound one;
/// * `occurred_at`: VIS events carry no event time, so it is the time of the state: `endTime` for
///   final states, `answerTime` for `ACTIVE`/`HELD`/`REMOTE_HELD`, else `startTime`;
/// * `duration` is in **milliseconds** (kept as `extra.duration_ms`); `duration_seconds` rounds
///   it down; `answerTime` is `started_at`, `endTime` `ended_at`;
/// * `detail` is the state in lower case, so the summary shows the latest state reported
///   (`held` while on hold), while the status stays `in_progress`.
fn normalize_event(
    event: &Map<String, Json>,
    received_at: Timestamp,
) -> Result<Option<Event>, WebhookError> {
    let text = |key: &str| scalar(event.get(key));
    let time = |key: &str| text(key).and_then(|value| parse_time(&value));
    if text("type").is_some_and(|kind| kind != "CALL") {
        return Ok(None);
    }
    let subject_id = text("id").ok_or(WebhookError::MissingField("event.id"))?;
    let provider_status = text("state").ok_or(WebhookError::MissingField("event.state"))?;
    let status = call_state(&provider_status).flatten();
    let terminal = status.is_some_and(|status| status.is_terminal(Kind::Call));
    let occurred_at = if terminal {
        time("endTime").or_else(|| time("startTime"))
    } else if status == Some(Status::InProgress) {
        time("answerTime").or_else(|| time("startTime"))
    } else {
        time("startTime")
    };
    let direction = match text("direction").as_deref() {
        Some("INBOUND") => Some(Direction::Inbound),
        Some("OUTBOUND") => Some(Direction::Outbound),
        _ => None,
    };
    let remote = text("phoneNumber");
    let duration_ms = event.get("duration").and_then(Json::as_u64);
    let mut extra = extra_fields(&EXTRA_FIELDS, text);
    if let Some(duration_ms) = text("duration") {
        extra.insert("duration_ms".into(), duration_ms);
    }
    Ok(Some(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::VonageBusiness,
        kind: Kind::Call,
        subject_id,
        event_id: event_identity(event),
        status,
        occurred_at,
        received_at,
        sequence: None,
        direction,
        from: (direction == Some(Direction::Inbound))
            .then(|| remote.clone())
            .flatten(),
        to: (direction == Some(Direction::Outbound))
            .then_some(remote)
            .flatten(),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            duration_seconds: duration_ms.map(|millis| millis / 1000),
            detail: Some(provider_status.to_ascii_lowercase()),
            started_at: time("answerTime"),
            ended_at: time("endTime"),
            extra,
            ..Details::default()
        },
        provider_status,
    }))
}

/// The event id: a hash of the members that say which call, whose, in which direction and with
/// whom, in which state, since when, and how long, each as text (a number and a string of the same digits are one; times by the
/// instant they name). Every one is signed, as all of `event` is, so a sender cannot choose
/// another event's id. It is the same for a VIS retry and a replay, and for the same event as
/// the events API lists it (`GET /self/events`), which types members differently (`accountId` a
/// number, a string in webhooks) and lacks some (`internal`, `ucpType`):
/// docs/providers/vonage-business.md.
fn event_identity(event: &Map<String, Json>) -> String {
    let text = |key: &str| scalar(event.get(key)).unwrap_or_default();
    let time = |key: &str| {
        let value = text(key);
        parse_time(&value).map_or(value, |at| at.millis().to_string())
    };
    let identity = [
        text("id"),
        text("userId"),
        text("direction"),
        text("phoneNumber"),
        text("state"),
        time("startTime"),
        time("answerTime"),
        time("endTime"),
        // The events API does not require a duration [B6] that a webhook gives as 0: one event.
        Some(text("duration"))
            .filter(|duration| !duration.is_empty())
            .unwrap_or_else(|| "0".into()),
    ]
    .join("\n");
    content_event_id("vonage-business", identity.as_bytes())
}

/// What a VIS signature covers, as the check read it ([`Scheme::Signed`]): the top-level scalar
/// members of the `event` it canonicalized, from the one parse the signature was checked on.
pub struct Signed {
    members: Vec<(String, Scalar)>,
}

impl Scheme for VonageBusiness {
    type Signed<'a> = Signed;

    fn id(&self) -> ProviderId {
        ProviderId::VonageBusiness
    }

    fn check(&self, request: &CapturedRequest, _now: Timestamp) -> Result<Signed, WebhookError> {
        let body = Body::parse(request)?;
        let signature = body
            .signature(request)
            .ok_or(WebhookError::MissingSignature(
                "neither an `X-VON-Signature` header nor `metadata.signature`",
            ))?;
        let document = Document::parse(body.event.get())?;
        verify_document(&document, signature, &self.config.secrets)?;
        Ok(Signed {
            members: scalar_members(&document),
        })
    }

    fn events(&self, signed: Signed, received_at: Timestamp) -> Result<Vec<Event>, WebhookError> {
        Ok(
            normalize_event(&json_members(signed.members)?, received_at)?
                .into_iter()
                .collect(),
        )
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        is_known_word(kind, word)
    }
}

impl Signer for VonageBusiness {
    /// Sets `X-VON-Signature` to the signature of the body's `event` with the first signing key
    /// (policy `HEADER`); the body is left as it is.
    fn sign(
        &self,
        request: &CapturedRequest,
        _now: Timestamp,
    ) -> Result<CapturedRequest, WebhookError> {
        let secret = self
            .config
            .secrets
            .first()
            .ok_or(WebhookError::MissingSignature(
                "no signing key is configured",
            ))?;
        let body = Body::parse(request)?;
        let canonical = canonical_json(body.event.get(), HexCase::Lower)?;
        Ok(request
            .clone()
            .with_header(SIGNATURE_HEADER, &compute(secret.expose(), &canonical)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_state_maps_to_a_call_status() {
        for (word, status) in CALL_STATES {
            if let Some(status) = status {
                assert!(status.rank(Kind::Call).is_some(), "{word}");
            }
        }
        assert!(is_known_word(Kind::Call, "DETACHED"));
        assert!(!is_known_word(Kind::Call, "answered"));
        assert!(!is_known_word(Kind::Message, "ANSWERED"));
    }

    fn members(json: &str) -> Map<String, Json> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_event_as_the_events_api_lists_it_has_its_webhooks_id() {
        let webhook = members(
            r#"{"accountId":"376","direction":"OUTBOUND","duration":12000,"endTime":"2026-01-01T00:00:15.000+0000","externalId":"callhalf-1:0","id":"5a85d86f253bcd10897f3189","internal":false,"phoneNumber":"14155550123","startTime":"2026-01-01T00:00:00.000+0000","answerTime":"2026-01-01T00:00:03.000+0000","state":"ANSWERED","type":"CALL","ucpType":"VBS","userId":"24785"}"#,
        );
        let listed = members(
            r#"{"id":"5a85d86f253bcd10897f3189","type":"CALL","accountId":376,"userId":24785,"uciId":7,"direction":"OUTBOUND","phoneNumber":"14155550123","duration":12000,"state":"ANSWERED","startTime":"2026-01-01T00:00:00Z","answerTime":"2026-01-01T00:00:03.000+00:00","endTime":"2026-01-01T00:00:15.000+0000"}"#,
        );
        let id = event_identity(&webhook);
        assert_eq!(event_identity(&listed), id);
        assert!(id.starts_with("vonage-business:"));
        let at = Timestamp::from_millis(0);
        let event = normalize_event(&listed, at).unwrap().unwrap();
        assert_eq!(event.event_id, id);
        assert_eq!(event.status, Some(Status::Completed));

        for (member, other) in [
            ("id", json!("5a85d86f253bcd10897f3190")),
            ("state", json!("ACTIVE")),
            ("startTime", json!("2026-01-01T00:00:01.000+0000")),
            ("answerTime", Json::Null),
            ("endTime", json!("2026-01-01T00:00:16.000+0000")),
            ("duration", json!(12001)),
            ("userId", json!("24786")),
            ("direction", json!("INBOUND")),
            ("phoneNumber", json!("14155550124")),
        ] {
            let mut changed = webhook.clone();
            changed.insert(member.into(), other);
            assert_ne!(event_identity(&changed), id, "{member}");
        }
        let mut extra = webhook.clone();
        extra.insert("ucpType".into(), json!("UCP"));
        assert_eq!(event_identity(&extra), id, "a member outside the identity");

        // A ringing call: a webhook's duration 0 and a listed event without one are one event.
        let mut ringing = webhook.clone();
        ringing.insert("duration".into(), json!(0));
        let mut listed_ringing = listed.clone();
        listed_ringing.remove("duration");
        assert_eq!(event_identity(&listed_ringing), event_identity(&ringing));
    }

    #[test]
    fn reads_vis_times() {
        assert_eq!(
            parse_time("2018-02-15T18:58:56.194+0000"),
            Timestamp::parse_rfc3339("2018-02-15T18:58:56.194Z")
        );
        assert_eq!(
            parse_time("2020-10-01T16:10:06.000+0200"),
            Timestamp::parse_rfc3339("2020-10-01T14:10:06Z")
        );
        assert_eq!(
            parse_time("2020-10-01T16:10:06+0000"),
            Timestamp::parse_rfc3339("2020-10-01T16:10:06Z")
        );
        assert_eq!(parse_time("soon"), None);
    }
}
