//! Retention and erasure (docs/security.md, "Storage, retention and erasure"), end to end: the
//! `retaining` worker keeps subjects [`RETENTION`] after their last event and raw requests
//! [`RAW_REQUEST_RETENTION`], so expiry happens within a test; erasure on request and by number
//! run on the `configured` worker, which keeps subjects for the default 90 days.
//!
//! Each test times its own webhooks with the machine's clock, which is the worker's: nothing
//! may be gone before its setting says, and everything is gone within a bounded wait after.

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_core::request::CapturedRequest;
use switchboard_core::ProviderId;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::concurrency::{provider, twilio_call, twilio_status};
use crate::delivery::{failed_list, poll, post};
use crate::http::{Client, Response};
use crate::live::watch;
use crate::providers::telnyx_call;
use crate::receiver::{Answer, Script};
use crate::support::{
    accepted, assert_error, call_listed, deliver, now, status, summary, unique_id,
};
use crate::tokens::minted;
use crate::{Suite, Test, RAW_REQUEST_RETENTION, RETENTION, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        a_subject_is_kept_for_its_retention_after_its_last_event_then_erased_everywhere,
        deliveries_pending_when_their_subject_expires_fail_as_expired_and_are_listed,
        raw_requests_are_dropped_after_their_window_and_the_events_kept,
        a_subject_erased_on_request_is_gone_with_its_index_aliases_and_sockets,
        erasure_by_number_reaches_every_subject_of_that_number_however_written,
    ]
}

/// How long after its due time an erasure may take to show: the alarm, then KV.
const SETTLE: Duration = Duration::from_secs(15);

/// The close code of a socket whose subject was erased (`switchboard_core::live`).
const CLOSE_SUBJECT_ERASED: u16 = switchboard_core::live::CLOSE_SUBJECT_ERASED;

/// A request with the status API token (or `credential`), any method.
fn request(client: &Client, method: &str, path: &str, credential: &str) -> Response {
    let authorization = format!("Bearer {credential}");
    client
        .send(method, path, &[("authorization", &authorization)], b"")
        .expect("worker reachable")
}

/// A Telnyx call event about `leg` (alias `control`), signed now.
fn telnyx(client: &Client, leg: &str, control: &str, event_type: &str) -> CapturedRequest {
    let url = client.url("/webhooks/telnyx");
    provider(ProviderId::Telnyx)
        .sign(&telnyx_call(&url, leg, control, event_type, now()), now())
        .expect("sign")
}

/// Waits until the call `leg` is listed and its alias `control` resolves: its index flush is
/// done.
fn indexed(client: &Client, leg: &str, control: &str) {
    poll(
        &format!("{leg} listed and found by its alias"),
        SETTLE,
        || {
            (status(client, &format!("/v1/calls/telnyx/{control}")) == 200
                && call_listed(client, "provider=telnyx", leg))
            .then_some(())
        },
    );
}

/// Asserts that the call `leg` is gone: no read finds it, by its id or its alias, and once KV
/// has caught up no list shows it.
fn gone_everywhere(client: &Client, leg: &str, control: &str) {
    let path = format!("/v1/calls/telnyx/{leg}");
    for read in [
        path.clone(),
        format!("{path}/events"),
        format!("{path}/deliveries"),
        format!("/v1/calls/telnyx/{control}"),
    ] {
        assert_error(&client.api(&read, TOKEN).unwrap(), 404, "not_found");
    }
    poll(&format!("{leg} no longer listed"), SETTLE, || {
        (!call_listed(client, "provider=telnyx", leg)).then_some(())
    });
}

