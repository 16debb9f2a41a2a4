//! The `telnyx-derived-rfc8032-key` vector (copied into `tests/fixtures/telnyx/`, source kept)
//! gives its verdict, its listed mutations and every other tampering fail, and the window holds
//! in both directions.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value as Json;
use switchboard_core::providers::telnyx::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use switchboard_core::{CapturedRequest, Kind, Provider, Signer, Status, WebhookError};

use crate::support::{
    at, telnyx_with, DEV_PUBLIC, RFC8032_PUBLIC, RFC8032_SEED, TOLERANCE_SECONDS, URL,
};

const VECTORS: &str = include_str!("../fixtures/telnyx/signature-vectors.json");

struct Vector {
    public_key: String,
    timestamp: String,
    signature: String,
    body: String,
    now: i64,
}

fn vector() -> Vector {
    let document: Json = serde_json::from_str(VECTORS).expect("fixture is JSON");
    let entry = document["vectors"]
        .as_array()
        .expect("vector list")
        .iter()
        .find(|entry| entry["id"] == "telnyx-derived-rfc8032-key")
        .expect("the derived vector");
    assert_eq!(entry["expected"], "valid");
    let inputs = &entry["inputs"];
    let text = |value: &Json| value.as_str().expect("a string").to_owned();
    Vector {
        public_key: text(&inputs["public_key_base64"]),
        timestamp: text(&inputs["headers"]["telnyx-timestamp"]),
        signature: text(&inputs["headers"]["telnyx-signature-ed25519"]),
        body: text(&inputs["raw_body"]),
        now: inputs["now_unix"].as_i64().expect("now_unix"),
    }
}

impl Vector {
    fn request(&self) -> CapturedRequest {
        CapturedRequest::new("POST", URL)
            .with_header("Content-Type", "application/json")
            .with_header("Telnyx-Timestamp", &self.timestamp)
            .with_header("Telnyx-Signature-Ed25519", &self.signature)
            .with_body(self.body.clone())
    }
}

fn verify(request: &CapturedRequest, now: i64) -> Result<(), WebhookError> {
    telnyx_with(&[RFC8032_PUBLIC], None)
        .verify(request, at(now))
        .map(|_| ())
}

fn assert_invalid(result: Result<(), WebhookError>, change: &str) {
    assert!(
        matches!(result, Err(WebhookError::InvalidSignature(_))),
        "{change}: {result:?}"
    );
}

#[test]
fn the_vector_key_is_rfc8032_test_1() {
    assert_eq!(vector().public_key, RFC8032_PUBLIC);
}

#[test]
fn the_vector_is_valid_and_normalizes() {
    let vector = vector();
    let request = vector.request();
    assert_eq!(verify(&request, vector.now), Ok(()));

    let provider = telnyx_with(&[RFC8032_PUBLIC], None);
    let events = provider.receive(&request, at(vector.now)).expect("valid");
    let event = &events[0];
    assert_eq!(event.kind, Kind::Call);
    assert_eq!(event.subject_id, "428c31b6-7af4-4bcb-b7f5-5013ef9657c1");
    assert_eq!(
        event.event_id,
        "telnyx:0ccc7b54-4df3-4bca-a65a-3da1ecc777f0"
    );
    assert_eq!(event.status, Some(Status::Rejected));
    assert_eq!(event.provider_status, "call.hangup");
    assert_eq!(event.details.detail.as_deref(), Some("call_rejected"));
    assert_eq!(event.details.extra["sip_hangup_cause"], "603");
    assert_eq!(event.details.extra["hangup_source"], "caller");
    assert_eq!(
        event.aliases,
        ["v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg"]
    );
    assert_eq!(
        event.session_id.as_deref(),
        Some("428c31b6-7af4-4bcb-b7f5-5013ef9657c1")
    );
    assert_eq!(
        event.occurred_at.map(|at| at.to_string()).as_deref(),
        Some("2018-02-02T22:25:27.521Z")
    );
}

#[test]
fn signing_with_the_vector_key_reproduces_its_signature() {
    let vector = vector();
    let unsigned = CapturedRequest::new("POST", URL)
        .with_header("content-type", "application/json")
        .with_body(vector.body.clone());
    let provider = telnyx_with(&[RFC8032_PUBLIC], Some(RFC8032_SEED));
    let signed = provider.sign(&unsigned, at(vector.now)).expect("signed");
    assert_eq!(
        signed.header(TIMESTAMP_HEADER),
        Some(vector.timestamp.as_str())
    );
    assert_eq!(
        signed.header(SIGNATURE_HEADER),
        Some(vector.signature.as_str())
    );
}

#[test]
fn the_listed_mutations_are_invalid() {
    let vector = vector();
    let mut spaced = vector.request();
    spaced.body.push(b' ');
    assert_invalid(verify(&spaced, vector.now), "append one space to raw_body");

    let later = vector.request().with_header(TIMESTAMP_HEADER, "1700000001");
    assert_invalid(verify(&later, vector.now), "telnyx-timestamp = 1700000001");

    assert!(matches!(
        verify(&vector.request(), 1_700_000_301),
        Err(WebhookError::TimestampOutOfTolerance(_))
    ));
}

