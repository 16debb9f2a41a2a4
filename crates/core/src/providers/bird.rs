//! Bird (new platform) voice webhooks (`/webhooks/bird`): docs/providers/bird.md.
//!
//! **Signature** (exact, from https://docs.bird.com/api/notifications-api/api-reference/webhooks/verifying-a-webhook):
//! headers `messagebird-signature` (base64 HMAC-SHA256) and `messagebird-request-timestamp`;
//! the MAC is over `timestamp + "\n" + URL + "\n" + SHA-256(body)` with the hash as **raw 32
//! bytes** (the docs' PHP: `hash('sha256', $body, true)`), keyed with the subscription's
//! `signingKey`. The URL is the request URL exactly (the worker has already applied
//! `PUBLIC_BASE_URL`). Vector: `bird-derived-1`.
//!
//! **Timestamp**: no window is documented; Switchboard requires `SIGNATURE_TOLERANCE_SECONDS`
//! either way. The unit is not documented either (UNVERIFIED): the value is read as unix seconds,
//! and as milliseconds when it has 13 or more digits.
//!
//! **Envelope (UNVERIFIED)**: the delivered body is expected to be
//! `{"service":"channels","event":"voice.outbound","payload":{<call object>}}` by analogy with
//! other Bird channel events; the call object at the top level is accepted too. The call object
//! is the one of https://docs.bird.com/api/voice-api/voice-calls-api/get-a-call.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::Hmac;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::config::{secret_setting, ConfigError, Settings};
use crate::crypto::{hmac, matches_any_tag};
use crate::error::{echo, WebhookError};
use crate::model::{Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::provider::{Scheme, Signer};
use crate::providers::shared::{content_event_id, extra_fields, json_text, lookup};
use crate::request::CapturedRequest;
use crate::secret::Secret;
use crate::time::Timestamp;

pub const SIGNATURE_HEADER: &str = "messagebird-signature";
pub const TIMESTAMP_HEADER: &str = "messagebird-request-timestamp";

/// Standard base64; padding optional on input, written on output.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A timestamp with at least this value is read as milliseconds (10^12 ms is 2001-09-09; 10^12 s
/// is 33 658 AD).
const MILLISECONDS_FROM: i64 = 1_000_000_000_000;

/// Call `status` words. Source: https://docs.bird.com/api/voice-api/voice-webhooks (inbound:
/// `starting`, `ringing`, `ongoing`, `completed`, `no-answer`, `busy`, `failed`; outbound adds
/// `accepted`). `cancelled` is UNVERIFIED (docs/providers/bird.md: the stored outbound list is cut
/// after `busy`).
const CALL_STATUSES: [(&str, Status); 9] = [
    // "When an outgoing call has been accepted by the Voice API".
    ("accepted", Status::Initiated),
    // "The call has been initiated".
    ("starting", Status::Initiated),
    ("ringing", Status::Ringing),
    // "The call is in progress".
    ("ongoing", Status::InProgress),
    ("completed", Status::Completed),
    ("no-answer", Status::NoAnswer),
    ("busy", Status::Busy),
    ("failed", Status::Failed),
    // UNVERIFIED.
    ("cancelled", Status::Canceled),
];

/// Call fields kept in [`Details::extra`] (get-a-call).
const EXTRA_FIELDS: [&str; 7] = [
    "parentId",
    "channelId",
    "type",
    "hangupCauseCode",
    "hangupSource",
    "hangupSipCode",
    "updatedAt",
];

pub fn call_status(word: &str) -> Option<Status> {
    lookup(&CALL_STATUSES, word)
}

/// Whether `word` is a call status this version knows (Bird sends calls only).
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    kind == Kind::Call && call_status(word).is_some()
}

#[derive(Debug, Clone)]
pub struct BirdConfig {
    /// The subscriptions' `signingKey`s; any one may match (rotation). Never empty.
    pub secrets: Vec<Secret>,
    pub tolerance_seconds: u32,
}

impl BirdConfig {
    /// Reads the signing key(s).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        let secrets = settings.secrets(secret_setting(ProviderId::Bird));
        Ok((!secrets.is_empty()).then_some(Self {
            secrets,
            tolerance_seconds: settings.tolerance_seconds,
        }))
    }
}

