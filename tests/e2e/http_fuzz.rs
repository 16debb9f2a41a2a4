//! An HTTP-level fuzzer against the real worker in workerd: thousands of malformed requests —
//! random bytes, truncated and invalid UTF-8 bodies, wrong and missing content types, duplicate
//! and oversized headers, huge query strings, every method, every route, valid signatures over
//! mutated bodies, mutated bodies validly signed, and requests that are not HTTP at all — then
//! `/healthz` and a valid webhook must still work.
//!
//! Every answer to a well-formed request must be a 2xx (only for GET, HEAD or POST, or a 204
//! CORS preflight) or an error in the worker's JSON shape, `{"error": <stable code>, "message":
//! <text>}`, whose status is the one of its code, and never a 5xx except the two documented
//! retry signals (see [`RETRY_SIGNALS`]).
//!
//! Requests that are not valid HTTP/1.1 (bad request line, invalid header bytes, contradictory
//! or lying framing, broken chunked encoding) never reach the worker when workerd's HTTP parser
//! refuses them: for those alone, workerd's own non-JSON 4xx or a closed connection is accepted.
//! The same holds for requests beyond workerd's size limits on the request line and headers.
//! If the worker does see such a request, its answer is held to the rules above.
//!
//! Deterministic: case `i` is generated from the seed and `i` alone, so a failure prints the
//! seed, the case number and the request, and `SWITCHBOARD_HTTP_FUZZ_SEED` plus
//! `SWITCHBOARD_HTTP_FUZZ_CASE` replay exactly that request. `SWITCHBOARD_HTTP_FUZZ_REQUESTS`
//! sets how many are sent (`make soak` sends more), from case `SWITCHBOARD_HTTP_FUZZ_FIRST` (0).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_core::{CapturedRequest, ProviderId};

use crate::concurrency::{lifecycle, provider, seed_from_env, Rng};
use crate::http::{exchange, AfterSending, RawResponse};
use crate::support::{accepted, assert_error, call_listed, now, summary, unique_id};
use crate::worker::Worker;
use crate::{Suite, Test, ALLOWED_ORIGIN, TOKEN};

// Regressions the fuzzer found, as plain tests.

/// Found by the fuzzer: `worker::Method` reads methods it does not know as `GET`, so
/// `PROPFIND /healthz` was a 200 and `MKCOL /webhooks/…` was handled as a `GET` webhook.
fn methods_unknown_to_the_runtime_bindings_are_405(suite: &Suite) {
    // ureq refuses these methods: sent by hand.
    let target = Target::of(&suite.configured);
    for (method, path) in [
        ("PROPFIND", "/healthz"),
        ("MKCOL", "/webhooks/twilio"),
        ("PROPFIND", "/webhooks/vonage?sig=x"),
        ("PROPPATCH", "/v1/calls"),
    ] {
        let bytes = message(method, path, &target.address, &[], b"", Framing::Bare);
        let response = send_by_hand(&target, method, bytes, false);
        assert_error(&response, 405, "method_not_allowed");
    }
}

/// Sends `bytes` on a fresh connection (half-closed after them if `half_close`) and reads the
/// worker's answer: for requests ureq will not send (unknown methods, lying framing).
fn send_by_hand(
    target: &Target,
    method: &str,
    bytes: Vec<u8>,
    half_close: bool,
) -> crate::http::Response {
    let case = Case {
        label: format!("{method} sent by hand"),
        target: 0,
        method: method.into(),
        bytes,
        expect: Expect::Worker,
        half_close,
    };
    send(&target.address, &case, ANSWER_TIMEOUT)
        .expect("answered")
        .into_response()
}

/// Found by the fuzzer: an unknown id is looked up as an alias in KV, and KV refuses keys over
/// 512 bytes, so a long id was a 503 `storage_unavailable` instead of a 404.
fn status_api_ids_too_long_for_the_index_are_404(suite: &Suite) {
    let client = suite.configured.client();
    let long = "x".repeat(600);
    for path in [
        format!("/v1/calls/telnyx/{long}"),
        format!("/v1/calls/twilio/{long}/events"),
        format!("/v1/messages/plivo/{long}/events/e/request"),
    ] {
        let response = client.api(&path, TOKEN).expect("worker reachable");
        assert_error(&response, 404, "not_found");
    }
}