fn a_subject_is_kept_for_its_retention_after_its_last_event_then_erased_everywhere(suite: &Suite) {
    let client = suite.retaining.client();
    let leg = unique_id("kept-leg");
    let control = unique_id("v3:kept-control");
    let path = format!("/v1/calls/telnyx/{leg}");
    let first_sent = Instant::now();
    accepted(&deliver(
        &client,
        &telnyx(&client, &leg, &control, "call.initiated"),
    ));
    indexed(&client, &leg, &control);
    let created_at = summary(&client, &path)["created_at"].clone();
    let mut socket = watch(&suite.retaining.base_url, &path);
    assert_eq!(socket.next_frame()["type"], json!("snapshot"));

    // A second event half-way through the first one's retention keeps both.
    assert!(
        first_sent.elapsed() < RETENTION / 2,
        "the test ran late: indexed after {:?}",
        first_sent.elapsed()
    );
    sleep((RETENTION / 2).saturating_sub(first_sent.elapsed()));
    let last_sent = Instant::now();
    accepted(&deliver(
        &client,
        &telnyx(&client, &leg, &control, "call.answered"),
    ));
    assert_eq!(socket.next_frame()["type"], json!("event"));
    sleep((RETENTION + Duration::from_secs(2)).saturating_sub(first_sent.elapsed()));
    assert!(last_sent.elapsed() < RETENTION, "the test ran late");
    let kept = summary(&client, &path);
    assert_eq!(
        kept["event_count"],
        json!(2),
        "erased before its last event was old enough"
    );

    let erased = poll(&format!("{path} erased"), RETENTION + SETTLE, || {
        (status(&client, &path) == 404).then(Instant::now)
    });
    assert!(
        erased.duration_since(last_sent) >= RETENTION,
        "erased {:?} after its last event; kept for {RETENTION:?}",
        erased.duration_since(last_sent)
    );
    assert_eq!(
        socket.next_close(),
        Some(CloseCode::from(CLOSE_SUBJECT_ERASED))
    );
    gone_everywhere(&client, &leg, &control);

    // A later event for the same id starts a new subject.
    accepted(&deliver(
        &client,
        &telnyx(&client, &leg, &control, "call.hangup"),
    ));
    let again = summary(&client, &path);
    assert_eq!(again["event_count"], json!(1));
    assert_ne!(again["created_at"], created_at);
}

fn deliveries_pending_when_their_subject_expires_fail_as_expired_and_are_listed(suite: &Suite) {
    let client = suite.retaining.client();
    let sid = unique_id("CAexpiring");
    suite
        .receiver
        .script(&sid, Script::always(Answer::Status(503)));
    accepted(&deliver(
        &client,
        &twilio_status(&client, &sid, "ringing", 0),
    ));
    suite.receiver.wait_for("/retained", &sid, 1, RETENTION / 2);
    let path = format!("/v1/calls/twilio/{sid}");
    let deliveries = summary(&client, &format!("{path}/deliveries"));
    let row = &deliveries["deliveries"][0];
    assert_eq!(row["state"], json!("pending"), "{deliveries}");
    let webhook_id = row["webhook_id"].as_str().expect("webhook id").to_owned();
    assert!(
        failed_list(&client, "endpoint=main")
            .iter()
            .all(|entry| entry["webhook_id"] != json!(webhook_id)),
        "listed as failed while pending"
    );

    poll(&format!("{path} erased"), RETENTION + SETTLE, || {
        (status(&client, &path) == 404).then_some(())
    });
    let entry = poll(&format!("{webhook_id} listed as failed"), SETTLE, || {
        failed_list(&client, "endpoint=main")
            .into_iter()
            .find(|entry| entry["webhook_id"] == json!(webhook_id))
    });
    assert_eq!(entry["last_error"], json!("expired"), "{entry}");
    assert_eq!(entry["subject_id"], json!(sid));
    assert_eq!(entry["attempts"], json!(1));
    assert_error(
        &client.api(&format!("{path}/deliveries"), TOKEN).unwrap(),
        404,
        "not_found",
    );
    assert_eq!(
        suite.receiver.deliveries("/retained", &sid).len(),
        1,
        "an expired delivery is not attempted again"
    );
}

