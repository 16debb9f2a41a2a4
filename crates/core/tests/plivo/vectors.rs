//! Every `plivo-*` vector of the project's fixtures (copied into `tests/fixtures/plivo/`, sources
//! kept per entry) gives its expected verdict, and every valid one is flipped by tampering.

use serde_json::Value as Json;
use switchboard_core::providers::plivo::signature;
use switchboard_core::{CapturedRequest, Kind, Provider, Status, WebhookError};

use crate::support::{
    assert_invalid_signature, change_one_byte, form_post, get, now, plivo_accepting_v2, plivo_with,
};

const VECTORS: &str = include_str!("../fixtures/plivo/signature-vectors.json");

fn vectors() -> Vec<Json> {
    let mut document: Json = serde_json::from_str(VECTORS).expect("fixture is JSON");
    match document["vectors"].take() {
        Json::Array(vectors) => vectors,
        other => panic!("fixture has no vector list: {other}"),
    }
}

fn vector(id: &str) -> Json {
    vectors()
        .into_iter()
        .find(|entry| entry["id"] == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

fn text<'a>(entry: &'a Json, pointer: &str) -> &'a str {
    entry
        .pointer(pointer)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("{}: no {pointer}", entry["id"]))
}

fn params_of(entry: &Json) -> Vec<(String, String)> {
    entry["inputs"]["params"]
        .as_object()
        .map(|object| {
            object
                .iter()
                .map(|(key, value)| (key.clone(), value.as_str().expect("text").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// A V3 vector as a request: `POST` form to the URL, or `GET` with the parameters appended.
fn v3_request(entry: &Json, params: &[(String, String)], url: &str) -> CapturedRequest {
    let request = match text(entry, "/inputs/method") {
        "POST" => form_post(url, params),
        "GET" => get(url, params),
        other => panic!("method {other}"),
    };
    request
        .with_header(
            "X-Plivo-Signature-V3",
            text(entry, "/inputs/header/X-Plivo-Signature-V3"),
        )
        .with_header(
            "X-Plivo-Signature-V3-Nonce",
            text(entry, "/inputs/header/X-Plivo-Signature-V3-Nonce"),
        )
}

#[test]
fn the_fixture_holds_every_plivo_vector_with_its_source() {
    let ids: Vec<String> = vectors()
        .iter()
        .map(|entry| entry["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "plivo-v3-pass1-post",
            "plivo-v3-pass2-get",
            "plivo-v2-valid",
            "plivo-v1-legacy",
            "plivo-v1-legacy-space",
        ]
    );
    for entry in vectors() {
        for field in ["repo", "path", "commit"] {
            assert!(entry["source"][field].is_string(), "{}", entry["id"]);
        }
    }
}

#[test]
fn v3_vectors_are_valid_and_every_tampering_fails() {
    for id in ["plivo-v3-pass1-post", "plivo-v3-pass2-get"] {
        let entry = vector(id);
        let token = text(&entry, "/inputs/auth_token");
        let url = text(&entry, "/inputs/url");
        let params = params_of(&entry);
        let nonce = text(&entry, "/inputs/header/X-Plivo-Signature-V3-Nonce");
        let presented = text(&entry, "/inputs/header/X-Plivo-Signature-V3");
        let provider = plivo_with(&[token]);
        let request = v3_request(&entry, &params, url);

        // The canonical string and the crypto alone.
        let signed = text(&entry, "/signed_string");
        let base = signed
            .strip_suffix(&format!(".{nonce}"))
            .expect("nonce suffix");
        assert_eq!(signature::v3(token, base, nonce), presented, "{id}");
        let query = request.query_params();
        let rebuilt = if request.method == "GET" {
            signature::v3_get_base(url, &query)
        } else {
            signature::v3_post_base(url, &query, &params)
        };
        assert_eq!(rebuilt, base, "{id}: base string");

        // Through the provider, normalized.
        let events = provider.receive(&request, now()).expect(id);
        assert_eq!(events[0].kind, Kind::Call);
        assert_eq!(events[0].subject_id, "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36");
        assert_eq!(events[0].status, Some(Status::InProgress));
        assert!(plivo_with(&["old token", token])
            .verify(&request, now())
            .is_ok());
        // The signature also verifies when sent as the main-account header, or among others.
        let mut as_main = request.clone();
        as_main.headers.remove("x-plivo-signature-v3");
        as_main.set_header("X-Plivo-Signature-Ma-V3", presented);
        assert!(provider.verify(&as_main, now()).is_ok(), "{id}: Ma-V3");
        let mut several = request.clone();
        several.set_header(
            "X-Plivo-Signature-V3",
            &format!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,{presented}"),
        );
        assert!(provider.verify(&several, now()).is_ok(), "{id}: list");

        // The key.
        assert_invalid_signature(
            plivo_with(&[&format!("{token}x")])
                .verify(&request, now())
                .map(|_| ()),
            &format!("{id}: key"),
        );
        // The URL: path, host, query.
        for tampered_url in [
            url.replace("validate_signature03", "validate_signature04"),
            url.replace("plivobin", "plivobim"),
            url.replace("a=b", "a=c"),
        ] {
            assert_invalid_signature(
                provider
                    .verify(&v3_request(&entry, &params, &tampered_url), now())
                    .map(|_| ()),
                &format!("{id}: url {tampered_url}"),
            );
        }
        // Each parameter value by one byte; one added; one removed.
        for index in 0..params.len() {
            let mut changed = params.clone();
            changed[index].1 = change_one_byte(&changed[index].1);
            assert_invalid_signature(
                provider
                    .verify(&v3_request(&entry, &changed, url), now())
                    .map(|_| ()),
                &format!("{id}: {} changed", params[index].0),
            );
        }
        let mut added = params.clone();
        added.push(("Extra".into(), "1".into()));
        let mut removed = params.clone();
        removed.pop();
        for (change, changed) in [("added", added), ("removed", removed)] {
            assert_invalid_signature(
                provider
                    .verify(&v3_request(&entry, &changed, url), now())
                    .map(|_| ()),
                &format!("{id}: parameter {change}"),
            );
        }
        // One byte of the form body.
        if request.method == "POST" {
            for index in 0..request.body.len() {
                let mut body = request.body.clone();
                body[index] = if body[index] == b'X' { b'Y' } else { b'X' };
                let tampered = request.clone().with_body(body);
                let verdict = provider.verify(&tampered, now()).map(|_| ());
                assert!(
                    matches!(
                        verdict,
                        Err(WebhookError::InvalidSignature(_) | WebhookError::Malformed(_))
                    ),
                    "{id}: body byte {index}: {verdict:?}"
                );
            }
        }
        // The nonce, the signature, and their absence.
        let mut other_nonce = request.clone();
        other_nonce.set_header("X-Plivo-Signature-V3-Nonce", &nonce.replace('3', "4"));
        assert_invalid_signature(provider.verify(&other_nonce, now()).map(|_| ()), id);
        // A nonce that is not digits is refused before any signature: `.` in it would move
        // the end of the signed parameters into the nonce.
        other_nonce.set_header("X-Plivo-Signature-V3-Nonce", &change_one_byte(nonce));
        assert_eq!(
            provider.verify(&other_nonce, now()).err(),
            Some(WebhookError::AmbiguousSignedString(
                "the nonce is not decimal digits"
            )),
            "{id}"
        );
        let mut other_signature = request.clone();
        other_signature.set_header("X-Plivo-Signature-V3", &change_one_byte(presented));
        assert_invalid_signature(provider.verify(&other_signature, now()).map(|_| ()), id);
        let mut no_nonce = request.clone();
        no_nonce.headers.remove("x-plivo-signature-v3-nonce");
        assert_eq!(
            provider.verify(&no_nonce, now()).err(),
            Some(WebhookError::MissingSignedField(
                "X-Plivo-Signature-V3-Nonce"
            ))
        );
        // Sent as a `GET`, the form body is not part of the signed string.
        if request.method == "POST" {
            let mut as_get = request.clone();
            as_get.method = "GET".into();
            assert_invalid_signature(provider.verify(&as_get, now()).map(|_| ()), id);
        }
    }
}

fn v2_request(entry: &Json, url: &str) -> CapturedRequest {
    form_post(
        url,
        &[
            ("MessageUUID".into(), "m-1".into()),
            ("Status".into(), "sent".into()),
        ],
    )
    .with_header(
        "X-Plivo-Signature-V2",
        text(entry, "/inputs/header/X-Plivo-Signature-V2"),
    )
    .with_header(
        "X-Plivo-Signature-V2-Nonce",
        text(entry, "/inputs/header/X-Plivo-Signature-V2-Nonce"),
    )
}

#[test]
fn v2_vector_is_refused_unless_v2_is_enabled() {
    let entry = vector("plivo-v2-valid");
    let token = text(&entry, "/inputs/auth_token");
    let request = v2_request(&entry, text(&entry, "/inputs/url"));
    let error = plivo_with(&[token]).verify(&request, now()).err();
    assert!(
        matches!(error, Some(WebhookError::MissingSignature(message)) if message.contains("PLIVO_ACCEPT_V2")),
        "{error:?}"
    );
}

#[test]
fn v2_vector_is_valid_as_a_fallback_and_tampering_fails() {
    let entry = vector("plivo-v2-valid");
    let token = text(&entry, "/inputs/auth_token");
    let url = text(&entry, "/inputs/url");
    let nonce = text(&entry, "/inputs/header/X-Plivo-Signature-V2-Nonce");
    let presented = text(&entry, "/inputs/header/X-Plivo-Signature-V2");
    assert_eq!(
        signature::v2(token, url, nonce),
        presented,
        "signed string {}",
        text(&entry, "/signed_string")
    );
    let provider = plivo_accepting_v2(&[token]);
    let request = v2_request(&entry, url);
    let events = provider.receive(&request, now()).expect("valid");
    assert_eq!(events[0].status, Some(Status::Sent));
    // V2 ignores the query (and the parameters: documented in the module).
    assert!(provider
        .verify(&v2_request(&entry, &format!("{url}?x=1")), now())
        .is_ok());

    assert_invalid_signature(
        plivo_accepting_v2(&["my_auth_tokem"])
            .verify(&request, now())
            .map(|_| ()),
        "key",
    );
    assert_invalid_signature(
        provider
            .verify(&v2_request(&entry, "https://answer.urk"), now())
            .map(|_| ()),
        "url",
    );
    let mut other_nonce = request.clone();
    other_nonce.set_header("X-Plivo-Signature-V2-Nonce", "12346");
    assert_invalid_signature(provider.verify(&other_nonce, now()).map(|_| ()), "nonce");
    // No downgrade: with a (wrong) V3 header present, a valid V2 is not consulted.
    let with_v3 = request
        .clone()
        .with_header("X-Plivo-Signature-V3", presented)
        .with_header("X-Plivo-Signature-V3-Nonce", nonce);
    assert_invalid_signature(provider.verify(&with_v3, now()).map(|_| ()), "downgrade");
}

#[test]
fn v1_legacy_vectors_compute_but_are_not_accepted() {
    for id in ["plivo-v1-legacy", "plivo-v1-legacy-space"] {
        let entry = vector(id);
        let token = text(&entry, "/inputs/auth_token");
        let url = text(&entry, "/inputs/url");
        let params = params_of(&entry);
        let expected = text(&entry, "/expected/signature");
        assert_eq!(signature::legacy_v1(token, url, &params), expected, "{id}");
        let request = form_post(url, &params).with_header("X-Plivo-Signature", expected);
        assert_eq!(
            plivo_with(&[token]).verify(&request, now()).err(),
            Some(WebhookError::MissingSignature(
                "only the legacy `X-Plivo-Signature` (V1), which is not accepted"
            )),
            "{id}"
        );
    }
}
