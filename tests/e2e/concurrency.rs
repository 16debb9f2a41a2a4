//! Duplicates and disorder through the real worker: the same webhook delivered three times at
//! once, every event of a call at once, and random delivery orders with duplicates, for every
//! provider. Each is stored once, and every subject ends in the state its lifecycle implies.
//!
//! The lifecycles are compact copies of the CLI's scenario payloads (`crates/cli/src/scenario/`),
//! signed by the core exactly as a provider would sign them. [`lifecycle`] is also what the HTTP fuzzer (`http_fuzz/`) mutates.

use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::{json, Value};
use switchboard_core::{
    configured_signer, CapturedRequest, Config, Kind, ProviderId, Signer, Timestamp,
};

use crate::http::{Client, Response};
use crate::support::{now, summary, unique_id};
use crate::{Suite, Test, PROVIDER_SECRETS, SECRET};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        each_webhook_delivered_three_times_concurrently_is_stored_once,
        all_events_of_one_call_sent_concurrently_are_all_stored,
        random_permutations_with_duplicates_reach_the_final_state,
    ]
}

/// Random delivery orders per provider through workerd (the core's property tests cover 1 000
/// per provider without HTTP).
const PERMUTATIONS_PER_PROVIDER: usize = 5;
/// Fixed so that a failure reproduces; `SWITCHBOARD_CONCURRENCY_SEED` explores other orders.
const DEFAULT_SEED: u64 = 0x5eed_d15c_0bde_2026;

/// One provider's lifecycle of one subject: the unsigned webhooks in the order they happened.
pub struct Lifecycle {
    pub provider: ProviderId,
    pub kind: Kind,
    pub id: String,
    pub events: Vec<CapturedRequest>,
    /// The status the subject ends in, whatever the delivery order.
    pub expected: &'static str,
}

impl Lifecycle {
    /// The status API path of the subject.
    pub fn path(&self) -> String {
        let collection = match self.kind {
            Kind::Call => "calls",
            Kind::Message => "messages",
        };
        format!("/v1/{collection}/{}/{}", self.provider, self.id)
    }

    /// Every event signed once (a duplicate is then resent byte for byte).
    pub fn signed(&self) -> Vec<CapturedRequest> {
        let provider = provider(self.provider);
        self.events
            .iter()
            .map(|event| provider.sign(event, now()).expect("sign"))
            .collect()
    }
}

/// A Twilio status callback about `call_sid`, signed; `sequence` orders the callbacks of a call.
pub fn twilio_status(
    client: &Client,
    call_sid: &str,
    status: &str,
    sequence: u32,
) -> CapturedRequest {
    twilio_call(
        client,
        call_sid,
        status,
        sequence,
        ("+15005550006", "+15005550001"),
    )
}

/// [`twilio_status`] of a call between the numbers `(from, to)`.
pub fn twilio_call(
    client: &Client,
    call_sid: &str,
    status: &str,
    sequence: u32,
    (from, to): (&str, &str),
) -> CapturedRequest {
    let sequence = sequence.to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("CallSid", call_sid),
            ("CallStatus", status),
            ("Direction", "outbound-api"),
            ("From", from),
            ("To", to),
            ("SequenceNumber", sequence.as_str()),
        ])
        .finish();
    let request = CapturedRequest::new("POST", &client.url("/webhooks/twilio"))
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body);
    provider(ProviderId::Twilio)
        .sign(&request, now())
        .expect("signed")
}

/// The core provider configured with the settings of the `configured` worker.
pub fn provider(id: ProviderId) -> Box<dyn Signer> {
    let config = Config::from_lookup(|name| {
        if name == "VONAGE_SIGNATURE_SECRET" {
            return Some(SECRET.to_owned());
        }
        PROVIDER_SECRETS
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("e2e settings are valid");
    configured_signer(&config, id).expect("configured")
}

/// `offset_ms` after `start`, as an ISO 8601 string with milliseconds.
fn iso(start: Timestamp, offset_ms: i64) -> String {
    Timestamp::from_millis(start.millis() + offset_ms).to_string()
}

fn json_post(url: &str, body: &Value) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/json")
        .with_body(body.to_string())
}

fn form_post(url: &str, pairs: &[(&str, String)]) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form(pairs))
}

