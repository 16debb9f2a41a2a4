//! CPU per webhook: the core's `receive` (verify, then normalize) on one representative signed
//! webhook per provider scheme, compiled to wasm (run in V8 by `run.mjs`) and native (timed by
//! the `cpu-native` binary). See README.md.
//!
//! Each webhook is a terminal call or message status event shaped like the simulator's
//! (`crates/cli/src/scenario/*.rs`), signed with the core's own [`Provider::sign`] at
//! [`SIGNED_AT`] with the development secrets of `.dev.vars.example`, and received at the same
//! instant. Nothing reads a clock, so the wasm module needs no imports.
//!
//! [`VIS_WORST_CASES`] are hostile VIS bodies (about 1 MB, nested deep) that must be refused:
//! `cpu-native --vis-worst-case` times them natively (BENCHMARKS.md, "VIS canonicalization,
//! worst case").
//!
//! The wasm exports (plain C ABI, no wasm-bindgen) are [`webhook_count`], [`webhook_name_ptr`] /
//! [`webhook_name_len`], [`prepare`] and [`run`] (which calls [`receive_repeatedly`]); webhooks
//! are numbered in [`WEBHOOKS`] order.

use std::cell::{OnceCell, RefCell};
use std::hint::black_box;

use switchboard_core::sources::{Batch, Outcome};
use switchboard_core::{
    configured_provider, configured_signer, CapturedRequest, Config, Provider, ProviderId,
    Timestamp, WebhookError,
};

/// The development settings, read by [`Config::from_lookup`] like the worker reads its own.
const DEV_VARS: &str = include_str!("../../../.dev.vars.example");

/// When every webhook is signed and received: 2026-01-01T00:00:21Z, just after the events.
pub const SIGNED_AT: Timestamp = Timestamp::from_millis(1_767_225_621_000);

/// The benchmarked webhooks, by name, in export order. A name ending in [`COUNTED`] is the
/// webhook before it, also counted for source health as the worker counts each answered webhook
/// (`switchboard_core::sources::Batch::record`): the difference is what counting costs a webhook.
pub const WEBHOOKS: [&str; 9] = [
    "vonage-voice",
    "vonage-sms",
    "vonage-business",
    "telnyx",
    "bird",
    "messagebird",
    "twilio",
    "twilio+sources",
    "plivo",
];

/// The suffix of a webhook name that is also counted for source health.
const COUNTED: &str = "+sources";

/// A signed webhook and the provider that receives it.
pub struct Webhook {
    pub name: &'static str,
    pub provider: Box<dyn Provider>,
    pub request: CapturedRequest,
    /// Where each receipt is counted, for the webhooks named with [`COUNTED`].
    pub sources: Option<RefCell<Batch>>,
}

