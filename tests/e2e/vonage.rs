//! Vonage through the real worker: voice events (JWT) and SMS delivery receipts (`sig`).

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_core::{configured_signer, CapturedRequest, Config, ProviderId, Signer, Timestamp};

use crate::http::{exchange, AfterSending, Client};
use crate::support::{
    accepted, assert_error, call_listed, cli_binary, deliver, export_once_open, now, summary,
    unique_id,
};
use crate::worker::{run_dir, Worker};
use crate::{Suite, Test, ALLOWED_ORIGIN, EXPORT_WINDOW, OLD_SECRET, SECOND_TOKEN, SECRET, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        healthz_answers_without_auth,
        voice_lifecycle_shuffled_with_duplicates_ends_completed,
        delivery_receipts_via_get_form_and_json,
        the_same_receipt_over_another_transport_is_a_duplicate,
        rotated_secret_is_accepted,
        bad_or_missing_signatures_are_401_and_store_nothing,
        unsigned_voice_callback_is_503,
        malformed_signed_bodies_are_400,
        oversized_body_is_413,
        unsupported_content_type_is_415,
        wrong_method_is_405,
        status_api_requires_the_token,
        status_api_cors_is_for_allowed_origins_only,
        unknown_ids_routes_and_providers_are_404,
        unconfigured_source_is_503,
        list_shows_recent_calls_and_filters,
        exported_request_verifies_offline_with_the_cli,
        cli_simulates_every_scenario,
        state_survives_a_worker_restart,
    ]
}

fn vonage(secret: &str) -> Box<dyn Signer> {
    let config =
        Config::from_lookup(|name| (name == "VONAGE_SIGNATURE_SECRET").then(|| secret.to_owned()))
            .expect("valid config");
    configured_signer(&config, ProviderId::Vonage).expect("vonage configured")
}

fn signed_with(secret: &str, request: &CapturedRequest) -> CapturedRequest {
    vonage(secret).sign(request, now()).expect("sign")
}

/// `request` signed with the configured worker's current Vonage secret.
pub fn signed(request: &CapturedRequest) -> CapturedRequest {
    signed_with(SECRET, request)
}

fn webhook_url(client: &Client) -> String {
    client.url("/webhooks/vonage")
}

fn voice_event(client: &Client, body: &Value) -> CapturedRequest {
    CapturedRequest::new("POST", &webhook_url(client))
        .with_header("content-type", "application/json")
        .with_body(serde_json::to_vec(body).expect("json"))
}

/// A call event body at `offset_seconds` after 2026-01-01T00:00:00Z.
fn call_body(call_id: &str, status: &str, offset_seconds: i64) -> Value {
    json!({
        "uuid": call_id,
        "conversation_uuid": format!("CON-{call_id}"),
        "from": "447700900000",
        "to": "447700900001",
        "status": status,
        "direction": "outbound",
        "timestamp": iso(offset_seconds),
    })
}

fn iso(offset_seconds: i64) -> String {
    Timestamp::from_unix_seconds(1_767_225_600 + offset_seconds).to_string()
}

fn dlr_params(message_id: &str, status: &str, err_code: &str) -> Vec<(&'static str, String)> {
    vec![
        ("msisdn", "447700900001".to_owned()),
        ("to", "Switchboard".to_owned()),
        ("network-code", "23410".to_owned()),
        ("messageId", message_id.to_owned()),
        ("price", "0.03330000".to_owned()),
        ("status", status.to_owned()),
        ("scts", "2601011200".to_owned()),
        ("err-code", err_code.to_owned()),
        ("message-timestamp", "2026-01-01 12:00:00".to_owned()),
    ]
}

fn form(params: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(key, value)| (*key, value.as_str())))
        .finish()
}

fn dlr_get(client: &Client, params: &[(&str, String)]) -> CapturedRequest {
    CapturedRequest::new("GET", &format!("{}?{}", webhook_url(client), form(params)))
}

fn dlr_form(client: &Client, params: &[(&str, String)]) -> CapturedRequest {
    CapturedRequest::new("POST", &webhook_url(client))
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form(params))
}

fn dlr_json(client: &Client, params: &[(&str, String)]) -> CapturedRequest {
    let object: serde_json::Map<String, Value> = params
        .iter()
        .map(|(key, value)| ((*key).to_owned(), Value::String(value.clone())))
        .collect();
    CapturedRequest::new("POST", &webhook_url(client))
        .with_header("content-type", "application/json")
        .with_body(serde_json::to_vec(&object).expect("json"))
}

