//! Issue 12's findings through the real worker: what is stored must be what was signed.

use serde_json::json;
use switchboard_core::CapturedRequest;

use crate::support::{accepted, assert_error, deliver, export_once_open, now, summary, unique_id};
use crate::vonage::signed;
use crate::{Suite, Test, ALLOWED_ORIGIN, EXPORT_WINDOW, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        a_voice_post_token_does_not_authorize_a_get_query,
        a_voice_get_token_authorizes_one_event,
        exports_withhold_credentials,
        status_api_answers_vary_on_origin,
        echoed_request_text_is_cut_short,
    ]
}

fn assert_unknown_call(client: &crate::http::Client, call: &str) {
    assert_error(
        &client
            .api(&format!("/v1/calls/vonage/{call}"), TOKEN)
            .unwrap(),
        404,
        "not_found",
    );
}

/// Finding 1: a POST's JWT resent as a GET with another call's query made that call
/// `completed`.
fn a_voice_post_token_does_not_authorize_a_get_query(suite: &Suite) {
    let client = suite.configured.client();
    let (call_a, call_b) = (unique_id("call-a"), unique_id("call-b"));
    let post = signed(
        &CapturedRequest::new("POST", &client.url("/webhooks/vonage"))
            .with_header("content-type", "application/json")
            .with_body(json!({"uuid": call_a, "status": "ringing"}).to_string()),
    );
    accepted(&deliver(&client, &post));

    let mut forged = post.clone();
    forged.method = "GET".into();
    forged.url = client.url(&format!(
        "/webhooks/vonage?uuid={call_b}&status=completed&duration=9999"
    ));
    assert_error(&deliver(&client, &forged), 401, "unsigned_content");
    forged.body.clear();
    assert_error(&deliver(&client, &forged), 401, "payload_hash_mismatch");
    assert_unknown_call(&client, &call_b);
}

/// A GET event's JWT does not cover its query: the worker holds each token to the event it
/// first authorized. A retry of that very request is a duplicate; another query is refused.
fn a_voice_get_token_authorizes_one_event(suite: &Suite) {
    let client = suite.configured.client();
    let (call_a, call_b) = (unique_id("get-a"), unique_id("get-b"));
    let get = signed(&CapturedRequest::new(
        "GET",
        &client.url(&format!("/webhooks/vonage?uuid={call_a}&status=ringing")),
    ));
    let first = accepted(&deliver(&client, &get));
    assert_eq!(first["duplicate"], json!(false));
    let retry = accepted(&deliver(&client, &get));
    assert_eq!(retry["duplicate"], json!(true));
    assert_eq!(retry["event_id"], first["event_id"]);

    let mut forged = get.clone();
    forged.url = client.url(&format!(
        "/webhooks/vonage?uuid={call_b}&status=completed&duration=9999"
    ));
    assert_error(&deliver(&client, &forged), 401, "replayed_token");
    assert_unknown_call(&client, &call_b);
    let mut other_status = get.clone();
    other_status.url = client.url(&format!("/webhooks/vonage?uuid={call_a}&status=failed"));
    assert_error(&deliver(&client, &other_status), 401, "replayed_token");
    assert_eq!(
        summary(&client, &format!("/v1/calls/vonage/{call_a}"))["status"],
        json!("ringing")
    );
}

/// Finding 6: stored requests kept every header, `Authorization: Basic` and `Cookie` included,
/// and the export returned them.
fn exports_withhold_credentials(suite: &Suite) {
    let client = suite.proxied.client();
    let message = unique_id("msg-export");
    let params = [
        ("messageId", message.as_str()),
        ("status", "delivered"),
        ("msisdn", "447700900001"),
        ("to", "Switchboard"),
    ];
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let receipt = signed(&CapturedRequest::new(
        "GET",
        &client.url(&format!("/webhooks/vonage?{query}")),
    ))
    .with_header("authorization", "Basic dXNlcjpzZWNyZXQ=")
    .with_header("cookie", "session=secret")
    .with_header("proxy-authorization", "Basic cHJveHk6c2VjcmV0");
    let sent_at = now();
    let event_id = accepted(&deliver(&client, &receipt))["event_id"]
        .as_str()
        .expect("event id")
        .to_owned();
    let export = export_once_open(
        &client,
        &format!("/v1/messages/vonage/{message}/events/{event_id}/request"),
        sent_at,
        EXPORT_WINDOW,
    );
    for header in ["authorization", "cookie", "proxy-authorization"] {
        assert_eq!(export["headers"][header], json!("[redacted]"), "{header}");
    }
    assert!(!export.to_string().contains("secret"), "{export}");
    assert!(export["url"].as_str().unwrap().contains("sig="));
}

/// Finding 7: answers that depend on `Origin` must say so to caches, whichever origin asked.
fn status_api_answers_vary_on_origin(suite: &Suite) {
    let client = suite.configured.client();
    let authorization = format!("Bearer {TOKEN}");
    for headers in [
        vec![("authorization", authorization.as_str())],
        vec![
            ("authorization", authorization.as_str()),
            ("origin", "https://evil.example"),
        ],
        vec![
            ("authorization", authorization.as_str()),
            ("origin", ALLOWED_ORIGIN),
        ],
        vec![("origin", ALLOWED_ORIGIN)],
    ] {
        let response = client.get("/v1/calls", &headers).unwrap();
        assert_eq!(response.header("vary"), Some("Origin"), "{headers:?}");
    }
}

/// Finding 7: unknown names came back in full (3,000 characters) in errors and logs.
fn echoed_request_text_is_cut_short(suite: &Suite) {
    let client = suite.configured.client();
    let long = "x".repeat(3_000);
    for (response, code) in [
        (
            client
                .api(&format!("/v1/calls?status={long}"), TOKEN)
                .unwrap(),
            "invalid_parameter",
        ),
        (
            client
                .api(&format!("/v1/calls?provider={long}"), TOKEN)
                .unwrap(),
            "invalid_parameter",
        ),
        (
            client
                .api(&format!("/v1/calls?limit={long}"), TOKEN)
                .unwrap(),
            "invalid_parameter",
        ),
        (
            client.api(&format!("/v1/calls/{long}/x"), TOKEN).unwrap(),
            "unknown_provider",
        ),
        (
            client
                .send("POST", &format!("/webhooks/{long}"), &[], b"{}")
                .unwrap(),
            "unknown_provider",
        ),
    ] {
        assert_eq!(response.error_code(), code, "{}", response.body);
        assert!(response.body.len() < 200, "{}", response.body);
    }
}
