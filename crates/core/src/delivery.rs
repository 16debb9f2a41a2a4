//! Delivery of committed events to the application's own endpoints (docs/delivery.md): the
//! endpoints' configuration, which events each wants, the payload, the Standard Webhooks
//! signature, the retry schedule, and the keys of the failed-delivery index. Pure: the worker's
//! `Subject` keeps the outbox and makes the attempts (`src/outbox.rs`).
//!
//! Standard Webhooks: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>
//! (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`; the signed content
//! `{id}.{timestamp}.{body}`; secrets `whsec_` + base64; the retry schedule).

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::Hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Settings};
use crate::crypto::{hmac, matches_any_tag};
use crate::index::{newest_first, MAX_KEY_BYTES};
use crate::request::url_origin;
use crate::{Event, Kind, ProviderId, Status, Timestamp};

/// Standard Webhooks' retry schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h, 14 h, 20 h, 24 h (seconds).
pub const DEFAULT_RETRY_SCHEDULE_SECONDS: [u32; 9] =
    [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// The longest wait `DELIVERY_RETRY_SCHEDULE` may name: a week.
pub const MAX_RETRY_WAIT_SECONDS: u32 = 7 * 86_400;

/// How long one attempt may take before it counts as failed.
pub const ATTEMPT_TIMEOUT_MS: i64 = 15_000;

/// The longest `Retry-After` honoured: a day.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 86_400;

/// Each wait of the schedule is moved by up to this fraction, either way, so that the
/// deliveries of many subjects that failed together do not come back together.
pub const JITTER: f64 = 0.1;

/// The most endpoints `DELIVERY_ENDPOINTS` may name.
pub const MAX_ENDPOINTS: usize = 16;
/// The longest endpoint name.
pub const MAX_NAME_CHARS: usize = 32;

/// The HMAC key of a Standard Webhooks secret: the bytes that `whsec_<base64>` encodes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// The spec's secrets are 24 to 64 random bytes.
    pub const MIN_BYTES: usize = 24;
    pub const MAX_BYTES: usize = 64;

    /// Reads `whsec_<standard base64>`.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let encoded = text
            .trim()
            .strip_prefix("whsec_")
            .ok_or("a secret must start with whsec_")?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| "a secret must be whsec_ followed by standard base64")?;
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&key.len()) {
            return Err("a secret must encode 24 to 64 bytes");
        }
        Ok(Self(key))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            BASE64.encode(self.tag(&signed_content(webhook_id, timestamp, body)))
        )
    }

    fn tag(&self, content: &[u8]) -> Vec<u8> {
        hmac::<Hmac<Sha256>>(&self.0, content)
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

fn signed_content(webhook_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{webhook_id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// The `webhook-signature` header: one signature per secret, separated by spaces.
pub fn signature_header(
    secrets: &[SigningSecret],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(webhook_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a delivery's signature was refused (`switchboard listen`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` is not a whole number of seconds")]
    InvalidTimestamp,
    #[error("`webhook-timestamp` is more than {0} s away from now")]
    StaleTimestamp(u32),
    #[error("no `v1` signature matches")]
    NoMatch,
}

/// Checks a delivery as a receiver does: the timestamp within `tolerance_seconds` of `now`, and
/// one of the `v1` signatures of `signatures` made by one of `secrets` (each compared in
/// constant time).
pub fn verify(
    secrets: &[SigningSecret],
    webhook_id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: Timestamp,
    tolerance_seconds: u32,
) -> Result<(), VerifyError> {
    let webhook_id = webhook_id.ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let timestamp = timestamp.ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signatures = signatures.ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    if !Timestamp::from_unix_seconds(seconds).within(now, tolerance_seconds) {
        return Err(VerifyError::StaleTimestamp(tolerance_seconds));
    }
    let content = signed_content(webhook_id, seconds, body);
    let expected: Vec<Vec<u8>> = secrets.iter().map(|secret| secret.tag(&content)).collect();
    let matched = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .fold(false, |matched, presented| {
            matched | matches_any_tag(&presented, &expected)
        });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// An event's type: `{kind}.{status}`, or `{kind}.updated` for an event without a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    pub kind: Kind,
    pub status: Option<Status>,
}

impl EventType {
    pub fn of(event: &Event) -> Self {
        Self {
            kind: event.kind,
            status: event.status,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status.map_or("updated", Status::as_str);
        write!(f, "{}.{status}", self.kind.as_str())
    }
}

/// One entry of `DELIVERY_<NAME>_EVENTS`: `*`, `{kind}.*` or one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventPattern {
    All,
    Kind(Kind),
    Exact(EventType),
}

impl EventPattern {
    fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::All);
        }
        let (kind, status) = text.split_once('.')?;
        let kind: Kind = kind.parse().ok()?;
        match status {
            "*" => Some(Self::Kind(kind)),
            "updated" => Some(Self::Exact(EventType { kind, status: None })),
            status => {
                let status: Status = status.parse().ok()?;
                status.rank(kind)?;
                Some(Self::Exact(EventType {
                    kind,
                    status: Some(status),
                }))
            }
        }
    }

    fn describe(self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Kind(kind) => format!("{}.*", kind.as_str()),
            Self::Exact(event_type) => event_type.to_string(),
        }
    }

    fn matches(self, event_type: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Kind(kind) => kind == event_type.kind,
            Self::Exact(exact) => exact == event_type,
        }
    }
}