/// The same limit on the write side: an alias (Telnyx `call_control_id`) too long for a KV key
/// failed the alarm that indexes the call, before the keys of its previous status were deleted,
/// so the call stayed listed under a status it had left. It is now left out of the alias index.
fn an_alias_too_long_for_the_index_does_not_stall_it(suite: &Suite) {
    let client = suite.configured.client();
    let leg = unique_id("leg-long-alias");
    let control = format!("v3:{}", "c".repeat(600));
    let url = client.url("/webhooks/telnyx");
    let telnyx = provider(ProviderId::Telnyx);
    let event = |event_type: &str, state: &str| {
        let body = json!({"data": {
            "event_type": event_type, "id": unique_id("telnyx-event"),
            "occurred_at": now().to_string(), "record_type": "event",
            "payload": {"call_leg_id": leg, "call_control_id": control,
                        "call_session_id": format!("session-{leg}"), "connection_id": "1",
                        "direction": "outgoing", "from": "+15005550006", "to": "+15005550001",
                        "state": state, "hangup_cause": "normal_clearing"}}});
        let request = CapturedRequest::new("POST", &url)
            .with_header("content-type", "application/json")
            .with_body(body.to_string());
        telnyx.sign(&request, now()).expect("sign")
    };
    let listed =
        |status: &str| call_listed(&client, &format!("provider=telnyx&status={status}"), &leg);
    let wait_for = |what: &str, condition: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !condition() {
            assert!(Instant::now() < deadline, "{leg}: {what}");
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    accepted(
        &client
            .replay(&event("call.initiated", "bridging"))
            .expect("worker reachable"),
    );
    wait_for("never listed as initiated", &|| listed("initiated"));
    accepted(
        &client
            .replay(&event("call.hangup", "hangup"))
            .expect("worker reachable"),
    );
    wait_for("still listed as initiated after its hangup", &|| {
        listed("completed") && !listed("initiated")
    });
    assert_eq!(
        summary(&client, &format!("/v1/calls/telnyx/{leg}"))["status"],
        json!("completed")
    );
}

/// Found by the fuzzer (20,000 requests): a webhook whose body ends before its
/// `Content-Length` (the sender closed its side) failed the body read, and that was answered
/// 503 `storage_unavailable`, a retry signal for a request that can never succeed. It is a
/// malformed request: 400, nothing stored. (Under `wrangler dev`, the same request made the
/// dev server exit; the tests run the worker without that proxy: see `worker.rs`.)
fn a_body_cut_short_of_its_length_is_400_and_the_worker_serves_on(suite: &Suite) {
    let target = Target::of(&suite.configured);
    for path in ["/webhooks/twilio", "/webhooks/telnyx", "/webhooks/vonage"] {
        let headers = [(
            "content-type".to_owned(),
            b"application/x-www-form-urlencoded".to_vec(),
        )];
        let mut bytes = message("POST", path, &target.address, &headers, b"", Framing::Bare);
        // The head promises 2,048 bytes; 12 arrive, then the end of the stream.
        let head_end = bytes.len() - 2;
        bytes.truncate(head_end);
        bytes.extend_from_slice(b"content-length: 2048\r\n\r\nCallSid=CA12");
        let response = send_by_hand(&target, "POST", bytes, true);
        assert_error(&response, 400, "malformed_request");
    }
    let health = suite
        .configured
        .client()
        .get("/healthz", &[])
        .expect("healthz reachable");
    assert_eq!(health.status, 200, "{}", health.body);
}

/// Found by the fuzzer: the worker hands each event to its Durable Object as JSON, which the
/// object parsed in JavaScript, where a u64 above 2^53 (Twilio `SequenceNumber`
/// 18446744073709551615, validly signed) became a double and the append failed with 503. It is
/// now stored exactly.
fn the_largest_sequence_number_is_stored_exactly(suite: &Suite) {
    let client = suite.configured.client();
    let life = lifecycle(ProviderId::Twilio, &suite.configured.base_url);
    let mut request = life.events[0].clone();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&request.body)
        .into_owned()
        .map(|(name, value)| match name.as_str() {
            "SequenceNumber" => (name, u64::MAX.to_string()),
            _ => (name, value),
        })
        .collect();
    request.body = form(&pairs).into_bytes();
    let signed = provider(ProviderId::Twilio)
        .sign(&request, now())
        .expect("sign");
    accepted(&client.replay(&signed).expect("worker reachable"));
    let timeline = client
        .api(&format!("{}/events", life.path()), TOKEN)
        .expect("status api reachable");
    assert_eq!(timeline.status, 200, "{}", timeline.body);
    assert!(
        timeline
            .body
            .contains(&format!("\"sequence\":{}", u64::MAX)),
        "{}",
        timeline.body
    );
}

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        malformed_requests_never_get_a_5xx_or_a_non_json_error,
        methods_unknown_to_the_runtime_bindings_are_405,
        status_api_ids_too_long_for_the_index_are_404,
        an_alias_too_long_for_the_index_does_not_stall_it,
        a_body_cut_short_of_its_length_is_400_and_the_worker_serves_on,
        the_largest_sequence_number_is_stored_exactly,
    ]
}

const DEFAULT_REQUESTS: usize = 2_000;
const DEFAULT_SEED: u64 = 0x0f00_d5ee_d0f0_2026;
/// Concurrent connections: enough to keep workerd busy on two cores.
const THREADS: usize = 4;
/// A well-formed request must be answered within this.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a request workerd may refuse is waited on before it counts as refused.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);
/// The worker's default `MAX_BODY_BYTES`.
const MAX_BODY_BYTES: usize = 1_048_576;

/// Every stable error code (`src/error.rs` `AppError::code`, `crates/core/src/error.rs`
/// `WebhookError::code`) with the status it is always sent with.
const CODES: [(&str, u16); 25] = [
    ("malformed_request", 400),
    ("missing_field", 400),
    ("unsupported_content_type", 415),
    ("missing_signature", 401),
    ("invalid_signature", 401),
    ("unsupported_algorithm", 401),
    ("payload_hash_mismatch", 401),
    ("timestamp_out_of_tolerance", 401),
    ("missing_signed_field", 401),
    ("unsigned_callback", 503),
    ("unsigned_content", 401),
    ("ambiguous_signed_string", 401),
    ("replayed_token", 401),
    ("not_found", 404),
    ("unknown_provider", 404),
    ("method_not_allowed", 405),
    ("payload_too_large", 413),
    ("too_early", 425),
    ("invalid_parameter", 400),
    ("unauthorized", 401),
    ("origin_not_allowed", 403),
    ("source_not_configured", 503),
    ("config_invalid", 503),
    ("storage_unavailable", 503),
    ("internal_error", 500),
];

/// The only 5xx answers that are not failures. Both are documented retry signals, answered on
/// purpose so that the provider delivers again later, and neither stores anything:
/// * `unsigned_callback`: Vonage documents rare unsigned voice callbacks and retries them on
///   5xx, so the retry arrives signed (the fuzzer sends Vonage-shaped JSON without a JWT);
/// * `source_not_configured`: the provider's secret is not set (the `unconfigured` worker), so
///   its webhooks are held back, never accepted unverified, until it is.
///
/// `storage_unavailable` and `config_invalid` remain failures: neither should be reachable by
/// any request to a correctly configured worker.
const RETRY_SIGNALS: [&str; 2] = ["unsigned_callback", "source_not_configured"];

/// What a case may be answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Well-formed HTTP/1.1 within workerd's limits: the worker answers, by the rules.
    Worker,
    /// Not valid HTTP/1.1 (or beyond workerd's limits), for this reason: workerd may refuse it
    /// with its own non-JSON 4xx or close the connection before the worker runs.
    MaybeRefused(&'static str),
}

struct Case {
    /// What the generator did, for the failure report.
    label: String,
    /// Index into the fuzzed workers.
    target: usize,
    method: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Half-close after sending, so that a server waiting for more body bytes sees the end.
    half_close: bool,
}

/// A fuzzed worker: where to connect and what its requests must carry.
struct Target {
    name: String,
    address: String,
    base_url: String,
}

impl Target {
    fn of(worker: &Worker) -> Self {
        let address = worker
            .base_url
            .strip_prefix("http://")
            .expect("http base url")
            .to_owned();
        Self {
            name: worker.name.clone(),
            address,
            base_url: worker.base_url.clone(),
        }
    }
}