fn healthz_answers_without_auth(suite: &Suite) {
    let response = suite.configured.client().get("/healthz", &[]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"status": "ok"}));
}

fn voice_lifecycle_shuffled_with_duplicates_ends_completed(suite: &Suite) {
    let client = suite.configured.client();
    let call = unique_id("call");
    let mut completed = call_body(&call, "completed", 65);
    completed["start_time"] = json!(iso(5));
    completed["end_time"] = json!(iso(65));
    completed["duration"] = json!("60");
    completed["price"] = json!("0.00450000");
    completed["rate"] = json!("0.00450000");
    let mut human = call_body(&call, "human", 6);
    human["call_uuid"] = human["uuid"].take();
    let [started, ringing, answered, human, completed] = [
        call_body(&call, "started", 0),
        call_body(&call, "ringing", 1),
        call_body(&call, "answered", 5),
        human,
        completed,
    ]
    .map(|body| signed(&voice_event(&client, &body)));

    // The terminal event first, `ringing` last, and two events delivered twice.
    let arrival = [
        &completed, &ringing, &answered, &completed, &started, &human, &ringing,
    ];
    let mut duplicates = 0;
    for request in arrival {
        let item = accepted(&deliver(&client, request));
        assert_eq!(item["id"], json!(call));
        duplicates += usize::from(item["duplicate"] == json!(true));
    }
    assert_eq!(duplicates, 2);

    let state = summary(&client, &format!("/v1/calls/vonage/{call}"));
    assert_eq!(state["status"], json!("completed"));
    assert_eq!(state["provider_status"], json!("completed"));
    assert_eq!(state["terminal"], json!(true));
    assert_eq!(state["event_count"], json!(5));
    assert_eq!(state["duration_seconds"], json!(60));
    assert_eq!(state["answered_by"], json!("human"));
    assert_eq!(state["session_id"], json!(format!("CON-{call}")));
    assert_eq!(state["from"], json!("447700900000"));
    assert_eq!(state["direction"], json!("outbound"));
    assert_eq!(state["ringing_at"], json!(iso(1)));
    assert_eq!(state["answered_at"], json!(iso(5)));
    assert_eq!(state["ended_at"], json!(iso(65)));

    let timeline = summary(&client, &format!("/v1/calls/vonage/{call}/events"));
    let words: Vec<&str> = timeline["events"]
        .as_array()
        .expect("events array")
        .iter()
        .map(|event| event["provider_status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        words,
        ["started", "ringing", "answered", "human", "completed"]
    );
    let statuses: Vec<&Value> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| &event["status"])
        .collect();
    assert_eq!(
        statuses,
        [
            &json!("initiated"),
            &json!("ringing"),
            &json!("in_progress"),
            &Value::Null,
            &json!("completed")
        ]
    );
    assert!(timeline["events"][0]["received_at"].is_string());
}

fn delivery_receipts_via_get_form_and_json(suite: &Suite) {
    let client = suite.configured.client();
    type Transport = fn(&Client, &[(&str, String)]) -> CapturedRequest;
    let transports: [(&str, Transport); 3] =
        [("get", dlr_get), ("form", dlr_form), ("json", dlr_json)];
    for (name, transport) in transports {
        let message = unique_id(&format!("MSG-{name}"));
        let accepted_receipt = signed(&transport(&client, &dlr_params(&message, "accepted", "0")));
        let delivered = signed(&transport(&client, &dlr_params(&message, "delivered", "0")));
        let item = accepted(&deliver(&client, &delivered));
        assert_eq!(item["kind"], json!("message"), "{name}");
        accepted(&deliver(&client, &accepted_receipt));

        let state = summary(&client, &format!("/v1/messages/vonage/{message}"));
        assert_eq!(state["status"], json!("delivered"), "{name}: {state}");
        assert_eq!(state["event_count"], json!(2), "{name}");
        assert_eq!(
            state["to"],
            json!("447700900001"),
            "{name}: msisdn is the recipient"
        );
        assert_eq!(
            state["from"],
            json!("Switchboard"),
            "{name}: `to` is the sender id"
        );
        assert_eq!(state["price"], json!("0.03330000"), "{name}");
    }

    let failed = unique_id("MSG-failed");
    accepted(&deliver(
        &client,
        &signed(&dlr_get(&client, &dlr_params(&failed, "failed", "6"))),
    ));
    let state = summary(&client, &format!("/v1/messages/vonage/{failed}"));
    assert_eq!(state["status"], json!("failed"));
    assert_eq!(state["error_code"], json!("6"));
    assert_eq!(state["error_message"], json!("Anti-Spam Rejection"));
}

