//! Helpers shared by the end-to-end tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchboard_core::{CapturedRequest, Timestamp};

use crate::http::{Client, Response};
use crate::TOKEN;

pub fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    Timestamp::from_millis(i64::try_from(millis).expect("millis fit i64"))
}

/// An id no other test (or earlier run on the same state) uses.
pub fn unique_id(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}-{count}", std::process::id())
}

pub fn deliver(client: &Client, request: &CapturedRequest) -> Response {
    client.replay(request).expect("worker reachable")
}

pub fn accepted(response: &Response) -> Value {
    assert_eq!(response.status, 200, "webhook refused: {}", response.body);
    response.json()["accepted"][0].clone()
}

/// The status of a `GET` of `path` with the status API token.
pub fn status(client: &Client, path: &str) -> u16 {
    client.api(path, TOKEN).expect("worker reachable").status
}

pub fn summary(client: &Client, path: &str) -> Value {
    let response = client.api(path, TOKEN).expect("status api reachable");
    assert_eq!(response.status, 200, "{path}: {}", response.body);
    response.json()
}

pub fn assert_error(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "body: {}", response.body);
    assert_eq!(response.error_code(), code, "body: {}", response.body);
    assert!(
        response.json()["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "error without a message: {}",
        response.body
    );
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::worker::project_root().join("target"))
}

pub fn cli_binary() -> PathBuf {
    let binary = target_dir().join("debug").join("switchboard");
    assert!(
        binary.exists(),
        "{} missing: run `cargo build -p switchboard-cli`",
        binary.display()
    );
    binary
}

/// Every `(provider, id)` of `/v1/calls?{query}`, page by page (`limit=100`) until the list
/// ends or `max_pages` were read.
pub fn list_all(client: &Client, query: &str, max_pages: usize) -> Vec<(String, String)> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max_pages {
        let path = match &cursor {
            Some(cursor) => format!("/v1/calls?limit=100&{query}&cursor={cursor}"),
            None => format!("/v1/calls?limit=100&{query}"),
        };
        let page = summary(client, &path);
        for item in page["items"].as_array().expect("items") {
            let field = |name: &str| item[name].as_str().unwrap_or_default().to_owned();
            listed.push((field("provider"), field("id")));
        }
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    listed
}

/// Whether call `id` is in the list `/v1/calls?{query}`, read to its end: other tests add calls
/// at the same time, so it may be past the first page.
pub fn call_listed(client: &Client, query: &str, id: &str) -> bool {
    list_all(client, query, 50)
        .iter()
        .any(|(_, listed)| listed == id)
}

/// The export of a stored request (`path`), polled until it opens: never before `window` (twice
/// the signature tolerance) after `sent`, taken before the webhook was sent. Wall-clock
/// milliseconds, as the worker counts them: it received the webhook at or after `sent`.
pub fn export_once_open(client: &Client, path: &str, sent: Timestamp, window: Duration) -> Value {
    let window_ms = i64::try_from(window.as_millis()).expect("window fits i64");
    let deadline = Instant::now() + window + Duration::from_secs(20);
    loop {
        let response = client.api(path, TOKEN).expect("status api reachable");
        if response.status == 200 {
            let waited_ms = now().millis() - sent.millis();
            assert!(
                waited_ms >= window_ms,
                "{path} exported {waited_ms} ms after the webhook was sent, before {window:?}"
            );
            return response.json();
        }
        assert_error(&response, 425, "too_early");
        assert!(Instant::now() < deadline, "{path} never exported");
        sleep(Duration::from_millis(100));
    }
}

/// Each line a child process prints, as JSON (a line that is not JSON as a string), read on a
/// thread of its own until the output ends or the receiver is dropped.
pub fn json_lines(output: std::process::ChildStdout) -> std::sync::mpsc::Receiver<Value> {
    use std::io::BufRead;
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(output)
            .lines()
            .map_while(Result::ok)
        {
            let line = serde_json::from_str(&line).unwrap_or(Value::String(line));
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    lines
}
