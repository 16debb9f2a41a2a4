//! All 43 cases of the MessageBird `MessageBird-Signature-JWT` reference set (copied into
//! `tests/fixtures/messagebird/`, source kept) give their verdict through the core function and
//! through `Provider::verify`; every valid case is flipped by tampering.

use serde_json::Value as Json;
use switchboard_core::providers::messagebird::jwt::{self, Algorithm};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Provider, Timestamp, WebhookError};

use crate::support::messagebird_with;

const REFERENCE: &str = include_str!("../fixtures/messagebird/signature-jwt-reference.json");

#[derive(Debug)]
struct Case {
    name: String,
    method: String,
    secret: String,
    url: String,
    body: Vec<u8>,
    now: Timestamp,
    token: String,
    valid: bool,
    reason: Option<String>,
}

fn cases() -> Vec<Case> {
    let document: Json = serde_json::from_str(REFERENCE).expect("fixture is JSON");
    assert_eq!(
        document["source"]["commit"],
        "e0a41ed5af761d3bf62a0cafb918cd90b5834d02"
    );
    let text = |case: &Json, key: &str| case[key].as_str().map(str::to_owned);
    document["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| Case {
            name: text(case, "name").expect("name"),
            method: text(case, "method").expect("method"),
            secret: text(case, "secret").unwrap_or_default(),
            url: text(case, "url").expect("url"),
            body: text(case, "payload").unwrap_or_default().into_bytes(),
            now: Timestamp::parse_rfc3339(case["timestamp"].as_str().expect("timestamp"))
                .expect("RFC 3339"),
            token: text(case, "token").expect("token"),
            valid: case["valid"].as_bool().expect("valid"),
            reason: text(case, "reason"),
        })
        .collect()
}

fn core_verdict(
    case: &Case,
    secret: &str,
    url: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), WebhookError> {
    jwt::verify_signature_jwt(
        &case.method,
        url,
        body,
        &case.token,
        &[Secret::new(secret)],
        now,
    )
    .map(|_| ())
}

fn request(case: &Case, url: &str, body: &[u8]) -> CapturedRequest {
    CapturedRequest::new(&case.method, url)
        .with_header("MessageBird-Signature-JWT", &case.token)
        .with_body(body.to_vec())
}

fn provider_verdict(
    case: &Case,
    secret: &str,
    url: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), WebhookError> {
    messagebird_with(&[secret])
        .verify(&request(case, url, body), now)
        .map(|_| ())
}

/// The error Switchboard gives for each of the reference implementation's reasons.
fn expected_error(reason: &str) -> WebhookError {
    match reason.trim_start_matches("invalid jwt: ") {
        "claim nbf is in the future" => {
            WebhookError::TimestampOutOfTolerance("nbf 1625482800".into())
        }
        "claim exp is in the past" => {
            WebhookError::TimestampOutOfTolerance("exp 1625475660".into())
        }
        "claim url_hash is invalid" => {
            WebhookError::InvalidSignature("JWT claim `url_hash` does not match the URL".into())
        }
        "claim payload_hash is invalid"
        | "claim payload_hash is set but actual payload is missing" => {
            WebhookError::PayloadHashMismatch
        }
        "claim payload_hash is not set but payload is present" => {
            WebhookError::MissingSignedField("payload_hash")
        }
        "signature is invalid" => {
            WebhookError::InvalidSignature("JWT signature matches no configured signing key".into())
        }
        "signing method none is invalid" => WebhookError::UnsupportedAlgorithm("none".into()),
        other => panic!("unexpected reason {other:?}"),
    }
}

#[test]
fn all_43_reference_cases_give_their_verdict_through_the_core_and_the_provider() {
    let cases = cases();
    assert_eq!(cases.len(), 43);
    let mut valid = 0;
    for case in &cases {
        let core = core_verdict(case, &case.secret, &case.url, &case.body, case.now);
        let provider = provider_verdict(case, &case.secret, &case.url, &case.body, case.now);
        if case.valid {
            assert_eq!(core, Ok(()), "{}", case.name);
            valid += 1;
        } else {
            let expected =
                expected_error(case.reason.as_deref().expect("invalid cases give a reason"));
            assert_eq!(core, Err(expected), "{}", case.name);
        }
        assert_eq!(provider, core, "{}: provider and core agree", case.name);
    }
    assert_eq!(valid, 23);
}

#[test]
fn the_reference_tokens_use_every_accepted_algorithm() {
    let algorithms: Vec<Algorithm> = cases()
        .iter()
        .filter(|case| case.valid)
        .map(|case| {
            jwt::verify_token_signature(&case.token, &[Secret::new(case.secret.as_str())])
                .expect("valid")
                .algorithm
        })
        .collect();
    for algorithm in [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512] {
        assert!(algorithms.contains(&algorithm), "{algorithm:?}");
    }
}

fn change_one_char(text: &str, index: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'x' { b'y' } else { b'x' };
    String::from_utf8(bytes).expect("ASCII")
}

