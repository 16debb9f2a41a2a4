//! Every `twilio-*` vector of the project's fixtures (copied into `tests/fixtures/twilio/`, sources
//! kept per entry) gives its expected verdict, and every valid one is flipped by tampering.

use serde_json::Value as Json;
use switchboard_core::providers::twilio::signature;
use switchboard_core::{CapturedRequest, Provider, WebhookError};

use crate::support::{assert_invalid_signature, change_one_byte, form_post, now, twilio_with};

const VECTORS: &str = include_str!("../fixtures/twilio/signature-vectors.json");

fn vectors() -> Vec<Json> {
    let mut document: Json = serde_json::from_str(VECTORS).expect("fixture is JSON");
    match document["vectors"].take() {
        Json::Array(vectors) => vectors,
        other => panic!("fixture has no vector list: {other}"),
    }
}

/// A `twilio-*` vector, read from its fixture entry.
#[derive(Debug)]
struct Vector {
    id: String,
    token: String,
    url: String,
    /// Form parameters, a repeated name once per value (`None`: the vector has a body or nothing).
    params: Option<Vec<(String, String)>>,
    body: Option<String>,
    signature: String,
    valid: bool,
    signed_string: Option<String>,
}

impl Vector {
    fn from_json(entry: &Json) -> Self {
        let inputs = &entry["inputs"];
        let params = inputs["params"].as_object().map(|object| {
            object
                .iter()
                .flat_map(|(key, value)| match value {
                    Json::Array(values) => values
                        .iter()
                        .map(|value| (key.clone(), value.as_str().expect("text").to_owned()))
                        .collect::<Vec<_>>(),
                    other => vec![(key.clone(), other.as_str().expect("text").to_owned())],
                })
                .collect()
        });
        Self {
            id: entry["id"].as_str().expect("id").to_owned(),
            token: inputs["auth_token"].as_str().expect("token").to_owned(),
            url: inputs["url"].as_str().expect("url").to_owned(),
            params,
            body: inputs["body"].as_str().map(str::to_owned),
            signature: inputs["header"]["X-Twilio-Signature"]
                .as_str()
                .expect("signature")
                .to_owned(),
            valid: match entry["expected"].as_str() {
                Some("valid") => true,
                Some("invalid") => false,
                other => panic!("unexpected verdict {other:?}"),
            },
            signed_string: entry["signed_string"].as_str().map(str::to_owned),
        }
    }

    /// The request as Twilio sends it, with `url`, `params` and `body` in place of the vector's.
    fn request_with(
        &self,
        url: &str,
        params: Option<&[(String, String)]>,
        body: Option<&str>,
    ) -> CapturedRequest {
        let request = match (params, body) {
            (_, Some(body)) => CapturedRequest::new("POST", url)
                .with_header("content-type", "application/json")
                .with_body(body),
            (Some(params), None) => form_post(url, params),
            (None, None) => CapturedRequest::new("GET", url),
        };
        request.with_header("X-Twilio-Signature", &self.signature)
    }

    fn request(&self) -> CapturedRequest {
        self.request_with(&self.url, self.params.as_deref(), self.body.as_deref())
    }
}

/// One changed byte: the first character replaced by another.
#[test]
fn the_fixture_holds_every_twilio_vector() {
    let ids: Vec<String> = vectors()
        .iter()
        .map(|entry| entry["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "twilio-basic",
            "twilio-https-port-1234-stripped",
            "twilio-http-port-1234",
            "twilio-http-add-80",
            "twilio-multivalue-dedup-sorted",
            "twilio-url-with-credentials",
            "twilio-url-with-username",
            "twilio-json-body",
            "twilio-json-only-sha-param",
            "twilio-wrong-signature",
            "twilio-body-without-bodySHA256",
        ]
    );
    for entry in vectors() {
        let source = &entry["source"];
        for field in ["repo", "path", "commit"] {
            assert!(source[field].is_string(), "{}: source {field}", entry["id"]);
        }
    }
}

#[test]
fn every_vector_gives_its_expected_verdict_and_tampering_flips_it() {
    let all = vectors();
    let mut valid = 0;
    let mut invalid = 0;
    for entry in &all {
        let vector = Vector::from_json(entry);
        if vector.valid {
            check_valid(&vector);
            valid += 1;
        } else {
            check_invalid(&vector);
            invalid += 1;
        }
    }
    assert_eq!((valid, invalid), (9, 2));
}

