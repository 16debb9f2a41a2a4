//! Every `vonage-sms` and `vonage-jwt` vector of the project's fixtures (copied into
//! `tests/fixtures/vonage/`, sources kept per entry) gives its expected verdict, and every valid
//! one is flipped by tampering.

use serde_json::Value as Json;
use switchboard_core::providers::vonage::{sms, voice, SmsMethod};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Kind, Provider, Status, WebhookError};

use crate::support::{
    assert_invalid_signature, assert_malformed, at, change_one_byte, pairs, request, vonage_with,
    Transport, TOLERANCE_SECONDS, TRANSPORTS,
};

const SMS_VECTORS: &str = include_str!("../fixtures/vonage/sms-signature-vectors.json");
const JWT_VECTORS: &str = include_str!("../fixtures/vonage/jwt-vectors.json");

fn vectors(file: &str) -> Vec<Json> {
    let mut document: Json = serde_json::from_str(file).expect("fixture is JSON");
    match document["vectors"].take() {
        Json::Array(vectors) => vectors,
        other => panic!("fixture has no vector list: {other}"),
    }
}

/// A `vonage-sms` vector, read from its fixture entry.
#[derive(Debug)]
struct SmsVector {
    id: String,
    secret: String,
    /// The parameters without `sig` (numbers in their JSON text).
    params: Vec<(String, String)>,
    sig: Option<String>,
    method: Option<SmsMethod>,
    /// `Some(true)`/`Some(false)` for a stated verdict; `None` for the timestamp-window entry,
    /// whose verdict depends on `now`.
    valid: Option<bool>,
    signed_string: Option<String>,
}

impl SmsVector {
    fn from_json(entry: &Json) -> Self {
        let text = |value: &Json| match value {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        let inputs = &entry["inputs"];
        let all_params: Vec<(String, String)> = inputs["params"]
            .as_object()
            .expect("params")
            .iter()
            .map(|(key, value)| (key.clone(), text(value)))
            .collect();
        let expected = &entry["expected"];
        let sig = all_params
            .iter()
            .find(|(key, _)| key == "sig")
            .map(|(_, value)| value.clone())
            .or_else(|| expected["sig"].as_str().map(str::to_owned));
        let verdict = expected["result"].as_str().or(expected.as_str());
        Self {
            id: entry["id"].as_str().expect("id").to_owned(),
            secret: inputs["signature_secret"]
                .as_str()
                .expect("secret")
                .to_owned(),
            params: all_params
                .into_iter()
                .filter(|(key, _)| key != "sig")
                .collect(),
            sig,
            method: entry["algorithm"].as_str().map(|name| {
                name.trim_end_matches(" (HMAC)")
                    .parse()
                    .expect("a method name")
            }),
            valid: match verdict {
                Some("valid") => Some(true),
                Some("invalid") => Some(false),
                _ => None,
            },
            signed_string: entry["signed_string"].as_str().map(str::to_owned),
        }
    }

    fn with_sig(&self, sig: &str) -> Vec<(String, String)> {
        let mut params = self.params.clone();
        params.push(("sig".into(), sig.to_owned()));
        params
    }

    fn timestamp(&self) -> Option<i64> {
        self.params
            .iter()
            .find(|(key, _)| key == "timestamp")
            .map(|(_, value)| value.parse().expect("numeric timestamp"))
    }

    fn has_blank_value(&self) -> bool {
        self.params.iter().any(|(_, value)| value.trim().is_empty())
    }
}

/// One changed byte in a value: its first character replaced by one that is neither the same
/// nor one of the characters the scheme folds together (`&`, `=`, `_`).
/// What a tampering must lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// The signature no longer matches.
    InvalidSignature,
    /// Refused before any hash: a parameter name holds `&` or `=`.
    Malformed,
    /// The Java SDK's string (blank values skipped) still matches: the receipt must then be
    /// refused or be the very same event as the original.
    RefusedOrSameEvent,
}