pub struct Bird {
    config: BirdConfig,
}

impl Bird {
    pub fn new(config: BirdConfig) -> Self {
        Self { config }
    }
}

/// The bytes that are MACed.
pub fn signed_bytes(timestamp: &str, url: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + url.len() + 34);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(url.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(&Sha256::digest(body));
    message
}

/// The `messagebird-signature` value for these inputs.
pub fn signature(key: &Secret, timestamp: &str, url: &str, body: &[u8]) -> String {
    BASE64.encode(hmac::<Hmac<Sha256>>(
        key.expose().as_bytes(),
        &signed_bytes(timestamp, url, body),
    ))
}

/// The timestamp header as an instant: unix seconds, or milliseconds from 13 digits on.
fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let trimmed = text.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let value: i64 = trimmed.parse().ok()?;
    Some(if value >= MILLISECONDS_FROM {
        Timestamp::from_millis(value)
    } else {
        Timestamp::from_unix_seconds(value)
    })
}

/// The full check: the signature over the exact timestamp header, URL and body against every
/// secret (constant time, no early exit), then the timestamp within `tolerance_seconds` of `now`.
pub fn verify_signature(
    signature: &str,
    timestamp: &str,
    url: &str,
    body: &[u8],
    secrets: &[Secret],
    tolerance_seconds: u32,
    now: Timestamp,
) -> Result<(), WebhookError> {
    let presented = BASE64.decode(signature.trim()).map_err(|_| {
        WebhookError::InvalidSignature("`messagebird-signature` is not base64".into())
    })?;
    let message = signed_bytes(timestamp, url, body);
    let expected = secrets
        .iter()
        .map(|secret| hmac::<Hmac<Sha256>>(secret.expose().as_bytes(), &message));
    if !matches_any_tag(&presented, expected) {
        return Err(WebhookError::InvalidSignature(
            "`messagebird-signature` matches no configured signing key".into(),
        ));
    }
    let shown = || echo(timestamp);
    match parse_timestamp(timestamp) {
        Some(at) if at.within(now, tolerance_seconds) => Ok(()),
        _ => Err(WebhookError::TimestampOutOfTolerance(shown())),
    }
}

