//! `bird-derived-1` (copied into `tests/fixtures/bird/`, source kept) verifies, and every change
//! of body, URL, key or timestamp fails.

use serde_json::Value as Json;
use switchboard_core::providers::bird;
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Provider, Timestamp, WebhookError};

use crate::support::provider;

const VECTORS: &str = include_str!("../fixtures/bird/signature-vectors.json");

struct Vector {
    key: String,
    url: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

fn vector() -> Vector {
    let document: Json = serde_json::from_str(VECTORS).expect("fixture is JSON");
    let entries = document["vectors"].as_array().expect("vectors");
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["id"], "bird-derived-1");
    let inputs = &entry["inputs"];
    let text = |value: &Json| value.as_str().expect("string").to_owned();
    Vector {
        key: text(&inputs["signingKey"]),
        url: text(&inputs["request_url"]),
        timestamp: text(&inputs["headers"]["messagebird-request-timestamp"]),
        signature: text(&inputs["headers"]["messagebird-signature"]),
        body: text(&inputs["raw_body"]).into_bytes(),
    }
}

fn request(url: &str, timestamp: &str, signature: &str, body: &[u8]) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/json")
        .with_header("messagebird-request-timestamp", timestamp)
        .with_header("messagebird-signature", signature)
        .with_body(body.to_vec())
}

#[test]
fn bird_derived_1_verifies_and_every_mutation_fails() {
    let v = vector();
    let now = Timestamp::from_unix_seconds(v.timestamp.parse().expect("seconds"));
    let key = Secret::new(v.key.as_str());
    assert_eq!(
        bird::signature(&key, &v.timestamp, &v.url, &v.body),
        v.signature
    );
    let verify = |secret: &str, url: &str, timestamp: &str, body: &[u8], now| {
        let core = bird::verify_signature(
            &v.signature,
            timestamp,
            url,
            body,
            &[Secret::new(secret)],
            300,
            now,
        );
        let through_provider = provider(&[secret])
            .verify(&request(url, timestamp, &v.signature, body), now)
            .map(|_| ());
        assert_eq!(core, through_provider);
        core
    };
    assert_eq!(verify(&v.key, &v.url, &v.timestamp, &v.body, now), Ok(()));
    assert!(provider(&["old", &v.key])
        .verify(&request(&v.url, &v.timestamp, &v.signature, &v.body), now)
        .is_ok());

    let invalid = |result: Result<(), WebhookError>, what: &str| {
        assert!(
            matches!(result, Err(WebhookError::InvalidSignature(_))),
            "{what}: {result:?}"
        );
    };
    for index in 0..v.body.len() {
        let mut body = v.body.clone();
        body[index] ^= 0x01;
        invalid(
            verify(&v.key, &v.url, &v.timestamp, &body, now),
            &format!("body byte {index}"),
        );
    }
    invalid(
        verify(&v.key, &v.url, &v.timestamp, b"", now),
        "body removed",
    );
    for index in 0..v.url.len() {
        let mut url = v.url.clone().into_bytes();
        url[index] = if url[index] == b'x' { b'y' } else { b'x' };
        invalid(
            verify(
                &v.key,
                &String::from_utf8(url).expect("ASCII"),
                &v.timestamp,
                &v.body,
                now,
            ),
            &format!("URL char {index}"),
        );
    }
    for url in [
        format!("{}?x=1", v.url),
        format!("{}/", v.url),
        v.url.replacen("https", "http", 1),
    ] {
        invalid(verify(&v.key, &url, &v.timestamp, &v.body, now), &url);
    }
    for key in [format!("{}x", v.key), v.key.to_lowercase(), String::new()] {
        invalid(verify(&key, &v.url, &v.timestamp, &v.body, now), "key");
    }
    let later = (now.unix_seconds() + 1).to_string();
    invalid(
        verify(&v.key, &v.url, &later, &v.body, now),
        "timestamp header",
    );
    invalid(
        verify(&v.key, &v.url, &format!(" {}", v.timestamp), &v.body, now),
        "timestamp bytes",
    );
    for ok in [-300, 300] {
        assert_eq!(
            verify(
                &v.key,
                &v.url,
                &v.timestamp,
                &v.body,
                Timestamp::from_unix_seconds(now.unix_seconds() + ok)
            ),
            Ok(())
        );
    }
    for far in [-301, 301] {
        assert_eq!(
            verify(
                &v.key,
                &v.url,
                &v.timestamp,
                &v.body,
                Timestamp::from_unix_seconds(now.unix_seconds() + far)
            ),
            Err(WebhookError::TimestampOutOfTolerance(v.timestamp.clone()))
        );
    }
}

#[test]
fn bird_derived_1_normalizes_from_the_payload_envelope() {
    let v = vector();
    let now = Timestamp::from_unix_seconds(v.timestamp.parse().expect("seconds"));
    let events = provider(&[&v.key])
        .receive(&request(&v.url, &v.timestamp, &v.signature, &v.body), now)
        .expect("valid");
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.subject_id, "123e4567-e89b-12d3-a456-426614174000");
    assert_eq!(event.status, Some(switchboard_core::Status::Completed));
    assert_eq!(event.details.duration_seconds, Some(12));
    assert_eq!(
        event.direction,
        Some(switchboard_core::model::Direction::Outbound)
    );
    assert_eq!(
        event.details.extra["channelId"],
        "b827924e-9789-4c2f-a4d5-b352175354f6"
    );
    assert!(event.event_id.starts_with("bird:"));
}

#[test]
fn missing_headers_are_named() {
    let v = vector();
    let now = Timestamp::from_unix_seconds(v.timestamp.parse().expect("seconds"));
    let bird = provider(&[&v.key]);
    let unsigned = CapturedRequest::new("POST", &v.url).with_body(v.body.clone());
    assert!(matches!(
        bird.verify(&unsigned, now),
        Err(WebhookError::MissingSignature(_))
    ));
    let no_time = unsigned
        .clone()
        .with_header("messagebird-signature", &v.signature);
    assert_eq!(
        bird.verify(&no_time, now).err(),
        Some(WebhookError::MissingSignedField(
            "messagebird-request-timestamp"
        ))
    );
}