/// The parameters changed in one way, and what the change must lead to.
struct Tampering {
    change: &'static str,
    params: Vec<(String, String)>,
    expected: Expected,
}

/// The same parameters, each changed in one way.
fn tamperings(params: &[(String, String)]) -> Vec<Tampering> {
    let target = params
        .iter()
        .position(|(key, value)| key != "sig" && key != "timestamp" && !value.trim().is_empty())
        .expect("a non-blank parameter to tamper with");
    let mut changed = params.to_vec();
    changed[target].1 = change_one_byte(&changed[target].1);
    let mut added = params.to_vec();
    added.push(("extra".into(), "1".into()));
    let mut removed = params.to_vec();
    removed.remove(target);
    let mut blank_added = params.to_vec();
    blank_added.push(("zz".into(), String::new()));
    let merged = two_parameters_in_one_name(params);
    let tampering = |change, params, expected| Tampering {
        change,
        params,
        expected,
    };
    [
        tampering(
            "one byte of a value changed",
            changed,
            Expected::InvalidSignature,
        ),
        tampering("a parameter added", added, Expected::InvalidSignature),
        tampering("a parameter removed", removed, Expected::InvalidSignature),
        tampering(
            "a blank parameter added",
            blank_added,
            Expected::RefusedOrSameEvent,
        ),
    ]
    .into_iter()
    .chain(merged.map(|merged| {
        tampering(
            "two parameters merged into one name",
            merged,
            Expected::Malformed,
        )
    }))
    .collect()
}

/// Two parameters adjacent in the signed string, `k1=v1` and `k2=v2`, sent as one parameter
/// named `k1=v1&k2` with the value `v2`: the string to sign reads the same. `None` when no such
/// pair exists (`timestamp` is left alone so that the webhook check reaches the signature).
fn two_parameters_in_one_name(params: &[(String, String)]) -> Option<Vec<(String, String)>> {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(key, _)| key != "sig").collect();
    sorted.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
    let pair = sorted.windows(2).find(|pair| {
        pair.iter().all(|(key, value)| {
            key != "timestamp" && !value.trim().is_empty() && !value.contains(['&', '='])
        })
    })?;
    let (first, second) = (pair[0].clone(), pair[1].clone());
    let mut merged: Vec<_> = params
        .iter()
        .filter(|param| **param != first && **param != second)
        .cloned()
        .collect();
    merged.push((format!("{}={}&{}", first.0, first.1, second.0), second.1));
    Some(merged)
}

#[test]
fn every_sms_vector_gives_its_expected_verdict_and_tampering_flips_it() {
    let all = vectors(SMS_VECTORS);
    assert_eq!(all.len(), 22);
    let mut checked = 0;
    for entry in &all {
        let vector = SmsVector::from_json(entry);
        match (vector.valid, vector.sig.as_deref()) {
            (Some(true), Some(sig)) => check_valid_sms_vector(&vector, sig),
            (Some(false), Some(sig)) => check_invalid_sms_vector(&vector, sig),
            (None, None) => check_timestamp_window_vector(&vector),
            other => panic!("{}: unexpected vector shape {other:?}", vector.id),
        }
        checked += 1;
    }
    assert_eq!(checked, all.len());
}

