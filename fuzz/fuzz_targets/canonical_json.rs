//! The VIS canonical JSON (`vonage_business::canonical`): no panic; when it succeeds, the result
//! is JSON (a `Value` exactly when the input is), no longer than the input, a fixed point, and the two hex cases differ only when
//! `has_hex_escape` says they may.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;
use switchboard_core::providers::vonage_business::canonical::{
    canonical_json, has_hex_escape, HexCase,
};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let lower = canonical_json(raw, HexCase::Lower);
    let upper = canonical_json(raw, HexCase::Upper);
    assert_eq!(lower.is_ok(), upper.is_ok());
    let (Ok(lower), Ok(upper)) = (lower, upper) else {
        return;
    };
    assert!(
        lower.len() <= raw.len(),
        "{} bytes from {}",
        lower.len(),
        raw.len()
    );
    assert_eq!(lower.len(), upper.len());
    if !has_hex_escape(&lower) {
        assert_eq!(lower, upper);
    }
    // JSON syntax; a number beyond f64 (`2e77777777`) is kept as text, which serde_json's
    // `Value` refuses, so the canonical form is a `Value` exactly when the input is one.
    serde_json::from_str::<Box<RawValue>>(&lower).expect("the canonical form is JSON");
    assert_eq!(
        serde_json::from_str::<Value>(raw).is_ok(),
        serde_json::from_str::<Value>(&lower).is_ok()
    );
    assert_eq!(canonical_json(&lower, HexCase::Lower).as_ref(), Ok(&lower));
    assert_eq!(canonical_json(&upper, HexCase::Upper).as_ref(), Ok(&upper));
});
