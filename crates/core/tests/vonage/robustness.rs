//! No input makes the provider panic; signing and verifying agree on arbitrary values.

use proptest::prelude::*;
use switchboard_core::providers::vonage::{sms, SmsMethod};
use switchboard_core::{CapturedRequest, Provider};

use crate::support::{now, pairs, request, vonage, vonage_with, Transport, URL};

fn any_content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ])
}

fn any_authorization() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "[A-Za-z0-9_=.-]{0,80}".prop_map(|token| format!("Bearer {token}")),
        any::<String>(),
    ])
}

fn any_transport() -> impl Strategy<Value = Transport> {
    prop::sample::select(vec![Transport::Query, Transport::Form, Transport::Json])
}

proptest! {
    #[test]
    fn arbitrary_requests_never_panic(
        post in any::<bool>(),
        query in "[a-z_=&%0-9A-F+-]{0,60}",
        content_type in any_content_type(),
        authorization in any_authorization(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "\\{(\"[a-z_]{1,8}\":(\"[^\"]{0,8}\"|[0-9.eE+-]{1,8}|null|true|\\[\\]|\\{\\}),?){0,6}\\}"
                .prop_map(String::into_bytes),
        ],
    ) {
        let mut request = CapturedRequest::new(if post { "POST" } else { "GET" }, &format!("{URL}?{query}"))
            .with_body(body);
        if let Some(content_type) = content_type {
            request.set_header("content-type", content_type);
        }
        if let Some(authorization) = authorization {
            request.set_header("authorization", &authorization);
        }
        let provider = vonage();
        let _ = provider.receive(&request, now());
        let _ = provider.sign(&request, now());
    }

    #[test]
    fn any_receipt_values_round_trip_through_sign_and_verify(
        client_ref in "[ -~]{0,20}",
        status in "[a-z]{1,10}",
        transport in any_transport(),
        method in prop::sample::select(vec![
            SmsMethod::Md5Hash, SmsMethod::Md5, SmsMethod::Sha1, SmsMethod::Sha256, SmsMethod::Sha512,
        ]),
    ) {
        let params = pairs(&[
            ("messageId", "M1"),
            ("status", &status),
            ("client-ref", &client_ref),
            ("to", "Vonage"),
        ]);
        let provider = vonage_with(&["secret"], Some(method));
        let signed = provider.sign(&request(transport, &params), now()).expect("signed");
        let events = provider.receive(&signed, now());
        prop_assert!(events.is_ok(), "{events:?}");
        let signed_params = sms::request_params(&signed).expect("params");
        prop_assert!(signed_params.iter().any(|(key, value)| key == "client-ref" && value == &client_ref));
    }
}
