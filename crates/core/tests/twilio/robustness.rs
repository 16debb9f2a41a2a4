//! Signing round trips and hostile or unusual input.

use switchboard_core::providers::twilio::signature;
use switchboard_core::{CapturedRequest, Kind, Provider, Signer, WebhookError};

use crate::support::{form_post, get, now, pairs, signed_post, twilio, twilio_with, TOKEN, URL};

const CALL: [(&str, &str); 3] = [
    ("CallSid", "CA1"),
    ("CallStatus", "ringing"),
    ("SequenceNumber", "1"),
];

#[test]
fn form_post_round_trip_with_a_query_and_repeated_names() {
    let url = format!("{URL}?tenant=a%20b&x=1");
    let mut params = pairs(&CALL);
    params.extend(pairs(&[("Digits", "2"), ("Digits", "1"), ("Digits", "2")]));
    let signed = twilio().sign(&form_post(&url, &params), now()).unwrap();
    let expected = signature::compute(
        TOKEN,
        &format!("{url}CallSidCA1CallStatusringingDigits1Digits2SequenceNumber1"),
    );
    assert_eq!(signed.header("x-twilio-signature"), Some(expected.as_str()));
    let events = twilio().receive(&signed, now()).unwrap();
    assert_eq!(events[0].subject_id, "CA1");
}

