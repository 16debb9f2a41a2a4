//! The browser client (`public/client/switchboard.js`): served by the worker's static assets,
//! and run in Node against the real worker by `tests/client/watch.mjs`, which prints one JSON
//! line per callback (and asks stdin for each token): the snapshot, every event in commit
//! order, pings, a reconnect after a restart with a failed attempt between, and an expired token.

use std::io::Write;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_core::ProviderId;

use crate::concurrency::lifecycle;
use crate::support::{accepted, deliver, json_lines, summary, unique_id};
use crate::tokens::{minted, self_minted, SHORT_TTL_SECONDS};
use crate::worker::project_root;
use crate::{start_configured, Suite, Test, BROWSER_SECRET, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        the_client_is_served_as_a_cross_origin_javascript_module,
        the_client_refuses_malformed_arguments,
        the_client_pings_and_ignores_the_pong,
        the_client_follows_a_call_and_resumes_from_a_snapshot_after_a_restart,
        the_client_reports_an_expired_token_and_reconnects_with_a_fresh_one,
    ]
}

/// How long a test waits for a line the client must print (a restart takes a few seconds).
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the driver's token comes from.
enum Token<'a> {
    /// A string, fixed for the client's life.
    Fixed(&'a str),
    /// A function: each call prints `{"on":"token"}` and waits for [`Driver::answer_token`].
    Asked,
}

/// `tests/client/watch.mjs` running the client in Node.
struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Every line read so far, for failure messages.
    seen: Vec<Value>,
}

impl Driver {
    fn spawn(base: &str, path: &str, token: Token, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new("node");
        command
            .arg("--experimental-websocket")
            .arg("--disable-warning=ExperimentalWarning")
            // A `.js` module outside a `"type": "module"` package: Node says so once.
            .arg("--disable-warning=MODULE_TYPELESS_PACKAGE_JSON")
            .arg(project_root().join("tests/client/watch.mjs"))
            .args([base, path])
            .env_remove("SWITCHBOARD_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Token::Fixed(token) = token {
            command.env("SWITCHBOARD_TOKEN", token);
        }
        let mut child = command.spawn().expect("node runs (make setup)");
        let lines = json_lines(child.stdout.take().expect("piped stdout"));
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line, which must be the callback `on`.
    fn expect(&mut self, on: &str) -> Value {
        let line = match self.lines.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no `{on}` line within {LINE_TIMEOUT:?}; lines so far: {:?}",
                self.seen
            ),
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "the driver ended before a `{on}` line; lines: {:?}",
                    self.seen
                )
            }
        };
        self.seen.push(line.clone());
        assert_eq!(line["on"], on, "lines so far: {:?}", self.seen);
        line
    }

    /// Waits for the client to ask for a token, then gives it this one.
    fn answer_token(&mut self, token: &str) {
        self.expect("token");
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{token}").expect("the driver reads stdin");
    }

    /// Closes stdin (the driver then closes its client) and waits for the driver to end, which
    /// it does only once the client has nothing left to do; no line may come first.
    fn finish(mut self) -> ExitStatus {
        self.stdin = None;
        match self.lines.recv_timeout(LINE_TIMEOUT) {
            Err(RecvTimeoutError::Disconnected) => {}
            Err(RecvTimeoutError::Timeout) => panic!("the driver did not end: {:?}", self.seen),
            Ok(line) => panic!("a line after the last expected: {line}"),
        }
        self.child.wait().expect("the driver's exit")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn the_client_is_served_as_a_cross_origin_javascript_module(suite: &Suite) {
    let client = suite.configured.client();
    let response = client
        .get(
            "/client/switchboard.js",
            &[("origin", "https://elsewhere.example")],
        )
        .expect("worker reachable");
    assert_eq!(response.status, 200, "{}", response.body);
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(content_type.contains("javascript"), "{content_type}");
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=300")
    );
    let source = std::fs::read_to_string(project_root().join("public/client/switchboard.js"))
        .expect("the client's source");
    assert_eq!(response.body, source);
    // The headers file configures the assets; it is not one of them.
    let rules = client.get("/_headers", &[]).expect("worker reachable");
    assert_eq!(rules.status, 404, "{}", rules.body);
}

fn the_client_refuses_malformed_arguments(suite: &Suite) {
    let base = &suite.configured.base_url;
    for (base, path, token, message) in [
        (
            "ftp://example.com",
            "/v1/calls/telnyx/x",
            "t",
            "`base` must be an http(s) URL",
        ),
        (
            "not a url",
            "/v1/calls/telnyx/x",
            "t",
            "`base` is not a URL",
        ),
        (
            base.as_str(),
            "/v1/calls/telnyx",
            "t",
            "`path` must look like",
        ),
        (
            base.as_str(),
            "/v1/calls/telnyx/x",
            "a token, with spaces",
            "a token must be",
        ),
    ] {
        let mut driver = Driver::spawn(base, path, Token::Fixed(token), &[]);
        let thrown = driver.expect("thrown");
        let text = thrown["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{base} {path}: {text}");
        assert_eq!(driver.finish().code(), Some(1));
    }
}

