//! No input makes the provider panic, and signing and verifying agree on any event.

use proptest::prelude::*;
use switchboard_core::providers::vonage_business::canonical::MAX_DEPTH;
use switchboard_core::providers::vonage_business::SIGNATURE_HEADER;
use switchboard_core::{CapturedRequest, ErrorClass, Provider, Signer, WebhookError};

use crate::support::{now, post, proptest_config, provider, URL};

/// A JSON value of a few levels with any strings, keys and number texts.
fn any_json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "\\PC{0,8}".prop_map(|text| serde_json::Value::String(text).to_string()),
        "-?[0-9]{1,20}(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
        Just("true".to_owned()),
        Just("null".to_owned()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(" , "))),
            prop::collection::vec(("\\PC{0,6}", inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(key, value)| format!("{} : {value}", serde_json::Value::String(key)))
                    .collect();
                format!("{{ {} }}", members.join(",\n"))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn any_event_signs_then_verifies_and_never_panics(
        event in any_json(),
        extra in "\\PC{0,6}",
    ) {
        let body = format!(r#"{{"event": {{"id": "x", "state": "RINGING", "v": {event}, "w": {} }}}}"#,
            serde_json::Value::String(extra));
        let provider = provider();
        match provider.sign(&post(&body), now()) {
            Ok(signed) => {
                prop_assert!(provider.verify(&signed, now()).is_ok());
                let _ = provider.receive(&signed, now());
            }
            // Only a repeated key (ambiguous) is refused.
            Err(error) => prop_assert_eq!(error.class(), ErrorClass::Malformed),
        }
    }

    #[test]
    fn arbitrary_bytes_and_signatures_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..80),
        signature in prop::option::of("\\PC{0,80}"),
    ) {
        let mut request = CapturedRequest::new("POST", URL)
            .with_header("content-type", "application/json")
            .with_body(body);
        if let Some(signature) = signature {
            request.set_header(SIGNATURE_HEADER, &signature);
        }
        prop_assert!(provider().receive(&request, now()).is_err());
    }
}

/// A body whose `event` nests `depth` levels (the event object is the first), with a signature
/// that matches nothing.
fn nested_body(depth: usize) -> CapturedRequest {
    let event = format!(
        r#"{{"id":"x","state":"RINGING","v":{}"\u0001"{}}}"#,
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    );
    post(&format!(r#"{{"event":{event}}}"#)).with_header(SIGNATURE_HEADER, &"0".repeat(64))
}

#[test]
fn an_event_nested_deeper_than_the_limit_is_refused_before_the_signature_is_checked() {
    let at_limit = provider()
        .verify(&nested_body(MAX_DEPTH), now())
        .unwrap_err();
    assert_eq!(at_limit.class(), ErrorClass::Unauthorized);
    for depth in [MAX_DEPTH + 1, 127, 100_000] {
        let error = provider().verify(&nested_body(depth), now()).unwrap_err();
        assert_eq!(
            error,
            WebhookError::Malformed(format!("`event` is nested deeper than {MAX_DEPTH} levels")),
            "{depth}"
        );
        assert_eq!(error.code(), "malformed_request");
    }
}

#[test]
fn an_event_at_the_limit_signs_verifies_and_normalizes() {
    let provider = provider();
    let signed = provider.sign(&nested_body(MAX_DEPTH), now()).unwrap();
    let events = provider.receive(&signed, now()).unwrap();
    assert_eq!(events[0].subject_id, "x");
}
