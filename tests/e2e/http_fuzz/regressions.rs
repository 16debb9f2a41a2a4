//! Regressions the fuzzer found, as plain tests.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_core::{CapturedRequest, ProviderId};

use super::generate::{message, Framing};
use super::webhooks::form;
use super::{send, Case, Expect, Target, ANSWER_TIMEOUT};
use crate::concurrency::{lifecycle, provider};
use crate::support::{accepted, assert_error, call_listed, now, summary, unique_id};
use crate::{Suite, TOKEN};

/// Found by the fuzzer: `worker::Method` reads methods it does not know as `GET`, so
/// `PROPFIND /healthz` was a 200 and `MKCOL /webhooks/…` was handled as a `GET` webhook.
pub(super) fn methods_unknown_to_the_runtime_bindings_are_405(suite: &Suite) {
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
pub(super) fn status_api_ids_too_long_for_the_index_are_404(suite: &Suite) {
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
pub(super) fn an_alias_too_long_for_the_index_does_not_stall_it(suite: &Suite) {
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
pub(super) fn a_body_cut_short_of_its_length_is_400_and_the_worker_serves_on(suite: &Suite) {
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
pub(super) fn the_largest_sequence_number_is_stored_exactly(suite: &Suite) {
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
