//! Differential property: a Call Control, Messaging or TeXML webhook signed with the development
//! key, then changed without it (method, `Content-Type`, unsigned headers, parameters moved or
//! added, URL variants, JSON rewrites), is refused or gives the very same events.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;
use switchboard_core::{CapturedRequest, Provider, Signer, WebhookError};

use crate::mutations::{self, check, mutated};
use crate::support::{form_post, json_post, now, proptest_config, telnyx};

/// TeXML parameters the mapping reads, and one it does not.
const NAMES: &[&str] = &[
    "CallSid",
    "CallStatus",
    "SequenceNumber",
    "From",
    "To",
    "AnsweredBy",
    "x",
];

/// A message's text, which the sender chooses: some read as form parameters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "&CallSid=c-1&CallStatus=completed&x=",
            "CallSid=c-1&CallStatus=busy",
            "hello",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,12}",
    ]
}

fn call(event_type: &str, id: &str, leg: &str) -> String {
    json!({"data": {"record_type": "event", "event_type": event_type, "id": id,
        "occurred_at": "2020-01-01T12:00:01Z",
        "payload": {"call_leg_id": leg, "call_control_id": format!("v3:{leg}"),
            "call_session_id": "s-1", "from": "+13125550100", "to": "+13125550111",
            "direction": "outgoing", "hangup_cause": "normal_clearing"}},
        "meta": {"attempt": 1}})
    .to_string()
}

fn message(id: &str, text: &str) -> String {
    json!({"data": {"record_type": "event", "event_type": "message.received", "id": id,
        "occurred_at": "2020-01-01T12:00:01Z",
        "payload": {"id": "40385f64-5717-4562-b3fc-2c963f66afa6", "record_type": "message",
            "direction": "inbound", "type": "SMS", "text": text,
            "from": {"phone_number": "+13125550100"},
            "to": [{"phone_number": "+13125550111", "status": "webhook_delivered"}]}},
        "meta": {"attempt": 1}})
    .to_string()
}

fn texml(leg: &str, status: &str, sequence: u8) -> String {
    format!(
        "AccountSid=b3c2a1d0&CallSid={leg}&CallStatus={status}&SequenceNumber={sequence}&From=%2B13125550100&To=%2B13125550111"
    )
}

fn original() -> impl Strategy<Value = CapturedRequest> {
    let id = "[a-f0-9]{8}";
    let unsigned = prop_oneof![
        (
            select(vec!["call.initiated", "call.answered", "call.hangup"]),
            id,
            id
        )
            .prop_map(|(event_type, id, leg)| json_post(&call(event_type, &id, &leg))),
        (id, text()).prop_map(|(id, text)| json_post(&message(&id, &text))),
        (
            id,
            select(vec!["ringing", "in-progress", "completed", "busy"]),
            0..9_u8
        )
            .prop_map(|(leg, status, sequence)| form_post(&texml(&leg, status, sequence))),
    ];
    unsigned.prop_map(|request| telnyx().sign(&request, now()).expect("signed"))
}

proptest! {
    // Fewer cases than elsewhere: each signs once and verifies twice, and Ed25519 takes
    // milliseconds in a debug build. The content-type case has its own test below.
    #![proptest_config(proptest_config(64))]

    #[test]
    fn unsigned_method_and_headers_change_nothing(
        original in original(),
        mutations in mutated(mutations::metadata()),
    ) {
        check(&telnyx(), &original, &mutations, now())?;
    }

    #[test]
    fn moved_or_added_parameters_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::parameters(NAMES)),
    ) {
        check(&telnyx(), &original, &mutations, now())?;
    }

    #[test]
    fn url_variants_and_json_rewrites_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::rewrites(NAMES)),
    ) {
        check(&telnyx(), &original, &mutations, now())?;
    }
}

#[test]
fn a_message_whose_text_reads_as_a_form_is_not_a_texml_callback_under_a_form_content_type() {
    let signed = telnyx()
        .sign(
            &json_post(&message("m-1", "&CallSid=c-1&CallStatus=completed&x=")),
            now(),
        )
        .expect("signed");
    assert_eq!(telnyx().receive(&signed, now()).expect("valid").len(), 1);
    let as_form = signed.with_header("content-type", "application/x-www-form-urlencoded");
    assert_eq!(
        telnyx().receive(&as_form, now()).err(),
        Some(WebhookError::Malformed(
            "a form body that is a JSON object".into()
        ))
    );
}
