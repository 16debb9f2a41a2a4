//! `vis-doc-example-2020-07` (copied into `tests/fixtures/vonage_business/`, source kept): the
//! canonical string and signature match, through the header and the body; semantic changes fail,
//! changes the canonical form removes (key order, whitespace) still pass.

use serde_json::Value as Json;
use switchboard_core::providers::vonage_business::canonical::{canonical_json, HexCase};
use switchboard_core::providers::vonage_business::{compute, verify_signature, SIGNATURE_HEADER};
use switchboard_core::{Provider, Signer, WebhookError};

use crate::support::{now, post, provider, provider_with};

const VECTORS: &str = include_str!("../fixtures/vonage_business/signature-vectors.json");

struct Vector {
    key: String,
    /// The event as the fixture lists it (not sorted).
    event: String,
    signature: String,
    signed_string: String,
}

fn vector() -> Vector {
    let document: Json = serde_json::from_str(VECTORS).expect("fixture is JSON");
    let entry = document["vectors"]
        .as_array()
        .expect("vector list")
        .iter()
        .find(|entry| entry["id"] == "vis-doc-example-2020-07")
        .expect("the documentation vector");
    Vector {
        key: entry["inputs"]["signingKey"].as_str().unwrap().to_owned(),
        event: entry["inputs"]["event"].to_string(),
        signature: entry["expected"]["signature"].as_str().unwrap().to_owned(),
        signed_string: entry["signed_string"].as_str().unwrap().to_owned(),
    }
}

fn header_request(body: &str, signature: &str) -> switchboard_core::CapturedRequest {
    post(body).with_header("X-VON-Signature", signature)
}

fn assert_invalid(result: Result<(), WebhookError>, change: &str) {
    assert!(
        matches!(result, Err(WebhookError::InvalidSignature(_))),
        "{change}: {result:?}"
    );
}

#[test]
fn the_canonical_string_and_signature_match_the_vector() {
    let vector = vector();
    assert_eq!(
        canonical_json(&vector.event, HexCase::Lower).unwrap(),
        vector.signed_string
    );
    assert_eq!(
        compute(&vector.key, &vector.signed_string),
        vector.signature
    );
    assert_eq!(
        verify_signature(
            &vector.event,
            &vector.signature,
            &[switchboard_core::secret::Secret::new(&vector.key)]
        ),
        Ok(())
    );
}

