//! `switchboard simulate` against a fake worker: what it sends, how it reads the final state,
//! and its exit codes. (The real worker runs it in its own end-to-end tests.)

use std::net::TcpListener;

use serde_json::{json, Value};

use crate::fake_worker::{FakeWorker, Received};
use crate::support::{Run, Switchboard};

const CALL_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";

/// A status API answer in the `Summary` shape.
fn summary(kind: &str, id: &str, status: &str) -> String {
    json!({
        "provider": "vonage", "kind": kind, "id": id, "status": status, "provider_status": status,
        "terminal": true, "direction": "outbound", "from": "447700900000", "to": "447700900001",
        "session_id": null, "created_at": "2026-01-01T00:00:00.000Z", "event_count": 4,
        "updated_at": "2026-01-01T00:00:06.000Z"
    })
    .to_string()
}

/// A worker that acknowledges every webhook (flagging exact repeats as duplicates) and reports
/// `final_status` for whatever subject it is asked about.
fn worker(final_status: &'static str) -> FakeWorker {
    FakeWorker::start(move |request, before| {
        if request.path() == "/webhooks/vonage" {
            let duplicate = before.iter().any(|earlier| earlier == request);
            let ack = json!({"accepted": [{"kind": "call", "id": "x", "event_id": "e", "duplicate": duplicate}]});
            return (200, ack.to_string());
        }
        let mut segments = request.path().rsplit('/');
        let id = segments.next().unwrap_or_default();
        let kind = if request.path().starts_with("/v1/calls/") {
            "call"
        } else {
            "message"
        };
        (200, summary(kind, id, final_status))
    })
}

fn webhooks(received: &[Received]) -> Vec<&Received> {
    received
        .iter()
        .filter(|request| request.path() == "/webhooks/vonage")
        .collect()
}

fn call_status_word(request: &Received) -> String {
    let body: Value = serde_json::from_str(&request.body).unwrap();
    body["status"].as_str().unwrap().to_owned()
}

/// The decoded parameters of a delivery receipt, from its query or form body.
fn receipt_params(request: &Received) -> Vec<(String, String)> {
    let encoded = match request.method.as_str() {
        "GET" => request
            .target
            .split_once('?')
            .map(|(_, query)| query.to_owned())
            .unwrap_or_default(),
        _ => request.body.clone(),
    };
    form_urlencoded::parse(encoded.as_bytes())
        .into_owned()
        .collect()
}

/// `simulate --provider vonage --target URL LINE…`.
fn simulate(switchboard: &Switchboard, target: &str, line: &str) -> Run {
    let line = format!("simulate --provider vonage --target {target} {line}");
    switchboard.run_line(&line, &[])
}

#[test]
fn answered_call_is_sent_with_a_duplicate_and_a_late_ringing() {
    let worker = worker("completed");
    let switchboard = Switchboard::new("simulate_answered");
    let line = format!("--scenario answered --secret s --token status-token --id {CALL_ID}");
    let run = simulate(&switchboard, &format!("{}/", worker.url), &line).expect(0);
    let state = run.json();
    assert_eq!(
        (&state["kind"], &state["id"]),
        (&json!("call"), &json!(CALL_ID))
    );
    assert_eq!(state["status"], "completed");
    assert_eq!(state["event_count"], 4);

    let received = worker.received();
    let hooks = webhooks(&received);
    let words: Vec<String> = hooks
        .iter()
        .map(|request| call_status_word(request))
        .collect();
    assert_eq!(
        words,
        ["started", "answered", "answered", "completed", "ringing"]
    );
    assert_eq!(hooks[1], hooks[2], "the duplicate is resent byte for byte");
    for hook in &hooks {
        assert_eq!(hook.method, "POST");
        assert_eq!(hook.headers["content-type"], "application/json");
        assert!(
            hook.headers["authorization"].starts_with("Bearer "),
            "{hook:?}"
        );
        let body: Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["uuid"], CALL_ID);
        assert!(body["conversation_uuid"]
            .as_str()
            .unwrap()
            .starts_with("CON-"));
    }

    let reads: Vec<&Received> = received
        .iter()
        .filter(|request| request.method == "GET")
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].target, format!("/v1/calls/vonage/{CALL_ID}"));
    assert_eq!(reads[0].headers["authorization"], "Bearer status-token");
    assert_eq!(
        received.last(),
        Some(reads[0]),
        "the state is read after the last webhook"
    );
    assert!(
        run.stderr.contains("webhook 3/5 `answered`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(duplicate)"), "{}", run.stderr);
}