fn the_same_receipt_over_another_transport_is_a_duplicate(suite: &Suite) {
    let client = suite.configured.client();
    let message = unique_id("MSG-dup");
    let params = dlr_params(&message, "delivered", "0");
    let first = accepted(&deliver(&client, &signed(&dlr_get(&client, &params))));
    let second = accepted(&deliver(&client, &signed(&dlr_form(&client, &params))));
    assert_eq!(first["duplicate"], json!(false));
    assert_eq!(second["duplicate"], json!(true));
    assert_eq!(first["event_id"], second["event_id"]);
    let state = summary(&client, &format!("/v1/messages/vonage/{message}"));
    assert_eq!(state["event_count"], json!(1));
}

fn rotated_secret_is_accepted(suite: &Suite) {
    let client = suite.configured.client();
    let call = unique_id("call-rotated");
    let request = signed_with(
        OLD_SECRET,
        &voice_event(&client, &call_body(&call, "started", 0)),
    );
    accepted(&deliver(&client, &request));
    let message = unique_id("MSG-rotated");
    let receipt = signed_with(
        OLD_SECRET,
        &dlr_form(&client, &dlr_params(&message, "delivered", "0")),
    );
    accepted(&deliver(&client, &receipt));
}

fn bad_or_missing_signatures_are_401_and_store_nothing(suite: &Suite) {
    let client = suite.configured.client();
    let call = unique_id("call-forged");

    let mut tampered = signed(&voice_event(&client, &call_body(&call, "completed", 0)));
    tampered.body = serde_json::to_vec(&call_body(&call, "failed", 0)).unwrap();
    assert_error(&deliver(&client, &tampered), 401, "payload_hash_mismatch");

    let forged = signed_with(
        "not-the-secret",
        &voice_event(&client, &call_body(&call, "completed", 0)),
    );
    assert_error(&deliver(&client, &forged), 401, "invalid_signature");

    let message = unique_id("MSG-forged");
    let forged_receipt = signed_with(
        "not-the-secret",
        &dlr_form(&client, &dlr_params(&message, "delivered", "0")),
    );
    assert_error(&deliver(&client, &forged_receipt), 401, "invalid_signature");

    let unsigned_receipt = dlr_form(&client, &dlr_params(&message, "delivered", "0"));
    assert_error(
        &deliver(&client, &unsigned_receipt),
        401,
        "missing_signature",
    );

    let an_hour_ago = Timestamp::from_millis(now().millis() - 3_600_000);
    let stale = vonage(SECRET)
        .sign(
            &dlr_get(&client, &dlr_params(&message, "delivered", "0")),
            an_hour_ago,
        )
        .expect("sign");
    assert_error(&deliver(&client, &stale), 401, "timestamp_out_of_tolerance");

    for path in [
        format!("/v1/calls/vonage/{call}"),
        format!("/v1/messages/vonage/{message}"),
    ] {
        let response = client.api(&path, TOKEN).unwrap();
        assert_error(&response, 404, "not_found");
    }
}

fn unsigned_voice_callback_is_503(suite: &Suite) {
    let client = suite.configured.client();
    let call = unique_id("call-unsigned");
    let response = deliver(
        &client,
        &voice_event(&client, &call_body(&call, "started", 0)),
    );
    assert_error(&response, 503, "unsigned_callback");
    assert_error(
        &client
            .api(&format!("/v1/calls/vonage/{call}"), TOKEN)
            .unwrap(),
        404,
        "not_found",
    );
}

fn malformed_signed_bodies_are_400(suite: &Suite) {
    let client = suite.configured.client();
    let not_json = voice_event(&client, &json!({})).with_body("{\"uuid\": ");
    assert_error(
        &deliver(&client, &signed(&not_json)),
        400,
        "malformed_request",
    );
    let no_id = voice_event(&client, &json!({"status": "started"}));
    assert_error(&deliver(&client, &signed(&no_id)), 400, "missing_field");
    let receipt_without_id: Vec<_> = dlr_params("x", "delivered", "0")
        .into_iter()
        .filter(|(key, _)| *key != "messageId")
        .collect();
    assert_error(
        &deliver(&client, &signed(&dlr_form(&client, &receipt_without_id))),
        400,
        "missing_field",
    );
}

