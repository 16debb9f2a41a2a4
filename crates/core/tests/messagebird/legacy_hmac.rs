//! The `messagebird-legacy-*` vectors (deprecated `MessageBird-Signature` scheme; copied into
//! `tests/fixtures/messagebird/`, sources kept) verify as a fallback when no JWT is present, and
//! every one is flipped by tampering.

use serde_json::Value as Json;
use switchboard_core::providers::messagebird::legacy_hmac;
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Provider, WebhookError};

use crate::support::{at, messagebird_with, TOLERANCE_SECONDS};

const VECTORS: &str = include_str!("../fixtures/messagebird/legacy-hmac-vectors.json");
const BASE: &str = "https://hooks.example.com/webhooks/messagebird";

struct Vector {
    id: String,
    key: String,
    timestamp: String,
    signature: String,
    query: String,
    body: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let document: Json = serde_json::from_str(VECTORS).expect("fixture is JSON");
    document["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|entry| {
            let inputs = &entry["inputs"];
            let text = |value: &Json| value.as_str().expect("string").to_owned();
            assert_eq!(entry["source"]["repo"], "messagebird/go-rest-api");
            Vector {
                id: text(&entry["id"]),
                key: text(&inputs["signing_key"]),
                timestamp: text(&inputs["headers"]["MessageBird-Request-Timestamp"]),
                signature: text(&inputs["headers"]["MessageBird-Signature"]),
                query: text(&inputs["query_string"]),
                body: text(&inputs["body"]).into_bytes(),
            }
        })
        .collect()
}

fn request(url: &str, timestamp: &str, signature: &str, body: &[u8]) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("MessageBird-Request-Timestamp", timestamp)
        .with_header("MessageBird-Signature", signature)
        .with_body(body.to_vec())
}

fn url(query: &str) -> String {
    if query.is_empty() {
        BASE.to_owned()
    } else {
        format!("{BASE}?{query}")
    }
}

#[test]
fn every_legacy_vector_verifies_and_tampering_flips_it() {
    let all = vectors();
    assert_eq!(all.len(), 3);
    for vector in &all {
        let id = &vector.id;
        let now = at(vector.timestamp.parse().expect("unix seconds"));
        let key = Secret::new(vector.key.as_str());
        assert_eq!(
            legacy_hmac::signature(&key, &vector.timestamp, &vector.query, &vector.body),
            vector.signature,
            "{id}: computed signature"
        );
        let verify = |secret: &str, url: &str, timestamp: &str, body: &[u8], now| {
            messagebird_with(&[secret])
                .verify(&request(url, timestamp, &vector.signature, body), now)
                .map(|_| ())
        };
        let (secret, timestamp, body) = (
            vector.key.as_str(),
            vector.timestamp.as_str(),
            vector.body.as_slice(),
        );
        let valid_url = url(&vector.query);
        assert_eq!(
            verify(secret, &valid_url, timestamp, body, now),
            Ok(()),
            "{id}"
        );
        assert!(
            messagebird_with(&["old", secret])
                .verify(
                    &request(&valid_url, timestamp, &vector.signature, body),
                    now
                )
                .is_ok(),
            "{id}: rotation"
        );

        // The query is re-encoded with sorted keys: order does not matter, values do.
        if !vector.query.is_empty() {
            let reordered: Vec<&str> = vector.query.split('&').rev().collect();
            assert_eq!(
                verify(secret, &url(&reordered.join("&")), timestamp, body, now),
                Ok(()),
                "{id}: reordered"
            );
            assert!(
                matches!(
                    verify(
                        secret,
                        &url(&vector.query.replacen("foo", "fop", 1)),
                        timestamp,
                        body,
                        now
                    ),
                    Err(WebhookError::InvalidSignature(_))
                ),
                "{id}: value"
            );
            assert!(
                matches!(
                    verify(secret, BASE, timestamp, body, now),
                    Err(WebhookError::InvalidSignature(_))
                ),
                "{id}: query removed"
            );
        }
        assert!(
            matches!(
                verify(
                    secret,
                    &url(&format!("{}&x=1", vector.query)),
                    timestamp,
                    body,
                    now
                ),
                Err(WebhookError::InvalidSignature(_))
            ),
            "{id}: param added"
        );
        // The scheme does not sign the URL's host or path.
        assert_eq!(
            verify(
                secret,
                &valid_url.replace("hooks.example.com", "elsewhere.example"),
                timestamp,
                body,
                now
            ),
            Ok(()),
            "{id}: host"
        );

        for index in 0..body.len() {
            let mut tampered = body.to_vec();
            tampered[index] ^= 0x01;
            assert!(
                matches!(
                    verify(secret, &valid_url, timestamp, &tampered, now),
                    Err(WebhookError::InvalidSignature(_))
                ),
                "{id}: body byte {index}"
            );
        }
        assert!(
            matches!(
                verify(secret, &valid_url, timestamp, b"x", now),
                Err(WebhookError::InvalidSignature(_))
            ),
            "{id}: body"
        );
        assert!(
            matches!(
                verify(&format!("{secret}x"), &valid_url, timestamp, body, now),
                Err(WebhookError::InvalidSignature(_))
            ),
            "{id}: key"
        );
        let later = (now.unix_seconds() + 1).to_string();
        assert!(
            matches!(
                verify(secret, &valid_url, &later, body, now),
                Err(WebhookError::InvalidSignature(_))
            ),
            "{id}: timestamp header"
        );

        let tolerance = i64::from(TOLERANCE_SECONDS);
        for ok in [-tolerance, tolerance] {
            assert_eq!(
                verify(
                    secret,
                    &valid_url,
                    timestamp,
                    body,
                    at(now.unix_seconds() + ok)
                ),
                Ok(()),
                "{id}"
            );
        }
        for far in [-tolerance - 1, tolerance + 1] {
            assert_eq!(
                verify(
                    secret,
                    &valid_url,
                    timestamp,
                    body,
                    at(now.unix_seconds() + far)
                ),
                Err(WebhookError::TimestampOutOfTolerance(timestamp.to_owned())),
                "{id}"
            );
        }
    }
}

#[test]
fn the_jwt_header_takes_precedence_and_missing_headers_are_named() {
    let vector = vectors().remove(0);
    let now = at(vector.timestamp.parse().expect("unix seconds"));
    let provider = messagebird_with(&[&vector.key]);
    let with_jwt = request(
        &url(&vector.query),
        &vector.timestamp,
        &vector.signature,
        &vector.body,
    )
    .with_header("MessageBird-Signature-JWT", "not.a.jwt");
    assert!(matches!(
        provider.verify(&with_jwt, now),
        Err(WebhookError::InvalidSignature(_))
    ));
    let no_timestamp = CapturedRequest::new("POST", &url(&vector.query))
        .with_header("MessageBird-Signature", &vector.signature)
        .with_body(vector.body.clone());
    assert_eq!(
        provider.verify(&no_timestamp, now).err(),
        Some(WebhookError::MissingSignedField(
            "MessageBird-Request-Timestamp"
        ))
    );
    let unsigned = CapturedRequest::new("POST", &url(&vector.query)).with_body(vector.body.clone());
    assert!(matches!(
        provider.verify(&unsigned, now),
        Err(WebhookError::MissingSignature(_))
    ));
}
