//! The CLI's captured-request reader (`CapturedRequest::from_json`): no panic; what it reads
//! writes back to a file that reads as the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
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
    let _ = (
        request.raw_query(),
        request.query_params(),
        request.body_kind(),
    );
    let _ = request.bearer_token();
});