fn the_client_pings_and_ignores_the_pong(suite: &Suite) {
    let worker = &suite.configured;
    let path = format!("/v1/calls/telnyx/{}", unique_id("client-ping"));
    let mut driver = Driver::spawn(
        &worker.base_url,
        &path,
        Token::Fixed(TOKEN),
        &[
            ("SWITCHBOARD_PING_MS", "50"),
            ("SWITCHBOARD_SHOW_PONGS", "1"),
        ],
    );
    assert_eq!(driver.expect("state")["state"], Value::Null);
    // Each `pong` is shown before the client reads it: a callback it caused would come between.
    driver.expect("pong");
    driver.expect("pong");
}

fn the_client_follows_a_call_and_resumes_from_a_snapshot_after_a_restart(suite: &Suite) {
    let _ = suite;
    let mut worker = start_configured("client-restart");
    let client = worker.client();
    // Telnyx signs no URL: its requests stay valid whatever the worker's port.
    let lifecycle = lifecycle(ProviderId::Telnyx, &worker.base_url);
    let path = lifecycle.path();
    let signed = lifecycle.signed();
    let token = minted(&client, &[&format!("calls/telnyx/{}", lifecycle.id)]);
    let mut driver = Driver::spawn(&worker.base_url, &path, Token::Asked, &[]);
    driver.answer_token(&token);
    assert_eq!(driver.expect("state")["state"], Value::Null);

    let (before, after) = signed.split_at(2);
    // Sent one at a time: the commit order is the order of the acknowledgements.
    for (count, request) in before.iter().enumerate() {
        let entry = accepted(&deliver(&client, request));
        let event = driver.expect("event");
        assert_eq!(event["event"]["event_id"], entry["event_id"]);
        assert_eq!(event["state"]["event_count"], json!(count + 1));
        assert_eq!(driver.expect("state")["state"], event["state"]);
    }
    assert_eq!(
        driver.seen.last().unwrap()["state"],
        summary(&client, &path)
    );

    worker.stop();
    let close = driver.expect("close");
    assert_eq!(
        (&close["expired"], &close["reconnecting"]),
        (&json!(false), &json!(true)),
        "{close}"
    );
    // An attempt while the worker is down fails, and is retried later with a new token.
    driver.answer_token(&token);
    let failed = driver.expect("close");
    assert_eq!(failed["code"], 1006, "{failed}");
    assert_eq!(failed["reconnecting"], true, "{failed}");
    assert!(
        failed["delayMs"].as_u64().is_some_and(|ms| ms > 0),
        "{failed}"
    );

    // The client waits for its token: the rest is committed before it reconnects.
    worker.start_again().expect("worker restarts on its port");
    for request in after {
        accepted(&deliver(&client, request));
    }
    driver.answer_token(&token);
    let snapshot = driver.expect("state")["state"].clone();
    assert_eq!(snapshot["event_count"], json!(signed.len()));
    assert_eq!(snapshot, summary(&client, &path));
    assert!(driver.finish().success());
}

fn the_client_reports_an_expired_token_and_reconnects_with_a_fresh_one(suite: &Suite) {
    let worker = &suite.configured;
    let client = worker.client();
    let lifecycle = lifecycle(ProviderId::Bird, &worker.base_url);
    let path = lifecycle.path();
    let scope = format!("calls/bird/{}", lifecycle.id);
    let expiring = || self_minted(BROWSER_SECRET, &[&scope], SHORT_TTL_SECONDS, 0);

    let mut driver = Driver::spawn(&worker.base_url, &path, Token::Asked, &[]);
    driver.answer_token(&expiring());
    assert_eq!(driver.expect("state")["state"], Value::Null);
    let close = driver.expect("close");
    assert_eq!(
        (&close["code"], &close["expired"], &close["reconnecting"]),
        (&json!(4001), &json!(true), &json!(true)),
        "{close}"
    );
    assert_eq!(close["delayMs"], 0, "{close}");
    driver.answer_token(&minted(&client, &[&scope]));
    assert_eq!(driver.expect("state")["state"], Value::Null);
    let entry = accepted(&deliver(&client, &lifecycle.signed()[0]));
    let event = driver.expect("event");
    assert_eq!(event["event"]["event_id"], entry["event_id"]);
    assert_eq!(driver.expect("state")["state"], summary(&client, &path));
    assert!(driver.finish().success());

    // A token string cannot be refreshed: the client stops, and so the driver ends by itself.
    let mut driver = Driver::spawn(&worker.base_url, &path, Token::Fixed(&expiring()), &[]);
    assert_eq!(driver.expect("state")["state"]["event_count"], 1);
    let close = driver.expect("close");
    assert_eq!(
        (&close["code"], &close["reconnecting"], &close["delayMs"]),
        (&json!(4001), &json!(false), &Value::Null),
        "{close}"
    );
    assert!(driver.finish().success());
}