fn malformed_requests_never_get_a_5xx_or_a_non_json_error(suite: &Suite) {
    let seed = seed_from_env("SWITCHBOARD_HTTP_FUZZ_SEED", DEFAULT_SEED);
    let requests: usize = std::env::var("SWITCHBOARD_HTTP_FUZZ_REQUESTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_REQUESTS);
    let only: Option<usize> = std::env::var("SWITCHBOARD_HTTP_FUZZ_CASE")
        .ok()
        .and_then(|text| text.parse().ok());
    let first: usize = std::env::var("SWITCHBOARD_HTTP_FUZZ_FIRST")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    // Mostly the configured worker (every provider on); some cases hit the unconfigured one.
    let targets = [
        Target::of(&suite.configured),
        Target::of(&suite.unconfigured),
    ];
    let indices: Vec<usize> = match only {
        Some(index) => vec![index],
        None => (first..first + requests).collect(),
    };

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let tally: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..THREADS.min(indices.len()) {
            scope.spawn(|| loop {
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&index) = indices.get(position) else {
                    break;
                };
                let case = generate(seed, index, &targets);
                let target = &targets[case.target];
                let timeout = match case.expect {
                    Expect::Worker => ANSWER_TIMEOUT,
                    Expect::MaybeRefused(_) => REFUSAL_TIMEOUT,
                };
                let outcome = send(&target.address, &case, timeout);
                match judge(&case, &outcome) {
                    Ok(verdict) => *tally.lock().unwrap().entry(verdict).or_default() += 1,
                    Err(problem) => {
                        let report = report(seed, index, &case, target, &outcome, &problem);
                        failures.lock().unwrap().push(report);
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let tally = tally.into_inner().unwrap();
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "http fuzz: seed {seed:#x}, {} requests in {:.1} s ({:.0}/s), {} failed; answers: {}",
        indices.len(),
        elapsed.as_secs_f64(),
        indices.len() as f64 / elapsed.as_secs_f64().max(0.001),
        failures.len(),
        tally
            .iter()
            .map(|(verdict, count)| format!("{verdict}×{count}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !failures.is_empty() {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for failure in &failures {
            let kind = failure.lines().next().unwrap_or_default();
            let kind = kind.rsplit_once("): ").map_or(kind, |(_, problem)| problem);
            *kinds.entry(kind).or_default() += 1;
        }
        eprintln!("http fuzz failures by kind: {kinds:#?}");
        let shown: Vec<&String> = failures.iter().take(10).collect();
        panic!(
            "{} of {} fuzzed requests failed (seed {seed:#x}); the first {}:\n\n{}",
            failures.len(),
            indices.len(),
            shown.len(),
            shown
                .iter()
                .map(|text| text.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        );
    }

    // Still alive and still correct afterwards.
    for target in &targets {
        let client = crate::http::Client::new(&target.base_url);
        let health = client.get("/healthz", &[]).expect("healthz reachable");
        assert_eq!(
            health.status, 200,
            "{} healthz: {}",
            target.name, health.body
        );
    }
    let client = suite.configured.client();
    let life = lifecycle(ProviderId::Twilio, &suite.configured.base_url);
    let first = provider(ProviderId::Twilio)
        .sign(&life.events[0], now())
        .expect("sign");
    let entry = accepted(&client.replay(&first).expect("worker reachable"));
    assert_eq!(entry["id"], json!(life.id));
    assert_eq!(summary(&client, &life.path())["event_count"], json!(1));
}

/// Why a case failed, with everything needed to reproduce it.
fn report(
    seed: u64,
    index: usize,
    case: &Case,
    target: &Target,
    outcome: &Result<RawResponse, String>,
    problem: &str,
) -> String {
    let answer = match outcome {
        Ok(response) => format!("{} {:?}", response.status, printable(&response.body, 600)),
        Err(error) => format!("no answer: {error}"),
    };
    format!(
        "case {index} [{}] to `{}` ({:?}): {problem}\n  answer: {answer}\n  request ({} bytes): \
         {}\n  replay: SWITCHBOARD_HTTP_FUZZ_SEED={seed:#x} SWITCHBOARD_HTTP_FUZZ_CASE={index}",
        case.label,
        target.name,
        case.expect,
        case.bytes.len(),
        printable(&case.bytes, 1_500),
    )
}

/// `bytes` as an escaped string, cut to `max` bytes.
fn printable(bytes: &[u8], max: usize) -> String {
    let mut text: String = bytes
        .iter()
        .take(max)
        .flat_map(|&byte| std::ascii::escape_default(byte))
        .map(char::from)
        .collect();
    if bytes.len() > max {
        let _ = write!(text, "… ({} more bytes)", bytes.len() - max);
    }
    text
}

/// Checks one answer against the rules; `Ok` names the kind of answer, for the tally.
fn judge(case: &Case, outcome: &Result<RawResponse, String>) -> Result<String, String> {
    let response = match (outcome, case.expect) {
        (Ok(response), _) => response,
        (Err(_), Expect::MaybeRefused(_)) => return Ok("closed".into()),
        (Err(error), Expect::Worker) => return Err(format!("no answer: {error}")),
    };
    let is_json = response
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/json"));
    if let Expect::MaybeRefused(_) = case.expect {
        // workerd's own answer: never JSON, so never mistaken for the worker's.
        if !is_json && response.status >= 400 {
            return Ok(format!("{}-workerd", response.status));
        }
    }
    let status = response.status;
    match status {
        200..=299 => {
            let method = case.method.to_ascii_uppercase();
            // A CORS preflight from the allowed origin is the one 2xx to an OPTIONS.
            let preflight = method == "OPTIONS" && status == 204;
            if !["GET", "HEAD", "POST"].contains(&method.as_str()) && !preflight {
                return Err(format!("{status} to a {method}"));
            }
            Ok(status.to_string())
        }
        400..=599 => {
            if !is_json {
                return Err(format!(
                    "error without `content-type: application/json` ({:?})",
                    response.header("content-type")
                ));
            }
            if case.method.eq_ignore_ascii_case("HEAD") {
                // No body to read the code from; a HEAD is never answered with a retry signal.
                return if status >= 500 {
                    Err(format!("{status} to a HEAD"))
                } else {
                    Ok(format!("{status}-head"))
                };
            }
            let body: Value = serde_json::from_slice(&response.body)
                .map_err(|error| format!("error body is not JSON: {error}"))?;
            let code = body["error"]
                .as_str()
                .ok_or("error body without a string `error`")?;
            let expected = CODES
                .iter()
                .find(|(known, _)| *known == code)
                .map(|(_, status)| *status)
                .ok_or_else(|| format!("unknown error code `{code}`"))?;
            if expected != status {
                return Err(format!("`{code}` with {status}, not {expected}"));
            }
            if body["message"].as_str().is_none_or(str::is_empty) {
                return Err("error without a message".into());
            }
            if body.as_object().map(|object| object.len()) != Some(2) {
                return Err("error body has fields besides `error` and `message`".into());
            }
            if status >= 500 && !RETRY_SIGNALS.contains(&code) {
                return Err(format!("5xx `{code}`"));
            }
            Ok(format!("{status}-{code}"))
        }
        _ => Err(format!("unexpected status {status}")),
    }
}

/// Sends the case on a fresh connection and reads one answer (see [`exchange`]).
fn send(address: &str, case: &Case, timeout: Duration) -> Result<RawResponse, String> {
    let after = if case.half_close {
        AfterSending::HalfClose
    } else {
        AfterSending::KeepOpen
    };
    let head_request = case.method.eq_ignore_ascii_case("HEAD");
    exchange(address, &case.bytes, after, head_request, timeout)
}

// ---------------------------------------------------------------------------------------------
// Generation. Everything below draws from one `Rng` per case.

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "MKCOL",
];
/// Methods workerd's HTTP server does not implement (it answers them itself).
const FOREIGN_METHODS: [&str; 6] = ["FOO", "BREW", "QUERY", "X-ANYTHING", "get", "Post"];

const PROVIDER_NAMES: [&str; 7] = [
    "vonage",
    "vonage-business",
    "telnyx",
    "bird",
    "messagebird",
    "twilio",
    "plivo",
];

const CONTENT_TYPES: [&str; 16] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded; charset=ISO-8859-1",
    "text/plain",
    "text/html",
    "multipart/form-data; boundary=----fuzz",
    "application/xml",
    "application/octet-stream",
    "application/json, application/x-www-form-urlencoded",
    "",
    "json",
    "application/",
    ";;;",
    "application/json; boundary=\"\\\"",
];

/// Byte strings that are not UTF-8.
const INVALID_UTF8: [&[u8]; 8] = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\x80\x80\x80",
];

const HEADER_NAMES: [&str; 19] = [
    "authorization",
    "content-type",
    "x-twilio-signature",
    "x-plivo-signature-v3",
    "x-plivo-signature-v3-nonce",
    "x-plivo-signature-ma-v3",
    "telnyx-signature-ed25519",
    "telnyx-timestamp",
    "messagebird-signature",
    "messagebird-request-timestamp",
    "messagebird-signature-jwt",
    "x-von-signature",
    "cf-ray",
    "cf-connecting-ip",
    "x-forwarded-proto",
    "accept",
    "user-agent",
    "x-fuzz",
    "origin",
];

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len())]
}