#[test]
fn the_vector_verifies_through_the_header_and_the_body() {
    let vector = vector();
    let header = header_request(
        &format!(r#"{{"event":{}}}"#, vector.event),
        &vector.signature,
    );
    assert!(provider().verify(&header, now()).is_ok());

    let body = format!(
        r#"{{"event":{},"metadata":{{"attempt":1,"deliveryId":"d-1","signature":"{}","webhookId":"w-1"}}}}"#,
        vector.event, vector.signature
    );
    assert!(provider().verify(&post(&body), now()).is_ok());
    // Upper-case hex is the same signature.
    let upper = header_request(
        &format!(r#"{{"event":{}}}"#, vector.event),
        &vector.signature.to_uppercase(),
    );
    assert!(provider().verify(&upper, now()).is_ok());
}

#[test]
fn reordered_keys_and_whitespace_still_verify() {
    let vector = vector();
    let pretty = format!(
        "{{\n  \"metadata\": {{\"deliveryId\": \"d-2\"}},\n  \"event\": {}\n}}",
        serde_json::to_string_pretty(&serde_json::from_str::<Json>(&vector.event).unwrap())
            .unwrap()
    );
    assert!(provider()
        .verify(&header_request(&pretty, &vector.signature), now())
        .is_ok());
    // Sorted order (the signed string itself) and reversed order.
    let sorted = format!(r#"{{"event":{}}}"#, vector.signed_string);
    assert!(provider()
        .verify(&header_request(&sorted, &vector.signature), now())
        .is_ok());
}

#[test]
fn a_changed_value_an_added_field_or_a_changed_type_fail() {
    let vector = vector();
    for (change, event) in [
        ("state", vector.event.replace("ANSWERED", "MISSED")),
        ("duration", vector.event.replace("2950", "2951")),
        (
            "duration as a string",
            vector.event.replace("2950", "\"2950\""),
        ),
        ("number text", vector.event.replace("2950", "2950.0")),
        (
            "added field",
            vector.event.replacen('{', r#"{"extra":1,"#, 1),
        ),
        (
            "removed field",
            vector.event.replace(r#""type":"CALL","#, ""),
        ),
    ] {
        let request = header_request(&format!(r#"{{"event":{event}}}"#), &vector.signature);
        assert_invalid(provider().verify(&request, now()).map(|_| ()), change);
    }
}

#[test]
fn a_wrong_key_or_signature_fails_and_rotation_works() {
    let vector = vector();
    let body = format!(r#"{{"event":{}}}"#, vector.event);
    let request = header_request(&body, &vector.signature);
    assert_invalid(
        provider_with(&["wrongkey"])
            .verify(&request, now())
            .map(|_| ()),
        "wrong key",
    );
    assert!(provider_with(&["old", &vector.key])
        .verify(&request, now())
        .is_ok());
    let mut flipped = vector.signature.clone().into_bytes();
    flipped[0] = if flipped[0] == b'9' { b'8' } else { b'9' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_invalid(
        provider()
            .verify(&header_request(&body, &flipped), now())
            .map(|_| ()),
        "changed signature",
    );
    assert_invalid(
        provider()
            .verify(&header_request(&body, "abc"), now())
            .map(|_| ()),
        "short signature",
    );
    // The header wins over the body's field.
    let both = format!(
        r#"{{"event":{},"metadata":{{"signature":"{}"}}}}"#,
        vector.event, vector.signature
    );
    assert_invalid(
        provider()
            .verify(&header_request(&both, &flipped), now())
            .map(|_| ()),
        "wrong header, right body signature",
    );
}

#[test]
fn requests_without_a_signature_or_event_are_refused() {
    let vector = vector();
    let error = provider()
        .verify(&post(&format!(r#"{{"event":{}}}"#, vector.event)), now())
        .unwrap_err();
    assert!(matches!(error, WebhookError::MissingSignature(_)));
    let error = provider()
        .verify(
            &header_request(r#"{"metadata":{}}"#, &vector.signature),
            now(),
        )
        .unwrap_err();
    assert_eq!(error, WebhookError::MissingField("event"));
    for body in [r#"{"event":[1]}"#, r#"{"event":{},"event":{}}"#, "[]", "{"] {
        let error = provider()
            .verify(&header_request(body, &vector.signature), now())
            .unwrap_err();
        assert_eq!(error.code(), "malformed_request", "{body}");
    }
    let form = header_request("event=1", &vector.signature)
        .with_header("content-type", "application/x-www-form-urlencoded");
    assert_eq!(
        provider().verify(&form, now()).unwrap_err().code(),
        "unsupported_content_type"
    );
}

#[test]
fn sign_then_verify_round_trips_and_sets_the_header() {
    let vector = vector();
    let body = format!(r#"{{"event":{}}}"#, vector.event);
    let signed = provider().sign(&post(&body), now()).unwrap();
    assert_eq!(
        signed.header(SIGNATURE_HEADER),
        Some(vector.signature.as_str())
    );
    let event = r#"{"id":"x","state":"RINGING","callerId":"Zoë \"Z\" \\ \u001f /","n":1.50}"#;
    let tricky = format!(r#"{{"event":{event}}}"#);
    let signed = provider().sign(&post(&tricky), now()).unwrap();
    assert!(provider().verify(&signed, now()).is_ok());
    // A Jackson-style upper-case escape verifies too.
    let canonical = canonical_json(event, HexCase::Upper).unwrap();
    assert!(canonical.contains("\\u001F") && canonical.contains("1.50"));
    let jackson =
        post(&tricky).with_header(SIGNATURE_HEADER, &compute(crate::support::KEY, &canonical));
    assert!(provider().verify(&jackson, now()).is_ok());
}
