//! No input makes the provider panic; signing and verifying agree on arbitrary values; every
//! correctly signed request reaches `normalize`, which either maps it or refuses it as malformed.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use switchboard_core::providers::vonage::{sms, SmsMethod, Vonage};
use switchboard_core::{CapturedRequest, ErrorClass, Kind, Provider, Signer};

use crate::support::{
    any_content_type, form_encode, now, pairs, proptest_config, request, voice_post, vonage,
    vonage_with, Transport, URL,
};

fn any_authorization() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "[A-Za-z0-9_=.-]{0,80}".prop_map(|token| format!("Bearer {token}")),
        any::<String>(),
    ])
}

fn any_method() -> impl Strategy<Value = SmsMethod> {
    prop::sample::select(vec![
        SmsMethod::Md5Hash,
        SmsMethod::Md5,
        SmsMethod::Sha1,
        SmsMethod::Sha256,
        SmsMethod::Sha512,
    ])
}

fn any_transport() -> impl Strategy<Value = Transport> {
    prop::sample::select(vec![Transport::Query, Transport::Form, Transport::Json])
}

/// A parameter name: one Vonage sends, or anything (now and then with `&` or `=`).
fn any_name(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(known).prop_map(str::to_owned),
        2 => "\\PC{0,10}",
        1 => "[a-z&=_%+ -]{0,6}",
    ]
}

/// Fields of voice events (webhook-reference.md) and of delivery receipts (sms.yml).
const VOICE_NAMES: [&str; 20] = [
    "uuid",
    "call_uuid",
    "conversation_uuid",
    "status",
    "direction",
    "from",
    "to",
    "timestamp",
    "start_time",
    "end_time",
    "duration",
    "price",
    "rate",
    "detail",
    "recording_url",
    "recording_uuid",
    "reason",
    "type",
    "conversation_uuid_to",
    "dtmf",
];
const RECEIPT_NAMES: [&str; 12] = [
    "messageId",
    "status",
    "err-code",
    "message-timestamp",
    "msisdn",
    "to",
    "price",
    "network-code",
    "scts",
    "client-ref",
    "api-key",
    "nonce",
];

/// A status word of either product, or one nobody knows.
fn any_word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "started",
        "ringing",
        "answered",
        "completed",
        "busy",
        "human",
        "machine",
        "record",
        "input",
        "delivered",
        "buffered",
        "failed",
        "teleported",
    ])
    .prop_map(str::to_owned)
}

/// A text value: a provider word, a time, a number, blank, or anything.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any_word(),
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z?",
        "-?[0-9]{1,22}(\\.[0-9]{1,8})?",
        "[ \t]{0,2}",
        "\\PC{0,16}",
    ]
}

fn json_string(text: String) -> String {
    serde_json::Value::String(text).to_string()
}

/// A JSON value as raw text, of any type: strings, odd numbers, booleans, `null`, arrays and
/// objects, and rarely an invalid number (leading zeros).
fn any_json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => any_text().prop_map(json_string),
        6 => "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,12})?([eE][+-]?[0-9]{1,4})?",
        3 => prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_owned),
        3 => prop::sample::select(vec![
            "[]", "{}", "[1,\"a\",null]", "{\"a\":{\"b\":[]}}", "[\"12\"]",
        ])
        .prop_map(str::to_owned),
        1 => "0[0-9]{1,3}",
    ]
}

/// Members with distinct names from `others`, each of `required` added unless absent (`None`)
/// or already drawn, and now and then one member that repeats a name.
fn members(
    others: BTreeMap<String, String>,
    required: Vec<(&str, Option<String>)>,
    repeated: Option<(String, String)>,
) -> Vec<(String, String)> {
    let mut members = others;
    for (name, value) in required {
        if let Some(value) = value {
            members.entry(name.to_owned()).or_insert(value);
        }
    }
    members.into_iter().chain(repeated).collect()
}