fn chance(rng: &mut Rng, percent: usize) -> bool {
    rng.below(100) < percent
}

fn random_bytes(rng: &mut Rng, length: usize) -> Vec<u8> {
    (0..length).map(|_| rng.next_u64() as u8).collect()
}

/// Printable ASCII, without space.
fn random_token(rng: &mut Rng, length: usize) -> String {
    (0..length)
        .map(|_| char::from(b'!' + (rng.below(94) as u8)))
        .collect()
}

/// Each byte as `%XX`.
fn percent_all(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("%{byte:02X}")).collect()
}

/// A path segment: ordinary, empty, long, percent-encoded bytes (invalid UTF-8, NUL, `/`), …
fn random_segment(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => String::new(),
        1 => ".".into(),
        2 => "..".into(),
        3 => "x".repeat(1 + rng.below(3_000)),
        4 => {
            let length = 1 + rng.below(40);
            percent_all(&random_bytes(rng, length))
        }
        5 => percent_all(pick(rng, &INVALID_UTF8)),
        6 => "%00".into(),
        7 => "%2F%2e%2E%5c".into(),
        8 => "%".into(),
        9 => "%zz%4".into(),
        10 => "caf%C3%A9-%F0%9F%93%9E".into(),
        _ => {
            let length = 1 + rng.below(24);
            random_token(rng, length).replace(['?', '#', '/', '%'], "_")
        }
    }
}

fn random_id(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => random_segment(rng),
        1 => "y".repeat(190 + rng.below(900)),
        2 => format!("CA{}", "0".repeat(32)),
        _ => crate::support::unique_id("fuzz"),
    }
}

fn random_provider(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => random_segment(rng),
        1 => "Twilio".into(),
        2 => "twilio%20".into(),
        _ => pick(rng, &PROVIDER_NAMES).into(),
    }
}

/// Every route, and near misses of every route.
fn random_path(rng: &mut Rng) -> String {
    match rng.below(16) {
        0 => "/healthz".into(),
        1 => pick(
            rng,
            &["/", "/healthz/", "/HEALTHZ", "//healthz", "/healthz%00"],
        )
        .into(),
        2..=5 => format!("/webhooks/{}", random_provider(rng)),
        6 => pick(
            rng,
            &[
                "/webhooks",
                "/webhooks/",
                "/webhooks//twilio",
                "/webhooks/twilio/",
            ],
        )
        .into(),
        7 => format!(
            "/webhooks/{}/{}",
            pick(rng, &PROVIDER_NAMES),
            random_segment(rng)
        ),
        8 => pick(
            rng,
            &["/v1", "/v1/", "/v1/calls", "/v1/messages", "/v1/calls/"],
        )
        .into(),
        9 | 10 => format!(
            "/v1/{}/{}/{}",
            pick(rng, &["calls", "messages"]),
            random_provider(rng),
            random_id(rng)
        ),
        11 => format!(
            "/v1/calls/{}/{}/events",
            random_provider(rng),
            random_id(rng)
        ),
        12 => format!(
            "/v1/messages/{}/{}/events/{}/request",
            random_provider(rng),
            random_id(rng),
            random_segment(rng)
        ),
        13 => format!("/v1/{}/{}", random_segment(rng), random_segment(rng)),
        14 => pick(
            rng,
            &[
                "/../webhooks/twilio",
                "/webhooks/./twilio",
                "/%2e%2e/healthz",
            ],
        )
        .into(),
        _ => {
            let mut path = String::new();
            for _ in 0..1 + rng.below(6) {
                path.push('/');
                path.push_str(&random_segment(rng));
            }
            path
        }
    }
}

/// A query string (without `?`), often empty.
fn random_query(rng: &mut Rng) -> String {
    match rng.below(14) {
        0..=5 => String::new(),
        6 => format!(
            "limit={}&cursor={}&status={}&provider={}",
            pick(
                rng,
                &[
                    "0",
                    "1",
                    "100",
                    "101",
                    "-1",
                    "1e3",
                    "",
                    "%FF",
                    "99999999999999999999"
                ]
            ),
            pick(rng, &["", "abc", "%FF%FE", "eyJ4Ijoi", "AAAA", "!!!!"]),
            pick(
                rng,
                &["", "completed", "delivered", "COMPLETED", "nope", "%00"]
            ),
            pick(rng, &["", "twilio", "nope", "%C3"]),
        ),
        7 => {
            let length = rng.below(200);
            percent_all(&random_bytes(rng, length))
        }
        8 => {
            // Huge: up to 48 KiB of parameters.
            let mut query = String::new();
            for index in 0..rng.below(2_000) {
                let _ = write!(query, "p{index}={}&", "v".repeat(rng.below(20)));
            }
            query
        }
        9 => "sig=00&timestamp=1&messageId=1&status=delivered".into(),
        10 => "a=1&a=2&&=&==&%=%&a%00=b%00".into(),
        11 => "q=".to_owned() + &"z".repeat(1 + rng.below(30_000)),
        12 => format!("event_id={}", random_segment(rng)),
        _ => {
            let length = 1 + rng.below(60);
            random_token(rng, length).replace(['#', ' '], "_")
        }
    }
}