/// One configured endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// As written in `DELIVERY_ENDPOINTS`.
    pub name: String,
    pub url: String,
    secrets: Vec<SigningSecret>,
    events: Vec<EventPattern>,
    /// `None`: every provider.
    providers: Option<Vec<ProviderId>>,
}

/// What `GET /v1/config` shows of an endpoint: never its secrets, nor its URL's path and query,
/// which may carry a credential of the application's (a chat service's webhook URL is one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointOverview {
    pub name: String,
    /// The URL's scheme and host (and port); `/…` stands for a path or query.
    pub url: String,
    /// How many secrets sign each delivery (more than one while rotating).
    pub secrets: usize,
    /// The event patterns, as configured (`*` when unset).
    pub events: Vec<String>,
    /// `None`: every provider.
    pub providers: Option<Vec<ProviderId>>,
}

impl Endpoint {
    pub fn overview(&self) -> EndpointOverview {
        let origin = url_origin(&self.url);
        let url = match &self.url[origin.len()..] {
            "" | "/" => self.url.clone(),
            _ => format!("{origin}/…"),
        };
        EndpointOverview {
            name: self.name.clone(),
            url,
            secrets: self.secrets.len(),
            events: self
                .events
                .iter()
                .map(|pattern| pattern.describe())
                .collect(),
            providers: self.providers.clone(),
        }
    }

    /// Whether this endpoint asked for events of this type from this provider.
    pub fn wants(&self, event_type: EventType, provider: ProviderId) -> bool {
        self.events
            .iter()
            .any(|pattern| pattern.matches(event_type))
            && self
                .providers
                .as_ref()
                .is_none_or(|providers| providers.contains(&provider))
    }

    /// The `webhook-signature` header of one attempt.
    pub fn signature(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        signature_header(&self.secrets, webhook_id, timestamp, body)
    }
}

/// `DELIVERY_*`: the endpoints and the retry schedule.
#[derive(Debug, Clone, Default)]
pub struct DeliveryConfig {
    pub endpoints: Vec<Endpoint>,
    /// Seconds to wait before each retry; one attempt more than it has waits.
    pub retry_schedule: Vec<u32>,
}