/// A JSON value as text: strings as they are, numbers as their JSON text.
fn text(object: &Map<String, Json>, key: &str) -> Option<String> {
    match object.get(key)? {
        Json::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A party (`from`/`to`): a plain string, or the `number.number` / `contact.identifierValue` of
/// an `originator`/`receiver` object (get-a-call).
fn party(call: &Map<String, Json>, plain: &str, object: &str) -> Option<String> {
    text(call, plain).or_else(|| {
        let party = call.get(object)?.as_object()?;
        let nested = |outer: &str, inner: &str| text(party.get(outer)?.as_object()?, inner);
        nested("number", "number").or_else(|| nested("contact", "identifierValue"))
    })
}

/// Maps a verified request to its event (module docs for the assumed envelope), or to none
/// when the envelope names an event that is not a voice event.
///
/// A signed event of another Bird service (`sms.outbound`, a subscription to another channel
/// pointed here) names no call: it is acknowledged without an event, since a 4xx is retried
/// "at increasing intervals over a period of 8 hours" (docs/providers/bird.md).
///
/// Event id: a hash of the body, which the signature covers. Not `messagebird-request-id`: that
/// header is unsigned, so a replayed body could choose its own id, and a retry with the same body
/// collapses anyway.
fn normalize_call(body: &[u8], received_at: Timestamp) -> Result<Option<Event>, WebhookError> {
    let Ok(Json::Object(envelope)) = serde_json::from_slice::<Json>(json_text(body)) else {
        return Err(WebhookError::Malformed(
            "the body is not a JSON object".into(),
        ));
    };
    let event_name = envelope.get("event").and_then(Json::as_str);
    if event_name.is_some_and(|name| !name.starts_with("voice.")) {
        return Ok(None);
    }
    let call = match envelope.get("payload") {
        Some(Json::Object(call)) => call,
        _ => &envelope,
    };
    let subject_id = text(call, "id").ok_or(WebhookError::MissingField("id"))?;
    let provider_status = text(call, "status").ok_or(WebhookError::MissingField("status"))?;
    let status = call_status(&provider_status);
    let time = |key| text(call, key).and_then(|value| Timestamp::parse_rfc3339(&value));
    // The time of this status: its own field where the call object has one.
    let status_time = match status {
        Some(Status::Initiated) => time("createdAt"),
        Some(Status::Ringing) => time("ringingAt"),
        Some(Status::InProgress) => time("answeredAt"),
        Some(_) => time("endedAt"),
        None => None,
    };
    let direction = match text(call, "direction").as_deref() {
        Some("incoming") => Some(Direction::Inbound),
        Some("outgoing") => Some(Direction::Outbound),
        _ => match event_name {
            Some("voice.inbound") => Some(Direction::Inbound),
            Some("voice.outbound") => Some(Direction::Outbound),
            _ => None,
        },
    };
    let event_id = content_event_id("bird", body);
    Ok(Some(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Bird,
        kind: Kind::Call,
        subject_id,
        event_id,
        status,
        occurred_at: status_time
            .or_else(|| time("updatedAt"))
            .or_else(|| time("createdAt")),
        received_at,
        sequence: None,
        direction,
        from: party(call, "from", "originator"),
        to: party(call, "to", "receiver"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            duration_seconds: text(call, "duration").and_then(|value| value.trim().parse().ok()),
            detail: text(call, "reason"),
            started_at: time("answeredAt"),
            ended_at: time("endedAt"),
            extra: extra_fields(&EXTRA_FIELDS, |key| text(call, key)),
            ..Details::default()
        },
        provider_status,
    }))
}

/// What a Bird signature covers and an event is read from: the body (the URL and the timestamp
/// are signed too, and read by nothing) ([`Scheme::Signed`]).
pub struct Signed<'a>(&'a [u8]);

impl Scheme for Bird {
    type Signed<'a> = Signed<'a>;

    fn id(&self) -> ProviderId {
        ProviderId::Bird
    }

    fn check<'a>(
        &self,
        request: &'a CapturedRequest,
        now: Timestamp,
    ) -> Result<Signed<'a>, WebhookError> {
        let signature = request
            .header(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature(
                "no `messagebird-signature` header",
            ))?;
        let timestamp =
            request
                .header(TIMESTAMP_HEADER)
                .ok_or(WebhookError::MissingSignedField(
                    "messagebird-request-timestamp",
                ))?;
        verify_signature(
            signature,
            timestamp,
            &request.url,
            &request.body,
            &self.config.secrets,
            self.config.tolerance_seconds,
            now,
        )?;
        Ok(Signed(&request.body))
    }

    fn events(
        &self,
        signed: Signed<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        Ok(normalize_call(signed.0, received_at)?.into_iter().collect())
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        is_known_word(kind, word)
    }
}

impl Signer for Bird {
    /// Sets `messagebird-request-timestamp` to `now` (unix seconds) and `messagebird-signature`
    /// for the request's exact URL and body.
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
        let timestamp = now.unix_seconds().to_string();
        let value = signature(secret, &timestamp, &request.url, &request.body);
        Ok(request
            .clone()
            .with_header(TIMESTAMP_HEADER, &timestamp)
            .with_header(SIGNATURE_HEADER, &value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_word_is_a_call_status() {
        for (word, status) in CALL_STATUSES {
            assert!(status.rank(Kind::Call).is_some(), "{word}");
        }
        assert_eq!(call_status("ongoing"), Some(Status::InProgress));
        assert_eq!(call_status("teleported"), None);
    }

    #[test]
    fn timestamps_are_seconds_or_milliseconds() {
        assert_eq!(
            parse_timestamp("1719823259"),
            Some(Timestamp::from_unix_seconds(1_719_823_259))
        );
        assert_eq!(
            parse_timestamp("1719823259123"),
            Some(Timestamp::from_millis(1_719_823_259_123))
        );
        for bad in ["", "-1", "1.5", "abc", "99999999999999999999999"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