fn form(pairs: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(key, value)| (*key, value.as_str())))
        .finish()
}

/// A whole lifecycle of a fresh subject of `provider` (an answered call; for legacy MessageBird,
/// which has no voice, a delivered SMS), its webhooks addressed to `base_url`.
pub fn lifecycle(provider: ProviderId, base_url: &str) -> Lifecycle {
    let url = format!("{base_url}/webhooks/{provider}");
    let id = unique_id(&format!("{provider}-life"));
    // An hour ago: every time is in the past, and signatures are made now.
    let start = Timestamp::from_millis(now().millis() - 3_600_000);
    let (kind, expected, events) = match provider {
        ProviderId::Vonage => (Kind::Call, "completed", vonage(&url, &id, start)),
        ProviderId::VonageBusiness => (Kind::Call, "completed", vis(&url, &id, start)),
        ProviderId::Telnyx => (Kind::Call, "completed", telnyx(&url, &id, start)),
        ProviderId::Bird => (Kind::Call, "completed", bird(&url, &id, start)),
        ProviderId::MessageBird => (Kind::Message, "delivered", messagebird(&url, &id, start)),
        ProviderId::Twilio => (Kind::Call, "completed", twilio(&url, &id, start)),
        ProviderId::Plivo => (Kind::Call, "completed", plivo(&url, &id, start)),
    };
    Lifecycle {
        provider,
        kind,
        id,
        events,
        expected,
    }
}