/// Why a webhook could not be built or received.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("no webhook numbered {0}")]
    UnknownWebhook(usize),
    #[error("no webhook named `{0}`")]
    UnknownName(String),
    #[error("the development settings: {0}")]
    Config(String),
    #[error("{0}: the development settings configure no such provider")]
    NotConfigured(ProviderId),
    #[error("{name}: {error}")]
    Webhook {
        name: &'static str,
        error: WebhookError,
    },
    #[error("{0}: the webhook gave no event")]
    NoEvent(&'static str),
    #[error("{0}: a body that must be refused was accepted")]
    Accepted(&'static str),
}

/// Builds and signs webhook number `index` of [`WEBHOOKS`].
pub fn webhook(index: usize) -> Result<Webhook, BenchError> {
    let name = *WEBHOOKS
        .get(index)
        .ok_or(BenchError::UnknownWebhook(index))?;
    let (id, unsigned) = unsigned_request(name);
    let config = Config::from_lookup(|setting| dev_var(setting).map(str::to_owned))
        .map_err(|error| BenchError::Config(error.to_string()))?;
    let signer = configured_signer(&config, id).ok_or(BenchError::NotConfigured(id))?;
    let request = signer
        .sign(&unsigned, SIGNED_AT)
        .map_err(|error| BenchError::Webhook { name, error })?;
    let provider = configured_provider(&config, id).ok_or(BenchError::NotConfigured(id))?;
    Ok(Webhook {
        name,
        provider,
        request,
        sources: name
            .ends_with(COUNTED)
            .then(|| RefCell::new(Batch::default())),
    })
}

/// Receives `webhook` `iterations` times at [`SIGNED_AT`] and returns the number of events
/// normalized. Every receipt must verify: timing a rejection would measure the wrong path.
pub fn receive_repeatedly(webhook: &Webhook, iterations: u32) -> Result<u32, BenchError> {
    let mut events = 0u32;
    for _ in 0..iterations {
        let received = webhook
            .provider
            .receive(black_box(&webhook.request), black_box(SIGNED_AT))
            .map_err(|error| BenchError::Webhook {
                name: webhook.name,
                error,
            })?;
        if received.is_empty() {
            return Err(BenchError::NoEvent(webhook.name));
        }
        if let Some(batch) = &webhook.sources {
            let outcome = Outcome::Accepted {
                events: received.len() as u64,
                duplicates: 0,
            };
            let provider = webhook.provider.id();
            batch
                .borrow_mut()
                .record(provider, black_box(SIGNED_AT), outcome, || {
                    unreachable!("an accepted webhook is not sampled")
                });
        }
        events = events.wrapping_add(black_box(received).len() as u32);
    }
    Ok(events)
}

/// Hostile VIS bodies, by name, nesting depth (the `event` object is the first level) and whether
/// their strings hold `\u0001` (so that both hex cases are canonicalized): `event` holds about
/// 1 MB of short strings at its deepest level, where re-reading each level costs the most, and
/// the signature matches nothing. 32 is the deepest `canonical::MAX_DEPTH` allows, 33 the
/// shallowest it refuses, and 120 the depth of the report that prompted the limit.
pub const VIS_WORST_CASES: [(&str, usize, bool); 4] = [
    ("vis-deep-32", 32, false),
    ("vis-deep-32-escapes", 32, true),
    ("vis-deep-33", 33, false),
    ("vis-deep-120-escapes", 120, true),
];

/// Builds worst case number `index` of [`VIS_WORST_CASES`] (unsigned: it is to be refused).
pub fn vis_worst_case(index: usize) -> Result<Webhook, BenchError> {
    let (name, depth, escapes) = *VIS_WORST_CASES
        .get(index)
        .ok_or(BenchError::UnknownWebhook(index))?;
    let config = Config::from_lookup(|setting| dev_var(setting).map(str::to_owned))
        .map_err(|error| BenchError::Config(error.to_string()))?;
    let id = ProviderId::VonageBusiness;
    let provider = configured_provider(&config, id).ok_or(BenchError::NotConfigured(id))?;
    let item = if escapes {
        r#""abc\u0001defgh""#
    } else {
        r#""abcdefghijklmn""#
    };
    let items = vec![item; 60_000].join(",");
    let levels = depth.saturating_sub(1);
    let body = format!(
        r#"{{"event":{{"id":"5f1e2d3c4b5a69788796a5b4","state":"RINGING","v":{}{items}{}}}}}"#,
        "[".repeat(levels),
        "]".repeat(levels)
    );
    let request =
        json_post("vonage-business", &body).with_header("x-von-signature", &"0".repeat(64));
    Ok(Webhook {
        name,
        provider,
        request,
        sources: None,
    })
}

/// Receives `webhook` `iterations` times at [`SIGNED_AT`]; every receipt must be refused.
/// Returns the error code of the last.
pub fn refuse_repeatedly(webhook: &Webhook, iterations: u32) -> Result<&'static str, BenchError> {
    let mut code = "";
    for _ in 0..iterations {
        match webhook
            .provider
            .receive(black_box(&webhook.request), black_box(SIGNED_AT))
        {
            Ok(_) => return Err(BenchError::Accepted(webhook.name)),
            Err(error) => code = black_box(error).code(),
        }
    }
    Ok(code)
}

