//! The form / query parser: `parse_form` on arbitrary bytes, and `CapturedRequest::query_params`
//! (with `raw_query`) on an arbitrary URL. No panic, and the output is bounded by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::request::parse_form;
use switchboard_core::CapturedRequest;

/// Decoding never grows a byte by more than U+FFFD's 3 bytes.
fn check_bounded(params: &[(String, String)], input_len: usize) {
    let pieces = 1 + params.len();
    assert!(
        pieces <= input_len + 1,
        "{} pairs from {input_len} bytes",
        params.len()
    );
    let text: usize = params
        .iter()
        .map(|(key, value)| key.len() + value.len())
        .sum();
    assert!(
        text <= 3 * input_len,
        "{text} bytes of text from {input_len} bytes"
    );
}

fuzz_target!(|data: &[u8]| {
    let params = parse_form(data);
    check_bounded(&params, data.len());

    let url = format!("https://h.example/p?{}", String::from_utf8_lossy(data));
    let request = CapturedRequest::new("GET", &url);
    let raw_query = request.raw_query();
    assert!(!raw_query.contains('#'));
    assert!(url.contains(raw_query));
    let params = request.query_params();
    check_bounded(&params, raw_query.len());
    assert_eq!(params, parse_form(raw_query.as_bytes()));
});