#[test]
fn sms_receipts_mix_get_and_post_and_use_dev_vars() {
    for (scenario, status) in [("sms-delivered", "delivered"), ("sms-failed", "failed")] {
        let worker = worker(status);
        let switchboard = Switchboard::new(&format!("simulate_{scenario}"));
        switchboard.write(
            ".dev.vars",
            "VONAGE_SIGNATURE_SECRET=\"first,second\"\n\
             VONAGE_SIGNATURE_METHOD=sha256\n\
             STATUS_API_TOKEN=\"token-a,token-b\"\n",
        );
        let run = simulate(&switchboard, &worker.url, &format!("--scenario {scenario}")).expect(0);
        assert_eq!(run.json()["status"], status);

        let received = worker.received();
        let hooks = webhooks(&received);
        assert_eq!(hooks.len(), 4);
        let methods: Vec<&str> = hooks
            .iter()
            .map(|request| request.method.as_str())
            .collect();
        assert!(
            methods.contains(&"GET") && methods.contains(&"POST"),
            "{methods:?}"
        );
        let receipts: Vec<Vec<(String, String)>> = hooks
            .iter()
            .map(|request| receipt_params(request))
            .collect();
        let value = |receipt: &[(String, String)], name: &str| {
            let found = receipt.iter().find(|(key, _)| key == name);
            found.map(|(_, value)| value.clone()).unwrap_or_default()
        };
        let message_id = value(&receipts[0], "messageId");
        assert_eq!(message_id.len(), 16, "{message_id}");
        assert!(message_id
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        for receipt in &receipts {
            assert_eq!(value(receipt, "messageId"), message_id);
            assert_eq!(
                value(receipt, "sig").len(),
                64,
                "sha256 from .dev.vars: {receipt:?}"
            );
            assert!(!value(receipt, "timestamp").is_empty());
        }
        let words: Vec<String> = receipts
            .iter()
            .map(|receipt| value(receipt, "status"))
            .collect();
        assert_eq!(
            words.iter().filter(|word| *word == status).count(),
            2,
            "{words:?}"
        );
        let first_terminal = words.iter().position(|word| word == status).unwrap();
        let buffered = words.iter().position(|word| word == "buffered").unwrap();
        assert!(
            buffered > first_terminal,
            "`buffered` arrives late: {words:?}"
        );

        let read = received.last().unwrap();
        assert_eq!(read.target, format!("/v1/messages/vonage/{message_id}"));
        assert_eq!(read.headers["authorization"], "Bearer token-a");
    }
}

#[test]
fn status_read_is_retried_while_the_subject_is_not_found() {
    let worker = FakeWorker::start(|request, before| {
        if request.path() == "/webhooks/vonage" {
            return (200, r#"{"accepted":[]}"#.to_owned());
        }
        match before
            .iter()
            .filter(|earlier| earlier.method == "GET")
            .count()
        {
            0 | 1 => (404, r#"{"error":"not_found"}"#.to_owned()),
            _ => (200, summary("call", CALL_ID, "busy")),
        }
    });
    let switchboard = Switchboard::new("simulate_retry");
    let line = format!("--scenario busy --secret s --token t --id {CALL_ID}");
    let run = simulate(&switchboard, &worker.url, &line).expect(0);
    assert_eq!(run.json()["status"], "busy");
    let reads = worker
        .received()
        .iter()
        .filter(|request| request.method == "GET")
        .count();
    assert_eq!(reads, 3);
}

#[test]
fn a_subject_that_stays_unknown_fails() {
    let worker = FakeWorker::start(|request, _| match request.path() {
        "/webhooks/vonage" => (200, r#"{"accepted":[]}"#.to_owned()),
        _ => (404, r#"{"error":"not_found"}"#.to_owned()),
    });
    let switchboard = Switchboard::new("simulate_not_found");
    let run = simulate(
        &switchboard,
        &worker.url,
        "--scenario busy --secret s --token t",
    )
    .expect(1);
    assert!(
        run.stderr.contains(r#"HTTP 404: {"error":"not_found"}"#),
        "{}",
        run.stderr
    );
}

#[test]
fn a_status_answer_that_is_not_a_summary_fails() {
    let worker = FakeWorker::start(|request, _| match request.path() {
        "/webhooks/vonage" => (200, r#"{"accepted":[]}"#.to_owned()),
        _ => (200, r#"{"status":"busy"}"#.to_owned()),
    });
    let switchboard = Switchboard::new("simulate_not_a_summary");
    let run = simulate(
        &switchboard,
        &worker.url,
        "--scenario busy --secret s --token t",
    )
    .expect(1);
    assert!(
        run.stderr.contains("not a status summary"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_refused_webhook_stops_the_run_with_its_error_body() {
    let error = r#"{"error":"invalid_signature","message":"signature does not match: jwt"}"#;
    let worker = FakeWorker::start(move |_, _| (401, error.to_owned()));
    let switchboard = Switchboard::new("simulate_refused");
    let run = simulate(
        &switchboard,
        &worker.url,
        "--scenario no-answer --secret s --token t",
    )
    .expect(1);
    assert!(
        run.stderr.contains("webhook 1/4 `ringing`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("was refused: HTTP 401: {error}")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    assert_eq!(
        worker.received().len(),
        1,
        "nothing is sent after a refusal"
    );
}

#[test]
fn an_unexpected_final_status_fails_after_printing_the_state() {
    let worker = worker("in_progress");
    let switchboard = Switchboard::new("simulate_wrong_status");
    let line = format!("--scenario answered --secret s --token t --id {CALL_ID}");
    let run = simulate(&switchboard, &worker.url, &line).expect(1);
    assert_eq!(run.json()["status"], "in_progress");
    let message = format!("call {CALL_ID}: final status is `in_progress`, expected `completed`");
    assert!(run.stderr.contains(&message), "{}", run.stderr);
}

#[test]
fn each_run_uses_a_fresh_id() {
    let worker = worker("no_answer");
    let switchboard = Switchboard::new("simulate_fresh_ids");
    for _ in 0..2 {
        simulate(
            &switchboard,
            &worker.url,
            "--scenario no-answer --secret s --token t",
        )
        .expect(0);
    }
    let reads: Vec<String> = worker
        .received()
        .into_iter()
        .filter(|request| request.method == "GET")
        .map(|request| request.target)
        .collect();
    assert_eq!(reads.len(), 2);
    assert_ne!(reads[0], reads[1]);
    let id = reads[0].rsplit('/').next().unwrap();
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
}

#[test]
fn an_unreachable_or_silent_worker_fails() {
    let switchboard = Switchboard::new("simulate_unreachable");
    let line = "--scenario busy --secret s --token t --timeout 1";
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let run = simulate(&switchboard, &closed, line).expect(1);
    assert!(
        run.stderr.starts_with("webhook 1/4 `started`"),
        "{}",
        run.stderr
    );

    // The kernel accepts the connection, but nobody ever answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let run = simulate(&switchboard, &silent_url, line).expect(1);
    assert!(run.stderr.contains("no answer in time"), "{}", run.stderr);
}

#[test]
fn missing_settings_and_bad_targets_are_usage_errors_and_send_nothing() {
    let worker = worker("completed");
    let switchboard = Switchboard::new("simulate_usage");
    let url = worker.url.as_str();
    for (target, line, message) in [
        (
            url,
            "--scenario answered --token t",
            "no signature secret for vonage",
        ),
        (url, "--scenario answered --secret s", "no status API token"),
        (url, "--scenario hung-up --secret s --token t", "hung-up"),
        (
            "127.0.0.1:8787",
            "--scenario busy --secret s --token t",
            "not an http:// URL",
        ),
        (
            url,
            "--scenario busy --secret s --token t --id a/b",
            "--id `a/b`: use letters, digits",
        ),
        (
            url,
            "--scenario busy --secret s --token t --timeout 0",
            "--timeout",
        ),
    ] {
        let run = simulate(&switchboard, target, line).expect(2);
        assert!(run.stderr.contains(message), "{line}: {}", run.stderr);
    }
    if !cfg!(feature = "https") {
        let line = "--scenario busy --secret s --token t";
        let run = simulate(&switchboard, "https://example.com", line).expect(2);
        assert!(run.stderr.contains("--features https"), "{}", run.stderr);
    }
    assert!(worker.received().is_empty());
}
