//! Signing round trips and hostile or unusual input.

use switchboard_core::providers::plivo::signature;
use switchboard_core::{CapturedRequest, Provider, Signer, WebhookError};

use crate::support::{form_post, get, now, pairs, plivo, plivo_with, signed_post, TOKEN, URL};

const CALL: [(&str, &str); 3] = [
    ("CallUUID", "c-1"),
    ("CallStatus", "ringing"),
    ("Event", "Ring"),
];

fn nonce(request: &CapturedRequest) -> &str {
    request.header("x-plivo-signature-v3-nonce").expect("nonce")
}

#[test]
fn v3_round_trips_for_get_and_post_with_and_without_a_query() {
    let params = pairs(&CALL);
    let with_query = format!("{URL}?tenant=a&z=%20");
    let requests = [
        ("POST", form_post(URL, &params)),
        ("POST with query", form_post(&with_query, &params)),
        ("GET", get(URL, &params)),
        ("GET with query", get(&with_query, &params)),
    ];
    for (name, request) in requests {
        let signed = plivo().sign(&request, now()).unwrap();
        let base = if signed.method == "GET" {
            signature::v3_get_base(&signed.url, &signed.query_params())
        } else {
            signature::v3_post_base(&signed.url, &signed.query_params(), &params)
        };
        assert_eq!(
            signed.header("x-plivo-signature-v3"),
            Some(signature::v3(TOKEN, &base, nonce(&signed)).as_str()),
            "{name}"
        );
        let events = plivo().receive(&signed, now()).expect(name);
        assert_eq!(events[0].subject_id, "c-1", "{name}");
        // Deterministic, and another `now` gives another nonce.
        assert_eq!(plivo().sign(&request, now()).unwrap(), signed, "{name}");
        let later = plivo()
            .sign(
                &request,
                switchboard_core::Timestamp::from_millis(now().millis() + 1),
            )
            .unwrap();
        assert_ne!(nonce(&later), nonce(&signed), "{name}");
    }
    let post_with_query = plivo()
        .sign(&form_post(&with_query, &params), now())
        .unwrap();
    assert_eq!(
        signature::v3_post_base(&with_query, &post_with_query.query_params(), &params),
        "https://hooks.example.com/webhooks/plivo?tenant=a&z= .CallStatusringingCallUUIDc-1EventRing"
    );
}

#[test]
fn signing_replaces_stale_signature_headers() {
    let request = form_post(URL, &pairs(&CALL))
        .with_header("X-Plivo-Signature-V2", "old")
        .with_header("X-Plivo-Signature-Ma-V3", "old")
        .with_header("X-Plivo-Signature", "old");
    let signed = plivo().sign(&request, now()).unwrap();
    for header in [
        "x-plivo-signature-v2",
        "x-plivo-signature-ma-v3",
        "x-plivo-signature",
    ] {
        assert_eq!(signed.header(header), None, "{header}");
    }
    assert!(plivo().verify(&signed, now()).is_ok());
    assert!(plivo_with(&[]).sign(&request, now()).is_err());
}

#[test]
fn missing_signatures_and_rotation() {
    let unsigned = form_post(URL, &pairs(&CALL));
    assert_eq!(
        plivo().verify(&unsigned, now()).err(),
        Some(WebhookError::MissingSignature(
            "no `X-Plivo-Signature-V3` or `X-Plivo-Signature-V2` header"
        ))
    );
    let blank = unsigned.clone().with_header("X-Plivo-Signature-V3", " , ");
    assert!(matches!(
        plivo().verify(&blank, now()),
        Err(WebhookError::MissingSignature(_))
    ));
    let signed = signed_post(&CALL);
    assert!(plivo_with(&["old", TOKEN]).verify(&signed, now()).is_ok());
    assert!(matches!(
        plivo_with(&["old"]).verify(&signed, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
}

#[test]
fn json_and_other_media_types_are_unsupported() {
    for (content_type, expected) in [
        ("application/json", "application/json"),
        ("text/plain; charset=utf-8", "text/plain"),
    ] {
        let request = CapturedRequest::new("POST", URL)
            .with_header("content-type", content_type)
            .with_header("X-Plivo-Signature-V3", "x")
            .with_header("X-Plivo-Signature-V3-Nonce", "1")
            .with_body("{}");
        assert_eq!(
            plivo().verify(&request, now()).err(),
            Some(WebhookError::UnsupportedContentType(expected.into()))
        );
    }
}

#[test]
fn repeated_names_and_ambiguous_subjects_are_refused() {
    let repeated = form_post(
        URL,
        &pairs(&[
            ("CallUUID", "c-1"),
            ("CallStatus", "ringing"),
            ("CallStatus", "busy"),
        ]),
    )
    .with_header("X-Plivo-Signature-V3", "x")
    .with_header("X-Plivo-Signature-V3-Nonce", "1");
    assert!(matches!(
        plivo().verify(&repeated, now()),
        Err(WebhookError::Malformed(_))
    ));
    assert!(plivo().sign(&repeated, now()).is_err());
    let both = signed_post(&[("CallUUID", "c"), ("MessageUUID", "m"), ("Status", "sent")]);
    assert!(matches!(
        plivo().receive(&both, now()),
        Err(WebhookError::Malformed(_))
    ));
    let neither = signed_post(&[("Status", "sent")]);
    assert_eq!(
        plivo().receive(&neither, now()).err(),
        Some(WebhookError::MissingField("CallUUID"))
    );
    // A message without `Status` is an inbound message (inbound.rs).
    let no_status = signed_post(&[("MessageUUID", "m")]);
    assert_eq!(
        plivo()
            .receive(&no_status, now())
            .map(|events| events[0].provider_status.clone()),
        Ok("inbound".to_owned())
    );
    let no_call_status = signed_post(&[("CallUUID", "c")]);
    assert_eq!(
        plivo().receive(&no_call_status, now()).err(),
        Some(WebhookError::MissingField("CallStatus"))
    );
}

#[test]
fn hostile_input_never_panics_and_errors_stay_short() {
    let long = "x".repeat(10_000);
    let values = ["", " ", ",,,", "%%%", "é", long.as_str(), "AAAA,BBBB="];
    let bodies: [&[u8]; 4] = [b"", b"\xff\xfe", b"a=%FF&&=&b", b"a=1&a=2"];
    for header in values {
        for body in bodies {
            for url in [URL, "", "https://", "https://h/?%", "?a=1&a=1"] {
                for method in ["GET", "POST"] {
                    let request = CapturedRequest::new(method, url)
                        .with_header("content-type", "application/x-www-form-urlencoded")
                        .with_header("X-Plivo-Signature-V3", header)
                        .with_header("X-Plivo-Signature-V3-Nonce", header)
                        .with_header("X-Plivo-Signature-V2", header)
                        .with_body(body.to_vec());
                    if let Err(error) = plivo().verify(&request, now()) {
                        let text = error.to_string();
                        assert!(text.len() < 160, "{text}");
                        assert!(!text.contains(TOKEN));
                    }
                    let _ = plivo().sign(&request, now());
                }
            }
        }
    }
    let event = &plivo()
        .receive(
            &signed_post(&[("MessageUUID", "m"), ("Status", &long), ("Sequence", "-1")]),
            now(),
        )
        .unwrap()[0];
    assert_eq!((event.status, event.sequence), (None, None));
}