/// Voice API events (JWT-signed JSON): started, ringing, answered, completed.
fn vonage(url: &str, id: &str, start: Timestamp) -> Vec<CapturedRequest> {
    [
        ("started", 0, json!({})),
        ("ringing", 800, json!({})),
        ("answered", 3_500, json!({"start_time": "", "network": ""})),
        (
            "completed",
            5_500,
            json!({"start_time": iso(start, 3_500), "end_time": iso(start, 5_500),
                   "duration": "2", "rate": "0.00450000", "price": "0.00015000"}),
        ),
    ]
    .into_iter()
    .map(|(status, offset, extra)| {
        let mut body = json!({
            "uuid": id, "conversation_uuid": format!("CON-{id}"),
            "from": "447700900000", "to": "447700900001",
            "status": status, "direction": "outbound", "timestamp": iso(start, offset),
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        json_post(url, &body)
    })
    .collect()
}

/// VIS CALL events (`X-VON-Signature` over the canonical `event`), unsigned: RINGING, ACTIVE,
/// ANSWERED.
pub fn vis(url: &str, id: &str, start: Timestamp) -> Vec<CapturedRequest> {
    let time = |offset: i64| {
        let at = Timestamp::from_millis(start.millis() + offset).to_string();
        // `2026-01-01T00:00:05.000+0000`, VIS's shape.
        at.trim_end_matches('Z').to_owned() + "+0000"
    };
    [
        ("RINGING", Value::Null, Value::Null, 0),
        ("ACTIVE", json!(time(3_000)), Value::Null, 0),
        ("ANSWERED", json!(time(3_000)), json!(time(15_000)), 12_000),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (state, answer_time, end_time, duration))| {
        let event = json!({
            "accountId": "376", "answerTime": answer_time, "direction": "OUTBOUND",
            "duration": duration, "endTime": end_time, "externalId": "callhalf-1:0",
            "id": id, "internal": false, "phoneNumber": "14155550123",
            "startTime": time(0), "state": state, "type": "CALL", "ucpType": "VBS",
            "userId": "24785",
        });
        json_post(url, &json!({ "event": event }))
            .with_header("x-von-webhook-id", "e2e-webhook")
            .with_header("x-von-delivery-id", &format!("{id}-delivery-{index}"))
            .with_header("x-von-attempt", "1")
    })
    .collect()
}

/// Call Control v2 events (Ed25519): initiated, answered, hangup.
fn telnyx(url: &str, id: &str, start: Timestamp) -> Vec<CapturedRequest> {
    [
        ("call.initiated", 0),
        ("call.answered", 4_000),
        ("call.hangup", 16_000),
    ]
    .into_iter()
    .map(|(event_type, offset)| {
        let mut payload = json!({
            "call_control_id": format!("v3:{id}"), "call_leg_id": id,
            "call_session_id": format!("session-{id}"), "client_state": null,
            "connection_id": "1234567890", "from": "+13125550100", "to": "+13125550123",
        });
        if event_type == "call.initiated" {
            payload["direction"] = json!("outgoing");
            payload["state"] = json!("bridging");
        } else {
            payload["start_time"] = json!(iso(start, 0));
        }
        if event_type == "call.hangup" {
            payload["state"] = json!("hangup");
            payload["end_time"] = json!(iso(start, offset));
            payload["hangup_cause"] = json!("normal_clearing");
            payload["hangup_source"] = json!("caller");
            payload["sip_hangup_cause"] = json!("200");
        }
        let body = json!({
            "data": {"event_type": event_type, "id": format!("{id}-{event_type}"),
                     "occurred_at": iso(start, offset), "payload": payload,
                     "record_type": "event"},
            "meta": {"attempt": 1, "delivered_to": url},
        });
        json_post(url, &body)
    })
    .collect()
}

/// Bird voice events (`messagebird-signature`): starting, ringing, ongoing, completed.
fn bird(url: &str, id: &str, start: Timestamp) -> Vec<CapturedRequest> {
    [
        ("starting", 0),
        ("ringing", 1_000),
        ("ongoing", 5_000),
        ("completed", 20_000),
    ]
    .into_iter()
    .map(|(status, offset)| {
        let after = |at: i64| {
            if at <= offset {
                json!(iso(start, at))
            } else {
                Value::Null
            }
        };
        let mut call = json!({
            "id": id, "channelId": "e2e-channel", "from": "+31201234567", "to": "+31612345678",
            "direction": "outgoing", "type": "pstn", "status": status,
            "createdAt": iso(start, 0), "updatedAt": iso(start, offset),
            "ringingAt": after(1_000), "answeredAt": after(5_000), "endedAt": Value::Null,
        });
        if status == "completed" {
            call["endedAt"] = json!(iso(start, offset));
            call["duration"] = json!(15);
            call["hangupCauseCode"] = json!("16");
            call["hangupSource"] = json!("callee");
        }
        json_post(
            url,
            &json!({"service": "channels", "event": "voice.outbound", "payload": call}),
        )
        .with_header("messagebird-request-id", &format!("{id}-{status}"))
    })
    .collect()
}

/// Legacy SMS status reports (`GET`, `MessageBird-Signature-JWT`): sent, buffered, delivered.
fn messagebird(url: &str, id: &str, start: Timestamp) -> Vec<CapturedRequest> {
    [
        ("sent", 0, "pending DLR"),
        ("buffered", 3_000, "pending DLR"),
        ("delivered", 8_000, "successfully delivered"),
    ]
    .into_iter()
    .map(|(status, offset, reason)| {
        let seconds = Timestamp::from_unix_seconds((start.millis() + offset) / 1000);
        let datetime = seconds.to_string().replace(".000Z", "+00:00");
        let query = form(&[
            ("id", id.to_owned()),
            ("reference", "e2e".to_owned()),
            ("recipient", "31612345678".to_owned()),
            ("status", status.to_owned()),
            ("statusReason", reason.to_owned()),
            ("statusErrorCode", "0".to_owned()),
            ("statusDatetime", datetime),
            ("mccmnc", "20408".to_owned()),
        ]);
        CapturedRequest::new("GET", &format!("{url}?{query}"))
    })
    .collect()
}

/// Voice status callbacks (`X-Twilio-Signature`): initiated, ringing, in-progress, completed.
fn twilio(url: &str, id: &str, start: Timestamp) -> Vec<CapturedRequest> {
    [
        ("initiated", "initiated", 0),
        ("ringing", "ringing", 1_200),
        ("in-progress", "answered", 6_000),
        ("completed", "completed", 21_000),
    ]
    .into_iter()
    .enumerate()
    .map(|(sequence, (status, event, offset))| {
        let seconds = (start.millis() + offset) / 1000;
        let mut pairs = vec![
            (
                "AccountSid",
                "AC00000000000000000000000000000000".to_owned(),
            ),
            ("CallSid", id.to_owned()),
            ("CallStatus", status.to_owned()),
            ("StatusCallbackEvent", event.to_owned()),
            ("Direction", "outbound-api".to_owned()),
            ("From", "+15017122661".to_owned()),
            ("To", "+15558675310".to_owned()),
            ("SequenceNumber", sequence.to_string()),
            ("Timestamp", rfc2822(seconds)),
        ];
        if status == "completed" {
            pairs.push(("CallDuration", "15".to_owned()));
        }
        form_post(url, &pairs)
    })
    .collect()
}

/// Call callbacks (`X-Plivo-Signature-V3`): ringing, in-progress, completed.
fn plivo(url: &str, id: &str, start: Timestamp) -> Vec<CapturedRequest> {
    let call_time = |offset: i64| {
        let iso = iso(start, offset);
        iso[..19].replace('T', " ")
    };
    [
        ("ringing", "Ring", 0),
        ("in-progress", "StartApp", 4_000),
        ("completed", "Hangup", 16_000),
    ]
    .into_iter()
    .map(|(status, event, offset)| {
        let mut pairs = vec![
            ("CallUUID", id.to_owned()),
            ("ALegUUID", id.to_owned()),
            ("RequestUUID", format!("request-{id}")),
            ("CallStatus", status.to_owned()),
            ("Event", event.to_owned()),
            ("Direction", "outbound".to_owned()),
            ("From", "14155550100".to_owned()),
            ("To", "14155550123".to_owned()),
            ("SessionStart", call_time(0) + ".000000"),
        ];
        if status == "completed" {
            pairs.extend([
                ("AnswerTime", call_time(4_000)),
                ("StartTime", call_time(0)),
                ("EndTime", call_time(offset)),
                ("Duration", "12".to_owned()),
                ("BillDuration", "60".to_owned()),
                ("HangupCause", "Normal Hangup".to_owned()),
                ("HangupCauseCode", "4000".to_owned()),
                ("HangupSource", "Callee".to_owned()),
            ]);
        }
        form_post(url, &pairs)
    })
    .collect()
}

/// `Thu, 01 Jan 2026 00:00:05 +0000` for Unix time `seconds`.
fn rfc2822(seconds: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = Timestamp::from_unix_seconds(seconds).to_string();
    let (year, month, day) = (&iso[0..4], &iso[5..7], &iso[8..10]);
    let month: usize = month.parse().expect("month");
    let weekday = DAYS[usize::try_from(seconds.div_euclid(86_400) % 7).expect("small")];
    format!(
        "{weekday}, {day} {} {year} {} +0000",
        MONTHS[month - 1],
        &iso[11..19]
    )
}

/// Delivers `request` and returns the acknowledged entry (asserting a 200 with one entry).
fn acknowledged(response: &Response, what: &str) -> Value {
    assert_eq!(response.status, 200, "{what}: {}", response.body);
    let accepted = &response.json()["accepted"];
    assert_eq!(
        accepted.as_array().map(Vec::len),
        Some(1),
        "{what}: {}",
        response.body
    );
    accepted[0].clone()
}

/// Asserts the subject ended in its expected state with exactly its events stored.
fn assert_final_state(client: &Client, lifecycle: &Lifecycle, what: &str) {
    let state = summary(client, &lifecycle.path());
    assert_eq!(
        state["status"],
        json!(lifecycle.expected),
        "{what}: {state}"
    );
    assert_eq!(state["terminal"], json!(true), "{what}: {state}");
    assert_eq!(
        state["event_count"],
        json!(lifecycle.events.len()),
        "{what}: every event stored exactly once: {state}"
    );
    let timeline = summary(client, &format!("{}/events", lifecycle.path()));
    assert_eq!(
        timeline["events"].as_array().map(Vec::len),
        Some(lifecycle.events.len()),
        "{what}: timeline {timeline}"
    );
}

/// Sends every request of `batch` at the same moment, one thread each; answers in batch order.
fn send_together(base_url: &str, batch: Vec<CapturedRequest>) -> Vec<Response> {
    let barrier = Arc::new(Barrier::new(batch.len()));
    let handles: Vec<_> = batch
        .into_iter()
        .map(|request| {
            let barrier = Arc::clone(&barrier);
            let client = Client::new(base_url);
            thread::spawn(move || {
                barrier.wait();
                client.replay(&request).expect("worker reachable")
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("sender thread"))
        .collect()
}

fn each_webhook_delivered_three_times_concurrently_is_stored_once(suite: &Suite) {
    let worker = &suite.configured;
    let client = worker.client();
    for provider in ProviderId::ALL {
        let lifecycle = lifecycle(provider, &worker.base_url);
        for (index, request) in lifecycle.signed().into_iter().enumerate() {
            let what = format!("{provider} event {index} of {}", lifecycle.id);
            let responses = send_together(&worker.base_url, vec![request; 3]);
            let entries: Vec<Value> = responses
                .iter()
                .map(|response| acknowledged(response, &what))
                .collect();
            let first = entries
                .iter()
                .filter(|entry| entry["duplicate"] == json!(false))
                .count();
            assert_eq!(first, 1, "{what}: exactly one first delivery: {entries:?}");
            assert!(
                entries
                    .iter()
                    .all(|entry| entry["event_id"] == entries[0]["event_id"]),
                "{what}: one event id: {entries:?}"
            );
        }
        assert_final_state(&client, &lifecycle, &format!("{provider} {}", lifecycle.id));
    }
}

fn all_events_of_one_call_sent_concurrently_are_all_stored(suite: &Suite) {
    let worker = &suite.configured;
    let client = worker.client();
    for provider in ProviderId::ALL {
        let lifecycle = lifecycle(provider, &worker.base_url);
        let what = format!("{provider} {}", lifecycle.id);
        let responses = send_together(&worker.base_url, lifecycle.signed());
        for response in &responses {
            let entry = acknowledged(response, &what);
            assert_eq!(entry["duplicate"], json!(false), "{what}: {entry}");
        }
        assert_final_state(&client, &lifecycle, &what);
    }
}

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Never zero (xorshift's fixed point), and neighbouring seeds diverge at once.
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next_u64() % bound as u64).expect("fits usize")
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.below(index + 1);
            items.swap(index, other);
        }
    }
}

/// The seed from `name` in the environment (decimal or 0x-hex), else `default`.
pub fn seed_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => text.parse().ok(),
        })
        .unwrap_or(default)
}

