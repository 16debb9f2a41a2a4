//! Browser tokens through the real worker: minted by `POST /v1/tokens` or by the app's own
//! backend, each scope kind reading exactly what it covers, expiry, rotation and `alg`
//! confusion, and a socket closed when its token expires.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use switchboard_core::access::{self, MintRequest};
use switchboard_core::index::{encode_cursor, Filter, Position};
use switchboard_core::secret::Secret;
use switchboard_core::{Kind, ProviderId, Timestamp};
use tungstenite::protocol::frame::coding::CloseCode;

use crate::concurrency::{lifecycle, Lifecycle};
use crate::http::{Client, Response};
use crate::live::open;
use crate::support::{accepted, assert_error, deliver, now, summary, unique_id};
use crate::{Suite, Test, BROWSER_SECRET, OLD_BROWSER_SECRET, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        a_status_api_token_mints_browser_tokens_and_nothing_else_does,
        every_scope_kind_reads_what_it_covers_and_nothing_else,
        browser_tokens_expire_rotate_and_accept_only_hs256,
        a_socket_is_closed_when_its_token_expires,
    ]
}

/// `POST /v1/tokens` with `credential`.
fn request_token(client: &Client, credential: &str, body: &str) -> Response {
    let authorization = format!("Bearer {credential}");
    client
        .send(
            "POST",
            "/v1/tokens",
            &[
                ("authorization", &authorization),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
        .expect("worker reachable")
}

/// A browser token for `scope`, minted by the worker.
pub fn minted(client: &Client, scope: &[&str]) -> String {
    let response = request_token(client, TOKEN, &json!({ "scope": scope }).to_string());
    assert_eq!(response.status, 201, "{}", response.body);
    response.json()["token"].as_str().expect("token").to_owned()
}

/// The lifetime of a token a test waits out: `iat` is whole seconds, so it expires 3 to 4 s after
/// minting, long enough to open a socket on a loaded machine, well within a frame's timeout.
pub const SHORT_TTL_SECONDS: u32 = 4;

/// A browser token as an app's backend mints it with its own JWT library and `secret`, issued
/// `age_seconds` ago.
pub fn self_minted(secret: &str, scope: &[&str], ttl_seconds: u32, age_seconds: i64) -> String {
    let request = MintRequest {
        scopes: scope
            .iter()
            .map(|scope| scope.parse().expect("scope"))
            .collect(),
        ttl_seconds,
    };
    let issued_at = Timestamp::from_millis(now().millis() - age_seconds * 1000);
    access::mint(&[Secret::new(secret)], &request, issued_at)
        .expect("mint")
        .token
}

fn status(client: &Client, path: &str, credential: &str) -> (u16, String) {
    let response = client.api(path, credential).expect("worker reachable");
    (response.status, response.error_code())
}

fn a_status_api_token_mints_browser_tokens_and_nothing_else_does(suite: &Suite) {
    let client = suite.configured.client();
    let before = now().millis();
    let response = request_token(
        &client,
        TOKEN,
        r#"{"scope": ["calls/twilio/CA1", "messages"], "ttl_seconds": 60}"#,
    );
    assert_eq!(response.status, 201, "{}", response.body);
    let body = response.json();
    let expires_at = Timestamp::parse_rfc3339(body["expires_at"].as_str().expect("expires_at"))
        .expect("RFC 3339");
    let ttl_ms = expires_at.millis() - before;
    assert!(
        (59_000..=61_000).contains(&ttl_ms),
        "expires in {ttl_ms} ms"
    );
    let token = body["token"].as_str().expect("token");
    assert_eq!(status(&client, "/v1/messages", token).0, 200);

    let default_ttl = request_token(&client, TOKEN, r#"{"scope": ["calls"]}"#);
    let expires_at = Timestamp::parse_rfc3339(
        default_ttl.json()["expires_at"]
            .as_str()
            .expect("expires_at"),
    )
    .expect("RFC 3339");
    let ttl_ms = expires_at.millis() - before;
    assert!((899_000..=901_000).contains(&ttl_ms), "default {ttl_ms} ms");

    for (body, code) in [
        (r#"{"scope": ["calls/twilio"]}"#, "invalid_scope"),
        (r#"{"scope": ["recordings"]}"#, "invalid_scope"),
        (r#"{"scope": ["calls/nosuch/CA1"]}"#, "invalid_scope"),
        (r#"{"scope": []}"#, "invalid_scope"),
        (r#"{"scope": ["calls"], "ttl_seconds": 0}"#, "invalid_ttl"),
        (
            r#"{"scope": ["calls"], "ttl_seconds": 86401}"#,
            "invalid_ttl",
        ),
        (r#"{"scope": "calls"}"#, "invalid_scope"),
        (r#"{"scope": ["calls"], "ttl": 60}"#, "invalid_body"),
        ("not json", "invalid_body"),
    ] {
        assert_error(&request_token(&client, TOKEN, body), 400, code);
    }

    let browser = minted(&client, &["calls", "messages"]);
    assert_error(
        &request_token(&client, &browser, r#"{"scope": ["calls"]}"#),
        403,
        "out_of_scope",
    );
    assert_error(
        &request_token(&client, "not-a-token", r#"{"scope": ["calls"]}"#),
        401,
        "unauthorized",
    );
    let get = client.api("/v1/tokens", TOKEN).expect("worker reachable");
    assert_error(&get, 405, "method_not_allowed");

    // Without BROWSER_TOKEN_SECRET nothing is minted, and no browser token is accepted.
    let unconfigured = suite.unconfigured.client();
    assert_error(
        &request_token(&unconfigured, TOKEN, r#"{"scope": ["calls"]}"#),
        503,
        "browser_tokens_not_configured",
    );
    assert_eq!(
        status(&unconfigured, "/v1/calls", &browser),
        (401, "unauthorized".into())
    );
}

/// A delivered lifecycle and its summary as the status API token reads it.
fn delivered(suite: &Suite, provider: ProviderId) -> (Lifecycle, Value) {
    let worker = &suite.configured;
    let client = worker.client();
    let lifecycle = lifecycle(provider, &worker.base_url);
    for request in lifecycle.signed() {
        accepted(&deliver(&client, &request));
    }
    let state = summary(&client, &lifecycle.path());
    (lifecycle, state)
}

fn every_scope_kind_reads_what_it_covers_and_nothing_else(suite: &Suite) {
    let client = suite.configured.client();
    let (call, call_state) = delivered(suite, ProviderId::Telnyx);
    let (other_call, _) = delivered(suite, ProviderId::Telnyx);
    let (message, _) = delivered(suite, ProviderId::MessageBird);
    assert_eq!(message.kind, Kind::Message);
    let alias = call_state["aliases"][0]
        .as_str()
        .expect("a Telnyx call has an alias");
    let session = call_state["session_id"].as_str().expect("a session id");
    let id = &call.id;
    let by_alias = format!("/v1/calls/telnyx/{alias}");
    // The alias is found through the KV index, written about a second after the event.
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&client, &by_alias, TOKEN).0 != 200 {
        assert!(Instant::now() < deadline, "{by_alias} never resolved");
        std::thread::sleep(Duration::from_millis(200));
    }
    let missing = format!("/v1/calls/telnyx/{}", unique_id("no-such-call"));
    let export = format!("{}/events/any-event/request", call.path());

    let allowed = |token: &str, paths: &[&str]| {
        for path in paths {
            assert_eq!(status(&client, path, token).0, 200, "{path}");
        }
    };
    let refused = |token: &str, paths: &[&str]| {
        for path in paths {
            assert_eq!(
                status(&client, path, token),
                (403, "out_of_scope".into()),
                "{path}"
            );
        }
    };
    let subject_reads = [
        call.path(),
        format!("{}/events", call.path()),
        by_alias.clone(),
        format!("{by_alias}/events"),
    ];
    let subject_reads: Vec<&str> = subject_reads.iter().map(String::as_str).collect();
    let never = [
        other_call.path(),
        missing.clone(),
        message.path(),
        "/v1/calls".into(),
        "/v1/messages".into(),
        export.clone(),
    ];
    let never: Vec<&str> = never.iter().map(String::as_str).collect();

    // One call, named by its id, by its alias, or by its session.
    for scope in [
        format!("calls/telnyx/{id}"),
        format!("calls/telnyx/{alias}"),
        format!("sessions/telnyx/{session}"),
    ] {
        let token = minted(&client, &[&scope]);
        allowed(&token, &subject_reads);
        refused(&token, &never);
        let socket = open(
            &suite.configured.base_url,
            &format!("{by_alias}/live"),
            &[(
                "sec-websocket-protocol",
                &format!("switchboard.v1, bearer.{token}"),
            )],
        );
        assert!(socket.is_ok(), "{scope}: socket refused: {socket:?}");
        let refusal = open(
            &suite.configured.base_url,
            &format!("{}/live?access_token={token}", other_call.path()),
            &[],
        )
        .expect_err("another call's socket");
        assert_eq!(refusal.status, 403, "{scope}");
    }

    // A socket opened by an alias watches the call itself, whatever the credential.
    for credential in [TOKEN.to_owned(), minted(&client, &["calls"])] {
        let authorization = format!("Bearer {credential}");
        let mut socket = open(
            &suite.configured.base_url,
            &format!("{by_alias}/live"),
            &[("authorization", &authorization)],
        )
        .expect("socket by alias");
        let snapshot = socket.next_frame();
        assert_eq!(snapshot["state"], call_state, "{snapshot}");
        socket.close();
    }

    // Every call, lists included; no message, no export.
    let calls = minted(&client, &["calls"]);
    allowed(&calls, &subject_reads);
    allowed(&calls, &[&other_call.path(), "/v1/calls"]);
    refused(&calls, &[&message.path(), "/v1/messages", &export]);
    assert_eq!(
        status(&client, &missing, &calls),
        (404, "not_found".into()),
        "a calls scope may learn that a call does not exist"
    );

    let messages = minted(&client, &["messages"]);
    allowed(&messages, &[&message.path(), "/v1/messages"]);
    refused(&messages, &[&call.path(), "/v1/calls"]);

    // A browser token pages with the cursors it is given, and cannot tag one itself: the key is
    // bound to the token under the server's secret, not the token the page holds.
    let first = client
        .api("/v1/calls?limit=1", &calls)
        .expect("worker reachable");
    let cursor = first.json()["cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let next = format!("/v1/calls?limit=1&cursor={cursor}");
    assert_eq!(status(&client, &next, &calls).0, 200);
    assert_eq!(
        status(&client, &next, TOKEN),
        (400, "invalid_parameter".into())
    );
    let filter = Filter {
        kind: Kind::Call,
        provider: None,
        status: None,
    };
    let forged = encode_cursor(
        &filter,
        &[Position::start(ProviderId::Telnyx)],
        calls.as_bytes(),
    );
    assert_eq!(
        status(
            &client,
            &format!("/v1/calls?limit=1&cursor={forged}"),
            &calls
        ),
        (400, "invalid_parameter".into())
    );
}

fn browser_tokens_expire_rotate_and_accept_only_hs256(suite: &Suite) {
    let client = suite.configured.client();
    let scope = ["calls"];

    let old = self_minted(OLD_BROWSER_SECRET, &scope, 60, 0);
    assert_eq!(status(&client, "/v1/calls", &old).0, 200, "rotation");
    let current = self_minted(BROWSER_SECRET, &scope, 60, 0);
    assert_eq!(status(&client, "/v1/calls", &current).0, 200);
    let retired = self_minted("a-retired-browser-token-secret-of-32-bytes", &scope, 60, 0);
    assert_eq!(
        status(&client, "/v1/calls", &retired),
        (401, "invalid_token_signature".into())
    );

    let [header, claims, signature]: [&str; 3] = current
        .split('.')
        .collect::<Vec<_>>()
        .try_into()
        .expect("three parts");
    let expired = self_minted(BROWSER_SECRET, &scope, 60, 120);
    assert_eq!(
        status(&client, "/v1/calls", &expired),
        (401, "token_expired".into())
    );

    let widened = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(r#"{"scope":["calls","messages"],"iat":1,"exp":2}"#)
    );
    assert_eq!(
        status(&client, "/v1/calls", &widened),
        (401, "invalid_token_signature".into())
    );
    for alg in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"HS512","typ":"JWT"}"#,
    ] {
        let confused = format!("{}.{claims}.{signature}", URL_SAFE_NO_PAD.encode(alg));
        assert_eq!(
            status(&client, "/v1/calls", &confused),
            (401, "unsupported_token_algorithm".into()),
            "{alg}"
        );
        let unsigned = format!("{}.{claims}.", URL_SAFE_NO_PAD.encode(alg));
        assert_eq!(status(&client, "/v1/calls", &unsigned).0, 401, "{alg}");
    }
}

fn a_socket_is_closed_when_its_token_expires(suite: &Suite) {
    let worker = &suite.configured;
    let id = unique_id("live-expiry");
    let path = format!("/v1/calls/bird/{id}");
    let token = self_minted(
        BROWSER_SECRET,
        &[&format!("calls/bird/{id}")],
        SHORT_TTL_SECONDS,
        0,
    );
    let authorization = format!("Bearer {token}");
    let mut socket = open(
        &worker.base_url,
        &format!("{path}/live"),
        &[("authorization", &authorization)],
    )
    .expect("socket accepted");
    assert_eq!(socket.next_frame()["type"], "snapshot");
    assert_eq!(socket.next_close(), Some(CloseCode::Library(4001)));
    let refusal = open(
        &worker.base_url,
        &format!("{path}/live"),
        &[("authorization", &authorization)],
    )
    .expect_err("an expired token");
    assert_eq!(refusal.status, 401);
}