/// A setting of `.dev.vars.example` (every value there is double-quoted).
fn dev_var(name: &str) -> Option<&'static str> {
    DEV_VARS
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The webhook named `name` (without its [`COUNTED`]) as the provider sends it, before signing.
fn unsigned_request(name: &str) -> (ProviderId, CapturedRequest) {
    match name.strip_suffix(COUNTED).unwrap_or(name) {
        "vonage-voice" => (ProviderId::Vonage, json_post("vonage", VONAGE_VOICE)),
        "vonage-sms" => (ProviderId::Vonage, form_post("vonage", &VONAGE_SMS)),
        "vonage-business" => (
            ProviderId::VonageBusiness,
            json_post("vonage-business", VONAGE_BUSINESS)
                .with_header("x-von-webhook-id", "3f1c9a52-7d4e-4b8a-9c61-2e5f0a7b8d93")
                .with_header("x-von-delivery-id", "b7e2d4c1-0a9f-4e36-8b15-6c3d2f1e0a47")
                .with_header("x-von-attempt", "1"),
        ),
        "telnyx" => (ProviderId::Telnyx, json_post("telnyx", TELNYX)),
        "bird" => (
            ProviderId::Bird,
            json_post("bird", BIRD).with_header(
                "messagebird-request-id",
                "6a0f3e21-94b7-4c5d-a8e2-1f7b9c3d5e60",
            ),
        ),
        "messagebird" => (
            ProviderId::MessageBird,
            CapturedRequest::new(
                "GET",
                &format!("{}?{}", url("messagebird"), form(&MESSAGEBIRD)),
            ),
        ),
        "twilio" => (ProviderId::Twilio, form_post("twilio", &TWILIO)),
        "plivo" => (ProviderId::Plivo, form_post("plivo", &PLIVO)),
        _ => unreachable!("every name in WEBHOOKS has a request"),
    }
}

fn url(path: &str) -> String {
    format!("https://hooks.example.com/webhooks/{path}")
}

fn json_post(path: &str, body: &str) -> CapturedRequest {
    CapturedRequest::new("POST", &url(path))
        .with_header("content-type", "application/json")
        .with_body(body)
}

fn form_post(path: &str, pairs: &[(&str, &str)]) -> CapturedRequest {
    CapturedRequest::new("POST", &url(path))
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form(pairs))
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A Voice API `completed` event (JWT in `Authorization: Bearer`).
const VONAGE_VOICE: &str = r#"{"conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","direction":"outbound","duration":"2","end_time":"2026-01-01T00:00:20.500Z","from":"447700900000","network":"GB-FIXED","price":"0.00015000","rate":"0.00450000","start_time":"2026-01-01T00:00:18.500Z","status":"completed","timestamp":"2026-01-01T00:00:20.500Z","to":"447700900001","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}"#;

/// An SMS API `delivered` receipt, as a form `POST` (`sig`, here HMAC-SHA256).
const VONAGE_SMS: [(&str, &str); 10] = [
    ("msisdn", "447700900001"),
    ("to", "447700900000"),
    ("network-code", "23410"),
    ("messageId", "0B00000127FDBC63"),
    ("price", "0.03330000"),
    ("status", "delivered"),
    ("scts", "2601010000"),
    ("err-code", "0"),
    ("message-timestamp", "2026-01-01 00:00:20"),
    ("api-key", "a1b2c3d4"),
];

/// A VIS `ANSWERED` call event (`X-VON-Signature` over the canonical `event`).
const VONAGE_BUSINESS: &str = r#"{"event":{"accountId":"376","answerTime":"2026-01-01T00:00:08.000+0000","direction":"OUTBOUND","duration":12000,"endTime":"2026-01-01T00:00:20.000+0000","externalId":"callhalf-48213907755:0","id":"5f1e2d3c4b5a69788796a5b4","internal":false,"phoneNumber":"14155550123","startTime":"2026-01-01T00:00:05.000+0000","state":"ANSWERED","type":"CALL","ucpType":"VBS","userId":"24785"}}"#;

/// A Call Control `call.hangup`, pretty-printed as Telnyx sends it (Ed25519).
const TELNYX: &str = r#"{
  "data": {
    "event_type": "call.hangup",
    "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
    "occurred_at": "2026-01-01T00:00:20.000000Z",
    "payload": {
      "call_control_id": "v3:9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c1b3d5f7e",
      "call_leg_id": "428c31b6-7af4-4bcb-b7f5-5013ef9657c1",
      "call_session_id": "428c31b6-abf3-4bcb-b7f5-5013ef9657c1",
      "client_state": null,
      "connection_id": "1494404757140276705",
      "end_time": "2026-01-01T00:00:20.000000Z",
      "from": "+13125550100",
      "hangup_cause": "normal_clearing",
      "hangup_source": "caller",
      "sip_hangup_cause": "200",
      "start_time": "2026-01-01T00:00:04.000000Z",
      "state": "hangup",
      "to": "+13125550123"
    },
    "record_type": "event"
  },
  "meta": {
    "attempt": 1,
    "delivered_to": "https://hooks.example.com/webhooks/telnyx"
  }
}"#;