/// The default `MAX_BODY_BYTES`.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Oversized bodies are refused with 413 without being read whole: a declared length from the
/// header alone, a chunked body once it passes the limit. Sent by hand ([`exchange`]): the
/// worker answers before reading the body, so the rest of the body meets a reset.
fn oversized_body_is_413(suite: &Suite) {
    let client = suite.configured.client();
    let address = client.address();
    let head = |framing: &str| {
        format!(
            "POST /webhooks/vonage HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
             connection: close\r\n{framing}\r\n"
        )
        .into_bytes()
    };
    let declared = head(&format!("content-length: {}\r\n", MAX_BODY_BYTES + 1));
    let oversized = vec![b'a'; MAX_BODY_BYTES + 1];
    let refused = |request: &[u8], after: AfterSending, what: &str| {
        let response = exchange(address, request, after, false, Duration::from_secs(30))
            .unwrap_or_else(|error| panic!("{what}: no answer: {error}"))
            .into_response();
        assert_error(&response, 413, "payload_too_large");
    };

    // A declared length over the limit, with the whole body sent…
    let mut whole = declared.clone();
    whole.extend_from_slice(&oversized);
    refused(
        &whole,
        AfterSending::HalfClose,
        "declared length, whole body",
    );
    // …and with none of it: the header alone is refused, nothing of the body is waited for.
    refused(
        &declared,
        AfterSending::KeepOpen,
        "declared length, no body",
    );

    // Chunked, no length: refused once past the limit (the worker reads 64 KiB at a time, so
    // twice the limit is well past it), without the body's end: no last chunk is ever sent.
    let chunked = |body: &[u8]| {
        let mut request = head("transfer-encoding: chunked\r\n");
        for chunk in body.chunks(64 * 1024) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request
    };
    let unfinished = chunked(&vec![b'a'; 2 * MAX_BODY_BYTES]);
    refused(&unfinished, AfterSending::KeepOpen, "chunked, unfinished");
    // One byte over, finished, is refused the same way.
    let mut finished = chunked(&oversized);
    finished.extend_from_slice(b"0\r\n\r\n");
    refused(&finished, AfterSending::HalfClose, "chunked, whole body");
}

fn unsupported_content_type_is_415(suite: &Suite) {
    let client = suite.configured.client();
    let response = client
        .send(
            "POST",
            "/webhooks/vonage",
            &[("content-type", "text/plain")],
            b"sig=abc",
        )
        .unwrap();
    assert_error(&response, 415, "unsupported_content_type");
}

fn wrong_method_is_405(suite: &Suite) {
    let client = suite.configured.client();
    assert_error(
        &client.send("PUT", "/webhooks/vonage", &[], b"").unwrap(),
        405,
        "method_not_allowed",
    );
    assert_error(
        &client.send("DELETE", "/v1/calls", &[], b"").unwrap(),
        405,
        "method_not_allowed",
    );
}

fn status_api_cors_is_for_allowed_origins_only(suite: &Suite) {
    let client = suite.configured.client();
    let authorization = format!("Bearer {TOKEN}");
    let from = |origin: &str| {
        client
            .get(
                "/v1/calls",
                &[("authorization", &authorization), ("origin", origin)],
            )
            .unwrap()
    };
    let allowed = from(ALLOWED_ORIGIN);
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    let other = from("https://evil.example");
    assert_eq!(other.status, 200);
    assert_eq!(other.header("access-control-allow-origin"), None);

    let unauthorized = client
        .get("/v1/calls", &[("origin", ALLOWED_ORIGIN)])
        .unwrap();
    assert_error(&unauthorized, 401, "unauthorized");
    assert_eq!(
        unauthorized.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );

    let preflight = |origin: &str| {
        client
            .send(
                "OPTIONS",
                "/v1/calls/vonage/x",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "authorization"),
                ],
                b"",
            )
            .unwrap()
    };
    let ok = preflight(ALLOWED_ORIGIN);
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("Authorization")
    );
    assert_error(
        &preflight("https://evil.example"),
        403,
        "origin_not_allowed",
    );

    let webhook = client
        .send(
            "POST",
            "/webhooks/vonage",
            &[("origin", ALLOWED_ORIGIN)],
            b"{}",
        )
        .unwrap();
    assert_eq!(webhook.header("access-control-allow-origin"), None);
}