/// A body: random bytes, text, JSON and form shapes, broken ones, large ones.
fn random_body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(18) {
        0..=2 => Vec::new(),
        3 => {
            let length = rng.below(4_096);
            random_bytes(rng, length)
        }
        4 => {
            let length = rng.below(512);
            random_token(rng, length).into_bytes()
        }
        5 => b"{}".to_vec(),
        6 => b"[]".to_vec(),
        7 => b"null".to_vec(),
        8 => "[".repeat(1 + rng.below(20_000)).into_bytes(),
        9 => br#"{"uuid": 1e400, "status": ["x"], "timestamp": {}}"#.to_vec(),
        10 => {
            let mut body = br#"{"uuid":"a","status":"answered","x":""#.to_vec();
            body.extend_from_slice(pick(rng, &INVALID_UTF8));
            body.extend_from_slice(br#""}"#);
            body
        }
        11 => b"CallSid=%ZZ&CallStatus=%&=&&%FF=%FE".to_vec(),
        12 => {
            let mut body = String::new();
            for index in 0..rng.below(5_000) {
                let _ = write!(body, "k{index}=v&");
            }
            body.into_bytes()
        }
        13 => br#"{"data":{"event_type":"call.hangup","payload":null}}"#.to_vec(),
        14 => br#"{"event":{"id":"\ud800","state":"RINGING","type":"CALL"}}"#.to_vec(),
        15 => {
            // One byte over the limit, once in a while.
            if chance(rng, 20) {
                vec![b'a'; MAX_BODY_BYTES + 1]
            } else {
                vec![b'{'; 1 + rng.below(20_000)]
            }
        }
        16 => b"\0\0\0\0".to_vec(),
        _ => br#"{"uuid":"u","conversation_uuid":"c","status":"started","timestamp":"2026-01-01T00:00:00.000Z"}"#
            .to_vec(),
    }
}

/// How a well-formed body is framed.
#[derive(Clone, Copy)]
enum Framing {
    Length,
    /// Valid chunked encoding with chunks of at most this many bytes.
    Chunked(usize),
    /// No body and no framing header.
    Bare,
}