fn raw_requests_are_dropped_after_their_window_and_the_events_kept(suite: &Suite) {
    let client = suite.retaining.client();
    let sid = unique_id("CAraw");
    let sent = Instant::now();
    accepted(&deliver(
        &client,
        &twilio_status(&client, &sid, "ringing", 0),
    ));
    let path = format!("/v1/calls/twilio/{sid}");
    let events = summary(&client, &format!("{path}/events"));
    let event_id = events["events"][0]["event_id"]
        .as_str()
        .expect("an event id")
        .to_owned();
    let export = format!(
        "{path}/events/{}/request",
        form_urlencoded::byte_serialize(event_id.as_bytes()).collect::<String>()
    );
    // Withheld while its signature is replayable (4 s), then kept until its window ends.
    let exported = poll("the raw request exported", RAW_REQUEST_RETENTION, || {
        let response = client.api(&export, TOKEN).unwrap();
        (response.status == 200).then(|| response.json())
    });
    assert!(sent.elapsed() < RAW_REQUEST_RETENTION, "the test ran late");
    assert_eq!(exported["method"], json!("POST"));

    let dropped = poll(
        "the raw request dropped",
        RAW_REQUEST_RETENTION + SETTLE,
        || {
            let response = client.api(&export, TOKEN).unwrap();
            (response.status == 410).then_some((Instant::now(), response))
        },
    );
    assert_error(&dropped.1, 410, "expired");
    assert!(
        dropped.0.duration_since(sent) >= RAW_REQUEST_RETENTION,
        "dropped after {:?}",
        dropped.0.duration_since(sent)
    );
    assert!(sent.elapsed() < RETENTION, "the test ran late");
    let kept = summary(&client, &format!("{path}/events"));
    assert_eq!(kept["events"], events["events"], "the events are kept");
    assert_eq!(summary(&client, &path)["status"], json!("ringing"));
}

fn a_subject_erased_on_request_is_gone_with_its_index_aliases_and_sockets(suite: &Suite) {
    let client = suite.configured.client();
    let leg = unique_id("erased-leg");
    let control = unique_id("v3:erased-control");
    let path = format!("/v1/calls/telnyx/{leg}");
    accepted(&deliver(
        &client,
        &telnyx(&client, &leg, &control, "call.initiated"),
    ));
    indexed(&client, &leg, &control);
    let mut socket = watch(&suite.configured.base_url, &path);
    assert_eq!(socket.next_frame()["type"], json!("snapshot"));

    let browser = minted(&client, &[&format!("calls/telnyx/{leg}")]);
    assert_error(
        &request(&client, "DELETE", &path, &browser),
        403,
        "out_of_scope",
    );
    assert_error(
        &request(&client, "DELETE", &path, "wrong"),
        401,
        "unauthorized",
    );
    assert_eq!(status(&client, &path), 200, "a refused erasure erased");

    let erased = request(&client, "DELETE", &path, TOKEN);
    assert_eq!(erased.status, 204, "{}", erased.body);
    assert_eq!(
        socket.next_close(),
        Some(CloseCode::from(CLOSE_SUBJECT_ERASED))
    );
    gone_everywhere(&client, &leg, &control);
    // The log says which subject was erased, never its data.
    let line = poll("the erasure's log line", SETTLE, || {
        suite
            .configured
            .log()
            .lines()
            .find(|line| line.contains("subject_erased") && line.contains(&leg))
            .map(str::to_owned)
    });
    let logged: Value = serde_json::from_str(&line[line.find('{').expect("a JSON line")..])
        .expect("a JSON log line");
    assert_eq!(
        logged,
        json!({"event": "subject_erased", "subject": format!("telnyx:call:{leg}"), "reason": "request"})
    );
    assert_error(&request(&client, "DELETE", &path, TOKEN), 404, "not_found");
    let unknown = format!("/v1/messages/twilio/{}", unique_id("SMnever"));
    assert_error(
        &request(&client, "DELETE", &unknown, TOKEN),
        404,
        "not_found",
    );

    // Erased through its alias, a call goes the same way.
    let other_leg = unique_id("erased-by-alias");
    let other_control = unique_id("v3:erased-by-alias");
    accepted(&deliver(
        &client,
        &telnyx(&client, &other_leg, &other_control, "call.initiated"),
    ));
    indexed(&client, &other_leg, &other_control);
    let by_alias = request(
        &client,
        "DELETE",
        &format!("/v1/calls/telnyx/{other_control}"),
        TOKEN,
    );
    assert_eq!(by_alias.status, 204, "{}", by_alias.body);
    gone_everywhere(&client, &other_leg, &other_control);

    // A later event for the same id starts a new subject.
    accepted(&deliver(
        &client,
        &telnyx(&client, &leg, &control, "call.answered"),
    ));
    assert_eq!(summary(&client, &path)["event_count"], json!(1));
}

/// A fresh North American number, `+1555` and 7 digits.
fn fresh_number() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("+1555{:07}", nanos % 10_000_000)
}