fn status_api_requires_the_token(suite: &Suite) {
    let client = suite.configured.client();
    assert_error(&client.get("/v1/calls", &[]).unwrap(), 401, "unauthorized");
    assert_error(
        &client.api("/v1/calls", "wrong-token").unwrap(),
        401,
        "unauthorized",
    );
    assert_error(
        &client
            .get("/v1/calls", &[("authorization", TOKEN)])
            .unwrap(),
        401,
        "unauthorized",
    );
    assert_eq!(client.api("/v1/calls", TOKEN).unwrap().status, 200);
    assert_eq!(client.api("/v1/calls", SECOND_TOKEN).unwrap().status, 200);
}

fn unknown_ids_routes_and_providers_are_404(suite: &Suite) {
    let client = suite.configured.client();
    let missing = unique_id("missing");
    assert_error(
        &client
            .api(&format!("/v1/calls/vonage/{missing}"), TOKEN)
            .unwrap(),
        404,
        "not_found",
    );
    assert_error(
        &client
            .api(&format!("/v1/messages/vonage/{missing}/events"), TOKEN)
            .unwrap(),
        404,
        "not_found",
    );
    assert_error(
        &client.api("/v1/calls/nobody/x", TOKEN).unwrap(),
        404,
        "unknown_provider",
    );
    assert_error(&client.get("/nowhere", &[]).unwrap(), 404, "not_found");
    assert_error(
        &client.send("POST", "/webhooks/nobody", &[], b"{}").unwrap(),
        404,
        "unknown_provider",
    );
}

fn unconfigured_source_is_503(suite: &Suite) {
    let client = suite.unconfigured.client();
    let call = unique_id("call-unconfigured");
    let request = signed(&voice_event(&client, &call_body(&call, "started", 0)));
    let response = deliver(&client, &request);
    assert_error(&response, 503, "source_not_configured");
    assert!(response.body.contains("VONAGE_SIGNATURE_SECRET"));
    assert!(!response.body.contains(SECRET));
}

fn list_shows_recent_calls_and_filters(suite: &Suite) {
    let client = suite.configured.client();
    let finished = unique_id("call-listed");
    let ringing = unique_id("call-listed-ringing");
    for body in [
        call_body(&finished, "started", 0),
        call_body(&finished, "completed", 30),
        call_body(&ringing, "ringing", 0),
    ] {
        accepted(&deliver(&client, &signed(&voice_event(&client, &body))));
    }

    let listed = |query: &str, id: &str| call_listed(&client, query, id);
    // The index is refreshed by each call's Durable Object alarm about a second later.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(listed("status=completed", &finished)
        && listed("provider=vonage&status=ringing", &ringing))
    {
        assert!(
            Instant::now() < deadline,
            "calls never appeared in the index"
        );
        sleep(Duration::from_millis(250));
    }
    assert!(!listed("status=completed", &ringing));
    assert!(listed("provider=vonage", &finished));

    let first_page = summary(&client, "/v1/calls?limit=1");
    assert_eq!(first_page["items"].as_array().map(Vec::len), Some(1));
    let cursor = first_page["cursor"]
        .as_str()
        .expect("a cursor: more than one call exists");
    let second_page = summary(&client, &format!("/v1/calls?limit=1&cursor={cursor}"));
    assert_eq!(second_page["items"].as_array().map(Vec::len), Some(1));
    assert_ne!(first_page["items"][0]["id"], second_page["items"][0]["id"]);
    // A cursor is good only as issued, and only with the token that listed it: a forged one
    // never reaches KV.
    let mut tampered = cursor.as_bytes().to_vec();
    let inside_the_tag = tampered.len() - 5;
    tampered[inside_the_tag] = if tampered[inside_the_tag] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(tampered).expect("base64url is ASCII");
    for (cursor, token) in [
        ("not-a-cursor", TOKEN),
        (tampered.as_str(), TOKEN),
        (cursor, SECOND_TOKEN),
    ] {
        assert_error(
            &client
                .api(&format!("/v1/calls?limit=1&cursor={cursor}"), token)
                .unwrap(),
            400,
            "invalid_parameter",
        );
    }

    assert_error(
        &client.api("/v1/calls?status=delivered", TOKEN).unwrap(),
        400,
        "invalid_parameter",
    );
    assert_error(
        &client.api("/v1/calls?limit=0", TOKEN).unwrap(),
        400,
        "invalid_parameter",
    );
    assert_error(
        &client.api("/v1/messages?provider=nobody", TOKEN).unwrap(),
        400,
        "invalid_parameter",
    );
}