/// A well-formed HTTP/1.1 request. `headers` must not contain framing headers.
fn message(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    framing: Framing,
) -> Vec<u8> {
    let mut bytes = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"connection: close\r\n");
    match framing {
        Framing::Bare if body.is_empty() => bytes.extend_from_slice(b"\r\n"),
        Framing::Length | Framing::Bare => {
            bytes.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            bytes.extend_from_slice(body);
        }
        Framing::Chunked(size) => {
            bytes.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            for chunk in body.chunks(size.max(1)) {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
    }
    bytes
}

fn random_framing(rng: &mut Rng) -> Framing {
    match rng.below(10) {
        0..=5 => Framing::Length,
        6 | 7 => Framing::Chunked(1 + rng.below(2_000)),
        8 => Framing::Chunked(1),
        _ => Framing::Bare,
    }
}

/// Random headers: content types, bogus signatures and tokens, duplicates, large values.
fn random_headers(rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    if chance(rng, 75) {
        headers.push(("content-type".into(), pick(rng, &CONTENT_TYPES).into()));
    }
    for _ in 0..rng.below(5) {
        let name = pick(rng, &HEADER_NAMES);
        let value: Vec<u8> = match rng.below(9) {
            0 => format!("Bearer {TOKEN}").into_bytes(),
            1 => b"Bearer ".to_vec(),
            2 => format!("Bearer {}", random_token(rng, 40)).into_bytes(),
            3 => b"Basic Zm9vOmJhcg==".to_vec(),
            4 => "A".repeat(1 + rng.below(8_000)).into_bytes(),
            5 => pick(rng, &[b"1700000000".as_slice(), ALLOWED_ORIGIN.as_bytes()]).to_vec(),
            6 => pick(rng, &CONTENT_TYPES).into(),
            // obs-text: bytes 0x80-0xff are allowed in a field value.
            7 => vec![b'v', 0xe9, 0xff, b'x'],
            _ => {
                let length = rng.below(100);
                random_token(rng, length).into_bytes()
            }
        };
        headers.push((name.into(), value.clone()));
        if chance(rng, 30) {
            // The same header again, with another value.
            headers.push((name.to_ascii_uppercase(), b"second".to_vec()));
        }
    }
    if chance(rng, 5) {
        for index in 0..rng.below(120) {
            headers.push((format!("x-many-{index}"), b"1".to_vec()));
        }
    }
    if chance(rng, 3) {
        headers.push(("expect".into(), b"100-continue".to_vec()));
    }
    headers
}

/// Headers beyond what workerd accepts in total: the request may be refused before the worker.
const HEADER_BUDGET: usize = 60 * 1024;

fn expect_for(target: &str, headers: &[(String, Vec<u8>)]) -> Expect {
    // Control bytes other than tab are not allowed in a field value (mutated signatures).
    let control = |byte: &u8| (*byte < 0x20 && *byte != b'\t') || *byte == 0x7f;
    if headers.iter().any(|(_, value)| value.iter().any(control)) {
        return Expect::MaybeRefused("control bytes in a header value");
    }
    let size: usize = target.len()
        + headers
            .iter()
            .map(|(name, value)| name.len() + value.len() + 4)
            .sum::<usize>();
    if size > HEADER_BUDGET {
        Expect::MaybeRefused("request line and headers beyond workerd's limits")
    } else {
        Expect::Worker
    }
}

fn generate(seed: u64, index: usize, targets: &[Target]) -> Case {
    let mut rng = Rng::new(seed.wrapping_add((index as u64).wrapping_mul(0xa24b_aed4_963e_e407)));
    let target = usize::from(chance(&mut rng, 10));
    let host = &targets[target].address;
    let base_url = &targets[target].base_url;
    let mut case = match rng.below(100) {
        0..=34 => random_request(&mut rng, host),
        35..=54 => signed_then_mutated(&mut rng, host, base_url),
        55..=69 => mutated_then_signed(&mut rng, host, base_url),
        70..=79 => status_api(&mut rng, host),
        _ => malformed_http(&mut rng, host),
    };
    case.target = target;
    case
}

fn random_request(rng: &mut Rng, host: &str) -> Case {
    let method = if chance(rng, 3) {
        pick(rng, &FOREIGN_METHODS)
    } else {
        pick(rng, &METHODS)
    };
    let path = random_path(rng);
    let query = random_query(rng);
    let target = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let headers = random_headers(rng);
    let body = random_body(rng);
    let framing = random_framing(rng);
    let mut expect = expect_for(&target, &headers);
    if FOREIGN_METHODS.contains(&method) {
        expect = Expect::MaybeRefused("a method workerd does not implement");
    }
    let label = format!(
        "random {method} {}, {} headers, {} body bytes",
        cut(&target, 80),
        headers.len(),
        body.len()
    );
    Case {
        label,
        target: 0,
        method: method.into(),
        bytes: message(method, &target, host, &headers, &body, framing),
        expect,
        half_close: false,
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The path and query of a captured request's URL.
fn path_and_query(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or_else(|| "/".to_owned(), |index| after_scheme[index..].to_owned())
}

/// Headers of a captured request as raw pairs, without those `message` writes itself.
fn captured_headers(request: &CapturedRequest) -> Vec<(String, Vec<u8>)> {
    request
        .headers
        .iter()
        .filter(|(name, _)| {
            !["content-length", "host", "connection", "transfer-encoding"].contains(&name.as_str())
        })
        .map(|(name, value)| (name.clone(), value.clone().into_bytes()))
        .collect()
}

/// A valid webhook of a random provider: one event of a fresh lifecycle, unsigned.
fn random_webhook(rng: &mut Rng, base_url: &str) -> (ProviderId, CapturedRequest) {
    let id = pick(rng, &ProviderId::ALL);
    let life = lifecycle(id, base_url);
    let event = life.events[rng.below(life.events.len())].clone();
    (id, event)
}

/// Damages `bytes` in one random way; returns what it did.
fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) -> &'static str {
    let position = if bytes.is_empty() {
        0
    } else {
        rng.below(bytes.len() + 1)
    };
    match rng.below(10) {
        0 if !bytes.is_empty() => {
            let index = position.min(bytes.len() - 1);
            bytes[index] ^= 1 + (rng.next_u64() % 255) as u8;
            "flipped a byte"
        }
        1 => {
            bytes.truncate(position);
            "truncated"
        }
        2 => {
            let length = 1 + rng.below(64);
            bytes.extend(random_bytes(rng, length));
            "appended random bytes"
        }
        3 | 4 => {
            let sequence = pick(rng, &INVALID_UTF8);
            bytes.splice(position..position, sequence.iter().copied());
            "inserted invalid UTF-8"
        }
        5 => {
            let end = (position + 1 + rng.below(32)).min(bytes.len());
            bytes.drain(position.min(end)..end);
            "deleted a range"
        }
        6 => {
            let copy = bytes.clone();
            bytes.extend(copy);
            "doubled"
        }
        7 => {
            bytes.insert(position, 0);
            "inserted NUL"
        }
        8 => {
            let text = pick(rng, &["é", "\u{2028}", "📞", "\u{feff}", "\\u0000", "\""]);
            bytes.splice(position..position, text.bytes());
            "inserted unicode or an escape"
        }
        _ => {
            let length = rng.below(300);
            *bytes = random_bytes(rng, length);
            "replaced with random bytes"
        }
    }
}

/// A validly signed webhook, then damaged: body, signature headers, content type, URL, method,
/// framing. Mostly 401s; whatever survives verification must parse or be a 400.
fn signed_then_mutated(rng: &mut Rng, host: &str, base_url: &str) -> Case {
    let (id, unsigned) = random_webhook(rng, base_url);
    let mut request = provider(id).sign(&unsigned, now()).expect("sign");
    let signature_headers: Vec<String> = request
        .headers
        .keys()
        .filter(|name| unsigned.header(name).is_none())
        .cloned()
        .collect();
    let mut did: Vec<&str> = Vec::new();
    let mut framing = Framing::Length;
    for _ in 0..1 + rng.below(3) {
        match rng.below(12) {
            0..=3 => did.push(mutate_bytes(rng, &mut request.body)),
            4 if !signature_headers.is_empty() => {
                let name = pick(
                    rng,
                    &signature_headers
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                )
                .to_owned();
                let mut value = request
                    .header(&name)
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec();
                did.push(mutate_bytes(rng, &mut value));
                request.set_header(&name, &String::from_utf8_lossy(&value));
                did.push("damaged a signature header");
            }
            5 if !signature_headers.is_empty() => {
                let name = pick(
                    rng,
                    &signature_headers
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                )
                .to_owned();
                request.headers.remove(&name);
                did.push("dropped a signature header");
            }
            6 => {
                request.set_header("content-type", pick(rng, &CONTENT_TYPES));
                did.push("changed the content type");
            }
            7 => {
                request.headers.remove("content-type");
                did.push("dropped the content type");
            }
            8 => {
                let separator = if request.url.contains('?') { '&' } else { '?' };
                request.url.push(separator);
                request.url.push_str(&random_query(rng));
                did.push("extended the query");
            }
            9 => {
                request.method = pick(rng, &["GET", "POST", "PUT", "DELETE"]).into();
                did.push("changed the method");
            }
            10 => {
                framing = Framing::Chunked(1 + rng.below(64));
                did.push("sent chunked");
            }
            _ => did.push("unchanged"),
        }
    }
    let mut headers = captured_headers(&request);
    if chance(rng, 15) && !signature_headers.is_empty() {
        // The signature header twice: once right, once wrong.
        let name = signature_headers[0].clone();
        headers.push((name, b"AAAA".to_vec()));
        did.push("duplicated a signature header");
    }
    let target = path_and_query(&request.url);
    let expect = expect_for(&target, &headers);
    Case {
        label: format!("signed {id} then {}", did.join(", ")),
        target: 0,
        method: request.method.clone(),
        bytes: message(
            &request.method,
            &target,
            host,
            &headers,
            &request.body,
            framing,
        ),
        expect,
        half_close: false,
    }
}

/// A random JSON value of a wrong or extreme kind.
fn wild_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1.7976931348623157e308),
        4 => json!(u64::MAX),
        5 => json!("y".repeat(201)),
        6 => json!("z".repeat(1 + rng.below(20_000))),
        7 => json!([]),
        8 => json!({"nested": {"deeper": [1, "x", null]}}),
        9 => json!(pick(
            rng,
            &["", " ", "\u{0}", "é📞", "9999-99-99T99:99:99Z", "-1", "NaN"]
        )),
        10 => json!(pick(
            rng,
            &[
                "completed",
                "ringing",
                "answered",
                "busy",
                "delivered",
                "failed",
                "unknown-word",
                "call.hangup",
                "message.finalized",
                "ANSWERED",
                "MISSED"
            ]
        )),
        _ => json!(random_token(rng, 12)),
    }
}