/// A Bird voice `completed` event (`messagebird-signature` over timestamp, URL, body hash).
const BIRD: &str = r#"{"event":"voice.outbound","payload":{"answeredAt":"2026-01-01T00:00:05.000Z","channelId":"8a2d6f1c-3b5e-4c7a-9d0f-2e4b6a8c0d1f","createdAt":"2026-01-01T00:00:00.000Z","direction":"outgoing","duration":15,"endedAt":"2026-01-01T00:00:20.000Z","from":"+31201234567","hangupCauseCode":"16","hangupSource":"callee","id":"c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f","ringingAt":"2026-01-01T00:00:01.000Z","status":"completed","to":"+31612345678","type":"pstn","updatedAt":"2026-01-01T00:00:20.000Z"},"service":"channels"}"#;

/// A legacy MessageBird SMS `delivered` status report: a `GET` with the report in the query
/// (`MessageBird-Signature-JWT`).
const MESSAGEBIRD: [(&str, &str); 12] = [
    ("id", "efa6405d518d4c0c88cce11f7db775fb"),
    ("reference", "switchboard-simulator"),
    ("recipient", "31612345678"),
    ("status", "delivered"),
    ("statusReason", "successfully delivered"),
    ("statusErrorCode", "0"),
    ("statusDatetime", "2026-01-01T00:00:20+00:00"),
    ("mccmnc", "20408"),
    ("ported", "0"),
    ("price[amount]", "0.07"),
    ("price[currency]", "EUR"),
    ("messagePartCount", "1"),
];

/// A voice status callback for a `completed` call (`X-Twilio-Signature`, HMAC-SHA1).
const TWILIO: [(&str, &str); 19] = [
    ("Called", "+15558675310"),
    ("ToState", "CA"),
    ("CallerCountry", "US"),
    ("Direction", "outbound-api"),
    ("Timestamp", "Thu, 01 Jan 2026 00:00:20 +0000"),
    ("CallbackSource", "call-progress-events"),
    ("SequenceNumber", "3"),
    ("CallSid", "CA5f0e3c1a9b7d4e2f8a6c0b1d3e5f7a9c"),
    ("To", "+15558675310"),
    ("ToCountry", "US"),
    ("StatusCallbackEvent", "completed"),
    ("CallStatus", "completed"),
    ("From", "+15017122661"),
    ("AccountSid", "ACd1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"),
    ("ApiVersion", "2010-04-01"),
    ("Caller", "+15017122661"),
    ("CallDuration", "15"),
    ("Duration", "1"),
    ("SipResponseCode", "200"),
];

/// A hangup callback for a `completed` call (`X-Plivo-Signature-V3`, HMAC-SHA256 with a nonce).
const PLIVO: [(&str, &str); 20] = [
    ("ALegRequestUUID", "5b8e2c4a-1d3f-4a6b-8c9e-0f2a4b6c8d1e"),
    ("ALegUUID", "e3a1c5b7-9d2f-4e6a-8b0c-1d3f5a7b9c2e"),
    ("BillRate", "0.0045"),
    ("CallStatus", "completed"),
    ("CallUUID", "e3a1c5b7-9d2f-4e6a-8b0c-1d3f5a7b9c2e"),
    ("Direction", "outbound"),
    ("Event", "Hangup"),
    ("From", "14155550100"),
    ("RequestUUID", "5b8e2c4a-1d3f-4a6b-8c9e-0f2a4b6c8d1e"),
    ("SessionStart", "2026-01-01 00:00:04.000000"),
    ("To", "14155550123"),
    ("AnswerTime", "2026-01-01 00:00:08"),
    ("BillDuration", "60"),
    ("Duration", "12"),
    ("EndTime", "2026-01-01 00:00:20"),
    ("HangupCause", "Normal Hangup"),
    ("HangupCauseCode", "4000"),
    ("HangupSource", "Callee"),
    ("StartTime", "2026-01-01 00:00:04"),
    ("TotalCost", "0.00450"),
];

thread_local! {
    /// The webhooks the wasm exports use, each built (and signed) on first use by [`prepare`].
    static PREPARED: [OnceCell<Option<Webhook>>; WEBHOOKS.len()] = Default::default();
}

