//! Live sockets through the real worker: the snapshot, one frame per newly committed event in
//! commit order (none for a duplicate), the ways a browser offers its token, the limit per
//! subject, expiry, and a reconnect after a restart.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_core::ProviderId;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use crate::concurrency::{lifecycle, seed_from_env, Rng};
use crate::http::{exchange, AfterSending};
use crate::support::{accepted, deliver, summary, unique_id};
use crate::{start_configured, Suite, Test, ALLOWED_ORIGIN, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        a_socket_gets_a_snapshot_then_every_new_event_in_commit_order,
        a_late_socket_starts_from_the_current_state,
        a_browser_offers_its_token_as_a_subprotocol_or_in_the_query,
        a_socket_is_refused_without_upgrade_credential_or_allowed_origin,
        ping_is_answered_pong,
        the_socket_after_the_limit_is_refused,
        a_socket_reconnected_after_a_restart_gets_a_fresh_snapshot,
    ]
}

/// How long a test waits for a frame that must come.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Fixed so that a failure reproduces; `SWITCHBOARD_LIVE_SEED` explores other orders.
const DEFAULT_SEED: u64 = 0x0011_fe50_c4e7_2026;

/// A client's socket on a live route.
#[derive(Debug)]
pub struct Socket {
    ws: WebSocket<TcpStream>,
    /// The subprotocol the server answered.
    pub protocol: Option<String>,
}

/// Why a socket was not opened: the status and body of the answer.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Refused {
    fn error_code(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// Opens a socket on `path` (with its query) of the worker at `base_url`, with extra headers.
pub fn open(base_url: &str, path: &str, headers: &[(&str, &str)]) -> Result<Socket, Refused> {
    let address = base_url.trim_start_matches("http://");
    let mut request = format!("ws://{address}{path}")
        .into_client_request()
        .expect("a websocket url");
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    let stream = TcpStream::connect(address).expect("worker reachable");
    stream
        .set_read_timeout(Some(FRAME_TIMEOUT))
        .expect("read timeout");
    match tungstenite::client(request, stream) {
        Ok((ws, response)) => Ok(Socket {
            ws,
            protocol: response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        }),
        // tungstenite keeps only the part of a refusal's body that came with its head.
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(_))) => {
            Err(refusal(address, path, headers))
        }
        Err(error) => panic!("websocket handshake on {path}: {error}"),
    }
}

/// The whole answer to a handshake that is refused, sent again as raw HTTP.
fn refusal(address: &str, path: &str, headers: &[(&str, &str)]) -> Refused {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nhost: {address}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let response = exchange(
        address,
        request.as_bytes(),
        AfterSending::KeepOpen,
        false,
        FRAME_TIMEOUT,
    )
    .expect("worker reachable")
    .into_response();
    crate::openapi::check("GET", path, &response);
    Refused {
        status: response.status,
        body: response.json(),
    }
}

/// Opens a socket with the status API token in `Authorization`.
pub fn watch(base_url: &str, path: &str) -> Socket {
    let authorization = format!("Bearer {TOKEN}");
    open(
        base_url,
        &format!("{path}/live"),
        &[("authorization", &authorization)],
    )
    .expect("socket accepted")
}

impl Socket {
    /// The next message, failing the test after [`FRAME_TIMEOUT`].
    pub fn next_message(&mut self) -> Message {
        self.ws.read().expect("a frame within the timeout")
    }

    /// The next text frame as JSON.
    pub fn next_frame(&mut self) -> Value {
        loop {
            match self.next_message() {
                Message::Text(text) => return serde_json::from_str(&text).expect("a JSON frame"),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The code the server closed the socket with.
    pub fn next_close(&mut self) -> Option<CloseCode> {
        loop {
            match self.ws.read() {
                Ok(Message::Close(frame)) => return frame.map(|frame| frame.code),
                Ok(Message::Text(text)) => panic!("expected a close, got {text}"),
                Ok(_) => {}
                Err(error) => panic!("expected a close, got {error}"),
            }
        }
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).expect("send");
    }

    /// Closes the socket; answers the text frames that arrived before the server's close.
    pub fn close(mut self) -> Vec<Value> {
        let _ = self.ws.close(None);
        let mut frames = Vec::new();
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    frames.push(serde_json::from_str(&text).expect("a JSON frame"));
                }
                Ok(Message::Close(_)) | Err(_) => return frames,
                Ok(_) => {}
            }
        }
    }
}

