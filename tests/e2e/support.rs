//! Helpers shared by the end-to-end tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

pub fn cli_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::worker::project_root().join("target"));
    let binary = target.join("debug").join("switchboard");
    assert!(
        binary.exists(),
        "{} missing: run `cargo build -p switchboard-cli`",
        binary.display()
    );
    binary
}
