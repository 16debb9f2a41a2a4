//! The CLI's captured-request reader (`CapturedRequest::from_json`): no panic; what it reads
//! writes back to a file that reads as the same request, and its stored form
//! (`CapturedRequest::redacted`) reads back as the same request but for withheld header values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::request::REDACTED;
use switchboard_core::CapturedRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = CapturedRequest::from_json(text) else {
        return;
    };
    assert!(!request.method.is_empty());
    assert!(request.body.len() <= text.len());
    let json = serde_json::to_string(&request).expect("a captured request serializes");
    assert_eq!(CapturedRequest::from_json(&json), Ok(request.clone()));
    let stored = serde_json::to_string(&request.redacted()).expect("a stored request serializes");
    let stored = CapturedRequest::from_json(&stored).expect("a stored request reads back");
    assert_eq!(
        (&stored.method, &stored.url, &stored.body),
        (&request.method, &request.url, &request.body)
    );
    assert!(stored.headers.keys().eq(request.headers.keys()));
    for (name, value) in &stored.headers {
        assert!(value == &request.headers[name] || value == REDACTED, "{name}");
    }
    let _ = (
        request.raw_query(),
        request.query_params(),
        request.body_kind(),
    );
    let _ = request.bearer_token();
});