fn a_socket_gets_a_snapshot_then_every_new_event_in_commit_order(suite: &Suite) {
    let seed = seed_from_env("SWITCHBOARD_LIVE_SEED", DEFAULT_SEED);
    let mut rng = Rng::new(seed);
    let worker = &suite.configured;
    let client = worker.client();
    for provider in ProviderId::ALL {
        let lifecycle = lifecycle(provider, &worker.base_url);
        let path = lifecycle.path();
        let mut socket = watch(&worker.base_url, &path);
        assert_eq!(
            socket.next_frame(),
            json!({"type": "snapshot", "state": null}),
            "{path}"
        );
        let signed = lifecycle.signed();
        // Every event once, copies of random events, in a random order; one event held back
        // for the end, after at least one copy: a frame a duplicate caused would come before
        // that last event's frame and break the sequence.
        let last = rng.below(signed.len());
        let mut order: Vec<usize> = (0..signed.len()).filter(|&index| index != last).collect();
        for _ in 0..=rng.below(3) {
            order.push(order[rng.below(order.len())]);
        }
        rng.shuffle(&mut order);
        order.push(last);
        let what = format!("{path}, order {order:?} (SWITCHBOARD_LIVE_SEED={seed:#x})");
        // Sent one at a time, so the commit order is the order of the acknowledgements.
        let mut committed = Vec::new();
        for &index in &order {
            let entry = accepted(&deliver(&client, &signed[index]));
            if entry["duplicate"] == json!(false) {
                committed.push(entry["event_id"].as_str().expect("event id").to_owned());
            }
        }
        assert!(committed.len() < order.len(), "{what}: no duplicate sent");
        for (count, event_id) in committed.iter().enumerate() {
            let frame = socket.next_frame();
            assert_eq!(frame["type"], "event", "{what}: {frame}");
            assert_eq!(
                frame["event"]["event_id"],
                json!(event_id),
                "{what}: {frame}"
            );
            assert_eq!(
                frame["state"]["event_count"],
                json!(count + 1),
                "{what}: {frame}"
            );
        }
        assert_eq!(
            socket.close(),
            Vec::<Value>::new(),
            "{what}: a frame too many"
        );
        let events: Value = client.api(&format!("{path}/events"), TOKEN).unwrap().json();
        let timeline = events["events"].as_array().expect("timeline");
        assert_eq!(timeline.len(), committed.len(), "{what}");
        assert_eq!(
            summary(&client, &path),
            socket_state_after(&client, &path),
            "{what}"
        );
    }
}

/// The state a fresh socket's snapshot carries.
fn socket_state_after(client: &crate::http::Client, path: &str) -> Value {
    let mut socket = watch(client.address(), path);
    let frame = socket.next_frame();
    assert_eq!(frame["type"], "snapshot", "{frame}");
    socket.close();
    frame["state"].clone()
}

fn a_late_socket_starts_from_the_current_state(suite: &Suite) {
    let worker = &suite.configured;
    let client = worker.client();
    let lifecycle = lifecycle(ProviderId::Twilio, &worker.base_url);
    let path = lifecycle.path();
    for request in lifecycle.signed() {
        accepted(&deliver(&client, &request));
    }
    let state = socket_state_after(&client, &path);
    assert_eq!(state, summary(&client, &path));
    assert_eq!(state["status"], lifecycle.expected);
}

fn a_browser_offers_its_token_as_a_subprotocol_or_in_the_query(suite: &Suite) {
    let worker = &suite.configured;
    let path = format!("/v1/calls/twilio/{}/live", unique_id("CA-live"));
    let subprotocols = format!("switchboard.v1, bearer.{TOKEN}");
    let mut socket = open(
        &worker.base_url,
        &path,
        &[
            ("sec-websocket-protocol", subprotocols.as_str()),
            ("origin", ALLOWED_ORIGIN),
        ],
    )
    .expect("token as subprotocol");
    assert_eq!(socket.protocol.as_deref(), Some("switchboard.v1"));
    assert_eq!(socket.next_frame()["type"], "snapshot");
    socket.close();

    let mut socket = open(
        &worker.base_url,
        &format!("{path}?access_token={TOKEN}"),
        &[],
    )
    .expect("token in the query");
    assert_eq!(
        socket.protocol, None,
        "no subprotocol offered, none answered"
    );
    assert_eq!(socket.next_frame()["type"], "snapshot");
    socket.close();

    let refused = open(
        &worker.base_url,
        &path,
        &[(
            "sec-websocket-protocol",
            "bearer.not-the-token, switchboard.v1",
        )],
    )
    .expect_err("a wrong token");
    assert_eq!(
        (refused.status, refused.error_code()),
        (401, "unauthorized")
    );

    let refused = open(
        &worker.base_url,
        &path,
        &[("sec-websocket-protocol", &format!("chat, bearer.{TOKEN}"))],
    )
    .expect_err("switchboard.v1 not offered");
    assert_eq!(
        (refused.status, refused.error_code()),
        (400, "invalid_parameter")
    );
}