/// Replaces, adds or removes one member somewhere in `value`.
fn mutate_json(rng: &mut Rng, value: &mut Value, depth: usize) {
    match value {
        Value::Object(object) if !object.is_empty() => {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = keys[rng.below(keys.len())].clone();
            match rng.below(6) {
                0 => {
                    object.remove(&key);
                }
                1 => {
                    object.insert(random_token(rng, 6), wild_value(rng));
                }
                2 | 3 if depth < 6 => {
                    mutate_json(rng, object.get_mut(&key).expect("key"), depth + 1)
                }
                _ => {
                    object.insert(key, wild_value(rng));
                }
            }
        }
        Value::Array(items) if !items.is_empty() && depth < 6 => {
            let index = rng.below(items.len());
            mutate_json(rng, &mut items[index], depth + 1);
        }
        other => *other = wild_value(rng),
    }
}

/// Replaces, adds, repeats or removes one form parameter.
fn mutate_pairs(rng: &mut Rng, pairs: &mut Vec<(String, String)>) {
    let index = if pairs.is_empty() {
        0
    } else {
        rng.below(pairs.len())
    };
    match rng.below(6) {
        0 if !pairs.is_empty() => {
            pairs.remove(index);
        }
        1 if !pairs.is_empty() => {
            let key = pairs[index].0.clone();
            pairs.push((key, random_token(rng, 8)));
        }
        2 if !pairs.is_empty() => pairs[index].1 = "w".repeat(1 + rng.below(5_000)),
        3 if !pairs.is_empty() => {
            let value = String::from_utf8_lossy(&random_bytes(rng, 16)).into_owned();
            pairs[index].1 = value;
        }
        4 => pairs.push((random_token(rng, 5), random_token(rng, 5))),
        _ if !pairs.is_empty() => pairs[index].1 = wild_value(rng).to_string(),
        _ => {}
    }
}

fn form(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A webhook whose content is damaged and then validly signed, so that it passes verification
/// and reaches the parser: wrong types, missing and extra fields, huge and odd ids, raw garbage.
/// Every answer must be a 2xx or a 4xx.
fn mutated_then_signed(rng: &mut Rng, host: &str, base_url: &str) -> Case {
    let (id, mut request) = random_webhook(rng, base_url);
    let mut did: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        match rng.below(4) {
            0 => did.push(mutate_bytes(rng, &mut request.body)),
            _ => {
                if let Ok(mut value) = serde_json::from_slice::<Value>(&request.body) {
                    mutate_json(rng, &mut value, 0);
                    request.body = value.to_string().into_bytes();
                    did.push("changed a JSON member");
                } else if request.method == "GET" {
                    let (path, query) = request.url.split_once('?').unwrap_or((&request.url, ""));
                    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect();
                    mutate_pairs(rng, &mut pairs);
                    request.url = format!("{path}?{}", form(&pairs));
                    did.push("changed a query parameter");
                } else {
                    let mut pairs: Vec<(String, String)> =
                        form_urlencoded::parse(&request.body).into_owned().collect();
                    mutate_pairs(rng, &mut pairs);
                    request.body = form(&pairs).into_bytes();
                    did.push("changed a form parameter");
                }
            }
        }
    }
    // Signing may refuse what it cannot sign (e.g. VIS without an `event`): send it unsigned.
    let signed = provider(id).sign(&request, now());
    let label = format!(
        "{} {id}, then {}",
        did.join(", "),
        if signed.is_ok() { "signed" } else { "unsigned" }
    );
    let request = signed.unwrap_or(request);
    let headers = captured_headers(&request);
    let target = path_and_query(&request.url);
    let expect = expect_for(&target, &headers);
    Case {
        label,
        target: 0,
        method: request.method.clone(),
        bytes: message(
            &request.method,
            &target,
            host,
            &headers,
            &request.body,
            random_framing(rng),
        ),
        expect,
        half_close: false,
    }
}

/// The status API with the right token: odd ids (long, percent-encoded, invalid UTF-8), odd
/// providers, odd list parameters. Only 200, 400, 404 and 425 make sense here.
fn status_api(rng: &mut Rng, host: &str) -> Case {
    let path = match rng.below(5) {
        0 => pick(rng, &["/v1/calls", "/v1/messages"]).to_owned(),
        1 => format!("/v1/calls/{}/{}", random_provider(rng), random_id(rng)),
        2 => format!(
            "/v1/messages/{}/{}/events",
            random_provider(rng),
            random_id(rng)
        ),
        3 => format!(
            "/v1/calls/{}/{}/events/{}/request",
            random_provider(rng),
            random_id(rng),
            random_segment(rng)
        ),
        _ => format!("/v1/calls/telnyx/v3:{}", random_id(rng)),
    };
    let query = if chance(rng, 40) {
        random_query(rng)
    } else {
        String::new()
    };
    let target = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let headers = vec![(
        "authorization".to_owned(),
        format!("Bearer {TOKEN}").into_bytes(),
    )];
    let method = pick(rng, &["GET", "GET", "GET", "HEAD", "POST"]);
    Case {
        label: format!("status API {method} {}", cut(&target, 120)),
        target: 0,
        method: method.into(),
        bytes: message(method, &target, host, &headers, b"", Framing::Bare),
        expect: expect_for(&target, &headers),
        half_close: false,
    }
}