#[test]
fn every_valid_case_fails_when_body_url_key_token_or_time_changes() {
    for case in cases().iter().filter(|case| case.valid) {
        let name = &case.name;
        let verdict = |secret: &str, url: &str, body: &[u8], now: Timestamp| {
            let core = core_verdict(case, secret, url, body, now);
            assert_eq!(
                provider_verdict(case, secret, url, body, now),
                core,
                "{name}: provider and core agree"
            );
            core
        };
        let (secret, url, body, now) = (
            case.secret.as_str(),
            case.url.as_str(),
            case.body.as_slice(),
            case.now,
        );

        // One byte of the body (every byte), or a byte added / the body removed.
        for index in 0..body.len() {
            let mut tampered = body.to_vec();
            tampered[index] ^= 0x01;
            assert_eq!(
                verdict(secret, url, &tampered, now),
                Err(WebhookError::PayloadHashMismatch),
                "{name}: body byte {index}"
            );
        }
        let mut longer = body.to_vec();
        longer.push(b' ');
        assert!(
            verdict(secret, url, &longer, now).is_err(),
            "{name}: byte added"
        );
        if !body.is_empty() {
            assert_eq!(
                verdict(secret, url, b"", now),
                Err(WebhookError::PayloadHashMismatch),
                "{name}: body removed"
            );
        }

        // The URL: every character, a query added, the host, the scheme.
        for index in 0..url.len() {
            assert!(
                verdict(secret, &change_one_char(url, index), body, now).is_err(),
                "{name}: URL char {index}"
            );
        }
        for other in [
            format!("{url}&x=1"),
            format!("{url}?"),
            url.replacen("https", "http", 1),
            url.replacen("example.com", "example.org", 1),
        ] {
            assert!(
                matches!(
                    verdict(secret, &other, body, now),
                    Err(WebhookError::InvalidSignature(_))
                ),
                "{name}: {other}"
            );
        }

        // The key.
        for other in [
            format!("{secret}x"),
            secret[1..].to_owned(),
            secret.to_ascii_uppercase(),
            String::new(),
        ] {
            assert!(
                matches!(
                    verdict(&other, url, body, now),
                    Err(WebhookError::InvalidSignature(_))
                ),
                "{name}: key"
            );
        }

        // The time: one second of skew either side of nbf .. exp, no more.
        let claims =
            jwt::verify_token_signature(&case.token, &[Secret::new(secret)]).expect("valid");
        let (nbf, exp) = (
            claims.not_before.expect("nbf"),
            claims.expires.expect("exp"),
        );
        assert_eq!(exp - nbf, 60, "{name}");
        for ok in [nbf - 1, nbf, exp, exp + 1] {
            assert_eq!(
                verdict(secret, url, body, Timestamp::from_unix_seconds(ok)),
                Ok(()),
                "{name}: at {ok}"
            );
        }
        for late in [nbf - 2, exp + 2, 0] {
            assert!(
                matches!(
                    verdict(secret, url, body, Timestamp::from_unix_seconds(late)),
                    Err(WebhookError::TimestampOutOfTolerance(_))
                ),
                "{name}: at {late}"
            );
        }

        // The token: one character of its signature, or its header swapped for another alg.
        let (signing_input, signature) = case.token.rsplit_once('.').expect("three parts");
        let tampered_case = Case {
            token: format!("{signing_input}.{}", change_one_char(signature, 3)),
            ..clone_case(case)
        };
        assert!(
            matches!(
                core_verdict(&tampered_case, secret, url, body, now),
                Err(WebhookError::InvalidSignature(_))
            ),
            "{name}: signature char"
        );
    }
}

fn clone_case(case: &Case) -> Case {
    Case {
        name: case.name.clone(),
        method: case.method.clone(),
        secret: case.secret.clone(),
        url: case.url.clone(),
        body: case.body.clone(),
        now: case.now,
        token: case.token.clone(),
        valid: case.valid,
        reason: case.reason.clone(),
    }
}

#[test]
fn the_method_is_not_signed_and_rotation_accepts_any_key() {
    let case = cases()
        .into_iter()
        .find(|case| case.valid && case.method == "POST" && !case.body.is_empty())
        .expect("a POST case");
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let other = Case {
            method: method.to_owned(),
            ..clone_case(&case)
        };
        assert_eq!(
            provider_verdict(&other, &case.secret, &case.url, &case.body, case.now),
            Ok(()),
            "{method}"
        );
    }
    let rotated = messagebird_with(&["an old key", &case.secret]);
    assert!(rotated
        .verify(&request(&case, &case.url, &case.body), case.now)
        .is_ok());
    let wrong = messagebird_with(&["an old key"]);
    assert!(wrong
        .verify(&request(&case, &case.url, &case.body), case.now)
        .is_err());
}

#[test]
fn a_token_with_the_none_algorithm_is_refused_whatever_the_key() {
    let case = cases()
        .into_iter()
        .find(|case| case.name.starts_with("none alg"))
        .expect("case");
    for secret in [
        "",
        "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb",
    ] {
        assert_eq!(
            core_verdict(&case, secret, &case.url, &case.body, case.now),
            Err(WebhookError::UnsupportedAlgorithm("none".into()))
        );
    }
}