fn exported_request_verifies_offline_with_the_cli(suite: &Suite) {
    let client = suite.proxied.client();
    let call = unique_id("call-export");
    let sent_at = now();
    let request = signed(&voice_event(&client, &call_body(&call, "answered", 5)));
    let event_id = accepted(&deliver(&client, &request))["event_id"]
        .as_str()
        .expect("event id")
        .to_owned();
    let path = format!("/v1/calls/vonage/{call}/events/{event_id}/request");

    // While its signature could be replayed (2 × the 2 s window), the request is withheld.
    assert_error(&client.api(&path, TOKEN).unwrap(), 425, "too_early");
    let export = export_once_open(&client, &path, sent_at, EXPORT_WINDOW);
    let stored = CapturedRequest::from_json(&export.to_string()).expect("captured request shape");
    assert_eq!(
        stored.body, request.body,
        "the raw body is kept byte for byte"
    );
    assert_eq!(
        stored.header("authorization"),
        request.header("authorization")
    );
    assert_error(
        &deliver(&client, &stored),
        401,
        "timestamp_out_of_tolerance",
    );

    let file = run_dir().join(format!("{call}.json"));
    std::fs::write(&file, export.to_string()).unwrap();
    let verify = |now: i64| {
        Command::new(cli_binary())
            .args([
                "verify",
                "--provider",
                "vonage",
                "--secret",
                SECRET,
                "--now",
                &now.to_string(),
            ])
            .arg(&file)
            .output()
            .unwrap()
    };
    let output = verify(sent_at.unix_seconds());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(events[0]["event_id"], json!(event_id));
    assert_eq!(events[0]["status"], json!("in_progress"));
    let late = verify(sent_at.unix_seconds() + 3_600);
    assert_eq!(late.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&late.stderr).contains("timestamp_out_of_tolerance"));

    let missing = client
        .api(
            &format!("/v1/calls/vonage/{call}/events/nope/request"),
            TOKEN,
        )
        .unwrap();
    assert_error(&missing, 404, "not_found");
    assert!(missing.body.contains("event not found"), "{}", missing.body);
}

fn cli_simulates_every_scenario(suite: &Suite) {
    let dev_vars = run_dir().join("simulate.dev.vars");
    std::fs::write(
        &dev_vars,
        format!("STATUS_API_TOKEN={TOKEN}\nVONAGE_SIGNATURE_SECRET={SECRET}\n"),
    )
    .unwrap();
    for (scenario, expected) in [
        ("answered", "completed"),
        ("busy", "busy"),
        ("no-answer", "no_answer"),
        ("sms-delivered", "delivered"),
        ("sms-failed", "failed"),
    ] {
        let output = Command::new(cli_binary())
            .args([
                "simulate",
                "--provider",
                "vonage",
                "--scenario",
                scenario,
                "--target",
            ])
            .arg(&suite.configured.base_url)
            .arg("--dev-vars")
            .arg(&dev_vars)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let state: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(state["status"], json!(expected), "{scenario}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("duplicate"),
            "{scenario}: the simulator's repeated event was not reported as a duplicate"
        );
    }
}

fn state_survives_a_worker_restart(suite: &Suite) {
    let state_dir = run_dir().join("state").join("restart");
    let mut worker = Worker::start(
        "restart",
        &[
            ("STATUS_API_TOKEN", TOKEN),
            (
                "VONAGE_SIGNATURE_SECRET",
                suite.configured.var("VONAGE_SIGNATURE_SECRET"),
            ),
        ],
        &state_dir,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let call = unique_id("call-restart");
    let client = worker.client();
    let completed = signed(&voice_event(&client, &call_body(&call, "completed", 9)));
    for body in [
        call_body(&call, "started", 0),
        call_body(&call, "answered", 3),
    ] {
        accepted(&deliver(&client, &signed(&voice_event(&client, &body))));
    }
    accepted(&deliver(&client, &completed));

    worker.restart().unwrap_or_else(|error| panic!("{error}"));
    let client = worker.client();
    let state = summary(&client, &format!("/v1/calls/vonage/{call}"));
    assert_eq!(state["status"], json!("completed"), "{}", worker.log_tail());
    assert_eq!(state["event_count"], json!(3));
    let retry = client.replay(&completed).unwrap();
    assert_eq!(
        accepted(&retry)["duplicate"],
        json!(true),
        "dedup survives the restart"
    );
}