fn check_valid_sms_vector(vector: &SmsVector, sig: &str) {
    let id = &vector.id;
    let method = vector.method.expect("valid vectors name their method");
    let params = vector.with_sig(sig);
    let secrets = [Secret::new(vector.secret.as_str())];

    // Canonical string, then the crypto on its own.
    let string = if vector.has_blank_value() {
        sms::signed_string_skipping_blank(&params)
    } else {
        sms::signed_string(&params)
    };
    if let Some(expected) = &vector.signed_string {
        assert_eq!(&string, expected, "{id}: signed string");
    }
    assert!(
        sms::compute(method, &vector.secret, &string).eq_ignore_ascii_case(sig),
        "{id}: computed signature"
    );

    // Signature level: inferred and configured method, either case.
    for presented in [sig.to_ascii_lowercase(), sig.to_ascii_uppercase()] {
        let params = vector.with_sig(&presented);
        assert_eq!(
            sms::verify_signature(&params, &secrets, None),
            Ok(()),
            "{id}"
        );
        assert_eq!(
            sms::verify_signature(&params, &secrets, Some(method)),
            Ok(()),
            "{id}"
        );
    }
    for tampering in tamperings(&params) {
        let verdict = sms::verify_signature(&tampering.params, &secrets, None);
        let context = format!("{id}: {}", tampering.change);
        match tampering.expected {
            Expected::InvalidSignature => assert_invalid_signature(verdict, &context),
            Expected::Malformed => assert_malformed(verdict, &context),
            // The signature alone says nothing about events: judged by the webhook check below.
            Expected::RefusedOrSameEvent => {}
        }
    }
    let wrong_secret = [Secret::new(format!("{}x", vector.secret))];
    assert_invalid_signature(
        sms::verify_signature(&params, &wrong_secret, None),
        &format!("{id}: wrong secret"),
    );

    // The webhook check needs a secret (an empty one is "not configured") and a timestamp.
    if vector.secret.is_empty() {
        return;
    }
    let provider = vonage_with(&[&vector.secret], None);
    let Some(timestamp) = vector.timestamp() else {
        assert_eq!(
            provider
                .verify(&request(Transport::Query, &params), at(0))
                .err(),
            Some(WebhookError::MissingSignedField("timestamp")),
            "{id}"
        );
        return;
    };
    let now = at(timestamp);
    for transport in TRANSPORTS {
        let verdict = provider
            .verify(&request(transport, &params), now)
            .map(|_| ());
        assert_eq!(verdict, Ok(()), "{id} via {transport:?}");
    }
    let rotated = vonage_with(&["an old secret", &vector.secret], None);
    assert!(
        rotated
            .verify(&request(Transport::Query, &params), now)
            .is_ok(),
        "{id}"
    );
    let configured = vonage_with(&[&vector.secret], Some(method));
    assert!(
        configured
            .verify(&request(Transport::Form, &params), now)
            .is_ok(),
        "{id}"
    );

    let original = provider.receive(&request(Transport::Query, &params), now);
    for tampering in tamperings(&params) {
        let tampered = request(Transport::Query, &tampering.params);
        let context = format!("{id}: {}", tampering.change);
        match tampering.expected {
            Expected::InvalidSignature => {
                assert_invalid_signature(provider.verify(&tampered, now).map(|_| ()), &context);
            }
            Expected::Malformed => {
                assert_malformed(provider.verify(&tampered, now).map(|_| ()), &context);
            }
            Expected::RefusedOrSameEvent => {
                if let Ok(events) = provider.receive(&tampered, now) {
                    assert_eq!(Ok(events), original, "{context}");
                }
            }
        }
    }
    let wrong = vonage_with(&["wrong secret"], None);
    let verdict = wrong
        .verify(&request(Transport::Query, &params), now)
        .map(|_| ());
    assert_invalid_signature(verdict, &format!("{id}: wrong secret"));
    let edge = i64::from(TOLERANCE_SECONDS);
    for (offset, fresh) in [
        (edge, true),
        (-edge, true),
        (edge + 1, false),
        (-edge - 1, false),
    ] {
        let verdict = provider
            .verify(&request(Transport::Query, &params), at(timestamp + offset))
            .map(|_| ());
        if fresh {
            assert!(verdict.is_ok(), "{id}: now = timestamp {offset:+}");
        } else {
            assert_eq!(
                verdict.err(),
                Some(WebhookError::TimestampOutOfTolerance(timestamp.to_string())),
                "{id}: now = timestamp {offset:+}"
            );
        }
    }
}