#[test]
fn the_window_is_inclusive_and_holds_both_ways() {
    let vector = vector();
    let request = vector.request();
    let tolerance = i64::from(TOLERANCE_SECONDS);
    for now in [vector.now - tolerance, vector.now + tolerance] {
        assert_eq!(verify(&request, now), Ok(()), "now = {now}");
    }
    for now in [vector.now - tolerance - 1, vector.now + tolerance + 1] {
        let error = verify(&request, now).unwrap_err();
        assert_eq!(
            error,
            WebhookError::TimestampOutOfTolerance("1700000000".into()),
            "now = {now}"
        );
        assert_eq!(error.code(), "timestamp_out_of_tolerance");
    }
}

#[test]
fn every_single_byte_change_of_the_body_is_invalid() {
    let vector = vector();
    let original = vector.request();
    for index in 0..original.body.len() {
        let mut changed = original.clone();
        changed.body[index] ^= 0x01;
        assert_invalid(verify(&changed, vector.now), &format!("byte {index}"));
    }
    let mut shorter = original.clone();
    shorter.body.pop();
    assert_invalid(verify(&shorter, vector.now), "last byte removed");
}

#[test]
fn a_wrong_key_a_changed_signature_or_a_malleated_one_are_invalid() {
    let vector = vector();
    let request = vector.request();
    assert_invalid(
        telnyx_with(&[DEV_PUBLIC], None)
            .verify(&request, at(vector.now))
            .map(|_| ()),
        "wrong key",
    );
    // Rotation: any configured key may match.
    assert!(telnyx_with(&[DEV_PUBLIC, RFC8032_PUBLIC], None)
        .verify(&request, at(vector.now))
        .is_ok());

    let signature = BASE64.decode(&vector.signature).unwrap();
    for index in [0, 31, 32, 63] {
        let mut changed = signature.clone();
        changed[index] ^= 0x80;
        let request = request
            .clone()
            .with_header(SIGNATURE_HEADER, &BASE64.encode(&changed));
        assert_invalid(
            verify(&request, vector.now),
            &format!("signature byte {index}"),
        );
    }

    // `S + L` verifies under a lax check; `verify_strict` refuses the non-canonical scalar.
    let order: [u8; 32] =
        hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
    let mut malleated = signature.clone();
    let mut carry = 0u16;
    for index in 0..32 {
        let sum = u16::from(malleated[32 + index]) + u16::from(order[index]) + carry;
        malleated[32 + index] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    let request = request
        .clone()
        .with_header(SIGNATURE_HEADER, &BASE64.encode(&malleated));
    assert_invalid(verify(&request, vector.now), "S + L");

    for garbage in ["", "not base64!", "AAAA", &BASE64.encode([0u8; 65])] {
        let request = vector.request().with_header(SIGNATURE_HEADER, garbage);
        let result = verify(&request, vector.now);
        if garbage.is_empty() {
            assert!(matches!(result, Err(WebhookError::MissingSignature(_))));
        } else {
            assert_invalid(result, garbage);
        }
    }
}

#[test]
fn missing_headers_are_missing_signatures() {
    let vector = vector();
    for header in [SIGNATURE_HEADER, TIMESTAMP_HEADER] {
        let mut request = vector.request();
        request.headers.remove(header);
        let error = verify(&request, vector.now).unwrap_err();
        assert!(
            matches!(error, WebhookError::MissingSignature(_)),
            "{header}: {error:?}"
        );
        assert_eq!(error.code(), "missing_signature");
    }
}

#[test]
fn a_timestamp_that_is_not_a_number_is_refused_after_the_signature() {
    let vector = vector();
    // Unsigned garbage: the signature fails first, so nothing is said about the window.
    let request = vector.request().with_header(TIMESTAMP_HEADER, "soon");
    assert_invalid(verify(&request, vector.now), "timestamp `soon`");
    // Correctly signed garbage is malformed.
    let provider = telnyx_with(&[RFC8032_PUBLIC], Some(RFC8032_SEED));
    let key =
        switchboard_core::providers::telnyx::TelnyxConfig::parse_signing_key(RFC8032_SEED).unwrap();
    let mut signed = telnyx::sign_with(&vector.request(), &key, at(vector.now));
    let signature = {
        use ed25519_dalek::Signer as _;
        key.sign(&telnyx::signed_message("soon", &signed.body))
    };
    signed.set_header(TIMESTAMP_HEADER, "soon");
    signed.set_header(SIGNATURE_HEADER, &BASE64.encode(signature.to_bytes()));
    assert!(matches!(
        provider.verify(&signed, at(vector.now)),
        Err(WebhookError::Malformed(_))
    ));
}

#[test]
fn errors_never_carry_the_signature_and_cap_what_they_echo() {
    let vector = vector();
    let long = "9".repeat(500);
    let key =
        switchboard_core::providers::telnyx::TelnyxConfig::parse_signing_key(RFC8032_SEED).unwrap();
    let signature = {
        use ed25519_dalek::Signer as _;
        key.sign(&telnyx::signed_message(&long, vector.body.as_bytes()))
    };
    let request = vector
        .request()
        .with_header(TIMESTAMP_HEADER, &long)
        .with_header(SIGNATURE_HEADER, &BASE64.encode(signature.to_bytes()));
    let error = verify(&request, vector.now).unwrap_err();
    assert!(error.to_string().len() < 150, "{error}");
    let wrong = verify(&vector.request(), vector.now + 1000).unwrap_err();
    let bad = telnyx_with(&[DEV_PUBLIC], None)
        .verify(&vector.request(), at(vector.now))
        .unwrap_err();
    for error in [error, wrong, bad] {
        assert!(
            !error.to_string().contains(&vector.signature[..12]),
            "{error}"
        );
    }
}