/// Requests that are not valid HTTP/1.1, and a few valid ones that only look strange.
fn malformed_http(rng: &mut Rng, host: &str) -> Case {
    let path = random_path(rng);
    let plain = |method: &str, extra: &str, body: &[u8]| {
        let mut bytes =
            format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n{extra}\r\n")
                .into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };
    let invalid = |reason| Expect::MaybeRefused(reason);
    let (label, method, bytes, expect, half_close): (&str, &str, Vec<u8>, Expect, bool) = match rng
        .below(24)
    {
        0 => {
            let length = 1 + rng.below(2_000);
            (
                "random bytes",
                "",
                random_bytes(rng, length),
                invalid("not HTTP"),
                true,
            )
        }
        1 => (
            "garbage request line",
            "",
            format!("{}\r\n\r\n", random_token(rng, 30)).into_bytes(),
            invalid("bad request line"),
            true,
        ),
        2 => (
            "HTTP/0.9 request line",
            "GET",
            format!("GET {path}\r\n\r\n").into_bytes(),
            invalid("bad request line"),
            true,
        ),
        3 => {
            let version = pick(
                rng,
                &[
                    "HTTP/2.0",
                    "HTTP/1.2",
                    "HTTP/9.9",
                    "http/1.1",
                    "HTTP/1.1x",
                    "HTTP/",
                ],
            );
            (
                "odd HTTP version",
                "GET",
                format!("GET {path} {version}\r\nhost: {host}\r\n\r\n").into_bytes(),
                invalid("bad HTTP version"),
                true,
            )
        }
        4 => (
            "space in a header name",
            "POST",
            plain("POST", "bad name: 1\r\ncontent-length: 0\r\n", b""),
            invalid("invalid header name"),
            true,
        ),
        5 => {
            let byte = pick(rng, &[0u8, 0x7f, b'\r', 0x01, 0x1b]);
            let mut extra = b"x-fuzz: a".to_vec();
            extra.push(byte);
            extra.extend_from_slice(b"b\r\ncontent-length: 0\r\n");
            (
                "control byte in a header value",
                "GET",
                plain("GET", &String::from_utf8_lossy(&extra), b""),
                invalid("invalid header value"),
                true,
            )
        }
        6 => (
            "non-ASCII header name",
            "GET",
            plain("GET", "x-f\u{e9}zz: 1\r\n", b""),
            invalid("invalid header name"),
            true,
        ),
        7 => (
            "header line without a colon",
            "GET",
            plain("GET", "no-colon-here\r\n", b""),
            invalid("header without colon"),
            true,
        ),
        8 => (
            "obs-fold continuation line",
            "GET",
            plain("GET", "x-fuzz: a\r\n  continued\r\n", b""),
            invalid("obsolete line folding"),
            true,
        ),
        9 => {
            let declared = 10 + rng.below(5_000);
            let length = rng.below(declared);
            let body = random_bytes(rng, length);
            (
                "Content-Length larger than the body, then EOF",
                "POST",
                plain(
                    "POST",
                    &format!("content-type: application/json\r\ncontent-length: {declared}\r\n"),
                    &body,
                ),
                invalid("body shorter than its Content-Length"),
                true,
            )
        }
        10 => {
            // The first request is valid; the surplus would be the next (ignored) request.
            let length = 20 + rng.below(200);
            let body = random_bytes(rng, length);
            let declared = rng.below(body.len());
            (
                "Content-Length smaller than the body",
                "POST",
                plain(
                    "POST",
                    &format!("content-type: application/json\r\ncontent-length: {declared}\r\n"),
                    &body,
                ),
                Expect::Worker,
                true,
            )
        }
        11 => {
            let value = pick(
                rng,
                &[
                    "-1",
                    "abc",
                    "1.5",
                    "0x10",
                    " ",
                    "99999999999999999999999",
                    "1, 2",
                ],
            );
            (
                "invalid Content-Length",
                "POST",
                plain("POST", &format!("content-length: {value}\r\n"), b"xx"),
                invalid("invalid Content-Length"),
                true,
            )
        }
        12 => (
            "two different Content-Length headers",
            "POST",
            plain("POST", "content-length: 2\r\ncontent-length: 3\r\n", b"abc"),
            invalid("conflicting Content-Length"),
            true,
        ),
        13 => (
            "Content-Length and chunked",
            "POST",
            plain(
                "POST",
                "content-length: 3\r\ntransfer-encoding: chunked\r\n",
                b"3\r\nabc\r\n0\r\n\r\n",
            ),
            invalid("Content-Length with Transfer-Encoding"),
            true,
        ),
        14 => {
            let body = pick(
                rng,
                &[
                    b"zz\r\nabc\r\n0\r\n\r\n".as_slice(),
                    b"5\r\nab".as_slice(),
                    b"3\r\nabcdef\r\n0\r\n\r\n".as_slice(),
                    b"3\r\nabc".as_slice(),
                    b"-1\r\n\r\n".as_slice(),
                    b"ffffffffffffffffff\r\nabc\r\n".as_slice(),
                    b"3;ext=\x01\r\nabc\r\n0\r\n\r\n".as_slice(),
                    b"".as_slice(),
                ],
            );
            (
                "broken chunked body",
                "POST",
                plain(
                    "POST",
                    "content-type: application/json\r\ntransfer-encoding: chunked\r\n",
                    body,
                ),
                invalid("broken chunked encoding"),
                true,
            )
        }
        15 => (
            "unknown transfer coding",
            "POST",
            plain("POST", "transfer-encoding: gzip\r\n", b"abc"),
            invalid("unknown Transfer-Encoding"),
            true,
        ),
        16 => (
            "bare LF line endings",
            "GET",
            format!("GET {path} HTTP/1.1\nhost: {host}\nconnection: close\n\n").into_bytes(),
            invalid("bare LF"),
            true,
        ),
        17 => (
            "two Host headers",
            "GET",
            plain("GET", "host: other.example\r\n", b""),
            invalid("duplicate Host"),
            true,
        ),
        18 => (
            "no Host header",
            "GET",
            format!("GET {path} HTTP/1.1\r\nconnection: close\r\n\r\n").into_bytes(),
            invalid("HTTP/1.1 without Host"),
            true,
        ),
        19 => {
            let length = 70_000 + rng.below(100_000);
            (
                "request line beyond limits",
                "GET",
                format!(
                    "GET {path}?{} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n",
                    "q".repeat(length)
                )
                .into_bytes(),
                invalid("request line beyond workerd's limits"),
                true,
            )
        }
        20 => (
            "header beyond limits",
            "GET",
            plain(
                "GET",
                &format!("x-fuzz: {}\r\n", "h".repeat(70_000 + rng.below(100_000))),
                b"",
            ),
            invalid("header beyond workerd's limits"),
            true,
        ),
        21 => (
            // Refused with 413 from the declared length, before any body byte is read.
            "declared body over the limit, never sent",
            "POST",
            plain(
                "POST",
                &format!(
                    "content-type: application/json\r\ncontent-length: {}\r\n",
                    MAX_BODY_BYTES + 1 + rng.below(1 << 30)
                ),
                b"{",
            ),
            invalid("body shorter than its Content-Length"),
            // Half-closed, so that a server that waits for the body sees its end.
            true,
        ),
        22 => (
            "absolute-form target",
            "GET",
            format!(
                "GET http://{host}{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
            )
            .into_bytes(),
            invalid("absolute-form target, which workerd's HTTP server cannot route"),
            true,
        ),
        _ => (
            "HTTP/1.0 without Host",
            "GET",
            format!("GET {path} HTTP/1.0\r\n\r\n").into_bytes(),
            invalid("no Host header"),
            true,
        ),
    };
    Case {
        label: format!("malformed: {label} ({})", cut(&path, 60)),
        target: 0,
        method: method.into(),
        bytes,
        expect,
        half_close,
    }
}