fn random_permutations_with_duplicates_reach_the_final_state(suite: &Suite) {
    let seed = seed_from_env("SWITCHBOARD_CONCURRENCY_SEED", DEFAULT_SEED);
    let mut rng = Rng::new(seed);
    let worker = &suite.configured;
    let client = worker.client();
    for provider in ProviderId::ALL {
        for round in 0..PERMUTATIONS_PER_PROVIDER {
            let lifecycle = lifecycle(provider, &worker.base_url);
            let signed = lifecycle.signed();
            // Every event once, plus one to three copies of random events, in a random order.
            let mut order: Vec<usize> = (0..signed.len()).collect();
            for _ in 0..=rng.below(3) {
                order.push(rng.below(signed.len()));
            }
            rng.shuffle(&mut order);
            let what = format!(
                "{provider} round {round} (seed {seed:#x}, SWITCHBOARD_CONCURRENCY_SEED to \
                 reproduce), {}, delivery order {order:?}",
                lifecycle.id
            );
            let mut seen = vec![false; signed.len()];
            for &index in &order {
                let response = client.replay(&signed[index]).expect("worker reachable");
                let entry = acknowledged(&response, &what);
                assert_eq!(
                    entry["duplicate"],
                    json!(seen[index]),
                    "{what}: event {index}: {entry}"
                );
                seen[index] = true;
            }
            assert_final_state(&client, &lifecycle, &what);
        }
    }
}