impl DeliveryConfig {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let retry_schedule = match settings.get("DELIVERY_RETRY_SCHEDULE") {
            None => DEFAULT_RETRY_SCHEDULE_SECONDS.to_vec(),
            Some(text) => parse_schedule(&text).map_err(|problem| ConfigError {
                name: "DELIVERY_RETRY_SCHEDULE".into(),
                problem,
            })?,
        };
        let names = settings.get("DELIVERY_ENDPOINTS").unwrap_or_default();
        let mut endpoints: Vec<Endpoint> = Vec::new();
        for name in names
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let invalid = |problem: String| ConfigError {
                name: "DELIVERY_ENDPOINTS".into(),
                problem,
            };
            if name.chars().count() > MAX_NAME_CHARS
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(invalid(format!(
                    "`{}` is not a name of letters, digits and _, at most {MAX_NAME_CHARS} long",
                    crate::error::echo(name)
                )));
            }
            if endpoints
                .iter()
                .any(|endpoint| endpoint.name.eq_ignore_ascii_case(name))
            {
                return Err(invalid(format!("`{name}` is named twice")));
            }
            if endpoints.len() == MAX_ENDPOINTS {
                return Err(invalid(format!("at most {MAX_ENDPOINTS} endpoints")));
            }
            endpoints.push(Endpoint::from_settings(name, settings)?);
        }
        Ok(Self {
            endpoints,
            retry_schedule,
        })
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|endpoint| endpoint.name == name)
    }

    /// How many attempts a delivery gets before it is `failed`.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.retry_schedule.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// What follows an attempt, the `attempt`-th (from 1) since the delivery was created or
    /// retried by hand: delivered, another attempt at a time, or failed. `jitter` is uniform in
    /// `[0, 1)`; `retry_after_s` is the answer's `Retry-After`, honoured on 429 and 503 when it
    /// asks for a longer wait than the schedule.
    pub fn after_attempt(
        &self,
        attempt: u32,
        outcome: &AttemptOutcome,
        now: Timestamp,
        jitter: f64,
    ) -> NextStep {
        if outcome.is_success() {
            return NextStep::Delivered;
        }
        let Some(&wait_s) = usize::try_from(attempt)
            .ok()
            .and_then(|attempt| attempt.checked_sub(1))
            .and_then(|index| self.retry_schedule.get(index))
        else {
            return NextStep::Failed;
        };
        let spread = 1.0 + JITTER * (2.0 * jitter.clamp(0.0, 1.0) - 1.0);
        let mut wait_ms = (f64::from(wait_s) * 1000.0 * spread).round() as i64;
        if let AttemptOutcome::Answered {
            status: 429 | 503,
            retry_after_s: Some(retry_after_s),
        } = outcome
        {
            let asked = retry_after_s.min(&MAX_RETRY_AFTER_SECONDS) * 1000;
            wait_ms = wait_ms.max(i64::try_from(asked).unwrap_or(i64::MAX));
        }
        NextStep::RetryAt(Timestamp::from_millis(now.millis().saturating_add(wait_ms)))
    }
}

fn parse_schedule(text: &str) -> Result<Vec<u32>, String> {
    text.split(',')
        .map(str::trim)
        .map(|wait| match wait.parse::<u32>() {
            Ok(seconds) if seconds <= MAX_RETRY_WAIT_SECONDS => Ok(seconds),
            _ => Err(format!(
                "`{}` is not a whole number of seconds up to {MAX_RETRY_WAIT_SECONDS}",
                crate::error::echo(wait)
            )),
        })
        .collect()
}