fn a_socket_is_refused_without_upgrade_credential_or_allowed_origin(suite: &Suite) {
    let worker = &suite.configured;
    let client = worker.client();
    let path = format!("/v1/calls/twilio/{}/live", unique_id("CA-live"));
    let response = client.api(&path, TOKEN).expect("worker reachable");
    assert_eq!(response.status, 426, "{}", response.body);
    assert_eq!(response.error_code(), "upgrade_required");

    // Its preflight and its refusals carry CORS headers like the rest of the status API.
    let preflight = client
        .send("OPTIONS", &path, &[("origin", ALLOWED_ORIGIN)], b"")
        .expect("worker reachable");
    assert_eq!(preflight.status, 204, "{}", preflight.body);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    assert_eq!(response.header("vary"), Some("Origin"));

    let refused = open(&worker.base_url, &path, &[]).expect_err("no credential");
    assert_eq!(
        (refused.status, refused.error_code()),
        (401, "unauthorized")
    );

    let authorization = format!("Bearer {TOKEN}");
    let refused = open(
        &worker.base_url,
        &path,
        &[
            ("authorization", &authorization),
            ("origin", "https://evil.example.com"),
        ],
    )
    .expect_err("another origin");
    assert_eq!(
        (refused.status, refused.error_code()),
        (403, "origin_not_allowed")
    );

    let refused = open(
        &worker.base_url,
        "/v1/calls/nosuchprovider/x/live",
        &[("authorization", &authorization)],
    )
    .expect_err("unknown provider");
    assert_eq!(
        (refused.status, refused.error_code()),
        (404, "unknown_provider")
    );
}

fn ping_is_answered_pong(suite: &Suite) {
    let worker = &suite.configured;
    let path = format!("/v1/messages/vonage/{}", unique_id("live-ping"));
    let mut socket = watch(&worker.base_url, &path);
    assert_eq!(socket.next_frame()["type"], "snapshot");
    socket.send_text("ping");
    assert_eq!(socket.next_message(), Message::text("pong"));
    socket.close();
}

fn the_socket_after_the_limit_is_refused(suite: &Suite) {
    let worker = &suite.configured;
    let path = format!("/v1/calls/telnyx/{}", unique_id("live-limit"));
    let limit = switchboard_core::live::MAX_SOCKETS_PER_SUBJECT;
    let mut sockets: Vec<Socket> = (0..limit).map(|_| watch(&worker.base_url, &path)).collect();
    let authorization = format!("Bearer {TOKEN}");
    let refused = open(
        &worker.base_url,
        &format!("{path}/live"),
        &[("authorization", &authorization)],
    )
    .expect_err("one socket over the limit");
    assert_eq!(
        (refused.status, refused.error_code()),
        (429, "too_many_sockets")
    );
    for socket in &mut sockets {
        assert_eq!(socket.next_frame()["type"], "snapshot");
    }
    // Another subject is not affected.
    let other = format!("/v1/calls/telnyx/{}", unique_id("live-limit"));
    watch(&worker.base_url, &other).close();
    for socket in sockets {
        socket.close();
    }
}

fn a_socket_reconnected_after_a_restart_gets_a_fresh_snapshot(suite: &Suite) {
    let _ = suite;
    let mut worker = start_configured("live-restart");
    let client = worker.client();
    // Telnyx signs no URL: its requests stay valid on the restarted worker's new port.
    let lifecycle = lifecycle(ProviderId::Telnyx, &worker.base_url);
    let path = lifecycle.path();
    let signed = lifecycle.signed();
    let mut socket = watch(&worker.base_url, &path);
    assert_eq!(socket.next_frame()["state"], Value::Null);
    accepted(&deliver(&client, &signed[0]));
    assert_eq!(socket.next_frame()["type"], "event");

    worker.restart().expect("worker restarts");
    // The old socket ends with the process that held it.
    assert!(
        !matches!(socket.ws.read(), Ok(Message::Text(_))),
        "a frame from a stopped worker"
    );
    let client = worker.client();
    for request in &signed[1..] {
        accepted(&deliver(&client, request));
    }
    let mut socket = watch(&worker.base_url, &path);
    let snapshot = socket.next_frame();
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["state"], summary(&client, &path));
    assert_eq!(snapshot["state"]["event_count"], json!(signed.len()));
    socket.close();
}