/// The number of webhooks, for the wasm host.
#[no_mangle]
pub extern "C" fn webhook_count() -> u32 {
    WEBHOOKS.len() as u32
}

/// Where the UTF-8 name of webhook `index` starts in linear memory (0 if there is none).
#[no_mangle]
pub extern "C" fn webhook_name_ptr(index: u32) -> u32 {
    WEBHOOKS
        .get(index as usize)
        .map_or(0, |name| name.as_ptr() as usize as u32)
}

/// The length in bytes of the name of webhook `index` (0 if there is none).
#[no_mangle]
pub extern "C" fn webhook_name_len(index: u32) -> u32 {
    WEBHOOKS
        .get(index as usize)
        .map_or(0, |name| name.len() as u32)
}

/// Builds and signs webhook `index`, and receives it once. Returns its body size in bytes (at
/// least 1), or 0 if it cannot be built or does not verify.
#[no_mangle]
pub extern "C" fn prepare(index: u32) -> u32 {
    with_prepared(index, |webhook| {
        receive_repeatedly(webhook, 1).map_or(0, |_| (webhook.request.body.len() as u32).max(1))
    })
}

/// Receives webhook `index` (see [`prepare`]) `iterations` times. Returns the number of events
/// normalized (at least `iterations`), or 0 if any receipt failed.
#[no_mangle]
pub extern "C" fn run(index: u32, iterations: u32) -> u32 {
    with_prepared(index, |webhook| {
        receive_repeatedly(webhook, iterations).unwrap_or(0)
    })
}

/// Calls `f` with webhook `index`, building it on first use; 0 if it cannot be built.
fn with_prepared(index: u32, f: impl FnOnce(&Webhook) -> u32) -> u32 {
    PREPARED.with(|prepared| {
        prepared
            .get(index as usize)
            .and_then(|cell| cell.get_or_init(|| webhook(index as usize).ok()).as_ref())
            .map_or(0, f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_webhook_verifies_and_normalizes() {
        for index in 0..WEBHOOKS.len() {
            let webhook = webhook(index).unwrap();
            assert_eq!(
                receive_repeatedly(&webhook, 2).unwrap(),
                2,
                "{}",
                webhook.name
            );
            let events = webhook
                .provider
                .receive(&webhook.request, SIGNED_AT)
                .unwrap();
            assert!(events[0].status.is_some(), "{}", webhook.name);
        }
    }

    #[test]
    fn a_counted_webhook_is_counted_once_per_receipt() {
        let named = |wanted: &str| {
            let index = WEBHOOKS.iter().position(|name| *name == wanted);
            webhook(index.unwrap()).unwrap()
        };
        let counted = named("twilio+sources");
        receive_repeatedly(&counted, 3).unwrap();
        let batch = counted.sources.as_ref().unwrap().borrow_mut().take();
        let [(provider, counts)] = &batch[..] else {
            panic!("one provider counted: {batch:?}");
        };
        assert_eq!(*provider, ProviderId::Twilio);
        let minutes: Vec<_> = counts.buckets.values().collect();
        assert_eq!((minutes.len(), minutes[0].accepted), (1, 3));
        assert!(named("twilio").sources.is_none());
    }

    #[test]
    fn every_provider_has_a_webhook() {
        for row in switchboard_core::PROVIDERS {
            assert!(
                WEBHOOKS
                    .iter()
                    .any(|name| unsigned_request(name).0 == row.id),
                "no benchmarked webhook for {}",
                row.name
            );
        }
    }

    #[test]
    fn the_vis_worst_cases_are_refused_as_the_limit_says() {
        let codes: Vec<&str> = (0..VIS_WORST_CASES.len())
            .map(|index| refuse_repeatedly(&vis_worst_case(index).unwrap(), 1).unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "invalid_signature",
                "invalid_signature",
                "malformed_request",
                "malformed_request"
            ]
        );
        let body = &vis_worst_case(1).unwrap().request.body;
        assert!(
            (1_000_000..1_100_000).contains(&body.len()),
            "{}",
            body.len()
        );
    }

    #[test]
    fn the_exports_agree_with_the_library() {
        assert_eq!(webhook_count() as usize, WEBHOOKS.len());
        assert!(prepare(3) > 1);
        assert_eq!(run(3, 3), 3);
        assert_eq!(prepare(webhook_count()), 0);
        assert_eq!(webhook_name_len(0), "vonage-voice".len() as u32);
    }
}
