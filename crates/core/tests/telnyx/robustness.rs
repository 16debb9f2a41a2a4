//! No input makes the provider panic, signing and verifying agree on any body, and every
//! correctly signed request reaches `normalize`, which maps it or refuses it as a client error.

use proptest::prelude::*;
use switchboard_core::providers::telnyx::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use switchboard_core::{CapturedRequest, ErrorClass, Provider, Signer};

use crate::support::{any_content_type, now, proptest_config, telnyx, URL};

/// A body: a plausible Telnyx JSON event with random words, a form, or any bytes.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    let word = prop::sample::select(vec![
        "call.initiated",
        "call.hangup",
        "call.machine.detection.ended",
        "message.sent",
        "message.finalized",
        "conference.created",
        "",
    ]);
    prop_oneof![
        (word, "\\PC{0,12}", "\\PC{0,12}").prop_map(|(event_type, id, value)| {
            serde_json::json!({"data": {"event_type": event_type, "id": id, "occurred_at": value,
                "payload": {"call_leg_id": id, "hangup_cause": value, "id": id, "result": value,
                    "to": [{"status": value, "phone_number": id}], "from": {"phone_number": value}}}})
            .to_string()
            .into_bytes()
        }),
        "[A-Za-z=&%+0-9]{0,60}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..80),
    ]
}

fn request(content_type: Option<&str>, body: Vec<u8>) -> CapturedRequest {
    let request = CapturedRequest::new("POST", URL).with_body(body);
    match content_type {
        Some(content_type) => request.with_header("content-type", content_type),
        None => request,
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn arbitrary_headers_and_bodies_never_panic(
        content_type in any_content_type(),
        body in any_body(),
        signature in prop::option::of("\\PC{0,100}"),
        timestamp in prop::option::of("-?[0-9]{0,25}|\\PC{0,10}"),
    ) {
        let mut request = request(content_type, body);
        if let Some(signature) = signature {
            request.set_header(SIGNATURE_HEADER, &signature);
        }
        if let Some(timestamp) = timestamp {
            request.set_header(TIMESTAMP_HEADER, &timestamp);
        }
        let error = telnyx().receive(&request, now()).unwrap_err();
        prop_assert_eq!(error.class(), ErrorClass::Unauthorized, "{:?}", error);
    }

    #[test]
    fn every_signed_request_verifies_and_normalizes_or_is_refused_as_a_client_error(
        content_type in any_content_type(),
        body in any_body(),
    ) {
        let provider = telnyx();
        let signed = provider.sign(&request(content_type, body), now()).unwrap();
        let verified = provider.verify(&signed, now());
        prop_assert!(verified.is_ok(), "{:?}", verified.err());
        if let Err(error) = provider.receive(&signed, now()) {
            prop_assert!(
                matches!(error.class(), ErrorClass::Malformed | ErrorClass::UnsupportedMediaType),
                "{:?}", error
            );
            prop_assert!(error.to_string().chars().count() <= 200, "{}", error);
        }
    }
}

#[test]
fn signing_needs_a_configured_key() {
    let provider = crate::support::telnyx_with(&[crate::support::DEV_PUBLIC], None);
    let error = provider
        .sign(&request(Some("application/json"), b"{}".to_vec()), now())
        .unwrap_err();
    assert_eq!(error.code(), "missing_signature");
}

#[test]
fn the_development_pair_belongs_together() {
    use switchboard_core::providers::telnyx::TelnyxConfig;
    let seed = TelnyxConfig::parse_signing_key(crate::support::DEV_SEED).unwrap();
    let public = TelnyxConfig::parse_public_keys(crate::support::DEV_PUBLIC).unwrap();
    assert_eq!(public, [seed.verifying_key()]);
}
