//! The static assets (wrangler.toml `[assets]`), as the runtime serves them before the worker.

use crate::openapi::DOCUMENT_PATH;
use crate::worker::project_root;
use crate::Suite;

pub fn tests() -> Vec<(&'static str, crate::Test)> {
    tests![the_worker_serves_the_committed_document]
}

/// `GET /openapi.json` is the static asset, byte for byte the committed file.
fn the_worker_serves_the_committed_document(suite: &Suite) {
    let response = suite
        .configured
        .client()
        .get("/openapi.json", &[])
        .expect("worker reachable");
    assert_eq!(response.status, 200, "{}", response.body);
    let committed = std::fs::read_to_string(project_root().join(DOCUMENT_PATH))
        .expect("the committed document");
    assert!(
        response.body == committed,
        "/openapi.json is not the committed {DOCUMENT_PATH}"
    );
}