/// A JSON object with these members, in order, duplicates included.
fn json_object(members: &[(String, String)]) -> String {
    let members: Vec<String> = members
        .iter()
        .map(|(name, raw)| format!("{}:{raw}", json_string(name.clone())))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// Signs `unsigned` as Vonage would, then receives it: the signature must hold, so the only
/// refusals allowed are malformed requests (unparseable, nested or ambiguous parameters, a
/// required field missing), from signing or from `normalize`.
fn sign_and_receive_cleanly(
    provider: &Vonage,
    unsigned: &CapturedRequest,
) -> Result<(), TestCaseError> {
    let signed = match provider.sign(unsigned, now()) {
        Ok(signed) => signed,
        Err(error) => {
            prop_assert_eq!(error.class(), ErrorClass::Malformed, "signing: {}", error);
            return Ok(());
        }
    };
    match provider.receive(&signed, now()) {
        // A voice event that names no leg (a record result, an error) is acknowledged with no
        // event; everything else gives one.
        Ok(events) if events.is_empty() => {
            prop_assert!(signed.bearer_token().is_some());
        }
        Ok(events) => {
            prop_assert_eq!(events.len(), 1);
            let event = &events[0];
            prop_assert!(!event.subject_id.trim().is_empty());
            prop_assert!(event.event_id.starts_with("vonage:"));
            let expected_kind = if signed.bearer_token().is_some() {
                Kind::Call
            } else {
                Kind::Message
            };
            prop_assert_eq!(event.kind, expected_kind);
        }
        Err(error) => {
            prop_assert_eq!(error.class(), ErrorClass::Malformed, "{}", error);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn signed_voice_json_of_any_shape_is_normalized_or_refused(
        others in prop::collection::btree_map(any_name(&VOICE_NAMES), any_json_value(), 0..10),
        uuid in prop::option::weighted(0.9, "[0-9a-f-]{1,36}".prop_map(json_string)),
        status in prop::option::weighted(0.9, any_word().prop_map(json_string)),
        repeated in prop::option::weighted(0.05, (any_name(&VOICE_NAMES), any_json_value())),
    ) {
        let members = members(others, vec![("uuid", uuid), ("status", status)], repeated);
        sign_and_receive_cleanly(&vonage(), &voice_post(&json_object(&members)))?;
    }

    #[test]
    fn signed_voice_get_events_are_normalized_or_refused(
        others in prop::collection::btree_map(any_name(&VOICE_NAMES), any_text(), 0..10),
        uuid in prop::option::weighted(0.9, "[0-9a-f-]{1,36}"),
        status in prop::option::weighted(0.9, any_word()),
        repeated in prop::option::weighted(0.05, (any_name(&VOICE_NAMES), any_text())),
    ) {
        let params = members(others, vec![("uuid", uuid), ("status", status)], repeated);
        let unsigned = CapturedRequest::new("GET", &format!("{URL}?{}", form_encode(&params)));
        sign_and_receive_cleanly(&vonage(), &unsigned)?;
    }

    #[test]
    fn signed_receipts_of_any_parameters_are_normalized_or_refused(
        others in prop::collection::btree_map(any_name(&RECEIPT_NAMES), any_text(), 0..10),
        message_id in any_text(),
        status in prop::option::weighted(0.9, any_word()),
        repeated in prop::option::weighted(0.05, (any_name(&RECEIPT_NAMES), any_text())),
        transport in any_transport(),
        method in prop::option::of(any_method()),
    ) {
        let params = members(
            others,
            vec![("messageId", Some(message_id)), ("status", status)],
            repeated,
        );
        let provider = vonage_with(&["secret"], method);
        sign_and_receive_cleanly(&provider, &request(transport, &params))?;
    }

    #[test]
    fn signed_json_receipts_with_values_of_any_type_are_normalized_or_refused(
        others in prop::collection::btree_map(
            any_name(&RECEIPT_NAMES), any_json_value(), 0..10,
        ),
        message_id in any_json_value(),
        status in prop::option::weighted(0.9, any_word().prop_map(json_string)),
        repeated in prop::option::weighted(0.05, (any_name(&RECEIPT_NAMES), any_json_value())),
    ) {
        let members = members(
            others,
            vec![("messageId", Some(message_id)), ("status", status)],
            repeated,
        );
        let unsigned = CapturedRequest::new("POST", URL)
            .with_header("content-type", "application/json")
            .with_body(json_object(&members));
        sign_and_receive_cleanly(&vonage(), &unsigned)?;
    }

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
        method in any_method(),
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