#[test]
fn get_round_trip_signs_the_url_alone() {
    let signed = twilio().sign(&get(URL, &pairs(&CALL)), now()).unwrap();
    let expected = signature::compute(TOKEN, &signed.url);
    assert_eq!(signed.header("x-twilio-signature"), Some(expected.as_str()));
    let event = &twilio().receive(&signed, now()).unwrap()[0];
    assert_eq!(event.sequence, Some(1));
    // A query parameter changed after signing.
    let mut tampered = signed.clone();
    tampered.url = tampered.url.replace("ringing", "completed");
    assert!(matches!(
        twilio().verify(&tampered, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
}

#[test]
fn json_round_trip_adds_the_body_hash() {
    let body = r#"{"CallSid":"CA9","CallStatus":"completed","CallDuration":42}"#;
    let request = CapturedRequest::new("POST", &format!("{URL}?a=1"))
        .with_header("content-type", "application/json")
        .with_body(body);
    let signed = twilio().sign(&request, now()).unwrap();
    assert_eq!(
        signed.url,
        format!(
            "{URL}?a=1&bodySHA256={}",
            signature::body_hash(body.as_bytes())
        )
    );
    let event = &twilio().receive(&signed, now()).unwrap()[0];
    assert_eq!(event.subject_id, "CA9");
    assert_eq!(event.details.duration_seconds, Some(42));
    let tampered = signed.clone().with_body(body.replace("42", "43"));
    assert_eq!(
        twilio().verify(&tampered, now()).err(),
        Some(WebhookError::PayloadHashMismatch)
    );
    // Signing again replaces the hash instead of adding a second one.
    let resigned = twilio().sign(&tampered, now()).unwrap();
    assert_eq!(resigned.url.matches("bodySHA256").count(), 1);
    assert!(twilio().verify(&resigned, now()).is_ok());
    // Two `bodySHA256` parameters are ambiguous.
    let mut doubled = signed.clone();
    doubled.url.push_str("&bodySHA256=00");
    assert!(matches!(
        twilio().verify(&doubled, now()),
        Err(WebhookError::Malformed(_))
    ));
}

#[test]
fn a_proxy_added_port_or_a_default_port_still_verifies() {
    let signed = signed_post(&CALL);
    for url in [
        "https://hooks.example.com:443/webhooks/twilio",
        "https://hooks.example.com:8443/webhooks/twilio",
    ] {
        let mut moved = signed.clone();
        moved.url = url.to_owned();
        assert!(twilio().verify(&moved, now()).is_ok(), "{url}");
    }
    let mut other_host = signed.clone();
    other_host.url = "https://evil.example.com/webhooks/twilio".into();
    assert!(matches!(
        twilio().verify(&other_host, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
}

#[test]
fn every_secret_is_tried_and_a_wrong_one_refused() {
    let signed = signed_post(&CALL);
    assert!(twilio_with(&["old", TOKEN]).verify(&signed, now()).is_ok());
    assert!(matches!(
        twilio_with(&["old"]).verify(&signed, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
    assert!(matches!(
        twilio_with(&[]).verify(&signed, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
    assert!(twilio_with(&[]).sign(&signed, now()).is_err());
}

#[test]
fn other_media_types_are_unsupported() {
    let request = CapturedRequest::new("POST", URL)
        .with_header("content-type", "text/plain")
        .with_header("x-twilio-signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        .with_body("CallSid=CA1");
    assert_eq!(
        twilio().verify(&request, now()).err(),
        Some(WebhookError::UnsupportedContentType("text/plain".into()))
    );
}

#[test]
fn a_callback_must_be_about_exactly_one_call_or_message() {
    let neither = signed_post(&[("AccountSid", "AC1")]);
    assert_eq!(
        twilio().receive(&neither, now()).err(),
        Some(WebhookError::MissingField("CallSid"))
    );
    let both = signed_post(&[
        ("CallSid", "CA1"),
        ("CallStatus", "ringing"),
        ("MessageSid", "SM1"),
        ("MessageStatus", "sent"),
    ]);
    assert!(matches!(
        twilio().receive(&both, now()),
        Err(WebhookError::Malformed(_))
    ));
    let no_status = signed_post(&[("CallSid", "CA1")]);
    assert_eq!(
        twilio().receive(&no_status, now()).err(),
        Some(WebhookError::MissingField("CallStatus"))
    );
    let ambiguous = twilio()
        .sign(
            &form_post(
                URL,
                &pairs(&[
                    ("CallSid", "CA1"),
                    ("CallStatus", "ringing"),
                    ("CallStatus", "busy"),
                ]),
            ),
            now(),
        )
        .unwrap();
    assert!(matches!(
        twilio().receive(&ambiguous, now()),
        Err(WebhookError::Malformed(_))
    ));
    // `SmsSid`/`SmsStatus` alone (legacy) are enough.
    let legacy = signed_post(&[("SmsSid", "SM1"), ("SmsStatus", "delivered")]);
    let event = &twilio().receive(&legacy, now()).unwrap()[0];
    assert_eq!(
        (event.kind, event.subject_id.as_str()),
        (Kind::Message, "SM1")
    );
}

#[test]
fn hostile_input_never_panics_and_errors_stay_short() {
    let long = "x".repeat(10_000);
    let garbage_headers = [
        "",
        " ",
        "%%%",
        "é",
        long.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ];
    let bodies: [&[u8]; 5] = [b"", b"\xff\xfe", b"{", b"[1,2]", b"a=%FF&&=&b"];
    for header in garbage_headers {
        for body in bodies {
            for content_type in ["application/json", "application/x-www-form-urlencoded"] {
                for url in [
                    URL,
                    "",
                    "https://",
                    "https://[::1",
                    "https://h:99999999999999/?%",
                ] {
                    let request = CapturedRequest::new("POST", url)
                        .with_header("content-type", content_type)
                        .with_header("x-twilio-signature", header)
                        .with_body(body.to_vec());
                    if let Err(error) = twilio().verify(&request, now()) {
                        let text = error.to_string();
                        assert!(text.len() < 160, "{text}");
                        assert!(!text.contains(TOKEN));
                    }
                    let _ = twilio().sign(&request, now());
                }
            }
        }
    }
    // A signed callback with a long unknown word and a junk sequence number still normalizes.
    let event = &twilio()
        .receive(
            &signed_post(&[
                ("CallSid", "CA1"),
                ("CallStatus", &long),
                ("SequenceNumber", "-1"),
                ("Timestamp", "not a date"),
                ("CallDuration", "many"),
            ]),
            now(),
        )
        .unwrap()[0];
    assert_eq!(event.status, None);
    assert_eq!(event.sequence, None);
    assert_eq!(event.occurred_at, None);
    assert_eq!(event.details.duration_seconds, None);
}