fn check_valid(vector: &Vector) {
    let id = &vector.id;
    let provider = twilio_with(&[&vector.token]);
    let request = vector.request();
    assert!(provider.verify(&request, now()).is_ok(), "{id}");

    // The canonical string is one of the URL spellings tried, and the crypto alone matches.
    let signed = vector
        .signed_string
        .as_deref()
        .expect("valid vectors show it");
    assert_eq!(
        signature::compute(&vector.token, signed),
        vector.signature,
        "{id}: signature of the signed string"
    );
    let params = vector.params.clone().unwrap_or_default();
    let candidates: Vec<String> = signature::url_variants(&vector.url)
        .iter()
        .map(|url| signature::signed_string(url, &params))
        .collect();
    assert!(
        candidates.iter().any(|candidate| candidate == signed),
        "{id}"
    );

    // Rotation: the matching token need not be the first.
    let rotated = twilio_with(&["an old token", &vector.token]);
    assert!(rotated.verify(&request, now()).is_ok(), "{id}: rotated");

    // The key.
    let wrong = twilio_with(&[&format!("{}x", vector.token)]);
    assert_invalid_signature(
        wrong.verify(&request, now()).map(|_| ()),
        &format!("{id}: key"),
    );

    // The URL: one byte of the path, and the query.
    for url in [
        vector.url.replace("myapp", "myapq"),
        vector.url.replace("foo=1", "foo=2"),
        vector.url.replace("https://", "http://"),
    ] {
        if url == vector.url {
            continue;
        }
        let tampered = vector.request_with(&url, vector.params.as_deref(), vector.body.as_deref());
        assert_invalid_signature(
            provider.verify(&tampered, now()).map(|_| ()),
            &format!("{id}: url {url}"),
        );
    }

    // One parameter value, an added parameter, a removed one.
    if let Some(params) = &vector.params {
        let mut changed = params.clone();
        changed[0].1 = change_one_byte(&changed[0].1);
        let mut added = params.clone();
        added.push(("Extra".into(), "1".into()));
        let mut removed = params.clone();
        removed.remove(0);
        for (change, params) in [("value", changed), ("added", added), ("removed", removed)] {
            let tampered = vector.request_with(&vector.url, Some(&params), None);
            assert_invalid_signature(
                provider.verify(&tampered, now()).map(|_| ()),
                &format!("{id}: parameter {change}"),
            );
        }
        // The same parameters sent as a GET are signed differently (URL only).
        let get = CapturedRequest::new("GET", &vector.url)
            .with_header("X-Twilio-Signature", &vector.signature);
        assert_invalid_signature(provider.verify(&get, now()).map(|_| ()), id);
    }

    // One byte of a JSON body: the signed URL still matches, the body hash does not.
    if let Some(body) = &vector.body {
        for index in 0..body.len() {
            let mut bytes = body.clone().into_bytes();
            bytes[index] ^= 0x01;
            let tampered = vector.request().with_body(bytes);
            assert_eq!(
                provider.verify(&tampered, now()).err(),
                Some(WebhookError::PayloadHashMismatch),
                "{id}: body byte {index}"
            );
        }
        // The body hash in the URL is signed: changing it breaks the signature.
        let url = vector.url.replace("bodySHA256=0", "bodySHA256=1");
        let tampered = vector.request_with(&url, None, Some(body));
        assert_invalid_signature(provider.verify(&tampered, now()).map(|_| ()), id);
    }

    // The signature header itself: one character, or missing.
    let mut tampered = request.clone();
    tampered.set_header("X-Twilio-Signature", &change_one_byte(&vector.signature));
    assert_invalid_signature(provider.verify(&tampered, now()).map(|_| ()), id);
    let mut unsigned = request.clone();
    unsigned.headers.remove("x-twilio-signature");
    assert_eq!(
        provider.verify(&unsigned, now()).err(),
        Some(WebhookError::MissingSignature(
            "no `X-Twilio-Signature` header"
        )),
        "{id}"
    );
}

fn check_invalid(vector: &Vector) {
    let provider = twilio_with(&[&vector.token]);
    let verdict = provider.verify(&vector.request(), now()).map(|_| ());
    match vector.id.as_str() {
        "twilio-wrong-signature" => assert_invalid_signature(verdict, &vector.id),
        "twilio-body-without-bodySHA256" => assert_eq!(
            verdict,
            Err(WebhookError::MissingSignedField("bodySHA256")),
            "{}",
            vector.id
        ),
        other => panic!("no expectation for {other}"),
    }
}

#[test]
fn port_vectors_need_their_url_variant() {
    // `twilio-https-port-1234-stripped` was signed without the port, `twilio-http-add-80` with
    // the default port added: the URL as received alone would not match.
    for id in ["twilio-https-port-1234-stripped", "twilio-http-add-80"] {
        let entry = vectors()
            .into_iter()
            .find(|entry| entry["id"] == id)
            .expect("vector");
        let vector = Vector::from_json(&entry);
        let params = vector.params.clone().expect("form");
        let as_received = signature::signed_string(&vector.url, &params);
        assert_ne!(
            signature::compute(&vector.token, &as_received),
            vector.signature,
            "{id}"
        );
    }
}