fn check_invalid_sms_vector(vector: &SmsVector, sig: &str) {
    let params = vector.with_sig(sig);
    let secrets = [Secret::new(vector.secret.as_str())];
    assert_invalid_signature(sms::verify_signature(&params, &secrets, None), &vector.id);
    let timestamp = vector
        .timestamp()
        .expect("the invalid vector is timestamped");
    let verdict = vonage_with(&[&vector.secret], None)
        .verify(&request(Transport::Query, &params), at(timestamp))
        .map(|_| ());
    assert_invalid_signature(verdict, &vector.id);
}

/// `vonage-sms-java-timestamp-window`: the Java SDK's vector for the ±5 minute window. It states
/// no signature; its inputs are those of `vonage-sms-java-md5`, whose signature it must have.
fn check_timestamp_window_vector(vector: &SmsVector) {
    assert_eq!(vector.id, "vonage-sms-java-timestamp-window");
    let sig = sms::compute(
        SmsMethod::Md5,
        &vector.secret,
        &sms::signed_string(&vector.params),
    );
    assert_eq!(sig, "e0afe267aefd6dd18a848c1681517a19");
    let params = vector.with_sig(&sig);
    let provider = vonage_with(&[&vector.secret], None);
    for now in [2100, 2400, 1800] {
        let verdict = provider
            .verify(&request(Transport::Query, &params), at(now))
            .map(|_| ());
        assert!(verdict.is_ok(), "now = {now}: {verdict:?}");
    }
    for now in [2401, 1799] {
        let verdict = provider
            .verify(&request(Transport::Query, &params), at(now))
            .map(|_| ());
        assert_eq!(
            verdict.err(),
            Some(WebhookError::TimestampOutOfTolerance("2100".into())),
            "now = {now}"
        );
    }
}

