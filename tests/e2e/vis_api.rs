//! A fake VIS API on loopback for the keeper's tests (`tests/e2e/vis_keeper.rs`): the token
//! endpoint (password and refresh grants), `GET /self/webhooks`, `PUT /self/webhooks/{id}/renew`
//! and `GET /self/events`, as docs/providers/vonage-business.md describes them. A test sets its
//! registrations and events, and can make the token endpoint refuse or the whole API answer 503.
//! One thread answers each request at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::now;

pub const CLIENT_ID: &str = "e2e-vis-client";
pub const CLIENT_SECRET: &str = "e2e-vis-client-secret";
pub const USERNAME: &str = "e2e-ops";
pub const PASSWORD: &str = "e2e-vis-password";
const VIS: &str = "/t/vbc.prod/vis/v1";

/// What the fake holds and has seen.
#[derive(Default)]
pub struct State {
    pub registrations: Vec<Value>,
    /// Events as `GET /self/events` lists them (vgis.yml `Event`).
    pub events: Vec<Value>,
    /// Seconds each access token lives (`expires_in`).
    pub token_lifetime_s: i64,
    /// The token endpoint answers 401 to every grant.
    pub refuse_grants: bool,
    /// Every endpoint answers 503.
    pub down: bool,
    /// The grant type of each token issued, in order.
    pub grants: Vec<String>,
    /// The ids renewed, in order.
    pub renewals: Vec<String>,
    /// Every request: method and path with its query.
    pub requests: Vec<String>,
    tokens: Vec<(String, i64)>,
    refresh_tokens: Vec<String>,
}

pub struct VisApi {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl VisApi {
    pub fn start() -> Result<Self, String> {
        let server = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|error| format!("vis api: listen: {error}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|address| address.port())
            .ok_or("vis api: not listening on an IP address")?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("vis-api".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        match server.recv_timeout(Duration::from_millis(100)) {
                            Ok(Some(request)) => handle(request, &state),
                            Ok(None) => {}
                            Err(error) => eprintln!("vis api: {error}"),
                        }
                    }
                })
                .map_err(|error| format!("vis api: thread: {error}"))?
        };
        Ok(Self {
            port,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// `VONAGE_BUSINESS_API_URL` for a worker that uses this fake.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets everything, for a test that starts afresh; tokens live an hour.
    pub fn reset(&self) {
        *self.state() = State {
            token_lifetime_s: 3600,
            ..State::default()
        };
    }
}

impl Drop for VisApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let method = request.method().as_str().to_owned();
    let url = request.url().to_owned();
    let bearer = request
        .headers()
        .iter()
        .find(|header| header.field.equiv("authorization"))
        .and_then(|header| header.value.as_str().strip_prefix("Bearer "))
        .map(str::to_owned);
    let mut state = state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    state.requests.push(format!("{method} {url}"));
    let (status, answer) = answer(&mut state, &method, &url, bearer.as_deref(), &body);
    drop(state);
    let header = tiny_http::Header::from_bytes("content-type", "application/json").expect("header");
    let response = tiny_http::Response::from_string(answer.to_string())
        .with_status_code(status)
        .with_header(header);
    let _ = request.respond(response);
}

fn answer(
    state: &mut State,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: &str,
) -> (u16, Value) {
    if state.down {
        return (503, json!({ "errorCode": "unavailable" }));
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if (method, path) == ("POST", "/token") {
        return grant(state, body);
    }
    let now_ms = now().millis();
    let authorized = bearer.is_some_and(|bearer| {
        state
            .tokens
            .iter()
            .any(|(token, expires)| token == bearer && *expires > now_ms)
    });
    if !authorized {
        return (401, json!({ "errorCode": "unauthorized" }));
    }
    let Some(path) = path.strip_prefix(VIS) else {
        return (404, json!({}));
    };
    match (method, path) {
        ("GET", "/self/webhooks") => (200, Value::Array(state.registrations.clone())),
        ("PUT", renew) if renew.starts_with("/self/webhooks/") && renew.ends_with("/renew") => {
            let id = &renew["/self/webhooks/".len()..renew.len() - "/renew".len()];
            let Some(registration) = state.registrations.iter_mut().find(|r| r["id"] == id) else {
                return (404, json!({ "errorCode": "not_found" }));
            };
            let expires = switchboard_core::Timestamp::from_millis(now_ms + 10 * 86_400_000);
            registration["expireAt"] = json!(expires.to_string());
            registration["status"] = json!("ACTIVE");
            registration["statistics"]["failed"] = json!(false);
            let renewed = registration.clone();
            state.renewals.push(id.to_owned());
            (200, renewed)
        }
        ("GET", "/self/events") => {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let number = |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| key == name)
                    .and_then(|(_, value)| value.parse::<i64>().ok())
            };
            let (from, to) = (
                number("fromDate").unwrap_or(0),
                number("toDate").unwrap_or(i64::MAX),
            );
            let (page, size) = (number("offset").unwrap_or(0), number("size").unwrap_or(20));
            let listed: Vec<Value> = state
                .events
                .iter()
                .filter(|event| {
                    let started = event["startTime"]
                        .as_str()
                        .and_then(switchboard_core::Timestamp::parse_rfc3339)
                        .map_or(0, |at| at.millis());
                    (from..=to).contains(&started)
                })
                .skip((page * size) as usize)
                .take(size as usize)
                .cloned()
                .collect();
            (200, Value::Array(listed))
        }
        _ => (404, json!({ "errorCode": "not_found" })),
    }
}

/// The token endpoint: the password grant with the fake's credentials (the username with
/// `@vbc.prod`), or the refresh grant with a refresh token it issued.
fn grant(state: &mut State, body: &str) -> (u16, Value) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let client =
        field("client_id") == Some(CLIENT_ID) && field("client_secret") == Some(CLIENT_SECRET);
    let username = format!("{USERNAME}@vbc.prod");
    let granted = match field("grant_type") {
        Some("password") => {
            field("username") == Some(username.as_str()) && field("password") == Some(PASSWORD)
        }
        Some("refresh_token") => field("refresh_token")
            .is_some_and(|refresh| state.refresh_tokens.iter().any(|known| known == refresh)),
        _ => false,
    };
    if state.refuse_grants || !client || !granted {
        return (401, json!({ "error": "invalid_grant" }));
    }
    let number = state.tokens.len();
    let (token, refresh) = (format!("access-{number}"), format!("refresh-{number}"));
    // Accepted a minute longer than it says, so that a slow run is never refused a token it
    // was right to use.
    let expires = now().millis() + (state.token_lifetime_s + 60) * 1000;
    state.tokens.push((token.clone(), expires));
    state.refresh_tokens.push(refresh.clone());
    state
        .grants
        .push(field("grant_type").unwrap_or_default().to_owned());
    (
        200,
        json!({
            "access_token": token,
            "refresh_token": refresh,
            "scope": "openid",
            "token_type": "Bearer",
            "expires_in": state.token_lifetime_s,
        }),
    )
}
