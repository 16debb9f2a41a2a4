//! No input makes the provider panic, and signing and verifying agree on any event.

use proptest::prelude::*;
use switchboard_core::providers::vonage_business::SIGNATURE_HEADER;
use switchboard_core::{CapturedRequest, ErrorClass, Provider, Signer};

use crate::support::{now, post, provider, URL};

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