fn jwt_vector(id: &str) -> Json {
    vectors(JWT_VECTORS)
        .into_iter()
        .find(|entry| entry["id"] == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

fn token_of(entry: &Json) -> String {
    let inputs = &entry["inputs"];
    match (inputs["token"].as_str(), inputs["authorization"].as_str()) {
        (Some(token), _) => token.to_owned(),
        (None, Some(header)) => header.trim_start_matches("Bearer ").to_owned(),
        (None, None) => panic!("vector has no token"),
    }
}

fn secret_of(entry: &Json) -> String {
    entry["inputs"]["signature_secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

/// One character of one part of the token replaced (the first, so base64 stays decodable).
fn tamper_part(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[part] = change_one_byte(&parts[part]);
    parts.join(".")
}

#[test]
fn the_jwt_fixture_holds_exactly_the_vectors_tested_here() {
    let ids: Vec<String> = vectors(JWT_VECTORS)
        .iter()
        .map(|entry| entry["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "vonage-jwt-valid-secret",
            "vonage-jwt-python-valid",
            "vonage-jwt-derived-with-payload-hash"
        ]
    );
}

fn assert_signature_only_vector_holds(entry: &Json) -> voice::Claims {
    let token = token_of(entry);
    let secret = Secret::new(secret_of(entry));
    let claims = voice::verify_jwt_signature(&token, std::slice::from_ref(&secret))
        .expect("valid signature");
    let rotated = [Secret::new("an old secret"), secret];
    assert_eq!(
        voice::verify_jwt_signature(&token, &rotated),
        Ok(claims.clone())
    );
    assert!(matches!(
        voice::verify_jwt_signature(&token, &[Secret::new("wrong")]),
        Err(WebhookError::InvalidSignature(_))
    ));
    for part in [1, 2] {
        assert!(
            matches!(
                voice::verify_jwt_signature(&tamper_part(&token, part), &rotated),
                Err(WebhookError::InvalidSignature(_))
            ),
            "part {part} tampered"
        );
    }
    claims
}

#[test]
fn vonage_jwt_valid_secret_signature_holds_but_its_unknown_body_does_not() {
    let entry = jwt_vector("vonage-jwt-valid-secret");
    let claims = assert_signature_only_vector_holds(&entry);
    let decoded = &entry["decoded_claims"];
    assert_eq!(claims.issued_at, decoded["iat"].as_i64());
    assert_eq!(claims.jti.as_deref(), decoded["jti"].as_str());
    assert_eq!(claims.issuer.as_deref(), decoded["iss"].as_str());
    assert_eq!(
        claims.payload_hash.as_deref(),
        decoded["payload_hash"].as_str()
    );
    assert_eq!(claims.api_key.as_deref(), decoded["api_key"].as_str());
    assert_eq!(
        claims.application_id.as_deref(),
        decoded["application_id"].as_str()
    );

    // The full webhook check still binds the token to a body: whatever body we send (the real
    // one is unknown), the hash does not match.
    let provider = vonage_with(&[&secret_of(&entry)], None);
    let authorization = format!("Bearer {}", token_of(&entry));
    let iat = at(decoded["iat"].as_i64().expect("iat"));
    for body in ["", "{}", r#"{"uuid":"x","status":"completed"}"#] {
        let request = CapturedRequest::new("POST", "https://h.example/webhooks/vonage")
            .with_header("content-type", "application/json")
            .with_header("authorization", &authorization)
            .with_body(body);
        assert_eq!(
            provider.verify(&request, iat).err(),
            Some(WebhookError::PayloadHashMismatch),
            "body {body:?}"
        );
    }
}

#[test]
fn vonage_jwt_python_valid_signature_holds_and_iat_rules_apply() {
    let entry = jwt_vector("vonage-jwt-python-valid");
    let claims = assert_signature_only_vector_holds(&entry);
    // Not a real Vonage token: `iss` is not required.
    assert_eq!(claims.issuer.as_deref(), Some("Online JWT Builder"));
    assert_eq!(claims.payload_hash, None);
    let iat = claims.issued_at.expect("iat");

    let provider = vonage_with(&[&secret_of(&entry)], None);
    let get = CapturedRequest::new(
        "GET",
        "https://h.example/webhooks/vonage?uuid=u&status=ringing",
    )
    .with_header("authorization", &format!("Bearer {}", token_of(&entry)));
    // No `payload_hash` is accepted for an empty body (GET events), within the window, but
    // a GET token must carry the `jti` that holds it to one event, and this one has none …
    assert_eq!(claims.jti, None);
    for offset in [0, i64::from(TOLERANCE_SECONDS)] {
        assert_eq!(
            provider.verify(&get, at(iat + offset)).err(),
            Some(WebhookError::MissingSignedField("jti"))
        );
    }
    assert_eq!(
        provider
            .verify(&get, at(iat + i64::from(TOLERANCE_SECONDS) + 1))
            .err(),
        Some(WebhookError::TimestampOutOfTolerance(iat.to_string()))
    );
    assert_eq!(
        provider
            .verify(&get, at(iat - i64::from(TOLERANCE_SECONDS) - 1))
            .err(),
        Some(WebhookError::TimestampOutOfTolerance(iat.to_string()))
    );
    // … but not for a body it does not cover.
    let post = CapturedRequest::new("POST", "https://h.example/webhooks/vonage")
        .with_header("authorization", &format!("Bearer {}", token_of(&entry)))
        .with_header("content-type", "application/json")
        .with_body(r#"{"uuid":"u","status":"ringing"}"#);
    assert_eq!(
        provider.verify(&post, at(iat)).err(),
        Some(WebhookError::MissingSignedField("payload_hash"))
    );
}

fn derived_request(entry: &Json, body: &[u8]) -> CapturedRequest {
    CapturedRequest::new("POST", "https://hooks.example.com/webhooks/vonage")
        .with_header("content-type", "application/json")
        .with_header(
            "authorization",
            entry["inputs"]["authorization"].as_str().expect("header"),
        )
        .with_body(body.to_vec())
}

#[test]
fn vonage_jwt_derived_with_payload_hash_is_valid_end_to_end_and_bound_to_every_byte() {
    let entry = jwt_vector("vonage-jwt-derived-with-payload-hash");
    assert_signature_only_vector_holds(&entry);
    let provider = vonage_with(&[&secret_of(&entry)], None);
    let body = entry["inputs"]["raw_body"]
        .as_str()
        .expect("body")
        .as_bytes();
    let now = at(entry["inputs"]["now_unix"].as_i64().expect("now"));
    assert_eq!(now, at(1_577_880_000));

    let events = provider
        .receive(&derived_request(&entry, body), now)
        .expect("valid");
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.kind, Kind::Call);
    assert_eq!(event.subject_id, "aaaaaaaa-bbbb-cccc-dddd-0123456789ab");
    assert_eq!(event.status, Some(Status::Completed));
    assert_eq!(event.details.duration_seconds, Some(2));
    assert_eq!(event.details.price.as_deref(), Some("0.00015000"));
    assert_eq!(event.details.currency.as_deref(), Some("EUR"));
    // The event id is the body hash, which the token also carries as `payload_hash`.
    assert_eq!(event.event_id, "vonage:ca70ec4f124f4314d811ea1e88940a07");

    for index in 0..body.len() {
        let mut tampered = body.to_vec();
        tampered[index] ^= 0x01;
        assert_eq!(
            provider
                .verify(&derived_request(&entry, &tampered), now)
                .err(),
            Some(WebhookError::PayloadHashMismatch),
            "byte {index} changed"
        );
    }
    let mut longer = body.to_vec();
    longer.push(b' ');
    assert_eq!(
        provider
            .verify(&derived_request(&entry, &longer), now)
            .err(),
        Some(WebhookError::PayloadHashMismatch)
    );

    for far in [at(1_577_880_000 + 301), at(1_577_880_000 - 301), at(0)] {
        assert_eq!(
            provider.verify(&derived_request(&entry, body), far).err(),
            Some(WebhookError::TimestampOutOfTolerance("1577880000".into()))
        );
    }
    let wrong = vonage_with(&["wrong"], None);
    assert!(matches!(
        wrong.verify(&derived_request(&entry, body), now),
        Err(WebhookError::InvalidSignature(_))
    ));
}

#[test]
fn the_empty_secret_vector_is_checked_at_the_signature_level() {
    let entry = vectors(SMS_VECTORS)
        .into_iter()
        .find(|entry| entry["id"] == "vonage-sms-inbound-md5hash-empty-secret")
        .expect("vector");
    let vector = SmsVector::from_json(&entry);
    let params = vector.with_sig(vector.sig.as_deref().expect("sig"));
    assert_eq!(
        sms::verify_signature(&params, &[Secret::new("")], None),
        Ok(())
    );
    // An empty secret cannot be configured: the list parser drops it.
    assert!(Secret::parse_list("").is_empty());
}

#[test]
fn sms_vector_parameters_signed_as_json_numbers_keep_their_text() {
    let entry = vectors(SMS_VECTORS)
        .into_iter()
        .find(|entry| entry["id"] == "vonage-sms-py-md5hmac")
        .expect("vector");
    let vector = SmsVector::from_json(&entry);
    let sig = vector.sig.clone().expect("sig");
    let body =
        format!(r#"{{"param1":"value1","param2":"value2","timestamp":1234567890,"sig":"{sig}"}}"#);
    let request = CapturedRequest::new("POST", "https://h.example/webhooks/vonage")
        .with_header("content-type", "application/json")
        .with_body(body);
    assert_eq!(
        sms::request_params(&request).expect("flat JSON"),
        pairs(&[
            ("param1", "value1"),
            ("param2", "value2"),
            ("timestamp", "1234567890"),
            ("sig", &sig)
        ])
    );
    let provider = vonage_with(&[&vector.secret], None);
    assert!(provider.verify(&request, at(1_234_567_890)).is_ok());
}