impl Endpoint {
    fn from_settings(name: &str, settings: &Settings) -> Result<Self, ConfigError> {
        let upper = name.to_ascii_uppercase();
        let setting = |suffix: &str| format!("DELIVERY_{upper}_{suffix}");
        let invalid = |suffix: &str, problem: String| ConfigError {
            name: setting(suffix).into(),
            problem,
        };
        let url = settings
            .get(&setting("URL"))
            .ok_or_else(|| invalid("URL", "must be set for each endpoint".into()))?;
        let url = parse_url(url.trim()).map_err(|problem| invalid("URL", problem.into()))?;
        let secrets = settings
            .secrets(&setting("SECRET"))
            .iter()
            .map(|secret| SigningSecret::parse(secret.expose()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|problem| invalid("SECRET", problem.into()))?;
        if secrets.is_empty() {
            return Err(invalid("SECRET", "must be set for each endpoint".into()));
        }
        let events = match settings.get(&setting("EVENTS")) {
            None => vec![EventPattern::All],
            Some(text) => list(&text)
                .map(|pattern| {
                    EventPattern::parse(pattern).ok_or_else(|| {
                        invalid(
                            "EVENTS",
                            format!(
                                "`{}` is not an event type or pattern (call.completed, call.*, *)",
                                crate::error::echo(pattern)
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let providers = settings
            .get(&setting("PROVIDERS"))
            .map(|text| {
                list(&text)
                    .map(|provider| {
                        provider.parse::<ProviderId>().map_err(|error| {
                            invalid("PROVIDERS", format!("{error}: not a provider"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Self {
            name: name.to_owned(),
            url,
            secrets,
            events,
            providers,
        })
    }
}

fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Accepts `https://host[:port][/path][?query]`, and `http://` only to a loopback host (local
/// development: `switchboard listen`).
pub(crate) fn parse_url(url: &str) -> Result<String, &'static str> {
    const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];
    if url.contains(|c: char| c.is_whitespace() || c.is_control()) || url.contains('#') {
        return Err("must be a URL without spaces or a fragment");
    }
    let (rest, https) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        (None, None) => return Err("must start with https:// (http:// only to localhost)"),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("must name a host, without credentials");
    }
    let host = match authority.strip_prefix('[') {
        Some(_) => authority.split_inclusive(']').next().unwrap_or(authority),
        None => authority.split(':').next().unwrap_or(authority),
    };
    if !https && !LOOPBACK.contains(&host) {
        return Err("must be https:// (http:// only to localhost, 127.0.0.1 or [::1])");
    }
    Ok(url.to_owned())
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The endpoint answered with this status; `retry_after_s` from its `Retry-After`.
    Answered {
        status: u16,
        retry_after_s: Option<u64>,
    },
    /// No answer: a timeout, a refused connection, a failed TLS handshake.
    NoAnswer { reason: String },
}

impl AttemptOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Answered { status, .. } if (200..300).contains(status))
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Answered { status, .. } => Some(*status),
            Self::NoAnswer { .. } => None,
        }
    }

    /// `last_error`: `None` for a delivered attempt.
    pub fn error(&self) -> Option<String> {
        match self {
            _ if self.is_success() => None,
            Self::Answered { status, .. } => Some(format!("the endpoint answered {status}")),
            Self::NoAnswer { reason } => Some(crate::error::echo(reason)),
        }
    }
}

/// What a delivery does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(Timestamp),
    Failed,
}

/// `Retry-After` as delta-seconds (RFC 9110 §10.2.3). Its other form, an HTTP date, is not
/// read: a receiver that sends one gets the schedule's wait.
pub fn retry_after_seconds(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// `webhook-id`: `msg_` and 32 hex digits of SHA-256 over the subject's object name, the
/// endpoint and the event id, so that every attempt and every replay of one event to one
/// endpoint carries the same id.
pub fn webhook_id(subject: &str, endpoint: &str, event_id: &str) -> String {
    let digest = Sha256::digest(format!("{subject}\n{endpoint}\n{event_id}"));
    format!("msg_{}", hex::encode(&digest[..16]))
}

/// The body of a delivery: `{"type", "timestamp", "data": {"event", "state"}}`, from the
/// event's and the state's JSON text (the event as stored, the state as the status API shows
/// it).
pub fn payload(event_type: EventType, received_at: Timestamp, event: &str, state: &str) -> String {
    format!(
        "{{\"type\":\"{event_type}\",\"timestamp\":\"{received_at}\",\"data\":{{\"event\":{event},\"state\":{state}}}}}"
    )
}

/// The KV keys of a failed delivery: one in the list of every endpoint, one in its endpoint's,
/// most recently failed first (see [`crate::index`] for the rest of the layout). They fit in a
/// KV key whatever the names and ids (checked below).
pub fn failed_keys(endpoint: &str, failed_ms: i64, webhook_id: &str) -> [String; 2] {
    let when = newest_first(failed_ms);
    [
        format!("{}{when}/{webhook_id}", failed_prefix(None)),
        format!("{}{when}/{webhook_id}", failed_prefix(Some(endpoint))),
    ]
}

/// The prefix of the failed-delivery list of one endpoint, or of all (`*`, which no endpoint
/// name can be).
pub fn failed_prefix(endpoint: Option<&str>) -> String {
    format!("deliveries/failed/{}/", endpoint.unwrap_or("*"))
}

const _: () = assert!(
    "deliveries/failed/".len() + MAX_NAME_CHARS + 1 + 13 + 1 + 36 <= MAX_KEY_BYTES,
    "a failed-delivery key fits in KV"
);

/// One failed delivery in the KV index (the key's metadata, at most 1024 bytes: `last_error` is
/// cut short and the ids are at most 200 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedDelivery {
    pub endpoint: String,
    pub kind: Kind,
    pub provider: ProviderId,
    pub subject_id: String,
    pub event_id: String,
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub failed_at: Timestamp,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

/// A cursor of the failed-delivery list: the KV cursor, for the list of `endpoint`, sealed
/// under `key` like the subject lists' cursors ([`crate::index::seal_cursor`]).
pub fn encode_failed_cursor(endpoint: Option<&str>, kv_cursor: &str, key: &[u8]) -> String {
    let cursor = FailedCursor {
        list: Cow::Owned(failed_prefix(endpoint)),
        cursor: Cow::Borrowed(kv_cursor),
    };
    let json = serde_json::to_vec(&cursor).unwrap_or_default();
    crate::index::seal_cursor(FAILED_CURSOR_PREFIX, &json, key)
}

/// The KV cursor inside one of our cursors for the list of `endpoint`; `None` for anything else.
pub fn decode_failed_cursor(cursor: &str, endpoint: Option<&str>, key: &[u8]) -> Option<String> {
    let json = crate::index::open_cursor(cursor, FAILED_CURSOR_PREFIX, key)?;
    let cursor: FailedCursor = serde_json::from_slice(&json).ok()?;
    (cursor.list == failed_prefix(endpoint) && !cursor.cursor.is_empty())
        .then(|| cursor.cursor.into_owned())
}

const FAILED_CURSOR_PREFIX: &str = "d1.";

#[derive(Serialize, Deserialize)]
struct FailedCursor<'a> {
    #[serde(borrow)]
    list: Cow<'a, str>,
    #[serde(borrow)]
    cursor: Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings_config(pairs: &[(&str, &str)]) -> Result<DeliveryConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = |name: &str| map.get(name).cloned();
        DeliveryConfig::from_settings(&Settings::new(&lookup, 300))
    }

    /// The secret of the spec's example (standard-webhooks `spec/standard-webhooks.md`).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn signs_as_the_spec_example_does() {
        // standard-webhooks/standard-webhooks, libraries' shared test vector: id
        // msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body {"test": 2432232314}.
        let secret = SigningSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_base64_of_24_to_64_bytes() {
        assert!(SigningSecret::parse(SPEC_SECRET).is_ok());
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_not base64!",
            &format!("whsec_{}", BASE64.encode([7u8; 23])),
            &format!("whsec_{}", BASE64.encode([7u8; 65])),
        ] {
            assert!(SigningSecret::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", SigningSecret::parse(SPEC_SECRET).unwrap()),
            "SigningSecret(<redacted>)"
        );
    }

    #[test]
    fn verify_accepts_any_secret_and_refuses_changes() {
        let old = SigningSecret::parse(SPEC_SECRET).unwrap();
        let new = SigningSecret::parse(&format!("whsec_{}", BASE64.encode([9u8; 32]))).unwrap();
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let body = br#"{"type":"call.completed"}"#;
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 1_700_000_000, body);
        assert_eq!(header.split(' ').count(), 2);
        for secrets in [vec![old.clone()], vec![new.clone()]] {
            let check = |id, ts, sig: &str, body: &[u8]| {
                verify(&secrets, Some(id), Some(ts), Some(sig), body, now, 300)
            };
            assert_eq!(check("msg_1", "1700000000", &header, body), Ok(()));
            assert_eq!(
                check("msg_2", "1700000000", &header, body),
                Err(VerifyError::NoMatch)
            );
            assert_eq!(
                check("msg_1", "1700000001", &header, body),
                Err(VerifyError::NoMatch)
            );
            assert_eq!(
                check("msg_1", "1700000000", &header, b"{}"),
                Err(VerifyError::NoMatch)
            );
            assert_eq!(
                check("msg_1", "1699999000", &header, body),
                Err(VerifyError::StaleTimestamp(300))
            );
            assert_eq!(
                check("msg_1", "x", &header, body),
                Err(VerifyError::InvalidTimestamp)
            );
        }
        let other = SigningSecret::parse(&format!("whsec_{}", BASE64.encode([1u8; 32]))).unwrap();
        assert_eq!(
            verify(
                &[other],
                Some("msg_1"),
                Some("1700000000"),
                Some(&header),
                body,
                now,
                300
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&[old], None, Some("1"), Some(&header), body, now, 300),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
    }

    #[test]
    fn event_types_and_patterns() {
        let completed = EventType {
            kind: Kind::Call,
            status: Some(Status::Completed),
        };
        let annotation = EventType {
            kind: Kind::Message,
            status: None,
        };
        assert_eq!(completed.to_string(), "call.completed");
        assert_eq!(annotation.to_string(), "message.updated");
        let pattern = |text| EventPattern::parse(text).unwrap();
        assert!(pattern("*").matches(completed));
        assert!(pattern("call.*").matches(completed));
        assert!(!pattern("message.*").matches(completed));
        assert!(pattern("call.completed").matches(completed));
        assert!(!pattern("call.ringing").matches(completed));
        assert!(pattern("message.updated").matches(annotation));
        for bad in [
            "call",
            "call.delivered",
            "sms.*",
            "call.Completed",
            "**",
            "",
        ] {
            assert_eq!(EventPattern::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn endpoints_are_read_with_their_filters() {
        let config = settings_config(&[
            ("DELIVERY_ENDPOINTS", " crm, Alerts_2 "),
            ("DELIVERY_CRM_URL", "https://crm.example.com/hooks?x=1"),
            (
                "DELIVERY_CRM_SECRET",
                &format!("{SPEC_SECRET}, {SPEC_SECRET}"),
            ),
            ("DELIVERY_ALERTS_2_URL", "http://127.0.0.1:9000/"),
            ("DELIVERY_ALERTS_2_SECRET", SPEC_SECRET),
            ("DELIVERY_ALERTS_2_EVENTS", "message.failed, call.*"),
            ("DELIVERY_ALERTS_2_PROVIDERS", "twilio,vonage-business"),
            ("DELIVERY_RETRY_SCHEDULE", "1, 2,3"),
        ])
        .unwrap();
        assert_eq!(config.retry_schedule, [1, 2, 3]);
        assert_eq!(config.max_attempts(), 4);
        let [crm, alerts] = &config.endpoints[..] else {
            panic!("two endpoints");
        };
        assert_eq!(
            (crm.name.as_str(), alerts.name.as_str()),
            ("crm", "Alerts_2")
        );
        assert_eq!(crm.secrets.len(), 2);
        let failed = EventType {
            kind: Kind::Message,
            status: Some(Status::Failed),
        };
        let sent = EventType {
            kind: Kind::Message,
            status: Some(Status::Sent),
        };
        assert!(crm.wants(sent, ProviderId::Plivo));
        assert!(alerts.wants(failed, ProviderId::Twilio));
        assert!(!alerts.wants(failed, ProviderId::Plivo));
        assert!(!alerts.wants(sent, ProviderId::Twilio));
        assert!(config.endpoint("crm").is_some());
        assert!(config.endpoint("CRM").is_none());
        assert_eq!(
            crm.overview(),
            EndpointOverview {
                name: "crm".into(),
                url: "https://crm.example.com/…".into(),
                secrets: 2,
                events: vec!["*".into()],
                providers: None,
            }
        );
        assert_eq!(
            alerts.overview(),
            EndpointOverview {
                name: "Alerts_2".into(),
                url: "http://127.0.0.1:9000/".into(),
                secrets: 1,
                events: vec!["message.failed".into(), "call.*".into()],
                providers: Some(vec![ProviderId::Twilio, ProviderId::VonageBusiness]),
            }
        );
        let overview = serde_json::to_string(&crm.overview()).unwrap();
        assert!(!overview.contains("hooks") && !overview.contains("x=1"));
        assert!(!overview.contains(SPEC_SECRET));

        let off = settings_config(&[]).unwrap();
        assert!(off.endpoints.is_empty());
        assert_eq!(off.retry_schedule, DEFAULT_RETRY_SCHEDULE_SECONDS);
    }

    #[test]
    fn invalid_endpoints_name_their_setting() {
        let base = [
            ("DELIVERY_ENDPOINTS", "crm"),
            ("DELIVERY_CRM_URL", "https://crm.example.com/"),
            ("DELIVERY_CRM_SECRET", SPEC_SECRET),
        ];
        let with = |name: &'static str, value: &'static str| {
            let mut pairs: Vec<(&str, &str)> = base
                .iter()
                .copied()
                .filter(|(key, _)| *key != name)
                .collect();
            pairs.push((name, value));
            settings_config(&pairs).unwrap_err().name.into_owned()
        };
        assert_eq!(with("DELIVERY_ENDPOINTS", "crm,CRM"), "DELIVERY_ENDPOINTS");
        assert_eq!(with("DELIVERY_ENDPOINTS", "c-r-m"), "DELIVERY_ENDPOINTS");
        assert_eq!(with("DELIVERY_CRM_URL", ""), "DELIVERY_CRM_URL");
        assert_eq!(
            with("DELIVERY_CRM_URL", "http://crm.example.com/"),
            "DELIVERY_CRM_URL"
        );
        assert_eq!(
            with("DELIVERY_CRM_URL", "http://127.0.0.1.evil.com/"),
            "DELIVERY_CRM_URL"
        );
        assert_eq!(
            with("DELIVERY_CRM_URL", "https://user@crm/"),
            "DELIVERY_CRM_URL"
        );
        assert_eq!(with("DELIVERY_CRM_URL", "ftp://crm/"), "DELIVERY_CRM_URL");
        assert_eq!(with("DELIVERY_CRM_SECRET", ""), "DELIVERY_CRM_SECRET");
        assert_eq!(with("DELIVERY_CRM_SECRET", "secret"), "DELIVERY_CRM_SECRET");
        assert_eq!(
            with("DELIVERY_CRM_EVENTS", "call.sent"),
            "DELIVERY_CRM_EVENTS"
        );
        assert_eq!(
            with("DELIVERY_CRM_PROVIDERS", "skype"),
            "DELIVERY_CRM_PROVIDERS"
        );
        assert_eq!(
            with("DELIVERY_RETRY_SCHEDULE", "5,x"),
            "DELIVERY_RETRY_SCHEDULE"
        );
        assert_eq!(
            with("DELIVERY_RETRY_SCHEDULE", "999999999"),
            "DELIVERY_RETRY_SCHEDULE"
        );
        for url in [
            "http://localhost:9000/x",
            "http://[::1]:9000",
            "https://a.example/",
        ] {
            assert!(parse_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn attempts_follow_the_schedule_then_fail() {
        let config = DeliveryConfig {
            endpoints: Vec::new(),
            retry_schedule: vec![5, 300],
        };
        let now = Timestamp::from_millis(1_000_000);
        let answered = |status, retry_after_s| AttemptOutcome::Answered {
            status,
            retry_after_s,
        };
        assert_eq!(
            config.after_attempt(1, &answered(204, None), now, 0.5),
            NextStep::Delivered
        );
        assert_eq!(
            config.after_attempt(1, &answered(500, None), now, 0.5),
            NextStep::RetryAt(Timestamp::from_millis(1_005_000))
        );
        // Jitter moves a wait by at most a tenth, either way.
        assert_eq!(
            config.after_attempt(2, &answered(500, None), now, 0.0),
            NextStep::RetryAt(Timestamp::from_millis(1_000_000 + 270_000))
        );
        assert_eq!(
            config.after_attempt(2, &answered(500, None), now, 1.0),
            NextStep::RetryAt(Timestamp::from_millis(1_000_000 + 330_000))
        );
        assert_eq!(
            config.after_attempt(3, &answered(500, None), now, 0.5),
            NextStep::Failed
        );
        let timeout = AttemptOutcome::NoAnswer {
            reason: "timed out".into(),
        };
        assert_eq!(
            config.after_attempt(1, &timeout, now, 0.5),
            NextStep::RetryAt(Timestamp::from_millis(1_005_000))
        );
        // Retry-After is honoured on 429 and 503 when longer, and capped at a day.
        assert_eq!(
            config.after_attempt(1, &answered(429, Some(60)), now, 0.5),
            NextStep::RetryAt(Timestamp::from_millis(1_060_000))
        );
        assert_eq!(
            config.after_attempt(1, &answered(503, Some(1)), now, 0.5),
            NextStep::RetryAt(Timestamp::from_millis(1_005_000))
        );
        assert_eq!(
            config.after_attempt(1, &answered(500, Some(60)), now, 0.5),
            NextStep::RetryAt(Timestamp::from_millis(1_005_000))
        );
        assert_eq!(
            config.after_attempt(1, &answered(503, Some(u64::MAX)), now, 0.5),
            NextStep::RetryAt(Timestamp::from_millis(1_000_000 + 86_400_000))
        );
        assert_eq!(
            config.after_attempt(3, &answered(429, Some(60)), now, 0.5),
            NextStep::Failed
        );
        assert_eq!(timeout.error().as_deref(), Some("timed out"));
        assert_eq!(answered(200, None).error(), None);
        assert_eq!(
            answered(302, None).error().as_deref(),
            Some("the endpoint answered 302")
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(retry_after_seconds(" 120 "), Some(120));
        assert_eq!(retry_after_seconds("Sat, 05 Dec 2026 20:02:00 GMT"), None);
        assert_eq!(retry_after_seconds("soon"), None);
        assert_eq!(retry_after_seconds("-1"), None);
    }

    #[test]
    fn webhook_ids_are_stable_per_subject_endpoint_and_event() {
        let id = webhook_id("twilio:call:CA1", "crm", "twilio:e1");
        assert_eq!(id, webhook_id("twilio:call:CA1", "crm", "twilio:e1"));
        assert_eq!(id.len(), 4 + 32);
        assert!(id.starts_with("msg_"));
        assert_ne!(id, webhook_id("twilio:call:CA1", "alerts", "twilio:e1"));
        assert_ne!(id, webhook_id("twilio:call:CA2", "crm", "twilio:e1"));
        assert_ne!(id, webhook_id("twilio:call:CA1", "crm", "twilio:e2"));
    }

    #[test]
    fn the_payload_is_json_with_the_event_and_state() {
        let body = payload(
            EventType {
                kind: Kind::Call,
                status: Some(Status::Ringing),
            },
            Timestamp::from_millis(1_700_000_000_123),
            r#"{"event_id":"e1"}"#,
            r#"{"status":"ringing"}"#,
        );
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "call.ringing",
                "timestamp": "2023-11-14T22:13:20.123Z",
                "data": {"event": {"event_id": "e1"}, "state": {"status": "ringing"}}
            })
        );
    }

    #[test]
    fn failed_keys_and_cursors() {
        let [all, own] = failed_keys("crm", 1_700_000_000_000, "msg_0123");
        assert!(all.starts_with(&failed_prefix(None)));
        assert!(own.starts_with(&failed_prefix(Some("crm"))));
        let [older, _] = failed_keys("crm", 1_600_000_000_000, "msg_0123");
        assert!(all < older, "most recent first");

        let key = b"cursor key";
        let cursor = encode_failed_cursor(Some("crm"), "kv-cursor", key);
        assert_eq!(
            decode_failed_cursor(&cursor, Some("crm"), key).as_deref(),
            Some("kv-cursor")
        );
        assert_eq!(decode_failed_cursor(&cursor, None, key), None);
        assert_eq!(decode_failed_cursor(&cursor, Some("crm"), b"other"), None);
        assert_eq!(decode_failed_cursor("kv-cursor", Some("crm"), key), None);
    }

    #[test]
    fn delivery_states_read_back() {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ] {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DeliveryState::parse("lost"), None);
    }
}