/// A Vonage voice event from `from` (Vonage writes numbers without `+`), signed now.
fn vonage_call(client: &Client, uuid: &str, from: &str) -> CapturedRequest {
    let body = json!({
        "uuid": uuid, "conversation_uuid": format!("CON-{uuid}"),
        "from": from, "to": "447700900001",
        "status": "started", "direction": "outbound", "timestamp": now().to_string(),
    });
    let request = CapturedRequest::new("POST", &client.url("/webhooks/vonage"))
        .with_header("content-type", "application/json")
        .with_body(body.to_string());
    provider(ProviderId::Vonage)
        .sign(&request, now())
        .expect("sign")
}

fn erase_number(client: &Client, phone_number: &str) -> Value {
    let response = post(
        client,
        "/v1/erase",
        TOKEN,
        &json!({ "phone_number": phone_number }),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

fn erasure_by_number_reaches_every_subject_of_that_number_however_written(suite: &Suite) {
    let client = suite.configured.client();
    let number = fresh_number();
    let other = fresh_number().replace("+1555", "+1556");
    let twilio_calls: Vec<String> = (0..21).map(|_| unique_id("CAnumber")).collect();
    for sid in &twilio_calls {
        let request = twilio_call(&client, sid, "ringing", 0, ("+15005550006", &number));
        accepted(&deliver(&client, &request));
    }
    let vonage_uuid = unique_id("number-uuid");
    let digits = number.trim_start_matches('+');
    accepted(&deliver(
        &client,
        &vonage_call(&client, &vonage_uuid, digits),
    ));
    let unrelated = unique_id("CAunrelated");
    let request = twilio_call(&client, &unrelated, "ringing", 0, (&other, "+15005550001"));
    accepted(&deliver(&client, &request));

    // A subject's number keys are written with its list keys, in one flush.
    poll("every call listed", SETTLE, || {
        let twilio = crate::support::list_all(&client, "provider=twilio", 5);
        let listed = |id: &str| twilio.iter().any(|(_, listed)| listed == id);
        (twilio_calls.iter().all(|sid| listed(sid))
            && listed(&unrelated)
            && call_listed(&client, "provider=vonage", &vonage_uuid))
        .then_some(())
    });

    for (body, code) in [
        (json!({"phone_number": " "}), "invalid_parameter"),
        (json!({"number": number}), "invalid_body"),
    ] {
        assert_error(&post(&client, "/v1/erase", TOKEN, &body), 400, code);
    }
    let browser = minted(&client, &["calls"]);
    let refused = post(
        &client,
        "/v1/erase",
        &browser,
        &json!({ "phone_number": number }),
    );
    assert_error(&refused, 403, "out_of_scope");

    // Written another way, it is the same number; 20 subjects per request at most.
    let written = format!("+1 ({}) {}-{}", &digits[1..4], &digits[4..7], &digits[7..]);
    let first = erase_number(&client, &written);
    assert_eq!(first, json!({"erased": 20, "more": true}));
    let mut erased = 20;
    let deadline = Instant::now() + SETTLE;
    loop {
        let answer = erase_number(&client, &number);
        erased += answer["erased"].as_u64().expect("a count");
        if answer["more"] == json!(false) {
            break;
        }
        assert!(Instant::now() < deadline, "still more: {answer}");
    }
    assert_eq!(erased, 22, "21 Twilio calls and 1 Vonage call");
    assert_eq!(
        erase_number(&client, &number),
        json!({"erased": 0, "more": false})
    );
    for path in twilio_calls
        .iter()
        .map(|sid| format!("/v1/calls/twilio/{sid}"))
        .chain([format!("/v1/calls/vonage/{vonage_uuid}")])
    {
        assert_eq!(status(&client, &path), 404, "{path} kept");
    }
    assert_eq!(
        status(&client, &format!("/v1/calls/twilio/{unrelated}")),
        200,
        "a call of another number erased"
    );
    let log = suite.configured.log();
    let erasures: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("subject_erased") && line.contains("phone_number"))
        .filter(|line| twilio_calls.iter().any(|sid| line.contains(sid.as_str())))
        .collect();
    assert_eq!(erasures.len(), 21, "one line per erased Twilio call");
    assert!(!log.contains(digits), "the log holds the erased number");
}
